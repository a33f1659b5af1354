//! The detector trait, findings, and the registry of built-in detectors.

use std::sync::Arc;

use modelward_event::Event;
use modelward_rule::{RuleMeta, Severity};
use serde_json::{Map, Value};

use crate::detectors;
use crate::detectors::credential_theft::{CredentialRule, CredentialTheft};
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

/// The name of a finding's alert when it is not its code's: a name that says who judged
/// ("detected by Azure AI Content Safety Prompt Shields") is only given to the findings of
/// that judge (see `shield_verdict::source_name`). None: the code's name.
pub fn alert_name(code: &str, evidence: &Map<String, Value>) -> Option<String> {
    crate::detectors::jailbreak_blocked::source_name(code, evidence)
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

/// Every built-in detector, sorted by code: the codes of the registry's detectors
/// (`detectors::REGISTRY`), sorted at compile time.
pub static CODES: &[Code] = &SORTED_CODES;

const SORTED_CODES: [Code; count_codes(detectors::REGISTRY)] = sorted_codes(detectors::REGISTRY);

/// A detector of the registry: the codes of the alerts it can raise and how the settings
/// build it. Its line in `detectors::REGISTRY` is `Entry::of::<module::Type>()`.
pub(crate) trait Builtin: Detector + Sized + 'static {
    /// Its rows of the codes table: its `CODE`, or several where one detector raises several
    /// alerts (the phishing family).
    const CODES: &'static [Code];

    /// The detector the settings ask for: None when it has nothing to match against (no list
    /// configured). A list that cannot be read is an error; a bad line of one goes to
    /// `ctx.skipped`. A detector of one code is not built when that code is disabled (the
    /// registry checks); one of several checks its codes itself (`ctx.on`).
    fn build(
        settings: &Settings,
        ctx: &mut BuildContext<'_>,
    ) -> Result<Option<Self>, SettingsError>;
}

/// What building the detectors shares, given to every [`Builtin::build`].
pub(crate) struct BuildContext<'a> {
    disabled: &'a [String],
    /// The user's gitleaks rules (`gitleaks_config`), loaded once: the credential-theft
    /// detector and the redactor (on even when the detector is off) both use them.
    pub gitleaks_rules: Vec<CredentialRule>,
    /// Bad lines of the user's lists, and unusable gitleaks rules, reported and skipped.
    pub skipped: Vec<SettingsError>,
}

