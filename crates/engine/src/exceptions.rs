//! Exceptions and allow-lists: activity known to be approved (a deployment role pulling its
//! own weights, a nightly evaluation job, a maintenance window) that would otherwise raise
//! alerts. An alert an exception matches is not sent to the sink, and is counted per
//! exception in [`RunStats`](crate::RunStats).
//!
//! An [`Exception`] names the rules it applies to (every rule when it names none: a global
//! allow-list) and criteria: principals, source addresses, user agents, time windows. The
//! criteria it gives must all hold (AND); within one criterion, any entry may (OR).
//!
//! Where is an alert judged? On the event that produced it for alerts on single events
//! (Sigma detections, detector findings, ES|QL rules without STATS): every principal field
//! of the event, every address field, its user agent and its time. For alerts on many
//! events (Sigma correlations, ES|QL aggregations, behavioural analyzers) on the alert: its
//! entity's principal and address, its `user_agent.original` field when it has one, and its
//! time. Events an exception matches are also left out of Sigma correlations and ES|QL
//! aggregations before they are counted, so an approved job's events do not add up to a
//! burst; the behavioural analyzers still learn from every call.
//!
//! ```
//! use modelward_engine::{Exception, Exceptions};
//! let deploy = Exception {
//!     principals: vec!["arn:aws:sts::*:assumed-role/model-deploy/*".into()],
//!     rules: vec!["Model weights downloaded from object storage".into()],
//!     ..Exception::named("deploy role pulls weights")
//! };
//! let exceptions = Exceptions::new(vec![deploy], 0).unwrap();
//! assert_eq!(exceptions.len(), 1);
//! ```

mod window;

use std::net::IpAddr;

use modelward_event::fields::{PRINCIPAL, SOURCE_IP};
use modelward_event::glob::glob_match;
use modelward_event::ip::{parse_ip, CidrSet};
use modelward_event::Event;
use modelward_rule::{Alert, RuleMeta};
use serde_json::Value as Json;

/// An address or a CIDR range, IPv4 or IPv6 (`192.0.2.7`, `10.0.0.0/8`, `2001:db8::/32`),
/// matched as Elasticsearch does: IPv4 addresses are IPv4-mapped IPv6 ones.
pub use modelward_event::ip::IpRange;
pub use window::{Days, TimeOfDay, Timestamp, Weekday, Window};

/// The field of the caller's user agent.
const USER_AGENT: &str = "user_agent.original";

/// Something wrong with an exception.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ExceptionError {
    #[error("no criteria: give at least one of principals, ips, user_agents, windows")]
    NoCriteria,
    #[error("the name is empty")]
    NoName,
    #[error("two exceptions are named {0:?} (the run summary counts them by name)")]
    DuplicateName(String),
    #[error("`rules` is empty: leave it out, or write [\"*\"], for every rule")]
    NoRules,
    #[error("invalid day {0:?}: expected mon, tue, wed, thu, fri, sat or sun")]
    Weekday(String),
    #[error("invalid time of day {0:?}: expected HH:MM (UTC), 00:00 to 24:00")]
    TimeOfDay(String),
    #[error("invalid timestamp {0:?}: expected RFC 3339, e.g. \"2025-03-01T22:00:00Z\"")]
    Timestamp(String),
    #[error("the window ends before it starts: `end` must be after `start`")]
    EmptyWindow,
    #[error("a weekly window opens at `from` (before 24:00) and closes at a different `to`")]
    WeeklyWindow,
}

/// One exception as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct Exception {
    /// Shown in the run summary; unique.
    pub name: String,
    /// Rule ids, names or built-in codes, with `*` wildcards, any case; empty or `*`:
    /// every rule.
    pub rules: Vec<String>,
    /// Principals (user, API key, role ARN, ...): exact, or patterns with `*`.
    pub principals: Vec<String>,
    pub ips: Vec<IpRange>,
    /// User agents: patterns with `*`, any case.
    pub user_agents: Vec<String>,
    pub windows: Vec<Window>,
    /// Why the activity is approved (a change ticket, an owner).
    pub reason: Option<String>,
    /// When it stops applying (epoch milliseconds), compared with the time of the run.
    pub expires: Option<i64>,
}

