//! Scores a hunt over simulated traffic against the simulation's labels: per attack
//! profile, whether it was detected and after how many of its calls; per benign profile, how
//! many alerts name its principals (each one a false positive).
//!
//! An alert names a principal through `entity.principal`, or through a `principals` list in
//! its evidence (alerts about several accounts at once); it matches a label's API key id or
//! user (for the storage profiles: the caller's ARN, the CloudTrail normalizer's `user.id`,
//! and its `user.name`). The detection delay of an attack profile is the number of the profile's calls up to
//! its earliest alert's time (all its principals together, for distributed attacks).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::BufRead;

use serde_json::Value;

/// What a hunt found of one profile.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProfileScore {
    pub profile: String,
    /// `benign` or `attack`.
    pub class: String,
    pub principals: usize,
    pub calls: u64,
    /// Alerts naming one of its principals.
    pub alerts: u64,
    /// The codes (rule ids) of those alerts.
    pub rules: BTreeSet<String>,
    /// The profile's calls up to its earliest alert (attacks: the detection delay).
    pub calls_until_alert: Option<u64>,
    /// Milliseconds from the profile's first call to its earliest alert (which may precede
    /// it, for an alert about a shared principal).
    pub ms_until_alert: Option<i64>,
}

/// A line of the inputs that is not what the scorer expects.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("{what} line {line}: {message}")]
    Line {
        what: &'static str,
        line: usize,
        message: String,
    },
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("the log has {log} lines but the labels {labels}")]
    Mismatch { log: usize, labels: usize },
}

/// `@timestamp`, else CloudTrail's `eventTime` (the simulated storage records).
fn time_of(v: &Value) -> Option<i64> {
    let s = v
        .get("@timestamp")
        .or_else(|| v.get("eventTime"))?
        .as_str()?;
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

fn lines<'a>(
    what: &'static str,
    input: impl BufRead + 'a,
) -> impl Iterator<Item = Result<(usize, Value), ScoreError>> + 'a {
    input.lines().enumerate().filter_map(move |(i, line)| {
        let line = match line {
            Ok(l) => l,
            Err(source) => return Some(Err(ScoreError::Io { what, source })),
        };
        if line.trim().is_empty() {
            return None;
        }
        Some(
            serde_json::from_str(&line)
                .map(|v| (i + 1, v))
                .map_err(|e| ScoreError::Line {
                    what,
                    line: i + 1,
                    message: e.to_string(),
                }),
        )
    })
}

