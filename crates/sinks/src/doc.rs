//! The alert document (`Alert::to_json`, docs/alerts.md) as the sinks read it. Every mapping
//! starts from the document, not from the `Alert` struct, so what a sink sends is what
//! `--output FILE` writes, and a spooled or saved alert maps the same way.

use serde_json::{Map, Value};

/// The top-level keys the alert document defines; any other key is a rule field (an ES|QL
/// column, a Sigma `fields:` value, a detector's `message`).
pub const ALERT_KEYS: [&str; 12] = [
    "@timestamp",
    "event",
    "rule",
    "severity",
    "risk_score",
    "threat",
    "alert",
    "entity",
    "window",
    "original_time",
    "evidence",
    "suppression",
];

/// Read access to one alert document.
#[derive(Clone, Copy)]
pub struct View<'a>(pub &'a Value);

impl<'a> View<'a> {
    fn str_at(&self, path: &[&str]) -> Option<&'a str> {
        let mut v = self.0;
        for p in path {
            v = v.get(p)?;
        }
        v.as_str()
    }

    /// `alert.id`: stable across runs.
    pub fn id(&self) -> &'a str {
        self.str_at(&["alert", "id"]).unwrap_or("")
    }

    /// `@timestamp` as written (RFC 3339, UTC, milliseconds).
    pub fn timestamp(&self) -> Option<&'a str> {
        self.str_at(&["@timestamp"])
    }

    /// `@timestamp` in Unix milliseconds.
    pub fn timestamp_ms(&self) -> Option<i64> {
        self.timestamp().and_then(modelward_event::parse_timestamp)
    }

    pub fn rule(&self, key: &str) -> Option<&'a str> {
        self.str_at(&["rule", key])
    }

    pub fn rule_strings(&self, key: &str) -> Vec<&'a str> {
        self.0
            .get("rule")
            .and_then(|r| r.get(key))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// `low`, `medium`, `high` or `critical`.
    pub fn severity(&self) -> &'a str {
        self.str_at(&["severity"]).unwrap_or("medium")
    }

    pub fn risk_score(&self) -> Option<i64> {
        self.0.get("risk_score").and_then(Value::as_i64)
    }

    /// One entity value: `principal`, `source.ip`, `resource`, `model`.
    pub fn entity(&self, key: &str) -> Option<&'a str> {
        self.0
            .get("entity")
            .and_then(|e| e.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    pub fn entity_map(&self) -> Option<&'a Map<String, Value>> {
        self.0.get("entity").and_then(Value::as_object)
    }

    /// The rule field `message`, else the rule's name.
    pub fn message(&self) -> &'a str {
        self.str_at(&["message"])
            .or_else(|| self.rule("name"))
            .unwrap_or("")
    }

    /// `window.start`, `window.end`.
    pub fn window(&self) -> Option<(&'a str, &'a str)> {
        Some((
            self.str_at(&["window", "start"])?,
            self.str_at(&["window", "end"])?,
        ))
    }

    pub fn original_time(&self) -> Option<&'a str> {
        self.str_at(&["original_time"])
    }

    pub fn evidence(&self) -> Option<&'a Value> {
        self.0.get("evidence").filter(|e| !e.is_null())
    }

    /// `evidence.first_seen` and `evidence.last_seen`, else the window.
    pub fn first_last_seen(&self) -> Option<(&'a str, &'a str)> {
        match (
            self.str_at(&["evidence", "first_seen"]),
            self.str_at(&["evidence", "last_seen"]),
        ) {
            (Some(a), Some(b)) => Some((a, b)),
            _ => None,
        }
    }

    /// `evidence.events`: how many events the alert stands for.
    pub fn event_count(&self) -> Option<u64> {
        self.0
            .get("evidence")
            .and_then(|e| e.get("events"))
            .and_then(Value::as_u64)
    }

    /// The source record of an alert on one event: (file, line, offset).
    pub fn source_record(&self) -> Option<(&'a str, Option<u64>, Option<u64>)> {
        let s = self.0.get("evidence")?.get("source")?;
        Some((
            s.get("file")?.as_str()?,
            s.get("line").and_then(Value::as_u64),
            s.get("offset").and_then(Value::as_u64),
        ))
    }

    /// The source files the evidence names (its record or its samples), in order, once each.
    pub fn source_files(&self) -> Vec<&'a str> {
        let mut out: Vec<&str> = Vec::new();
        let Some(e) = self.evidence() else {
            return out;
        };
        let mut push = |f: Option<&'a str>| {
            if let Some(f) = f {
                if !out.contains(&f) {
                    out.push(f);
                }
            }
        };
        push(
            e.get("source")
                .and_then(|s| s.get("file"))
                .and_then(Value::as_str),
        );
        if let Some(samples) = e.get("samples").and_then(Value::as_array) {
            for s in samples {
                push(s.get("file").and_then(Value::as_str));
            }
        }
        out
    }

    pub fn threat(&self) -> &'a [Value] {
        self.0
            .get("threat")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// (framework, tactic id, tactic name, tactic reference) of every threat entry with a
    /// tactic.
    pub fn tactics(&self) -> Vec<Tactic<'a>> {
        self.threat()
            .iter()
            .filter_map(|t| {
                let tactic = t.get("tactic")?;
                let id = tactic.get("id").and_then(Value::as_str).unwrap_or("");
                let name = tactic.get("name").and_then(Value::as_str).unwrap_or("");
                (!id.is_empty() || !name.is_empty()).then(|| Tactic {
                    framework: t.get("framework").and_then(Value::as_str).unwrap_or(""),
                    id,
                    name,
                    reference: tactic.get("reference").and_then(Value::as_str),
                })
            })
            .collect()
    }

    /// Every technique (and sub-technique) of the threat entries, with its entry's tactic.
    pub fn techniques(&self) -> Vec<(Option<Tactic<'a>>, Technique<'a>)> {
        let mut out = Vec::new();
        for t in self.threat() {
            let framework = t.get("framework").and_then(Value::as_str).unwrap_or("");
            let tactic = t.get("tactic").and_then(|tactic| {
                let id = tactic.get("id").and_then(Value::as_str).unwrap_or("");
                let name = tactic.get("name").and_then(Value::as_str).unwrap_or("");
                (!id.is_empty() || !name.is_empty()).then(|| Tactic {
                    framework,
                    id,
                    name,
                    reference: tactic.get("reference").and_then(Value::as_str),
                })
            });
            for tech in t
                .get("technique")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(technique) = Technique::of(tech, framework, None) else {
                    continue;
                };
                out.push((tactic, technique));
                for sub in tech
                    .get("subtechnique")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(s) = Technique::of(sub, framework, Some(technique.id)) {
                        out.push((tactic, s));
                    }
                }
            }
        }
        out
    }

    /// The rule fields: every top-level key the alert document does not define itself.
    pub fn fields(&self) -> Map<String, Value> {
        self.0
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, _)| !ALERT_KEYS.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tactic<'a> {
    pub framework: &'a str,
    pub id: &'a str,
    pub name: &'a str,
    pub reference: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Technique<'a> {
    pub framework: &'a str,
    pub id: &'a str,
    pub name: &'a str,
    pub reference: Option<&'a str>,
    /// The technique a sub-technique belongs to.
    pub parent: Option<&'a str>,
}

impl<'a> Technique<'a> {
    fn of(v: &'a Value, framework: &'a str, parent: Option<&'a str>) -> Option<Technique<'a>> {
        let id = v.get("id").and_then(Value::as_str).unwrap_or("");
        let name = v.get("name").and_then(Value::as_str).unwrap_or("");
        (!id.is_empty() || !name.is_empty()).then(|| Technique {
            framework,
            id,
            name,
            reference: v.get("reference").and_then(Value::as_str),
            parent,
        })
    }
}

/// OCSF's severity ids (also used for ECS `event.severity`): 2 low, 3 medium, 4 high, 5
/// critical.
pub fn severity_id(severity: &str) -> u8 {
    match severity {
        "low" => 2,
        "medium" => 3,
        "high" => 4,
        "critical" => 5,
        _ => 0,
    }
}

/// `Low`, `Medium`, `High`, `Critical`.
pub fn severity_caption(severity: &str) -> &'static str {
    match severity {
        "low" => "Low",
        "medium" => "Medium",
        "high" => "High",
        "critical" => "Critical",
        _ => "Unknown",
    }
}
