//! # Anomalous operation on an AI resource
//!
//! ## What it detects
//! A high-risk control-plane operation on an AI resource — listing or regenerating its keys
//! (`listKeys`, `regenerateKey`), writing a model deployment, writing a role assignment on
//! it — by a principal from an address range, auth method or user agent it never used for
//! control-plane operations before. It reads Azure activity-log records of Azure OpenAI / AI
//! services accounts and Azure Machine Learning / AI Foundry workspaces (the
//! `azure_activity` source, docs/input.md). The principal is the caller's Entra object id
//! (a user, service principal or managed identity). Every complete operation (not an
//! operation's `Start` record) builds the principal's baseline: the /24 of an IPv4 address
//! (the /48 of an IPv6 one: the client network; no ASN database ships with modelward, so
//! the network is judged by its range, not its owner), the auth method (`user`,
//! `service_principal`, `managed_identity`), the client application (the `appid` claim of
//! the caller's token: the Azure CLI, the portal, PowerShell, a pipeline's own app
//! registration; the activity log records no user agent, and this is the client it does
//! record) and the user agent family when a log has one. A principal is known after `warmup_calls` operations (5) over at least
//! `warmup` (24 hours); after that a new value alerts on a high-risk operation only (a new
//! value on a read neither alerts nor joins the baseline), once per principal and value,
//! counting the operations that used it. A baseline of `max_values` (32) values of a kind is
//! too varied to judge on that kind. It is the access-anomaly machinery of MW-AI-0014 over
//! the control plane.
//!
//! ## Why it matters
//! A stolen service principal secret or token is used from the thief's network. Listing an
//! AI resource's keys hands the thief a credential that outlives the token; a new
//! deployment or role assignment gives lasting access to the models. Defender for Cloud
//! raises `AI.Azure_AnomalousOperation.InitialAccess` on such operations from an unusual
//! caller, address or client.
//!
//! ## Example
//! For a week the pipeline's service principal `3b8e5f2a-…` lists the keys of
//! `contoso-oai-eus` each morning from `20.62.134.0/24`; at 02:14 it lists them from
//! `198.51.100.23` and writes a deployment `gpt-4o-exfil`: one alert, "ran
//! MICROSOFT.COGNITIVESERVICES/ACCOUNTS/LISTKEYS/ACTION with a new address range
//! 198.51.100.0/24 (2 calls ...)", with the baseline, the operation and the resource.
//!
//! ## False positives
//! A new build agent pool or egress address, an administrator working from home or a new
//! VPN, a pipeline moved to a managed identity. Each alerts once per principal and value.
//!
//! ## Response
//! Confirm with the principal's owner that the operation and the address are theirs. If not:
//! regenerate the resource's keys (both), revoke the principal's secrets and sessions, remove
//! role assignments and deployments it made since the first new operation, and review the
//! resource's data-plane calls since then (MW-AI-0014 on the same keys).
//!
//! ## References
//! - Microsoft Defender for Cloud, Alerts for AI services: `AI.Azure_AnomalousOperation.InitialAccess` (Initial Access, Medium): https://learn.microsoft.com/en-us/azure/defender-for-cloud/alerts-ai-workloads
//! - Azure Monitor activity log schema: https://learn.microsoft.com/en-us/azure/azure-monitor/platform/activity-log-schema
//! - MITRE ATLAS AML.T0012 Valid Accounts: https://atlas.mitre.org/techniques/AML.T0012

use modelward_rule::Severity;

use super::access_anomaly::{AccessAnomaly, Plane};
use crate::{Analyzer, Code};

pub const CODE: Code = Code {
    code: "MW-AI-0022",
    name: "Anomalous operation on an AI resource",
    defender: Some("AI.Azure_AnomalousOperation.InitialAccess"),
    severity: Severity::Medium,
    tactics: &["Initial Access"],
    atlas: ("AML.T0012", "Valid Accounts"),
    doc: include_str!("anomalous_operation.rs"),
};