impl Exception {
    /// An exception with a name and nothing else yet (fill in the rest with `..`).
    pub fn named(name: &str) -> Exception {
        Exception {
            name: name.to_string(),
            rules: Vec::new(),
            principals: Vec::new(),
            ips: Vec::new(),
            user_agents: Vec::new(),
            windows: Vec::new(),
            reason: None,
            expires: None,
        }
    }

    /// Whether it can apply: it has a name, criteria, and rules when it lists any.
    pub fn check(&self) -> Result<(), ExceptionError> {
        if self.name.trim().is_empty() {
            return Err(ExceptionError::NoName);
        }
        if self.principals.is_empty()
            && self.ips.is_empty()
            && self.user_agents.is_empty()
            && self.windows.is_empty()
        {
            return Err(ExceptionError::NoCriteria);
        }
        Ok(())
    }

    /// Whether it applies to a rule: by id or name (`*` wildcards, any case).
    fn applies_to(&self, rule: &RuleMeta) -> bool {
        self.rules.is_empty() || self.rules.iter().any(|s| names(s, &rule.id, &rule.name))
    }
}

/// Whether a rule selector names a rule of this id or name.
fn names(selector: &str, id: &str, name: &str) -> bool {
    let s = selector.to_lowercase();
    [id, name].iter().any(|n| glob_match(&s, &n.to_lowercase()))
}

/// An exception ready to match.
#[derive(Debug, Clone)]
struct Compiled {
    exception: Exception,
    expired: bool,
    ips: CidrSet<()>,
    /// Lowercase user-agent patterns.
    user_agents: Vec<String>,
}

/// The exceptions of a run, in configuration order.
#[derive(Debug, Clone, Default)]
pub struct Exceptions {
    list: Vec<Compiled>,
    /// (exception, rule selector) pairs that name no loaded rule.
    unknown_rules: Vec<(String, String)>,
}

impl Exceptions {
    pub fn none() -> Exceptions {
        Exceptions::default()
    }

