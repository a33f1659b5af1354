//! Normalizer for Azure activity-log records of AI resources: the control-plane operations
//! Azure Resource Manager logs on Azure OpenAI / AI services accounts
//! (`Microsoft.CognitiveServices`) and Azure Machine Learning / AI Foundry workspaces
//! (`Microsoft.MachineLearningServices`), and the role assignments scoped to them, as a
//! diagnostic setting of the subscription's activity log writes them to a storage account
//! or Event Hubs (`{"records":[...]}`, one record per operation and phase). Records of the
//! `Administrative` category only: the other categories (`Policy`, `Security`,
//! `ServiceHealth`, ...) are not operations by a caller.
//!
//! # Field mapping
//!
//! | Raw key | Normalized field | Notes |
//! |---|---|---|
//! | `time` | `@timestamp` | UTC, milliseconds. |
//! | `operationName` | `event.action` | As written (`MICROSOFT.COGNITIVESERVICES/ACCOUNTS/LISTKEYS/ACTION`). |
//! | `operationName` | `modelward.control.operation` | The operation's class, see [`operation_class`]. |
//! | `resultType` | `event.outcome` | `Success` / `Succeeded` → `success`, `Failure` / `Failed` → `failure`; `Start`, `Accept` and `Active` records (an operation begun) get none. |
//! | `durationMs` | `event.duration` | Milliseconds (a number or its text) → nanoseconds. |
//! | `callerIpAddress` | `source.ip` | |
//! | `correlationId` | `event.id` | Shared by an operation's `Start` and `Success` records. |
//! | `resourceId` | `azure.resource.id` (lowercased), `cloud.account.id`, `azure.subscription_id`, `azure.resource.group`, `azure.resource.provider`, `azure.resource.name` | The AI resource: for a role assignment, the scope it is assigned on. |
//! | `identity.claims` objectidentifier | `user.id` | The Entra object id of the user, service principal or managed identity. |
//! | `identity.claims` upn, else `name`, else `appid` | `user.name` | |
//! | `identity.claims` `appid` | `azure.activitylogs.identity.app_id` | |
//! | `identity.claims` `idtyp`, `appidacr`, `xms_mirid`, upn | `modelward.auth` | `managed_identity` (`xms_mirid` present), `service_principal` (`idtyp: app`, or an app token without a user), `user`. |
//! | `identity.authorization.evidence.role` | `azure.activitylogs.identity.authorization.evidence.role` | The role that allowed the operation. |
//! | `category`, `resultType`, `resultSignature`, `level`, `operationName` | `azure.activitylogs.{category,result_type,result_signature,level,operation_name}` | Elastic's `azure.activitylogs` names. |
//! | every raw key | itself | Rules written on Azure's names keep matching. |
//! | — | `cloud.provider: azure`, `data_stream.dataset` / `event.dataset: azure.activitylogs`, `event.module: azure` | |
//!
//! The activity log records no user agent and no autonomous system (the portal's and the
//! REST API's `httpRequest` holds `clientRequestId`, `clientIpAddress` and `method`; the
//! storage and Event Hubs form writes the address as `callerIpAddress`), and no ASN
//! database ships with modelward: MW-AI-0022 judges the caller's address range (/24, /48),
//! its auth method and the application its token was issued to (the `appid` claim).

use serde_json::{Map, Value};

use super::azure_blob::{claim, put_subscription, OBJECT_ID, UPN};
use super::paths::{get, put, text};
use super::storage;

/// `data_stream.dataset` of the normalized events (Elastic's Azure activity logs dataset).
pub const DATASET: &str = "azure.activitylogs";

/// The resource providers whose resources are AI resources.
const AI_PROVIDERS: [&str; 2] = [
    "/providers/microsoft.cognitiveservices/",
    "/providers/microsoft.machinelearningservices/",
];

/// The classes of [`operation_class`].
pub const CLASSES: &[&str] = &[
    "list_keys",
    "regenerate_key",
    "deployment_write",
    "deployment_delete",
    "role_assignment_write",
    "role_assignment_delete",
    "resource_write",
    "resource_delete",
    "other",
];

/// Why a record could not be normalized.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    #[error("azure_activity: `{field}` must be {expected}")]
    Invalid {
        field: &'static str,
        expected: &'static str,
    },
}

fn is_ai_resource(resource_id: &str) -> bool {
    let lower = resource_id.to_ascii_lowercase();
    AI_PROVIDERS.iter().any(|p| lower.contains(p))
}

/// Whether a raw record is an administrative activity-log record on an AI resource.
pub fn looks_like(obj: &Map<String, Value>) -> bool {
    let text = |k: &str| obj.get(k).and_then(Value::as_str);
    text("category").is_some_and(|c| c.eq_ignore_ascii_case("Administrative"))
        && text("operationName").is_some()
        && text("resourceId").is_some_and(is_ai_resource)
}

