//! Predicates on one alert, and the incident's facts the conditions read.
//!
//! Computed facts: `vector.<id>` (each classified vector), `extraction_pattern` (API or
//! side-channel extraction), `artifact_accessed` (weights, training data or an insider copy),
//! `weights_stolen`, `training_data_exfiltrated`, `insider` / `external` (a principal of the
//! organisation / from outside shows a vector), `explained` (every principal is approved),
//! `regulated_model`, `baselines_kept`, `report_written`.
//! Set by a responder (`modelward incident fact`), false until then: `insider_confirmed`,
//! `competitor_suspected`, `legal_exposure`, `business_impact`, `key_compromised`,
//! `inventory_verified`; a
//! responder may also override any computed fact.

use std::collections::BTreeMap;

use modelward_event::glob::glob_match;

use crate::alert_view::AlertView;
use crate::objects::object_kind;
use crate::playbook::condition::{Origin, Predicate};

use super::settings::{internal_address, RespondSettings};

/// Facts a responder sets; listed so conditions naming them are not typos.
pub const MANUAL: [&str; 6] = [
    "insider_confirmed",
    "competitor_suspected",
    "legal_exposure",
    "business_impact",
    "key_compromised",
    "inventory_verified",
];

/// An employee's id in a principal: an IAM user's name, or an assumed-role session named
/// like a person (`rkumar@acme.example`).
pub fn employee_id(principal: &str) -> Option<String> {
    if let Some(rest) = principal.strip_prefix("arn:aws:iam::") {
        return rest
            .split_once(":user/")
            .map(|(_, name)| name.rsplit('/').next().unwrap_or(name).to_string());
    }
    if principal.starts_with("arn:aws:sts::") && principal.contains(":assumed-role/") {
        let session = principal.rsplit('/').next()?;
        return session.contains('@').then(|| session.to_string());
    }
    None
}

/// Internal or external: configured principals and networks first, then employee ids.
pub fn origin(alert: &AlertView, settings: &RespondSettings) -> Origin {
    let principal = alert.entity("principal").unwrap_or("");
    let internal = settings
        .internal_principals
        .iter()
        .any(|p| glob_match(p, principal))
        || alert
            .entity("source.ip")
            .is_some_and(|ip| internal_address(settings, ip))
        || employee_id(principal).is_some();
    if internal {
        Origin::Internal
    } else {
        Origin::External
    }
}

/// Evaluates a per-alert predicate (a `fact:` reads `facts`).
pub fn alert_predicate(
    p: &Predicate,
    alert: &AlertView,
    settings: &RespondSettings,
    facts: &BTreeMap<String, bool>,
) -> bool {
    match p {
        Predicate::Vector(v) => {
            alert.vector.as_deref() == Some(v.as_str())
                || alert
                    .tags
                    .iter()
                    .any(|t| t.strip_prefix("pb53.") == Some(v.as_str()))
        }
        Predicate::Tag(t) => alert.tags.iter().any(|x| x.eq_ignore_ascii_case(t)),
        Predicate::Rule(r) => alert.is_rule(r),
        Predicate::Code(c) => alert.code() == Some(c.as_str()),
        Predicate::Object(kind) => alert
            .objects()
            .iter()
            .any(|o| object_kind(o) == Some(*kind)),
        Predicate::Principal(o) => origin(alert, settings) == *o,
        Predicate::Fact(f) => facts.get(f).copied().unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn employees_from_principals() {
        assert_eq!(
            employee_id("arn:aws:iam::123456789012:user/jsmith").as_deref(),
            Some("jsmith")
        );
        assert_eq!(
            employee_id("arn:aws:sts::123456789012:assumed-role/MLPlatformDev/rkumar@acme.example")
                .as_deref(),
            Some("rkumar@acme.example")
        );
        assert_eq!(
            employee_id("arn:aws:sts::123456789012:assumed-role/ModelDeploy/model-deploy"),
            None
        );
        assert_eq!(employee_id("key_vTm2A9Gei4Oi"), None);
    }
}
