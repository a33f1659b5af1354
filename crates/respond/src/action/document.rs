//! The JSON document that tells an outside system to carry out one action: the body of a
//! [webhook](super::webhook) and the standard input of a [command](super::command).
//!
//! ```json
//! {"type":"modelward.action","version":1,"id":"<idempotency key>","incident":"INC-…",
//!  "action":"rate_limit","params":{"kind":"rate_limit","requests_per_minute":10,"duration_ms":null},
//!  "target":{"kind":"api_key","value":"key-7"},"decision":"D2","reason":"…","rules":["…"],
//!  "sent_at":"2026-01-01T00:00:00.000Z"}
//! ```
//!
//! `id` is [`PlannedAction::idempotency_key`]: a receiver that has already carried out an
//! `id` should answer 2xx again without repeating it (a retry after a lost answer sends the
//! same `id`).

use std::time::SystemTime;

use serde::Serialize;

use super::{Action, PlannedAction};

/// The value of `type`.
pub const DOCUMENT_TYPE: &str = "modelward.action";
/// The value of `version`; it changes only when a field changes meaning or goes away.
pub const DOCUMENT_VERSION: u32 = 1;

/// The document, field by field, in the order written.
#[derive(Debug, Serialize)]
pub struct Document<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub version: u32,
    /// The idempotency key.
    pub id: String,
    pub incident: &'a str,
    /// `block`, `rate_limit`, ... ([`Action::kind`]).
    pub action: &'static str,
    /// The action with its parameters, as [`Action`] serializes (`{"kind":…, …}`).
    pub params: &'a Action,
    pub target: Target<'a>,
    pub decision: &'a str,
    pub reason: &'a str,
    pub rules: &'a [String],
    /// RFC 3339, UTC, milliseconds.
    pub sent_at: String,
}

/// What the action acts on.
#[derive(Debug, Serialize)]
pub struct Target<'a> {
    /// [`TargetKind::as_str`](super::TargetKind::as_str).
    pub kind: &'static str,
    pub value: &'a str,
}

impl<'a> Document<'a> {
    pub fn new(action: &'a PlannedAction, sent_at: SystemTime) -> Document<'a> {
        let sent_at = chrono::DateTime::<chrono::Utc>::from(sent_at)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        Document {
            kind: DOCUMENT_TYPE,
            version: DOCUMENT_VERSION,
            id: action.idempotency_key(),
            incident: &action.incident,
            action: action.action.kind(),
            params: &action.action,
            target: Target {
                kind: action.target_kind.as_str(),
                value: &action.target,
            },
            decision: &action.decision,
            reason: &action.reason,
            rules: &action.rules,
            sent_at,
        }
    }

    /// The document as compact JSON, the exact bytes that are sent (and signed).
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }
}

/// The kinds in an executor's `actions` list that are not action kinds, for config errors.
pub(crate) fn unknown_kinds(actions: &[String]) -> Vec<String> {
    actions
        .iter()
        .filter(|a| !Action::KINDS.contains(&a.as_str()))
        .cloned()
        .collect()
}

/// Whether an executor with this `actions` list (empty: all) handles `action`.
pub(crate) fn handles_kind(actions: &[String], action: &PlannedAction) -> bool {
    actions.is_empty() || actions.iter().any(|a| a == action.action.kind())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::action::TargetKind;

    #[test]
    fn fields_in_order_with_params_and_rfc3339_time() {
        let planned = PlannedAction {
            incident: "INC-1".into(),
            action: Action::RateLimit {
                requests_per_minute: 10,
                duration_ms: None,
            },
            target_kind: TargetKind::ApiKey,
            target: "key-7".into(),
            decision: "D2".into(),
            reason: "extraction".into(),
            rules: vec!["MW-001".into()],
        };
        let at = UNIX_EPOCH + Duration::from_millis(1_767_225_600_123);
        let json = String::from_utf8(Document::new(&planned, at).to_json().unwrap()).unwrap();
        let key = planned.idempotency_key();
        assert_eq!(
            json,
            format!(
                r#"{{"type":"modelward.action","version":1,"id":"{key}","incident":"INC-1","action":"rate_limit","params":{{"kind":"rate_limit","requests_per_minute":10,"duration_ms":null}},"target":{{"kind":"api_key","value":"key-7"}},"decision":"D2","reason":"extraction","rules":["MW-001"],"sent_at":"2026-01-01T00:00:00.123Z"}}"#
            )
        );
    }

    #[test]
    fn kinds_filter() {
        assert!(unknown_kinds(&["notify".into(), "block".into()]).is_empty());
        assert_eq!(unknown_kinds(&["nuke".into()]), vec!["nuke".to_string()]);
    }
}