/// The class of an activity-log operation name (case ignored): key listing and
/// regeneration, model deployments written or deleted, role assignments written or
/// deleted, the account or workspace itself written or deleted, else `other`.
pub fn operation_class(operation: &str) -> &'static str {
    let upper = operation.to_ascii_uppercase();
    let parts: Vec<&str> = upper.split('/').collect();
    let verb = parts.last().copied().unwrap_or_default();
    let has = |segment: &str| parts.contains(&segment);
    if upper.ends_with("/LISTKEYS/ACTION") {
        "list_keys"
    } else if upper.ends_with("/REGENERATEKEY/ACTION") || upper.ends_with("/REGENERATEKEYS/ACTION")
    {
        "regenerate_key"
    } else if upper.starts_with("MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/") {
        match verb {
            "WRITE" => "role_assignment_write",
            "DELETE" => "role_assignment_delete",
            _ => "other",
        }
    } else if has("DEPLOYMENTS") || has("ONLINEENDPOINTS") || has("SERVERLESSENDPOINTS") {
        match verb {
            "WRITE" => "deployment_write",
            "DELETE" => "deployment_delete",
            _ => "other",
        }
    } else if parts.len() == 3 && (has("ACCOUNTS") || has("WORKSPACES")) {
        match verb {
            "WRITE" => "resource_write",
            "DELETE" => "resource_delete",
            _ => "other",
        }
    } else {
        "other"
    }
}

/// (subscription, resource group, provider, name) of the AI resource in a `resourceId`:
/// the segment pair after the AI provider (`accounts/<name>`, `workspaces/<name>`).
fn resource_parts(id: &str) -> [Option<String>; 4] {
    let lower = id.to_ascii_lowercase();
    let parts: Vec<&str> = lower.split('/').collect();
    let after = |name: &str| {
        parts
            .iter()
            .position(|p| *p == name)
            .and_then(|i| parts.get(i + 1))
            .filter(|s| !s.is_empty())
            .map(|s| s.to_string())
    };
    let provider = parts.iter().position(|p| {
        *p == "microsoft.cognitiveservices" || *p == "microsoft.machinelearningservices"
    });
    let name = provider
        .and_then(|i| parts.get(i + 2))
        .filter(|s| !s.is_empty());
    [
        after("subscriptions"),
        after("resourcegroups"),
        provider.map(|i| parts[i].to_string()),
        name.map(|s| s.to_string()),
    ]
}

/// The AI resource's id: the `resourceId` up to the resource's name (a role assignment's
/// own id under it is cut), lowercased.
fn resource_id(id: &str) -> String {
    let lower = id.to_ascii_lowercase();
    let parts: Vec<&str> = lower.split('/').collect();
    match parts.iter().position(|p| {
        *p == "microsoft.cognitiveservices" || *p == "microsoft.machinelearningservices"
    }) {
        Some(i) if parts.len() > i + 2 => parts[..i + 3].join("/"),
        _ => lower,
    }
}

