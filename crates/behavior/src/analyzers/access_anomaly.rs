//! # Access anomaly in AI resource
//!
//! ## What it detects
//! A principal calling from something new against its own baseline: a user agent family
//! it never used (product names with their major versions, so a patch upgrade of an SDK is
//! not new), an address range it never came from (the /24 of an IPv4 address, the /48 of an
//! IPv6 one; Azure's masked `a.b.c.***` addresses give their /24), or an auth method it never
//! used (an Entra ID token where it used keys, an IAM user where it assumed a role). A
//! principal must first be known: seen for `warmup_calls` calls (20) over at least `warmup`
//! (24 hours); values seen during the warm-up form its baseline. One alert per new value per
//! principal, counting the calls that used it; the new value then joins the baseline. A
//! principal whose baseline already holds `max_values` (32) values of a kind is too varied to
//! judge on that kind.
//!
//! ## Why it matters
//! A key or token used from a new tool, network or auth path is how a stolen credential
//! shows in the logs: the owner's application keeps its user agent and egress addresses, the
//! thief's does not. Defender for Cloud raises this alert on such changes in user agents, IP
//! ranges and authentication methods.
//!
//! ## Example
//! For a week the key `key-7f3a` is used by `OpenAI/Python 1.x` from `10.20.30.0/24`; at
//! 02:14 it calls with `python-requests/2.31.0` from `198.51.100.23`: two alerts, "new user
//! agent python-requests/2" and "new address range 198.51.100.0/24", each with the
//! baseline's values, since when the principal is known, and the calls that used the new
//! value.
//!
//! ## False positives
//! Client upgrades across a major version, a new office or VPN egress, a move between clouds
//! or regions, a CI runner pool with changing addresses, a switch from keys to Entra ID. Each
//! alerts once per principal and value.
//!
//! ## Response
//! Confirm with the principal's owner whether the new client, network or auth method is
//! theirs. If not: rotate the key or revoke the token, block the address range at the gateway,
//! and review what the principal did since the first new call (the samples and `first_seen`).
//!
//! ## References
//! - Microsoft Defender for Cloud, Alerts for AI services: "Access anomaly in AI resource" (`AI.Azure_AccessAnomaly`), Execution, Reconnaissance, Initial access, Medium: https://learn.microsoft.com/en-us/azure/defender-for-cloud/alerts-ai-workloads
//! - MITRE ATLAS AML.T0012 Valid Accounts: https://atlas.mitre.org/techniques/AML.T0012

use modelward_rule::Severity;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use super::iso;
use crate::features::{ip_range, user_agent_family};
use crate::finding::{keep_sample, Sample};
use crate::{AccessSettings, Analyzer, Call, Code, Finding, Profiles};
use crate::{Pending, ProfileStore};

pub const CODE: Code = Code {
    code: "MW-AI-0014",
    name: "Access anomaly in AI resource",
    defender: Some("AI.Azure_AccessAnomaly"),
    severity: Severity::Medium,
    tactics: &["Execution", "Reconnaissance", "Initial Access"],
    atlas: ("AML.T0012", "Valid Accounts"),
    doc: include_str!("access_anomaly.rs"),
};

/// The registry's constructor (`analyzers/mod.rs`): the analyzer, from
/// `[behavior.access_anomaly]` and `max_principals`.
pub fn build(s: &crate::Settings) -> Box<dyn Analyzer> {
    Box::new(AccessAnomaly::new(&s.access, s.max_principals))
}

/// Which calls an access-anomaly analyzer judges: LLM calls (this file's MW-AI-0014), or
/// control-plane operations on AI resources (MW-AI-0022, `anomalous_operation.rs`, whose
/// baseline learns from every operation and which alerts on the high-risk ones only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plane {
    Data,
    Control,
}

/// Control-plane operations whose new user agent, address range or auth method alerts.
pub const HIGH_RISK: [&str; 4] = [
    "list_keys",
    "regenerate_key",
    "deployment_write",
    "role_assignment_write",
];

/// What the analyzer judges and how: its settings, the code it raises and its plane.
#[derive(Debug, Clone)]
pub struct Judge {
    pub settings: AccessSettings,
    pub code: &'static str,
    pub plane: Plane,
}

/// New values pending report per principal; more are counted only.
const PENDING: usize = 16;
/// Baseline values listed in the evidence.
const LISTED: usize = 10;

const KINDS: [(&str, &str); 4] = [
    ("user_agent", "user agent"),
    ("ip_range", "address range"),
    ("auth_method", "auth method"),
    ("client_app", "client application"),
];

/// A value new to a principal after its warm-up.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Novelty {
    /// Index into the kinds: user agent, address range, auth method, client application.
    pub kind: usize,
    pub value: String,
    /// The value as the log wrote it (the full user agent, the address).
    pub example: String,
    pub first: i64,
    pub last: i64,
    pub calls: u64,
    /// The baseline when it appeared.
    pub baseline: Vec<String>,
    pub baseline_size: usize,
    pub calls_before: u64,
    pub samples: Vec<Sample>,
    pub ip: Option<String>,
    pub model: Option<String>,
    /// The control-plane operation (`event.action`) and its resource, for MW-AI-0022.
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default)]
    pub resource: Option<String>,
}

