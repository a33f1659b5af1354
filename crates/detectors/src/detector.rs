//! The detector trait, findings, and the registry of built-in detectors.

use std::sync::Arc;

use modelward_event::Event;
use modelward_rule::{RuleMeta, Severity};
use serde_json::{Map, Value};

use crate::detectors;
use crate::detectors::credential_theft::CredentialTheft;
use crate::detectors::phishing::Phishing;
use crate::detectors::phishing_urls::PhishingIndex;
use crate::keywords::{KeywordPass, Scan};
use crate::settings::{Settings, SettingsError};
use crate::text::{LlmText, Role};

/// What a detector found in one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub code: &'static str,
    /// Which text it was found in, for content detectors.
    pub role: Option<Role>,
    /// One line for people.
    pub summary: String,
    /// Details for the alert's `evidence` (secrets already masked).
    pub evidence: Map<String, Value>,
    /// The alert's severity when this finding's differs from the detector's (a user-agent
    /// list entry of its own severity); None: the detector's.
    pub severity: Option<Severity>,
}

/// A built-in detector: stateless, run on every event after normalization.
pub trait Detector: Send + Sync {
    /// The codes of the alerts it raises: one for most; several where one look at the
    /// event serves several alerts (the three phishing alerts).
    fn codes(&self) -> Vec<&'static str>;
    /// Keywords without which its keyword-gated matchers find nothing in a text (see
    /// [`crate::keywords`]); they join the automaton every detector shares.
    fn keywords(&self) -> Vec<String> {
        Vec::new()
    }
    /// Adds what it finds in the event (whose LLM texts and keyword occurrences are given)
    /// to `out`.
    fn inspect(&self, event: &Event, scan: &Scan<'_>, out: &mut Vec<Finding>);
}

/// One detector on its own over these texts, with its own keyword pass.
pub fn inspect_alone(detector: &dyn Detector, event: &Event, text: &LlmText<'_>) -> Vec<Finding> {
    let pass = KeywordPass::new(&[detector.keywords()]);
    let scanned = pass.scan(text);
    let mut out = Vec::new();
    detector.inspect(event, &Scan::new(text, &scanned, 0), &mut out);
    out
}

/// One row of the codes table.
pub use modelward_rule::BuiltinCode as Code;

/// The family of the detectors' rule metadata (`builtin:detector/MW-AI-…`).
pub const FAMILY: &str = "detector";

/// Every built-in detector, sorted by code.
pub static CODES: &[Code] = &[
    detectors::credential_theft::CODE,
    detectors::jailbreak_blocked::CODE,
    detectors::jailbreak_detected::CODE,
    detectors::sensitive_data::CODE,
    detectors::phishing_in_response::CODE,
    detectors::phishing_in_application::CODE,
    detectors::phishing_in_prompt::CODE,
    detectors::suspicious_user_agent::CODE,
    detectors::ascii_smuggling::CODE,
    detectors::tor_access::CODE,
    detectors::suspicious_ip::CODE,
];

/// The enabled detectors, built once from settings; immutable and `Send + Sync`.
pub struct Detectors {
    list: Vec<Box<dyn Detector>>,
    /// The keywords of every detector in `list`, one automaton.
    pass: KeywordPass,
    metas: Vec<Arc<RuleMeta>>,
    /// Lines of the user's lists, and gitleaks rules, that were reported and skipped.
    skipped: Vec<SettingsError>,
    redactor: CredentialTheft,
}

impl Detectors {
    /// The detectors the settings turn on. A list or gitleaks file that cannot be read (or a
    /// gitleaks file that is not TOML) is an error; a bad line of a list or an unusable
    /// gitleaks rule is skipped and reported by [`Detectors::skipped`].
    pub fn new(settings: &Settings) -> Result<Detectors, SettingsError> {
        let mut list: Vec<Box<dyn Detector>> = Vec::new();
        let mut skipped = Vec::new();
        let on = |code: &str| !settings.disabled.iter().any(|d| d == code);
        let user_rules = match &settings.gitleaks_config {
            Some(path) => {
                let (rules, warnings) = crate::gitleaks::load_gitleaks(path)?;
                skipped.extend(warnings.into_iter().map(SettingsError::Config));
                rules
            }
            None => Vec::new(),
        };
        // Masking uses the user's rules too, and stays on when the detector is off.
        let redactor = CredentialTheft::with_rules(user_rules.clone());
        if on(detectors::credential_theft::CODE.code) {
            list.push(Box::new(CredentialTheft::with_rules(user_rules)));
        }
        if on(detectors::jailbreak_blocked::CODE.code) {
            list.push(Box::new(detectors::jailbreak_blocked::JailbreakBlocked));
        }
        if on(detectors::jailbreak_detected::CODE.code) {
            list.push(Box::new(
                detectors::jailbreak_detected::JailbreakDetected::new(settings.jailbreak_threshold),
            ));
        }
        if on(detectors::sensitive_data::CODE.code) {
            let entities = settings.sensitive_data_entities.as_deref();
            list.push(Box::new(
                detectors::sensitive_data::SensitiveData::new(entities)
                    .map_err(SettingsError::Config)?,
            ));
        }
        if !settings.phishing_feeds.is_empty() {
            let index = Arc::new(PhishingIndex::load(&settings.phishing_feeds, &mut skipped)?);
            let phishing = Phishing::new(index, &on);
            if !phishing.codes().is_empty() {
                list.push(Box::new(phishing));
            }
        }
        if on(detectors::ascii_smuggling::CODE.code) {
            list.push(Box::new(detectors::ascii_smuggling::AsciiSmuggling));
        }
        if on(detectors::suspicious_user_agent::CODE.code) {
            list.push(Box::new(
                detectors::suspicious_user_agent::SuspiciousUserAgent::new(settings, &mut skipped)?,
            ));
        }
        if on(detectors::tor_access::CODE.code) {
            if let Some(d) = detectors::tor_access::TorAccess::new(settings, &mut skipped)? {
                list.push(Box::new(d));
            }
        }
        if on(detectors::suspicious_ip::CODE.code) {
            if let Some(d) = detectors::suspicious_ip::SuspiciousIp::new(settings, &mut skipped)? {
                list.push(Box::new(d));
            }
        }
        let codes: Vec<&str> = list.iter().flat_map(|d| d.codes()).collect();
        let metas = CODES
            .iter()
            .filter(|c| codes.contains(&c.code))
            .map(|c| Arc::new(c.meta(FAMILY)))
            .collect();
        let pass = KeywordPass::new(&list.iter().map(|d| d.keywords()).collect::<Vec<_>>());
        Ok(Detectors {
            list,
            pass,
            metas,
            skipped,
            redactor,
        })
    }

