//! The gateway's own messages on stderr (starting, stopping, a database that cannot be read,
//! detection's diagnostics and incidents): text for people (`modelward gateway: ...`), or
//! one JSON object a line for a log shipper (`log_format = "json"`: `@timestamp`, `level`,
//! `component`, `message`). Text is passed through [`modelward_event::terminal::printable`]
//! (a message can carry values from the traffic); JSON escapes control characters itself.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::json;

/// How messages are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// How serious a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();
static PROGRAM: OnceLock<&'static str> = OnceLock::new();

/// Sets the format for the process (the first call wins).
pub fn set_format(format: LogFormat) {
    let _ = FORMAT.set(format);
}

/// Names the program in text messages (`modelward gateway` unless set; the first call wins).
pub fn set_program(name: &'static str) {
    let _ = PROGRAM.set(name);
}

/// One message as it is written.
pub fn line(level: Level, component: &str, message: &str) -> String {
    render(
        FORMAT.get().copied().unwrap_or_default(),
        PROGRAM.get().copied().unwrap_or("modelward gateway"),
        level,
        component,
        message,
    )
}

fn render(
    format: LogFormat,
    program: &str,
    level: Level,
    component: &str,
    message: &str,
) -> String {
    match format {
        LogFormat::Text => {
            let component = if component.is_empty() {
                String::new()
            } else {
                format!("{component}: ")
            };
            format!(
                "{program}: {component}{}",
                modelward_event::terminal::printable(message)
            )
        }
        LogFormat::Json => json!({
            "@timestamp": modelward_event::format_timestamp(crate::now_ms()),
            "level": level.as_str(),
            "component": if component.is_empty() { program } else { component },
            "message": modelward_event::secret::mask(message),
        })
        .to_string(),
    }
}

/// Writes one message to stderr.
pub fn say(level: Level, component: &str, message: &str) {
    eprintln!("{}", line(level, component, message));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_json_is_one_object_a_line() {
        let hostile = "opened INC-1 for \u{1b}[31mmallory\nnext";
        let text = render(
            LogFormat::Text,
            "modelward gateway",
            Level::Info,
            "detection",
            hostile,
        );
        assert_eq!(
            text,
            "modelward gateway: detection: opened INC-1 for \\u{1b}[31mmallory\\u{a}next"
        );
        let json = render(LogFormat::Json, "gateway", Level::Warn, "", hostile);
        assert!(!json.contains('\n') && !json.contains('\u{1b}'), "{json}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            (
                v["level"].as_str(),
                v["component"].as_str(),
                v["message"].as_str()
            ),
            (Some("warn"), Some("gateway"), Some(hostile))
        );
        assert!(v["@timestamp"].as_str().unwrap().ends_with('Z'));
    }
}