/// What a principal is known to use.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Profile {
    pub first_seen: i64,
    pub calls: u64,
    /// Known values of the first three kinds (user agent, address range, auth method),
    /// with when each was first seen.
    pub known: [Vec<(String, i64)>; 3],
    /// Known client applications (the fourth kind; control plane), kept apart so that
    /// profiles saved before it read as they were.
    #[serde(default)]
    pub known_apps: Vec<(String, i64)>,
    pub pending: Vec<Novelty>,
    /// New values not kept for lack of room.
    pub unreported: u64,
}

pub struct AccessAnomaly {
    judge: Judge,
    profiles: Profiles<Profile>,
}

impl AccessAnomaly {
    pub fn new(settings: &AccessSettings, max_principals: usize) -> AccessAnomaly {
        AccessAnomaly::on(Plane::Data, CODE.code, settings, max_principals)
    }

    /// The analyzer of `plane`, raising `code`.
    pub fn on(
        plane: Plane,
        code: &'static str,
        settings: &AccessSettings,
        max_principals: usize,
    ) -> AccessAnomaly {
        AccessAnomaly {
            judge: Judge {
                settings: settings.clone(),
                code,
                plane,
            },
            profiles: Profiles::new(max_principals),
        }
    }
}

/// The new values still being counted are reported.
impl Pending for Profile {
    type Settings = Judge;

    fn flush(self, judge: &Judge, principal: &str, out: &mut Vec<Finding>) {
        report(judge.code, principal, self, out);
    }
}

fn report(code: &'static str, principal: &str, p: Profile, out: &mut Vec<Finding>) {
    let known_since = p.first_seen;
    for n in p.pending {
        let (kind, label) = KINDS[n.kind.min(KINDS.len() - 1)];
        let mut evidence = Map::new();
        evidence.insert("kind".into(), json!(kind));
        evidence.insert("new_value".into(), json!(n.value));
        if n.example != n.value {
            evidence.insert("example".into(), json!(n.example));
        }
        evidence.insert("calls_with_new_value".into(), json!(n.calls));
        evidence.insert(
            "baseline".into(),
            json!({
                "values": n.baseline,
                "size": n.baseline_size,
                "principal_first_seen": iso(known_since),
                "calls_before": n.calls_before,
            }),
        );
        if p.unreported > 0 {
            evidence.insert("unreported_new_values".into(), json!(p.unreported));
        }
        if let Some(op) = &n.operation {
            evidence.insert("operation".into(), json!(op));
        }
        if let Some(resource) = &n.resource {
            evidence.insert("resource".into(), json!(resource));
        }
        let what = match &n.operation {
            Some(op) => format!("ran {op} with"),
            None => "used".to_string(),
        };
        out.push(Finding {
            code,
            principal: principal.to_string(),
            timestamp: n.first,
            key: format!("{kind}:{}", n.value),
            summary: format!(
                "{principal} {what} a new {label} {} ({} calls from {}), known since {} with {}",
                n.value,
                n.calls,
                iso(n.first),
                iso(known_since),
                if n.baseline.is_empty() {
                    "none before".to_string()
                } else {
                    n.baseline.join(", ")
                }
            ),
            first_seen: n.first,
            last_seen: n.last,
            evidence,
            samples: n.samples,
            source_ip: n.ip,
            model: n.model,
        });
    }
}