    /// No detector at all.
    pub fn none() -> Detectors {
        Detectors {
            list: Vec::new(),
            pass: KeywordPass::new(&[]),
            metas: Vec::new(),
            skipped: Vec::new(),
            redactor: CredentialTheft::new(),
        }
    }

    /// Masks credentials (the built-in patterns and the user's gitleaks rules) in text
    /// bound for output.
    pub fn redactor(&self) -> &CredentialTheft {
        &self.redactor
    }

    /// Bad lines of the user's lists and unusable gitleaks rules, skipped when loading.
    pub fn skipped(&self) -> &[SettingsError] {
        &self.skipped
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Metadata of the enabled detectors.
    pub fn metas(&self) -> &[Arc<RuleMeta>] {
        &self.metas
    }

    pub fn meta(&self, code: &str) -> Option<&Arc<RuleMeta>> {
        self.metas.iter().find(|m| m.id == code)
    }

    /// Every finding of every enabled detector in one event, each detector with its own
    /// keyword pass: what [`Detectors::inspect`] must find (for tests and fuzzing).
    pub fn inspect_each_alone(&self, event: &Event) -> Vec<Finding> {
        let text = LlmText::of(event);
        self.list
            .iter()
            .flat_map(|d| inspect_alone(d.as_ref(), event, &text))
            .collect()
    }

    /// Every finding of every enabled detector in one event.
    pub fn inspect(&self, event: &Event) -> Vec<Finding> {
        let mut out = Vec::new();
        if self.list.is_empty() {
            return out;
        }
        let text = LlmText::of(event);
        let scanned = self.pass.scan(&text);
        for (slot, d) in self.list.iter().enumerate() {
            d.inspect(event, &Scan::new(&text, &scanned, slot), &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shared keyword pass finds what each detector finds on its own.
    #[test]
    fn shared_pass_equals_each_detector_alone() {
        let dir = std::env::temp_dir().join(format!("mw-registry-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let feed = dir.join("feed.txt");
        std::fs::write(&feed, "https://evil.example/login\nbad-bank.test\n").unwrap();
        let detectors = Detectors::new(&Settings {
            phishing_feeds: vec![feed],
            ..Settings::default()
        })
        .unwrap();
        let uri = [
            "postgres://billing:",
            "Tq8vLm2Xr9Kd4Wz7",
            "@db.internal:5432/app",
        ]
        .concat();
        let completions = [
            format!("Connect with {uri}; card 4111 1111 1111 1111."),
            "Date of birth: 12 March 1987, passport no. 123456789.".to_string(),
            "Sign in at hxxps://evil[.]example/login or bad-bank.test, IBAN GB82 WEST 1234 5698 7654 32".to_string(),
            "SSN 078-05-1121, call (415) 555-2671 or +44 20 7946 0958; NI QQ 12 34 56 C".to_string(),
            "Nothing to see: the rollback took 17 minutes at 02:31.".to_string(),
        ];
        let mut codes = Vec::new();
        for completion in &completions {
            let doc = serde_json::json!({"gen_ai": {
                "prompt": [{"role": "user", "content": "check https://evil.example/login \u{E0041}"}],
                "completion": completion,
            }});
            let event = Event::from_json(&doc.to_string()).unwrap();
            let shared = detectors.inspect(&event);
            assert_eq!(shared, detectors.inspect_each_alone(&event), "{completion}");
            codes.push(shared.iter().map(|f| f.code).collect::<Vec<_>>());
        }
        assert_eq!(
            codes,
            vec![
                vec!["MW-AI-0001", "MW-AI-0004", "MW-AI-0007", "MW-AI-0009"],
                vec!["MW-AI-0004", "MW-AI-0007", "MW-AI-0009"],
                vec!["MW-AI-0004", "MW-AI-0005", "MW-AI-0006", "MW-AI-0009"],
                vec!["MW-AI-0004", "MW-AI-0007", "MW-AI-0009"],
                vec!["MW-AI-0007", "MW-AI-0009"],
            ]
        );
    }

    #[test]
    fn codes_are_sorted_unique_and_documented() {
        let codes: Vec<&str> = CODES.iter().map(|c| c.code).collect();
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(codes, sorted);
        for c in CODES {
            assert_eq!(c.problems(), Vec::<String>::new());
            assert!(!c.meta(FAMILY).description.is_empty(), "{}", c.code);
        }
    }
}
