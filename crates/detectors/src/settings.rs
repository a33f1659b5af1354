//! Detector settings, resolved from the configuration file's `[detectors]` section.

use std::path::PathBuf;

/// What the detectors need from the user: which to run, and the lists they match against.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Codes of detectors not to run (`MW-AI-0008`).
    pub disabled: Vec<String>,
    /// Tor exit lists: the bulk exit list (one address per line) or TorDNSEL's
    /// `exit-addresses` format. Without any, the Tor detector does not run.
    pub tor_exit_lists: Vec<PathBuf>,
    /// User-agent lists: CSV `pattern,tool,severity` (patterns with `*`), added to the
    /// built-in list.
    pub user_agent_lists: Vec<PathBuf>,
    /// Entities of the sensitive-data detector (`credit_card`, `iban`, `us_ssn`, `email`,
    /// `phone`, `date_of_birth`, `us_passport`, `uk_nino`, `contact_details`); None: the
    /// default set, every entity but lone `email` and `phone`.
    pub sensitive_data_entities: Option<Vec<String>>,
    /// Phishing feeds: OpenPhish (URL per line), PhishTank JSON/CSV, URLhaus CSV, or domain
    /// lists (one per line, `#` comments), recognised per file. Without any, the phishing
    /// detectors (MW-AI-0005..0007) do not run.
    pub phishing_feeds: Vec<PathBuf>,
    /// Threat-intelligence IP lists: one address or CIDR range per line, `#`/`;` comments,
    /// the rest of the line a label. Without any, the suspicious-IP detector does not run.
    pub suspicious_ip_lists: Vec<PathBuf>,
    /// A gitleaks configuration file (`gitleaks.toml`): its rules and allowlists are added
    /// to the credential-theft detector (MW-AI-0001) as user rules; what cannot apply to
    /// LLM text (path rules, `[extend] useDefault`, bad regexes) is reported and skipped.
    pub gitleaks_config: Option<PathBuf>,
    /// The score from which modelward's jailbreak heuristic reports a prompt no shield
    /// looked at (MW-AI-0003); None: the default threshold chosen on data.
    pub jailbreak_threshold: Option<u32>,
    /// The probability from which modelward's trained classifier reports a prompt no shield
    /// looked at (MW-AI-0003), strictly between 0 and 1; None: the threshold the training
    /// chose (0.2007).
    pub jailbreak_classifier_threshold: Option<f64>,
    /// Local mirrors of object-storage buckets (`[[detectors.storage_mirrors]]`): the
    /// objects of a storage access log found there are compared with the registered models'
    /// fingerprints (MW-AI-0021). Without any, or without `copy_examiner`, it does not run.
    pub storage_mirrors: Vec<crate::detectors::model_copy::StorageMirror>,
    /// What compares a mirrored object with the fingerprints; the binary gives it (this
    /// crate does not read weights).
    pub copy_examiner: Option<crate::detectors::model_copy::Examiner>,
}

/// A list file that could not be read, or a line of it that is wrong.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Line {
        file: String,
        line: usize,
        message: String,
    },
    #[error("detectors: {0}")]
    Config(String),
}

/// Reads a list file.
pub fn read_list(path: &PathBuf) -> Result<String, SettingsError> {
    std::fs::read_to_string(path).map_err(|source| SettingsError::Io {
        file: path.display().to_string(),
        source,
    })
}