impl Analyzer for AccessAnomaly {
    fn code(&self) -> &'static str {
        self.judge.code
    }

    fn observe(&mut self, call: &Call, out: &mut Vec<Finding>) {
        // On the data plane, LLM calls only (MW-TH-0007 and MW-TH-0008 see storage
        // accesses); on the control plane, the operations that are complete (a `Start`
        // record's result is another record).
        let high_risk = match (self.judge.plane, call.control.as_deref()) {
            (Plane::Data, _) if !call.is_llm() => return,
            (Plane::Data, _) => true,
            (Plane::Control, Some(c)) if c.outcome.is_some() => HIGH_RISK.contains(&&*c.operation),
            (Plane::Control, _) => return,
        };
        let judge = &self.judge;
        let s = &judge.settings;
        let p = self
            .profiles
            .touch_reporting(&call.principal, call.ts, judge, out);
        if p.calls == 0 {
            p.first_seen = call.ts;
        }
        let warm = p.calls >= s.warmup_calls && call.ts.saturating_sub(p.first_seen) >= s.warmup.0;
        let values: [Option<(String, &str)>; 4] = [
            call.user_agent
                .as_deref()
                .and_then(|ua| user_agent_family(ua).map(|f| (f, ua))),
            call.ip
                .as_deref()
                .and_then(|ip| ip_range(ip).map(|r| (r, ip))),
            call.auth.as_deref().map(|a| (a.to_string(), a)),
            call.control
                .as_deref()
                .and_then(|c| c.client_app.as_deref())
                .map(|a| (a.to_ascii_lowercase(), a)),
        ];
        for (kind, value) in values.into_iter().enumerate() {
            let Some((value, example)) = value else {
                continue;
            };
            if let Some(n) = p
                .pending
                .iter_mut()
                .find(|n| n.kind == kind && n.value == value)
            {
                n.calls += 1;
                n.last = call.ts;
                keep_sample(&mut n.samples, call);
                continue;
            }
            let known = match p.known.get_mut(kind) {
                Some(k) => k,
                None => &mut p.known_apps,
            };
            if known.iter().any(|(v, _)| *v == value) {
                continue;
            }
            if known.len() >= s.max_values {
                continue;
            }
            if warm && !high_risk {
                // A control-plane operation of no risk: its new value neither alerts nor
                // joins the baseline (a high-risk operation with it later alerts).
                continue;
            }
            if warm {
                if p.pending.len() < PENDING {
                    let mut n = Novelty {
                        kind,
                        value: value.clone(),
                        example: example.to_string(),
                        first: call.ts,
                        last: call.ts,
                        calls: 1,
                        baseline: known.iter().take(LISTED).map(|(v, _)| v.clone()).collect(),
                        baseline_size: known.len(),
                        calls_before: p.calls,
                        samples: Vec::new(),
                        ip: call.ip.as_deref().map(str::to_string),
                        model: call.model.as_deref().map(str::to_string),
                        operation: call
                            .control
                            .as_deref()
                            .and_then(|c| c.action.as_deref().or(Some(&*c.operation)))
                            .map(str::to_string),
                        resource: call
                            .control
                            .as_deref()
                            .and_then(|c| c.resource.as_deref())
                            .map(str::to_string),
                    };
                    keep_sample(&mut n.samples, call);
                    p.pending.push(n);
                } else {
                    p.unreported += 1;
                }
            }
            known.push((value, call.ts));
        }
        p.calls += 1;
    }

    fn finish(&mut self, out: &mut Vec<Finding>) {
        self.profiles.flush(&self.judge, out);
    }

    fn profiles(&self) -> Option<&dyn ProfileStore> {
        Some(&self.profiles)
    }

    fn profiles_mut(&mut self) -> Option<&mut dyn ProfileStore> {
        Some(&mut self.profiles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Settings;

    const HOUR: i64 = 3_600_000;

    fn run(calls: &[Call]) -> Vec<Finding> {
        crate::analyzer::feed::finished(
            &mut AccessAnomaly::new(&Settings::default().access, 100),
            calls,
        )
    }

    /// A week of hourly calls from one client.
    fn week(principal: &str, ua: &str) -> Vec<Call> {
        (0..7 * 24)
            .map(|h| {
                Call::test(principal, h * HOUR)
                    .with_user_agent(ua)
                    .with_ip(&format!("10.20.30.{}", h % 200))
                    .with_auth("key")
            })
            .collect()
    }

    #[test]
    fn a_new_client_network_and_auth_alert_once_each() {
        let mut calls = week("key-7f3a", "OpenAI/Python 1.12.0");
        for i in 0..5 {
            calls.push(
                Call::test("key-7f3a", 7 * 24 * HOUR + i * 1000)
                    .with_user_agent("python-requests/2.31.0")
                    .with_ip("198.51.100.23")
                    .with_auth("entra_id"),
            );
        }
        let f = run(&calls);
        assert_eq!(f.len(), 3, "{f:?}");
        let kinds: Vec<&str> = f
            .iter()
            .map(|f| f.evidence["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["user_agent", "ip_range", "auth_method"]);
        assert_eq!(f[0].evidence["new_value"], json!("python-requests/2"));
        assert_eq!(f[0].evidence["calls_with_new_value"], json!(5));
        assert_eq!(f[1].evidence["new_value"], json!("198.51.100.0/24"));
        assert_eq!(
            f[1].evidence["baseline"]["values"],
            json!(["10.20.30.0/24"])
        );
        assert_eq!(f[2].evidence["baseline"]["values"], json!(["key"]));
    }

    #[test]
    fn patch_upgrades_steady_users_and_warm_up_do_not() {
        let mut calls = week("alice", "OpenAI/Python 1.12.0");
        calls.extend((0..50).map(|i| {
            Call::test("alice", 7 * 24 * HOUR + i * HOUR)
                .with_user_agent("OpenAI/Python 1.14.2")
                .with_ip("10.20.30.250")
                .with_auth("key")
        }));
        assert!(run(&calls).is_empty());
        // Everything is new during the first day: nothing alerts.
        let young: Vec<Call> = (0..100)
            .map(|i| {
                Call::test("bob", i * 60_000)
                    .with_user_agent(&format!("tool{i}/1.0"))
                    .with_ip(&format!("203.0.{i}.1"))
            })
            .collect();
        assert!(run(&young).is_empty());
    }
}