/// The principals an alert names.
fn named(alert: &Value) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    if let Some(p) = alert.pointer("/entity/principal").and_then(Value::as_str) {
        out.push(p);
    }
    for key in ["principals", "members"] {
        if let Some(list) = alert
            .pointer(&format!("/evidence/{key}"))
            .and_then(Value::as_array)
        {
            for item in list {
                match item {
                    Value::String(s) => out.push(s),
                    Value::Object(m) => {
                        if let Some(s) = m.get("principal").and_then(Value::as_str) {
                            out.push(s);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

/// Scores `alerts` (modelward's NDJSON alerts) against `log` (the simulated LLM log) and
/// `labels` (its labels, one per log line), profile by profile in name order.
pub fn score(
    log: impl BufRead,
    labels: impl BufRead,
    alerts: impl BufRead,
) -> Result<Vec<ProfileScore>, ScoreError> {
    let mut times = Vec::new();
    for row in lines("log", log) {
        let (line, v) = row?;
        times.push(time_of(&v).ok_or_else(|| ScoreError::Line {
            what: "log",
            line,
            message: "no @timestamp or eventTime".into(),
        })?);
    }
    // Per profile: class, principals' names, and its calls' times in order.
    let mut profiles: BTreeMap<String, (String, BTreeSet<String>, Vec<i64>)> = BTreeMap::new();
    let mut owner: HashMap<String, String> = HashMap::new();
    let mut count = 0;
    for row in lines("labels", labels) {
        let (line, v) = row?;
        let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let profile = field("profile");
        if profile.is_empty() {
            return Err(ScoreError::Line {
                what: "labels",
                line,
                message: "no profile".into(),
            });
        }
        let entry = profiles
            .entry(profile.clone())
            .or_insert_with(|| (field("class"), BTreeSet::new(), Vec::new()));
        for name in [field("principal"), field("user")] {
            if !name.is_empty() {
                owner.insert(name.clone(), profile.clone());
                entry.1.insert(name);
            }
        }
        if let Some(&t) = times.get(count) {
            entry.2.push(t);
        }
        count += 1;
    }
    if count != times.len() {
        return Err(ScoreError::Mismatch {
            log: times.len(),
            labels: count,
        });
    }
    let mut scores: BTreeMap<String, ProfileScore> = profiles
        .iter()
        .map(|(name, (class, principals, calls))| {
            let score = ProfileScore {
                profile: name.clone(),
                class: class.clone(),
                // Key ids and users both name a principal: count keys (half the names
                // when every key has its user).
                principals: principals.len().div_ceil(2),
                calls: calls.len() as u64,
                ..ProfileScore::default()
            };
            (name.clone(), score)
        })
        .collect();
    for row in lines("alerts", alerts) {
        let (_, alert) = row?;
        let at = time_of(&alert);
        let rule = alert
            .pointer("/rule/id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let hit: BTreeSet<&String> = named(&alert).iter().filter_map(|n| owner.get(*n)).collect();
        for profile in hit {
            let (Some(s), Some((_, _, calls))) = (scores.get_mut(profile), profiles.get(profile))
            else {
                continue;
            };
            s.alerts += 1;
            s.rules.insert(rule.clone());
            let first = calls.first().copied().unwrap_or(0);
            if let Some(at) = at.filter(|&at| s.ms_until_alert.is_none_or(|ms| at - first < ms)) {
                s.calls_until_alert = Some(calls.iter().take_while(|&&t| t <= at).count() as u64);
                s.ms_until_alert = Some(at - first);
            }
        }
    }
    Ok(scores.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_and_false_positives_by_profile() {
        let log = (0..6)
            .map(|i| format!("{{\"@timestamp\":\"2025-03-03T00:00:0{i}Z\"}}\n"))
            .collect::<String>();
        let label = |p: &str, class: &str, key: &str, user: &str| {
            format!("{{\"profile\":\"{p}\",\"class\":\"{class}\",\"principal\":\"{key}\",\"user\":\"{user}\"}}\n")
        };
        let labels = [
            label("chat", "benign", "key_a", "alice"),
            label("sweep", "attack", "key_x", "mallory"),
            label("sweep", "attack", "key_y", "trudy"),
            label("sweep", "attack", "key_x", "mallory"),
            label("chat", "benign", "key_a", "alice"),
            label("sweep", "attack", "key_y", "trudy"),
        ]
        .concat();
        let alerts = concat!(
            "{\"@timestamp\":\"2025-03-03T00:00:04Z\",\"rule\":{\"id\":\"MW-TH-0001\"},\"entity\":{\"principal\":\"trudy\"}}\n",
            "{\"@timestamp\":\"2025-03-03T00:00:03Z\",\"rule\":{\"id\":\"MW-TH-0003\"},\"entity\":{},\"evidence\":{\"principals\":[\"key_x\",\"key_y\"]}}\n",
            "{\"@timestamp\":\"2025-03-03T00:00:05Z\",\"rule\":{\"id\":\"MW-AI-0014\"},\"entity\":{\"principal\":\"alice\"}}\n",
        );
        let s = score(log.as_bytes(), labels.as_bytes(), alerts.as_bytes()).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].profile.as_str(), s[0].alerts, s[0].principals),
            ("chat", 1, 1)
        );
        let sweep = &s[1];
        assert_eq!((sweep.calls, sweep.principals, sweep.alerts), (4, 2, 2));
        // The earliest alert (00:00:03) came after 3 of the sweep's calls (lines 2, 3, 4).
        assert_eq!(sweep.calls_until_alert, Some(3));
        assert_eq!(sweep.ms_until_alert, Some(2000));
        assert_eq!(
            sweep.rules.iter().map(String::as_str).collect::<Vec<_>>(),
            vec!["MW-TH-0001", "MW-TH-0003"]
        );
        assert!(matches!(
            score(log.as_bytes(), "".as_bytes(), "".as_bytes()),
            Err(ScoreError::Mismatch { log: 6, labels: 0 })
        ));
    }
}