    /// Checks every exception and prepares it; those whose `expires` is at or before `now`
    /// (epoch milliseconds) are kept, to be reported, but never apply.
    pub fn new(list: Vec<Exception>, now: i64) -> Result<Exceptions, ExceptionError> {
        let mut compiled: Vec<Compiled> = Vec::with_capacity(list.len());
        for mut exception in list {
            exception.check()?;
            if compiled.iter().any(|c| c.exception.name == exception.name) {
                return Err(ExceptionError::DuplicateName(exception.name));
            }
            if exception.rules.iter().any(|r| r.trim() == "*") {
                exception.rules.clear();
            }
            let ips = exception.ips.iter().copied().collect();
            compiled.push(Compiled {
                expired: exception.expires.is_some_and(|t| t <= now),
                user_agents: exception
                    .user_agents
                    .iter()
                    .map(|u| u.to_lowercase())
                    .collect(),
                ips,
                exception,
            });
        }
        Ok(Exceptions {
            list: compiled,
            unknown_rules: Vec::new(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Every exception, in configuration order (the order of the run's counts).
    pub fn iter(&self) -> impl Iterator<Item = &Exception> {
        self.list.iter().map(|c| &c.exception)
    }

    /// The exceptions that had expired when they were prepared.
    pub fn expired(&self) -> impl Iterator<Item = &Exception> {
        self.list.iter().filter(|c| c.expired).map(|c| &c.exception)
    }

    /// Whether the exception at `index` (configuration order) had expired.
    pub fn has_expired(&self, index: usize) -> bool {
        self.list.get(index).is_some_and(|c| c.expired)
    }

    /// (exception name, rule selector) pairs that matched none of the rules the engine
    /// was built with (a misspelt name or id never applies).
    pub fn unknown_rules(&self) -> &[(String, String)] {
        &self.unknown_rules
    }

    /// Records which rule selectors name none of the `known` rules (id, name).
    pub(crate) fn check_rules<'a>(&mut self, known: &[(&'a str, &'a str)]) {
        self.unknown_rules = self
            .list
            .iter()
            .flat_map(|c| c.exception.rules.iter().map(move |s| (c, s)))
            .filter(|(_, s)| !known.iter().any(|(id, name)| names(s, id, name)))
            .map(|(c, s)| (c.exception.name.clone(), s.clone()))
            .collect();
    }

    /// The exceptions in force for a rule.
    pub fn for_rule(&self, rule: &RuleMeta) -> Applicable<'_> {
        Applicable {
            list: self
                .list
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.expired && c.exception.applies_to(rule))
                .collect(),
        }
    }

    /// The indices of the exceptions in force for a rule (to keep beside the rule).
    pub(crate) fn indices_for(&self, rule: &RuleMeta) -> Vec<usize> {
        self.for_rule(rule).list.iter().map(|(i, _)| *i).collect()
    }

    /// [`Applicable::excluding_event`] for the exceptions at `indices`.
    pub(crate) fn excluding_event_among(
        &self,
        indices: &[usize],
        event: &Event,
        ts: Option<i64>,
    ) -> Option<usize> {
        let subject = Subject::Event(event, ts);
        indices
            .iter()
            .copied()
            .find(|i| self.list.get(*i).is_some_and(|c| c.matches(&subject)))
    }
}

/// The exceptions in force for one rule, each with its index in configuration order.
#[derive(Debug, Clone, Default)]
pub struct Applicable<'a> {
    list: Vec<(usize, &'a Compiled)>,
}

impl Applicable<'_> {
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The exceptions of either.
    pub fn union(&self, other: &Self) -> Self {
        let mut list: Vec<_> = self.list.iter().chain(&other.list).copied().collect();
        list.sort_by_key(|(i, _)| *i);
        list.dedup_by_key(|(i, _)| *i);
        Applicable { list }
    }

    /// The index of the first exception that matches an event at time `ts`.
    pub fn excluding_event(&self, event: &Event, ts: Option<i64>) -> Option<usize> {
        self.first(&Subject::Event(event, ts))
    }

    /// The index of the first exception that matches an alert on many events.
    pub fn excluding_alert(&self, alert: &Alert) -> Option<usize> {
        self.first(&Subject::Alert(alert))
    }

    fn first(&self, subject: &Subject) -> Option<usize> {
        self.list
            .iter()
            .find(|(_, c)| c.matches(subject))
            .map(|(i, _)| *i)
    }
}

impl Compiled {
    fn matches(&self, s: &Subject) -> bool {
        let e = &self.exception;
        (e.principals.is_empty()
            || s.any_principal(&mut |p| e.principals.iter().any(|g| glob_match(g, p))))
            && (e.ips.is_empty() || s.any_ip(&mut |ip| self.ips.contains(ip)))
            && (self.user_agents.is_empty()
                || s.any_user_agent(&mut |ua| {
                    let ua = ua.to_lowercase();
                    self.user_agents.iter().any(|g| glob_match(g, &ua))
                }))
            && (e.windows.is_empty()
                || s.time()
                    .is_some_and(|t| e.windows.iter().any(|w| w.contains(t))))
    }
}

/// What an exception is judged on.
enum Subject<'a> {
    /// An event, at its time for the rule.
    Event(&'a Event, Option<i64>),
    /// An alert on many events.
    Alert(&'a Alert),
}

impl Subject<'_> {
    /// Whether `f` holds for a text of one of `fields` of the event.
    fn any_text(event: &Event, fields: &[&str], f: &mut dyn FnMut(&str) -> bool) -> bool {
        fields
            .iter()
            .flat_map(|name| event.get(name))
            .any(|v| any_text_of(v, f))
    }

    fn any_principal(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
        match self {
            Subject::Event(event, _) => Subject::any_text(event, &PRINCIPAL, f),
            Subject::Alert(alert) => alert
                .entity
                .get("principal")
                .is_some_and(|v| any_text_of(v, f)),
        }
    }

    fn any_ip(&self, f: &mut dyn FnMut(IpAddr) -> bool) -> bool {
        let mut parsed = |text: &str| parse_ip(text).is_some_and(&mut *f);
        match self {
            Subject::Event(event, _) => Subject::any_text(event, &SOURCE_IP, &mut parsed),
            Subject::Alert(alert) => alert
                .entity
                .get("source.ip")
                .is_some_and(|v| any_text_of(v, &mut parsed)),
        }
    }

    fn any_user_agent(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
        match self {
            Subject::Event(event, _) => Subject::any_text(event, &[USER_AGENT], f),
            Subject::Alert(alert) => alert
                .fields
                .get(USER_AGENT)
                .is_some_and(|v| any_text_of(v, f)),
        }
    }

    fn time(&self) -> Option<i64> {
        match self {
            Subject::Event(_, ts) => *ts,
            Subject::Alert(alert) => Some(alert.original_time.unwrap_or(alert.timestamp)),
        }
    }
}

/// Whether `f` holds for a string, a number's text, or one of an array's.
fn any_text_of(v: &Json, f: &mut dyn FnMut(&str) -> bool) -> bool {
    match v {
        Json::String(s) => f(s),
        Json::Number(n) => f(&n.to_string()),
        Json::Array(items) => items.iter().any(|i| any_text_of(i, f)),
        _ => false,
    }
}

/// Alerts and events left out, per exception (configuration order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub alerts: Vec<u64>,
    pub events: Vec<u64>,
}