/// The registry's constructor (`analyzers/mod.rs`): the analyzer, from
/// `[behavior.anomalous_operation]` and `max_principals`.
pub fn build(s: &crate::Settings) -> Box<dyn Analyzer> {
    Box::new(AccessAnomaly::on(
        Plane::Control,
        CODE.code,
        &s.operation,
        s.max_principals,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::Control;
    use crate::{Call, Finding, Settings};
    use serde_json::json;

    const HOUR: i64 = 3_600_000;

    fn op(principal: &str, ts: i64, operation: &str, ip: &str, outcome: Option<&str>) -> Call {
        let mut c = Call::test(principal, ts)
            .with_ip(ip)
            .with_auth("service_principal");
        c.control = Some(Box::new(Control {
            operation: operation.into(),
            action: Some(format!("op/{operation}").into()),
            resource: Some("/subscriptions/s/resourcegroups/rg/providers/microsoft.cognitiveservices/accounts/oai".into()),
            outcome: outcome.map(Into::into),
            client_app: None,
        }));
        c
    }

    fn run(calls: &[Call]) -> Vec<Finding> {
        crate::analyzer::feed::finished(build(&Settings::default()).as_mut(), calls)
    }

    /// A week of daily key listings and reads from the build agents' range.
    fn week() -> Vec<Call> {
        (0..7)
            .flat_map(|d| {
                [
                    op(
                        "sp",
                        d * 24 * HOUR,
                        "other",
                        &format!("20.62.134.{d}"),
                        Some("success"),
                    ),
                    op(
                        "sp",
                        d * 24 * HOUR + 60_000,
                        "list_keys",
                        "20.62.134.9",
                        Some("success"),
                    ),
                ]
            })
            .collect()
    }

    #[test]
    fn high_risk_operation_from_a_new_range_alerts_once() {
        let mut calls = week();
        let t = 7 * 24 * HOUR;
        calls.push(op("sp", t, "list_keys", "198.51.100.23", None));
        calls.push(op(
            "sp",
            t + 1,
            "list_keys",
            "198.51.100.23",
            Some("success"),
        ));
        calls.push(op(
            "sp",
            t + 2,
            "deployment_write",
            "198.51.100.24",
            Some("success"),
        ));
        let f = run(&calls);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].code, "MW-AI-0022");
        assert_eq!(f[0].evidence["new_value"], json!("198.51.100.0/24"));
        assert_eq!(f[0].evidence["operation"], json!("op/list_keys"));
        assert_eq!(f[0].evidence["calls_with_new_value"], json!(2));
        assert_eq!(f[0].timestamp, t + 1, "the Start record is not counted");
    }

    #[test]
    fn a_token_issued_to_a_new_client_application_alerts() {
        // A user lists the keys every morning with the Azure CLI from the office range.
        const CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
        let with_app = |ts: i64, operation: &str, app: &str| {
            let mut c = op("alice", ts, operation, "20.62.134.7", Some("success"));
            c.auth = Some("user".into());
            if let Some(ctl) = c.control.as_mut() {
                ctl.client_app = Some(app.into());
            }
            c
        };
        let mut calls: Vec<Call> = (0..7)
            .map(|d| with_app(d * 24 * HOUR, "list_keys", CLI))
            .collect();
        let t = 7 * 24 * HOUR;
        // The same CLI (upper case) the next day: known.
        calls.push(with_app(t, "list_keys", &CLI.to_ascii_uppercase()));
        // Then from the same range and auth method, with a token of an app it never used.
        calls.push(with_app(
            t + 60_000,
            "list_keys",
            "9f1c2b7e-0000-4a5b-8c6d-abcdefabcdef",
        ));
        let f = run(&calls);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].evidence["kind"], json!("client_app"));
        assert_eq!(
            f[0].evidence["new_value"],
            json!("9f1c2b7e-0000-4a5b-8c6d-abcdefabcdef")
        );
        assert_eq!(f[0].evidence["baseline"]["values"], json!([CLI]));
        assert!(
            f[0].summary.contains("new client application"),
            "{}",
            f[0].summary
        );
    }

    /// The client application is read from a raw activity-log record as Azure writes it:
    /// the `appid` claim, through the `azure_activity` normalizer, into the call.
    #[test]
    fn the_client_application_comes_from_the_tokens_appid_claim() {
        use modelward_event::source::{normalize, Normalized, SourceKind};
        use modelward_event::{Event, Origin};
        let raw: serde_json::Value = serde_json::from_str(include_str!(
            "../../../event/tests/fixtures/azure_activity/list_keys_service_principal.raw.json"
        ))
        .unwrap();
        let serde_json::Value::Object(raw) = raw else {
            panic!("an object")
        };
        let Ok(Normalized::Event(fields)) = normalize(raw, SourceKind::Auto) else {
            panic!("normalized")
        };
        let origin = Origin {
            file: "activity.json".into(),
            line: 1,
            offset: 0,
            hash: 0,
            index: 0,
        };
        let call = Call::from_event(&Event::new(fields, origin), 0).unwrap();
        let control = call.control.as_deref().unwrap();
        assert_eq!(
            control.client_app.as_deref(),
            Some("a1f4c2d8-7e3b-4a96-8c05-2d9b6e1f7a43")
        );
        assert_eq!(&*control.operation, "list_keys");
    }

    #[test]
    fn reads_from_a_new_range_and_llm_calls_do_not() {
        let mut calls = week();
        let t = 7 * 24 * HOUR;
        calls.push(op("sp", t, "other", "198.51.100.23", Some("success")));
        calls.push(Call::test("sp", t + 1).with_ip("192.0.2.1"));
        assert!(run(&calls).is_empty());
        // The data-plane analyzer does not see control-plane operations.
        let mut attack = week();
        attack.push(op(
            "sp",
            t + 2,
            "list_keys",
            "198.51.100.23",
            Some("success"),
        ));
        let data = crate::analyzer::feed::finished(
            &mut AccessAnomaly::new(&Settings::default().access, 100),
            &attack,
        );
        assert!(data.is_empty());
    }
}
