//! `[[exceptions]]`: approved activity whose alerts are left out (docs/configuration.md),
//! as written in the file, resolved into the engine's exceptions. Values are checked as
//! they are read (errors with line and column); what needs the whole entry is checked
//! here, with the file and the key.

use std::path::Path;

use anyhow::{anyhow, Result};
use modelward_engine::{
    Exception, ExceptionError, Exceptions, IpRange, TimeOfDay, Timestamp, Weekday, Window,
};
use serde::Deserialize;

/// One `[[exceptions]]` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionOptions {
    /// Required: shown in the run summary.
    pub name: Option<String>,
    /// Rule ids, names or built-in codes (`*` wildcards); left out or `["*"]`: every rule.
    pub rules: Option<Vec<String>>,
    pub principals: Option<Vec<String>>,
    pub ips: Option<Vec<IpRange>>,
    pub user_agents: Option<Vec<String>>,
    pub windows: Option<Vec<WindowOptions>>,
    pub reason: Option<String>,
    pub expires: Option<Timestamp>,
}

/// A maintenance window: `{ start, end }`, or weekly `{ days, from, to }` in UTC.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowOptions {
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub days: Option<Vec<Weekday>>,
    pub from: Option<TimeOfDay>,
    pub to: Option<TimeOfDay>,
}

const WINDOW_SHAPE: &str = "expected { start = \"...\", end = \"...\" } (RFC 3339) or { days = [...], from = \"HH:MM\", to = \"HH:MM\" } (weekly, UTC; days optional)";

impl WindowOptions {
    fn resolve(self) -> Result<Window, String> {
        let error = |e: ExceptionError| e.to_string();
        match self {
            WindowOptions {
                start: Some(start),
                end: Some(end),
                days: None,
                from: None,
                to: None,
            } => Window::between(start, end).map_err(error),
            WindowOptions {
                start: None,
                end: None,
                days,
                from: Some(from),
                to: Some(to),
            } => match days {
                Some(d) if d.is_empty() => {
                    Err("`days` is empty: leave it out for every day".to_string())
                }
                days => Window::weekly(&days.unwrap_or_default(), from, to).map_err(error),
            },
            _ => Err(WINDOW_SHAPE.to_string()),
        }
    }
}

impl ExceptionOptions {
    /// The engine's exception; errors say which key is wrong and why.
    fn resolve(self) -> Result<Exception, String> {
        let name = self
            .name
            .filter(|n| !n.trim().is_empty())
            .ok_or("`name` is required (it is shown in the run summary)")?;
        if self.rules.as_ref().is_some_and(Vec::is_empty) {
            return Err(ExceptionError::NoRules.to_string());
        }
        let mut windows = Vec::new();
        for (i, w) in self.windows.into_iter().flatten().enumerate() {
            windows.push(w.resolve().map_err(|e| format!("windows[{i}]: {e}"))?);
        }
        let exception = Exception {
            rules: self.rules.unwrap_or_default(),
            principals: self.principals.unwrap_or_default(),
            ips: self.ips.unwrap_or_default(),
            user_agents: self.user_agents.unwrap_or_default(),
            windows,
            reason: self.reason,
            expires: self.expires.map(|t| t.0),
            ..Exception::named(&name)
        };
        exception.check().map_err(|e| e.to_string())?;
        Ok(exception)
    }
}