impl Tally {
    pub fn alert(&mut self, exception: usize) {
        bump(&mut self.alerts, exception, 1);
    }

    pub fn event(&mut self, exception: usize) {
        bump(&mut self.events, exception, 1);
    }
}

fn bump(counts: &mut Vec<u64>, i: usize, n: u64) {
    if counts.len() <= i {
        counts.resize(i + 1, 0);
    }
    counts[i] += n;
}

#[cfg(test)]
mod tests {
    use super::*;
    use modelward_rule::{RuleType, Severity};
    use serde_json::json;
    use std::sync::Arc;

    fn at(text: &str) -> i64 {
        modelward_event::parse_timestamp(text).unwrap()
    }

    fn event(doc: Json) -> Event {
        Event::from_json(&doc.to_string()).unwrap()
    }

    fn meta(id: &str, name: &str) -> RuleMeta {
        RuleMeta::new(id, name, RuleType::Sigma, Severity::Medium, 47)
    }

    const WEIGHTS: (&str, &str) = (
        "2e4c6a80-9b1d-4f3e-a5c7-1d2e3f4a5b03",
        "Model weights downloaded from object storage",
    );

    fn one(e: Exception) -> Exceptions {
        Exceptions::new(vec![e], 0).unwrap()
    }

    fn excludes(x: &Exceptions, rule: &RuleMeta, doc: Json) -> bool {
        let ev = event(doc);
        let ts = ev
            .get_str("@timestamp")
            .and_then(modelward_event::parse_timestamp);
        x.for_rule(rule).excluding_event(&ev, ts).is_some()
    }

    fn deploy() -> Exception {
        Exception {
            principals: vec!["arn:aws:sts::111122223333:assumed-role/model-deploy/*".into()],
            ..Exception::named("deploy")
        }
    }

