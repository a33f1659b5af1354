//! What can go wrong with an output: its configuration (told before any alert is read) or
//! its delivery (told at the end, with every alert that did not arrive).

use std::path::PathBuf;

use crate::delivery::Report;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("output `{target}`: {why}")]
    BadTarget { target: String, why: String },
    #[error("output `{output}`: `{key}` {why}")]
    BadOption {
        output: String,
        key: &'static str,
        why: String,
    },
    #[error("output `{output}`: secrets are not taken from the command line or the target ({what}); name an environment variable in an [[outputs]] section (`{key} = \"env:NAME\"`) or set {default_env}")]
    SecretInTarget {
        output: String,
        what: String,
        key: &'static str,
        default_env: String,
    },
    #[error("output `{output}`: `{key}` must name an environment variable (`{key} = \"env:NAME\"`): secrets are not kept in the configuration file")]
    SecretNotFromEnv { output: String, key: &'static str },
    #[error("output `{output}`: {what} from environment variable {var}, which is not set")]
    MissingEnv {
        output: String,
        what: &'static str,
        var: String,
    },
    #[error("output `{output}`: {what} is needed (set {hint})")]
    MissingSetting {
        output: String,
        what: &'static str,
        hint: String,
    },
    #[error("output `{output}`: {source}")]
    Http {
        output: String,
        source: modelward_http::AgentError,
    },
    #[error("output `{output}`: {path}: {source}")]
    File {
        output: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("output `{output}`: the delivery thread stopped unexpectedly")]
    Worker { output: String },
    /// Alerts that the destination did not take, after every retry.
    #[error("{}", undelivered_message(.output, .report))]
    Undelivered { output: String, report: Box<Report> },
}

fn undelivered_message(output: &str, report: &Report) -> String {
    let failed = report.rejected.len() + report.unsent.len();
    let mut parts = Vec::new();
    if let Some(first) = report.rejected.first() {
        parts.push(format!(
            "{} rejected (alert {}: {})",
            report.rejected.len(),
            first.id,
            first.why
        ));
    }
    if let Some(last) = report.unsent.last() {
        parts.push(format!(
            "{} unsent (alert {}: {})",
            report.unsent.len(),
            last.id,
            last.why
        ));
    }
    let whereabouts = match (&report.spooled, &report.spool_error) {
        (_, Some(e)) => format!("; writing them to the spool failed: {e}"),
        (Some((path, n)), None) => format!("; {n} written to the spool {}", path.display()),
        (None, None) => {
            let ids: Vec<&str> = report
                .rejected
                .iter()
                .chain(&report.unsent)
                .take(10)
                .map(|u| u.id.as_str())
                .collect();
            let more = failed.saturating_sub(ids.len());
            format!(
                "; no spool is configured (`spool = FILE` keeps them): alert ids {}{}",
                ids.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )
        }
    };
    format!(
        "output `{output}`: {failed} of {} alert(s) not delivered: {}{whereabouts}",
        report.delivered + failed as u64,
        parts.join(", ")
    )
}

impl From<Error> for modelward_engine::SinkError {
    fn from(e: Error) -> Self {
        modelward_engine::SinkError::Output(Box::new(e))
    }
}