/// The exceptions of the configuration file, if any, expired ones judged at the time of the
/// run.
pub fn resolve_exceptions(
    list: Option<Vec<ExceptionOptions>>,
    file: Option<&Path>,
) -> Result<Exceptions> {
    let (Some(list), Some(file)) = (list, file) else {
        return Ok(Exceptions::none());
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    resolve(list, file, now)
}

/// The exceptions of the configuration file `file`, expired ones judged at `now` (epoch
/// milliseconds).
fn resolve(list: Vec<ExceptionOptions>, file: &Path, now: i64) -> Result<Exceptions> {
    let mut resolved = Vec::with_capacity(list.len());
    for (i, options) in list.into_iter().enumerate() {
        let label = match options.name.as_deref() {
            Some(name) => format!("exceptions[{i}] ({name:?})"),
            None => format!("exceptions[{i}]"),
        };
        let exception = options
            .resolve()
            .map_err(|e| anyhow!("{}: {label}: {e}", file.display()))?;
        resolved.push(exception);
    }
    Exceptions::new(resolved, now).map_err(|e| anyhow!("{}: exceptions: {e}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Exceptions> {
        #[derive(Deserialize)]
        struct File {
            exceptions: Vec<ExceptionOptions>,
        }
        let file: File = toml::from_str(text)?;
        resolve(file.exceptions, Path::new("mw.toml"), 0)
    }

    fn error(text: &str) -> String {
        load(text).unwrap_err().to_string()
    }

    #[test]
    fn every_key_resolves() {
        let x = load(
            r#"
[[exceptions]]
name = "deploy role pulls weights"
rules = ["Model weights downloaded from object storage", "MW-TH-0007"]
principals = ["arn:aws:sts::111122223333:assumed-role/model-deploy/*"]
ips = ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]
user_agents = ["nightly-eval/*"]
windows = [
  { start = "2025-03-01T22:00:00Z", end = "2025-03-02T02:00:00Z" },
  { days = ["sat", "sun"], from = "22:00", to = "02:00" },
  { from = "03:00", to = "04:00" },
]
reason = "approved deploy pipeline, CHG-1234"
expires = 2026-12-31T00:00:00Z  # a TOML date-time, or the same in quotes
"#,
        )
        .unwrap();
        let e = x.iter().next().unwrap();
        assert_eq!(e.rules.len(), 2);
        assert_eq!(e.ips.len(), 3);
        assert_eq!(e.windows.len(), 3);
        assert_eq!(
            e.expires,
            modelward_event::parse_timestamp("2026-12-31T00:00:00Z")
        );
        assert_eq!(
            e.reason.as_deref(),
            Some("approved deploy pipeline, CHG-1234")
        );
    }

    #[test]
    fn errors_name_the_file_the_entry_and_the_key() {
        let e = error("[[exceptions]]\nname = \"all\"\nreason = \"everything\"\n");
        assert!(
            e.starts_with("mw.toml: exceptions[0] (\"all\"): no criteria"),
            "{e}"
        );
        let e = error("[[exceptions]]\nprincipals = [\"x\"]\n");
        assert!(e.contains("exceptions[0]: `name` is required"), "{e}");
        let e = error("[[exceptions]]\nname = \"a\"\nprincipals = [\"x\"]\nrules = []\n");
        assert!(e.contains("(\"a\"): `rules` is empty"), "{e}");
        let e = error("[[exceptions]]\nname = \"a\"\nprincipals = [\"x\"]\n[[exceptions]]\nname = \"b\"\nwindows = [{ start = \"2025-03-01T00:00:00Z\", from = \"22:00\" }]\n");
        assert!(
            e.contains("exceptions[1] (\"b\"): windows[0]: expected { start"),
            "{e}"
        );
        let e = error("[[exceptions]]\nname = \"b\"\nwindows = [{ start = \"2025-03-02T00:00:00Z\", end = \"2025-03-01T00:00:00Z\" }]\n");
        assert!(
            e.contains("windows[0]: the window ends before it starts"),
            "{e}"
        );
        let e = error("[[exceptions]]\nname = \"b\"\nwindows = [{ days = [], from = \"22:00\", to = \"02:00\" }]\n");
        assert!(e.contains("`days` is empty"), "{e}");
        let e = error("[[exceptions]]\nname = \"a\"\nips = [\"1.2.3.4\"]\n[[exceptions]]\nname = \"a\"\nips = [\"1.2.3.5\"]\n");
        assert!(
            e.contains("mw.toml: exceptions: two exceptions are named \"a\""),
            "{e}"
        );
    }

    #[test]
    fn bad_values_are_reported_where_they_are() {
        for (text, what) in [
            ("ips = [\"10.0.0.0/33\"]", "prefix length"),
            (
                "windows = [{ days = [\"someday\"], from = \"22:00\", to = \"02:00\" }]",
                "someday",
            ),
            ("windows = [{ from = \"25:00\", to = \"02:00\" }]", "HH:MM"),
            ("expires = \"next year\"", "RFC 3339"),
            ("expires = 12", "an RFC 3339 timestamp"),
            ("expires = 22:00:00", "invalid timestamp \"22:00:00\""),
            ("principal = [\"x\"]", "unknown field `principal`"),
            (
                "windows = [{ start = \"2025-03-01\", stop = \"2025-03-02\" }]",
                "unknown field `stop`",
            ),
        ] {
            let e = error(&format!("[[exceptions]]\nname = \"x\"\n{text}\n"));
            assert!(e.contains("line 3") && e.contains(what), "{text}: {e}");
        }
    }
}