    #[test]
    fn principals_are_globs_over_every_identity_field() {
        let x = one(deploy());
        let rule = meta(WEIGHTS.0, WEIGHTS.1);
        let arn = "arn:aws:sts::111122223333:assumed-role/model-deploy/i-0abc";
        assert!(excludes(&x, &rule, json!({"user": {"id": arn}})));
        // Any identity field: here the ARN is the second one the alert's entity would look at.
        assert!(excludes(
            &x,
            &rule,
            json!({"user": {"name": "deployer"}, "api_key": {"id": arn}})
        ));
        assert!(!excludes(
            &x,
            &rule,
            json!({"user": {"id": "arn:aws:sts::111122223333:assumed-role/model-deployer/x"}})
        ));
        assert!(!excludes(&x, &rule, json!({"source": {"ip": "10.0.0.1"}})));
        // Exact when there is no `*`, and case matters.
        let exact = one(Exception {
            principals: vec!["svc-eval".into()],
            ..Exception::named("eval")
        });
        assert!(excludes(
            &exact,
            &rule,
            json!({"user": {"name": "svc-eval"}})
        ));
        assert!(!excludes(
            &exact,
            &rule,
            json!({"user": {"name": "svc-evaluator"}})
        ));
        assert!(!excludes(
            &exact,
            &rule,
            json!({"user": {"name": "SVC-EVAL"}})
        ));
        // The API Management subscription of Azure gateway logs names the caller too.
        let bot = one(Exception {
            principals: vec!["support-*".into()],
            ..Exception::named("bot")
        });
        assert!(excludes(
            &bot,
            &rule,
            json!({"azure": {"open_ai": {"properties": {"apim_subscription_id": "support-bot"}}}})
        ));
    }

