//! Callers: virtual keys issued by modelward (`modelward gateway keys create`), or the
//! caller's own key passed through.
//!
//! A virtual key is `sk-mw-` and 48 hex digits (192 random bits). The store keeps its SHA-256
//! only; the gateway reads the keys with the measures (every `refresh`) and finds a caller's
//! by hashing what it presents. A virtual key names a principal, optionally a team, and
//! optionally its own limits (requests and tokens per minute, models allowed). It is never
//! sent upstream: the upstream's own key (`api_key_env`) is.
//!
//! A key the gateway did not issue is, by `keys` in the configuration:
//! - `passthrough` (the default): served as the caller's own, its principal being its id
//!   (`key-` and 16 hex digits of its SHA-256; the key itself is never stored or logged), the
//!   key sent upstream unless the upstream has its own (`api_key_env`);
//! - `virtual`: refused (401): only virtual keys are served.
//!
//! A virtual key calling an upstream without a key of its own is refused (502), since it is
//! never sent upstream; with `keys = "virtual"` the configuration is refused at start unless
//! every upstream has one.

use std::collections::HashMap;
use std::sync::Arc;

use modelward_store::gateway::VirtualKey;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// How the gateway treats keys it did not issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum KeyMode {
    #[default]
    Passthrough,
    Virtual,
}

/// Limits of a key, a team or the default policy; each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub requests_per_minute: Option<u32>,
    pub tokens_per_minute: Option<u64>,
    /// Models allowed (`*` globs); empty: any.
    #[serde(default)]
    pub models: Vec<String>,
}

impl Limits {
    /// Whether it limits nothing.
    pub fn is_empty(&self) -> bool {
        self.requests_per_minute.is_none()
            && self.tokens_per_minute.is_none()
            && self.models.is_empty()
    }

    /// Whether `model` is allowed (a request naming no model is).
    pub fn allows(&self, model: Option<&str>) -> bool {
        self.models.is_empty()
            || model.is_none_or(|m| {
                self.models
                    .iter()
                    .any(|g| modelward_event::glob::glob_match(g, m))
            })
    }
}

/// A virtual key the gateway serves.
#[derive(Debug, Clone, PartialEq)]
pub struct Issued {
    pub id: String,
    pub principal: String,
    pub team: Option<String>,
    pub limits: Limits,
    pub expires_at: Option<i64>,
    pub revoked: bool,
}

/// The virtual keys, by SHA-256.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    by_hash: HashMap<String, Arc<Issued>>,
    /// Keys whose limits could not be read (served without them; said once at load).
    pub unreadable: Vec<String>,
}

impl Keys {
    pub fn new(keys: &[VirtualKey]) -> Keys {
        let mut out = Keys::default();
        for k in keys {
            let limits = serde_json::from_str::<Limits>(&k.limits).unwrap_or_else(|_| {
                out.unreadable.push(k.id.clone());
                // Unreadable limits: the strictest reading, no request at all.
                Limits {
                    requests_per_minute: Some(0),
                    ..Limits::default()
                }
            });
            out.by_hash.insert(
                k.hash.clone(),
                Arc::new(Issued {
                    id: k.id.clone(),
                    principal: k.principal.clone(),
                    team: k.team.clone(),
                    limits,
                    expires_at: k.expires_at,
                    revoked: k.revoked_at.is_some(),
                }),
            );
        }
        out
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The virtual key `key` is, if it is one.
    pub fn find(&self, key: &str) -> Option<Arc<Issued>> {
        if self.by_hash.is_empty() {
            return None;
        }
        self.by_hash.get(&hash(key)).cloned()
    }
}

/// A key's SHA-256, hex.
pub fn hash(key: &str) -> String {
    modelward_event::hash::hex(&Sha256::digest(key.as_bytes()))
}

/// A key's stable id: `key-` and the first 16 hex digits of its SHA-256 (the key itself is
/// never stored or logged).
pub fn key_id(key: &str) -> String {
    format!("key-{}", &hash(key)[..16])
}

/// A new virtual key from 24 random bytes, with what the store keeps of it.
pub fn issue(
    random: [u8; 24],
    principal: &str,
    team: Option<&str>,
    name: &str,
    limits: &Limits,
    now: i64,
    expires_at: Option<i64>,
) -> (String, VirtualKey) {
    let key = format!("sk-mw-{}", modelward_event::hash::hex(&random));
    let limits_json = serde_json::json!({
        "requests_per_minute": limits.requests_per_minute,
        "tokens_per_minute": limits.tokens_per_minute,
        "models": limits.models,
    });
    let stored = VirtualKey {
        id: key_id(&key),
        hash: hash(&key),
        principal: principal.to_string(),
        team: team.map(String::from),
        name: name.to_string(),
        limits: limits_json.to_string(),
        created_at: now,
        expires_at,
        revoked_at: None,
    };
    (key, stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_key_is_found_by_its_hash_only() {
        let limits = Limits {
            requests_per_minute: Some(30),
            tokens_per_minute: None,
            models: vec!["gpt-4o*".into()],
        };
        let (key, stored) = issue([7; 24], "alice", Some("search"), "nb", &limits, 5, None);
        assert!(key.starts_with("sk-mw-") && key.len() == 54);
        assert!(!stored.hash.contains(&key[6..]) && stored.id == key_id(&key));
        let keys = Keys::new(&[stored]);
        let found = keys.find(&key).unwrap();
        assert_eq!(
            (found.principal.as_str(), found.team.as_deref()),
            ("alice", Some("search"))
        );
        assert_eq!(found.limits, limits);
        assert!(found.limits.allows(Some("gpt-4o-mini")) && !found.limits.allows(Some("o1")));
        assert!(keys.find("sk-mw-000").is_none());
    }

    #[test]
    fn unreadable_limits_refuse_everything_and_are_said() {
        let (_, mut stored) = issue([1; 24], "p", None, "", &Limits::default(), 0, None);
        stored.limits = "{not json".into();
        let keys = Keys::new(&[stored]);
        assert_eq!(keys.unreadable.len(), 1);
    }

    #[test]
    fn key_ids_are_stable_and_say_nothing_of_the_key() {
        let id = key_id("sk-test-123");
        assert_eq!(id, key_id("sk-test-123"));
        assert_eq!(id.len(), 20);
        assert!(!id.contains("123"));
        assert_ne!(id, key_id("sk-test-124"));
    }
}