/// Maps one record (see the module documentation).
pub fn normalize(raw: Map<String, Value>) -> Result<Map<String, Value>, NormalizeError> {
    let mut out = raw.clone();
    let raw = Value::Object(raw);
    let time = text(&raw, "time").ok_or(NormalizeError::Invalid {
        field: "time",
        expected: "a time",
    })?;
    if !storage::timestamp(&mut out, time) {
        return Err(NormalizeError::Invalid {
            field: "time",
            expected: "an ISO 8601 time",
        });
    }
    let operation = text(&raw, "operationName").ok_or(NormalizeError::Invalid {
        field: "operationName",
        expected: "an operation name",
    })?;
    put(&mut out, "event.action", Some(operation.into()));
    put(
        &mut out,
        "modelward.control.operation",
        Some(operation_class(operation).into()),
    );
    let outcome = text(&raw, "resultType").and_then(|r| match r.to_ascii_lowercase().as_str() {
        "success" | "succeeded" => Some("success"),
        "failure" | "failed" => Some("failure"),
        _ => None,
    });
    put(&mut out, "event.outcome", outcome.map(Value::from));
    let duration = match get(&raw, "durationMs") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    put(
        &mut out,
        "event.duration",
        duration.map(|ms| Value::from(ms.saturating_mul(1_000_000))),
    );
    put(
        &mut out,
        "event.id",
        text(&raw, "correlationId").map(Value::from),
    );
    if let Some(caller) = text(&raw, "callerIpAddress") {
        put(
            &mut out,
            "source.ip",
            storage::ip_of(caller).map(Value::from),
        );
    }
    put(&mut out, "cloud.provider", Some("azure".into()));
    if let Some(id) = text(&raw, "resourceId") {
        let [subscription, group, provider, name] = resource_parts(id);
        put(&mut out, "azure.resource.id", Some(resource_id(id).into()));
        put_subscription(&mut out, subscription, group);
        put(
            &mut out,
            "azure.resource.provider",
            provider.map(Value::from),
        );
        put(&mut out, "azure.resource.name", name.map(Value::from));
    }
    let claims = get(&raw, "identity.claims");
    let claim = |name: &str| claim(claims, name);
    let upn = claim(UPN).or(claim("upn"));
    let app_id = claim("appid").or(claim("azp"));
    put(
        &mut out,
        "user.id",
        claim(OBJECT_ID).or(claim("oid")).map(Value::from),
    );
    put(
        &mut out,
        "user.name",
        upn.or(claim("name")).or(app_id).map(Value::from),
    );
    if claims.is_some() {
        let auth = if claim("xms_mirid").is_some() {
            "managed_identity"
        } else if upn.is_none()
            && (claim("idtyp") == Some("app") || claim("appidacr").is_some_and(|a| a != "0"))
        {
            "service_principal"
        } else {
            "user"
        };
        put(&mut out, "modelward.auth", Some(auth.into()));
    }
    put(
        &mut out,
        "azure.activitylogs.identity.app_id",
        app_id.map(Value::from),
    );
    put(
        &mut out,
        "azure.activitylogs.identity.authorization.evidence.role",
        text(&raw, "identity.authorization.evidence.role").map(Value::from),
    );
    for (from, to) in [
        ("category", "category"),
        ("operationName", "operation_name"),
        ("resultType", "result_type"),
        ("resultSignature", "result_signature"),
        ("level", "level"),
    ] {
        put(
            &mut out,
            &format!("azure.activitylogs.{to}"),
            text(&raw, from).map(Value::from),
        );
    }
    storage::data_stream(&mut out, DATASET, "azure");
    Ok(out)
}

use super::contract::{self, Domain, Synthesized};

/// This source's normalizer in the [`super::REGISTRY`].
pub static SOURCE: contract::Source = contract::Source {
    kind: super::SourceKind::AzureActivity,
    name: "azure_activity",
    looks_like,
    normalize: normalize_record,
    synthesized: &[SYNTHESIZED],
};

/// [`normalize`] under the one contract.
fn normalize_record(raw: Map<String, Value>) -> Result<super::Normalized, super::SourceError> {
    super::partial_or_invalid(
        "azure_activity",
        normalize(raw).map_err(|e| (e.to_string(), None)),
    )
}

/// The fields this normalizer writes itself (see [`super::contract`]).
const SYNTHESIZED: &[Synthesized] = &[
    Synthesized::new("data_stream.dataset", Domain::Consts(&[DATASET])),
    Synthesized::new("event.dataset", Domain::Consts(&[DATASET])),
    Synthesized::new("modelward.control.operation", Domain::Consts(CLASSES)),
    Synthesized::new(
        "modelward.auth",
        Domain::Consts(&["managed_identity", "service_principal", "user"]),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        for (op, class) in [
            (
                "MICROSOFT.COGNITIVESERVICES/ACCOUNTS/LISTKEYS/ACTION",
                "list_keys",
            ),
            (
                "Microsoft.CognitiveServices/accounts/regenerateKey/action",
                "regenerate_key",
            ),
            (
                "MICROSOFT.COGNITIVESERVICES/ACCOUNTS/DEPLOYMENTS/WRITE",
                "deployment_write",
            ),
            (
                "MICROSOFT.MACHINELEARNINGSERVICES/WORKSPACES/ONLINEENDPOINTS/DEPLOYMENTS/DELETE",
                "deployment_delete",
            ),
            (
                "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE",
                "role_assignment_write",
            ),
            (
                "MICROSOFT.COGNITIVESERVICES/ACCOUNTS/WRITE",
                "resource_write",
            ),
            (
                "MICROSOFT.COGNITIVESERVICES/ACCOUNTS/DEPLOYMENTS/READ",
                "other",
            ),
            ("", "other"),
        ] {
            assert_eq!(operation_class(op), class, "{op}");
        }
    }

    #[test]
    fn resources() {
        let id = "/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/OAI/PROVIDERS/MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/G";
        assert_eq!(
            resource_parts(id),
            [
                Some("s1".into()),
                Some("rg".into()),
                Some("microsoft.cognitiveservices".into()),
                Some("oai".into())
            ]
        );
        assert_eq!(
            resource_id(id),
            "/subscriptions/s1/resourcegroups/rg/providers/microsoft.cognitiveservices/accounts/oai"
        );
        assert_eq!(resource_parts("x"), [None, None, None, None]);
    }
}