    #[test]
    fn addresses_and_cidr_ranges_in_both_families() {
        let x = one(Exception {
            ips: [
                "10.0.0.0/8",
                "192.0.2.7",
                "2001:db8:1::/48",
                "[2001:db8::5]",
            ]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect(),
            ..Exception::named("internal")
        });
        let rule = meta("r", "r");
        for (ip, yes) in [
            ("10.200.3.4", true),
            ("11.0.0.1", false),
            ("192.0.2.7", true),
            ("192.0.2.8", false),
            ("2001:db8:1:ffff::1", true),
            ("2001:db8:2::1", false),
            ("2001:db8::5", true),
            ("::ffff:10.1.2.3", true), // IPv4-mapped
            ("not an address", false),
        ] {
            assert_eq!(
                excludes(&x, &rule, json!({"source": {"ip": ip}})),
                yes,
                "{ip}"
            );
        }
        assert!(excludes(&x, &rule, json!({"client": {"ip": "10.9.9.9"}})));
        for bad in ["10.0.0.0/33", "10.0.0", "2001:db8::/129", "host.example"] {
            let e = bad.parse::<IpRange>().unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn user_agents_are_case_insensitive_globs() {
        let x = one(Exception {
            user_agents: vec!["Nightly-Eval/*".into()],
            ..Exception::named("eval")
        });
        let rule = meta("r", "r");
        assert!(excludes(
            &x,
            &rule,
            json!({"user_agent": {"original": "nightly-eval/2.1 (ci)"}})
        ));
        assert!(!excludes(
            &x,
            &rule,
            json!({"user_agent": {"original": "curl/8.5"}})
        ));
        assert!(!excludes(
            &x,
            &rule,
            json!({"user": {"name": "nightly-eval/2"}})
        ));
    }

    #[test]
    fn criteria_given_must_all_hold_and_entries_of_one_may_any() {
        let x = one(Exception {
            principals: vec!["batch".into(), "eval".into()],
            ips: vec!["10.0.0.0/8".parse().unwrap()],
            windows: vec![
                Window::weekly(&[], "22:00".parse().unwrap(), "02:00".parse().unwrap()).unwrap(),
            ],
            ..Exception::named("night batch")
        });
        let rule = meta("r", "r");
        let doc = |user: &str, ip: &str, ts: &str| json!({"user": {"name": user}, "source": {"ip": ip}, "@timestamp": ts});
        assert!(excludes(
            &x,
            &rule,
            doc("batch", "10.1.1.1", "2025-03-01T23:00:00Z")
        ));
        assert!(excludes(
            &x,
            &rule,
            doc("eval", "10.1.1.1", "2025-03-02T01:00:00Z")
        ));
        assert!(!excludes(
            &x,
            &rule,
            doc("chat", "10.1.1.1", "2025-03-01T23:00:00Z")
        ));
        assert!(!excludes(
            &x,
            &rule,
            doc("batch", "8.8.8.8", "2025-03-01T23:00:00Z")
        ));
        assert!(!excludes(
            &x,
            &rule,
            doc("batch", "10.1.1.1", "2025-03-01T12:00:00Z")
        ));
        // A criterion the event has nothing for does not hold.
        assert!(!excludes(
            &x,
            &rule,
            json!({"user": {"name": "batch"}, "source": {"ip": "10.1.1.1"}})
        ));
        // Two exceptions: either.
        let two = Exceptions::new(
            vec![
                deploy(),
                Exception {
                    ips: vec!["192.0.2.0/24".parse().unwrap()],
                    ..Exception::named("lab")
                },
            ],
            0,
        )
        .unwrap();
        let ev = event(json!({"source": {"ip": "192.0.2.9"}}));
        assert_eq!(two.for_rule(&rule).excluding_event(&ev, None), Some(1));
    }

    #[test]
    fn absolute_windows_of_an_exception() {
        let x = one(Exception {
            windows: vec![Window::between(
                "2025-03-01T22:00:00Z".parse().unwrap(),
                "2025-03-02T02:00:00Z".parse().unwrap(),
            )
            .unwrap()],
            ..Exception::named("migration")
        });
        let rule = meta("r", "r");
        assert!(excludes(
            &x,
            &rule,
            json!({"@timestamp": "2025-03-02T00:00:00Z"})
        ));
        assert!(!excludes(
            &x,
            &rule,
            json!({"@timestamp": "2025-03-02T02:00:00Z"})
        ));
        assert!(!excludes(&x, &rule, json!({"message": "no time"})));
    }

    #[test]
    fn rules_by_id_name_or_code_and_every_rule_by_default() {
        let weights = meta(WEIGHTS.0, WEIGHTS.1);
        let theft = RuleMeta::new(
            "MW-TH-0007",
            "Model weights downloaded outside a principal's baseline",
            RuleType::Detector,
            Severity::High,
            73,
        );
        let other = meta("a1", "Burst of Azure OpenAI key listings");
        let with = |rules: &[&str]| {
            one(Exception {
                rules: rules.iter().map(|r| r.to_string()).collect(),
                ..deploy()
            })
        };
        let applies = |x: &Exceptions, r: &RuleMeta| !x.for_rule(r).is_empty();
        let by_name = with(&["model weights downloaded from object storage"]);
        assert!(applies(&by_name, &weights));
        assert!(!applies(&by_name, &theft));
        let by_id_and_code = with(&[WEIGHTS.0, "mw-th-0007"]);
        assert!(applies(&by_id_and_code, &weights) && applies(&by_id_and_code, &theft));
        assert!(!applies(&by_id_and_code, &other));
        let family = with(&["MW-TH-*"]);
        assert!(applies(&family, &theft) && !applies(&family, &weights));
        for every in [with(&[]), with(&["*"])] {
            assert!(
                applies(&every, &weights) && applies(&every, &theft) && applies(&every, &other)
            );
        }
        // Selectors that name no loaded rule are reported.
        let mut x = with(&["MW-TH-0007", "Model wieghts downloaded"]);
        x.check_rules(&[(WEIGHTS.0, WEIGHTS.1), ("MW-TH-0007", "x")]);
        assert_eq!(
            x.unknown_rules(),
            &[("deploy".to_string(), "Model wieghts downloaded".to_string())]
        );
    }

    #[test]
    fn expired_exceptions_do_not_apply_and_are_reported() {
        let now = at("2026-01-01T00:00:00Z");
        let x = Exceptions::new(
            vec![
                Exception {
                    expires: Some(at("2025-12-31T00:00:00Z")),
                    ..deploy()
                },
                Exception {
                    expires: Some(at("2026-12-31T00:00:00Z")),
                    principals: vec!["batch".into()],
                    ..Exception::named("batch")
                },
            ],
            now,
        )
        .unwrap();
        let rule = meta("r", "r");
        let arn = "arn:aws:sts::111122223333:assumed-role/model-deploy/s";
        assert!(!excludes(&x, &rule, json!({"user": {"id": arn}})));
        assert!(excludes(&x, &rule, json!({"user": {"id": "batch"}})));
        let expired: Vec<&str> = x.expired().map(|e| e.name.as_str()).collect();
        assert_eq!(expired, ["deploy"]);
    }

    #[test]
    fn exceptions_without_criteria_or_with_a_taken_name_are_errors() {
        assert_eq!(
            Exceptions::new(vec![Exception::named("all")], 0).unwrap_err(),
            ExceptionError::NoCriteria
        );
        assert_eq!(
            Exceptions::new(vec![deploy(), deploy()], 0).unwrap_err(),
            ExceptionError::DuplicateName("deploy".into())
        );
        assert_eq!(
            Exceptions::new(
                vec![Exception {
                    name: " ".into(),
                    ..deploy()
                }],
                0
            )
            .unwrap_err(),
            ExceptionError::NoName
        );
    }

    #[test]
    fn alerts_on_many_events_are_judged_on_their_entity_fields_and_time() {
        let x = Exceptions::new(
            vec![Exception {
                principals: vec!["batch-*".into()],
                ips: vec!["10.0.0.0/8".parse().unwrap()],
                user_agents: vec!["python-requests/*".into()],
                windows: vec![Window::between(Timestamp(1_000), Timestamp(2_000)).unwrap()],
                ..Exception::named("batch")
            }],
            0,
        )
        .unwrap();
        let rule = Arc::new(meta("r", "r"));
        let mut alert = Alert::new(rule.clone(), 1_500, "id".into());
        alert.entity.insert("principal".into(), json!("batch-7"));
        alert.entity.insert("source.ip".into(), json!("10.3.3.3"));
        alert
            .fields
            .insert(USER_AGENT.into(), json!(["Python-Requests/2.31"]));
        let applicable = x.for_rule(&rule);
        assert_eq!(applicable.excluding_alert(&alert), Some(0));
        alert.timestamp = 2_500;
        assert_eq!(applicable.excluding_alert(&alert), None);
        alert.original_time = Some(1_999);
        assert_eq!(applicable.excluding_alert(&alert), Some(0));
        alert.fields.remove(USER_AGENT);
        assert_eq!(applicable.excluding_alert(&alert), None);
    }

    #[test]
    fn union_keeps_configuration_order_once() {
        let x = Exceptions::new(
            vec![
                Exception {
                    rules: vec!["a".into()],
                    ..deploy()
                },
                Exception {
                    rules: vec!["b".into()],
                    ips: vec!["10.0.0.0/8".parse().unwrap()],
                    ..Exception::named("lab")
                },
            ],
            0,
        )
        .unwrap();
        let (a, b) = (meta("a", "A"), meta("b", "B"));
        let both = x.for_rule(&a).union(&x.for_rule(&b));
        let ev = event(json!({"source": {"ip": "10.0.0.1"}}));
        assert_eq!(both.excluding_event(&ev, None), Some(1));
        let ids: Vec<usize> = both.list.iter().map(|(i, _)| *i).collect();
        assert_eq!(ids, [0, 1]);
        let mut t = Tally::default();
        t.alert(1);
        t.alert(1);
        t.event(0);
        assert_eq!((t.alerts, t.events), (vec![0, 2], vec![1]));
    }
}