impl<'a> BuildContext<'a> {
    /// Loads the user's gitleaks rules (a file that cannot be read, or is not TOML, is an
    /// error; an unusable rule is skipped).
    pub(crate) fn new(settings: &'a Settings) -> Result<BuildContext<'a>, SettingsError> {
        let mut skipped = Vec::new();
        let gitleaks_rules = match &settings.gitleaks_config {
            Some(path) => {
                let (rules, warnings) = crate::gitleaks::load_gitleaks(path)?;
                skipped.extend(warnings.into_iter().map(SettingsError::Config));
                rules
            }
            None => Vec::new(),
        };
        Ok(BuildContext {
            disabled: &settings.disabled,
            gitleaks_rules,
            skipped,
        })
    }

    /// Whether the settings leave this code on (it is not in `disable`).
    pub fn on(&self, code: &str) -> bool {
        !self.disabled.iter().any(|d| d == code)
    }
}

/// [`Builtin::build`] with the detector boxed.
type BuildFn =
    fn(&Settings, &mut BuildContext<'_>) -> Result<Option<Box<dyn Detector>>, SettingsError>;

/// A detector's line in the registry.
pub(crate) struct Entry {
    codes: &'static [Code],
    build: BuildFn,
    /// The detector's type, for the test that every detector is registered.
    #[cfg(test)]
    type_name: fn() -> &'static str,
}

impl Entry {
    /// The line of the detector `T`.
    pub const fn of<T: Builtin>() -> Entry {
        Entry {
            codes: T::CODES,
            build: build_boxed::<T>,
            #[cfg(test)]
            type_name: std::any::type_name::<T>,
        }
    }
}

fn build_boxed<T: Builtin>(
    settings: &Settings,
    ctx: &mut BuildContext<'_>,
) -> Result<Option<Box<dyn Detector>>, SettingsError> {
    if let [code] = T::CODES {
        if !ctx.on(code.code) {
            return Ok(None);
        }
    }
    Ok(T::build(settings, ctx)?.map(|d| Box::new(d) as Box<dyn Detector>))
}

/// How many codes the registry's detectors raise.
const fn count_codes(registry: &[Entry]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < registry.len() {
        n += registry[i].codes.len();
        i += 1;
    }
    n
}

/// The registry's codes, sorted; a code raised twice does not compile.
const fn sorted_codes<const N: usize>(registry: &[Entry]) -> [Code; N] {
    let mut out = [registry[0].codes[0]; N];
    let mut n = 0;
    let mut i = 0;
    while i < registry.len() {
        let mut j = 0;
        while j < registry[i].codes.len() {
            // Insertion sort: few rows, at compile time.
            let mut k = n;
            while k > 0 && registry[i].codes[j].sorts_before(&out[k - 1]) {
                out[k] = out[k - 1];
                k -= 1;
            }
            out[k] = registry[i].codes[j];
            n += 1;
            j += 1;
        }
        i += 1;
    }
    let mut k = 1;
    while k < N {
        assert!(
            out[k - 1].sorts_before(&out[k]),
            "two detectors of the registry raise the same code"
        );
        k += 1;
    }
    out
}

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
    /// The detectors the settings turn on, built in the registry's order. A list or gitleaks
    /// file that cannot be read (or a gitleaks file that is not TOML) is an error; a bad line
    /// of a list or an unusable gitleaks rule is skipped and reported by
    /// [`Detectors::skipped`].
    pub fn new(settings: &Settings) -> Result<Detectors, SettingsError> {
        let mut ctx = BuildContext::new(settings)?;
        // Masking uses the user's rules too, and stays on when the detector is off.
        let redactor = CredentialTheft::with_rules(ctx.gitleaks_rules.clone());
        let mut list: Vec<Box<dyn Detector>> = Vec::new();
        for entry in detectors::REGISTRY {
            list.extend((entry.build)(settings, &mut ctx)?);
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
            skipped: ctx.skipped,
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

    /// Every file of `detectors/` with a `Builtin` detector has its line in the registry.
    #[test]
    fn every_detector_file_is_registered() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/detectors");
        let registered: Vec<&str> = detectors::REGISTRY
            .iter()
            .map(|e| (e.type_name)())
            .collect();
        let mut found = 0;
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            let source = std::fs::read_to_string(&path).unwrap();
            let module = path.file_stem().unwrap().to_str().unwrap();
            for (at, pattern) in source.match_indices("impl Builtin for ") {
                let ty: String = source[at + pattern.len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let name = format!("modelward_detectors::detectors::{module}::{ty}");
                assert!(
                    registered.contains(&name.as_str()),
                    "{name} is not in REGISTRY"
                );
                found += 1;
            }
        }
        assert_eq!(found, detectors::REGISTRY.len());
    }

    struct NoCopies;

    impl crate::detectors::model_copy::ExamineFile for NoCopies {
        fn copies(&self, _: &std::path::Path) -> Vec<crate::detectors::model_copy::Located> {
            Vec::new()
        }
    }

    /// With every list given, every code runs; disabling one code turns off that code alone.
    #[test]
    fn every_code_runs_and_can_be_disabled() {
        let dir = std::env::temp_dir().join(format!("mw-disable-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let list = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            vec![path]
        };
        let settings = Settings {
            phishing_feeds: list("feed.txt", "https://evil.example/login\n"),
            tor_exit_lists: list("tor.txt", "198.51.100.7\n"),
            suspicious_ip_lists: list("ips.txt", "203.0.113.0/24\n"),
            storage_mirrors: vec![crate::detectors::model_copy::StorageMirror {
                bucket: "*".into(),
                path: dir.clone(),
            }],
            copy_examiner: Some(crate::detectors::model_copy::Examiner(std::sync::Arc::new(
                NoCopies,
            ))),
            ..Settings::default()
        };
        let on = |settings: &Settings| -> Vec<String> {
            let d = Detectors::new(settings).unwrap();
            d.metas().iter().map(|m| m.id.to_string()).collect()
        };
        let all: Vec<String> = CODES.iter().map(|c| c.code.to_string()).collect();
        assert_eq!(on(&settings), all);
        for code in &all {
            let disabled = Settings {
                disabled: vec![code.clone()],
                ..settings.clone()
            };
            let rest: Vec<String> = all.iter().filter(|c| *c != code).cloned().collect();
            assert_eq!(on(&disabled), rest, "{code}");
        }
        let none = Settings {
            disabled: all.clone(),
            ..settings.clone()
        };
        assert!(Detectors::new(&none).unwrap().is_empty());
    }

    #[test]
    fn codes_are_sorted_unique_and_documented() {
        assert_eq!(Code::table_problems(CODES), Vec::<String>::new());
    }
}
