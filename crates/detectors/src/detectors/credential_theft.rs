//! ## What it detects
//! Credentials in what a model answered (the completion): AWS access key IDs (`AKIA`/`ASIA`)
//! and, next to one or after an AWS secret label, the 40-character secret access key; Azure
//! storage account keys, storage connection strings, Service Bus / Event Hubs connection
//! strings and SAS tokens; Google Cloud service-account key files; OpenAI (legacy, project,
//! service-account and admin), Anthropic and Hugging Face API keys; GitHub tokens (classic
//! `ghp_` tokens must carry a valid CRC32 checksum), GitLab personal access tokens; Slack
//! tokens and incoming webhooks; PEM private keys; signed JSON Web Tokens; database URIs
//! with a password (PostgreSQL, MySQL/MariaDB, MongoDB, Redis, AMQP); and quoted
//! `api_key = "..."`-style assignments whose value looks random. One finding per kind of
//! credential, with how many distinct values were seen and each value masked.
//!
//! ## Why it matters
//! A completion that contains a live credential means the model had it (in its system
//! prompt, a retrieved document, a tool result or its training data) and gave it away; an
//! attacker who coaxes secrets out of a deployment can then move to the systems they
//! unlock. Microsoft Defender for Cloud raises "Detected credential theft attempts on an
//! Azure AI model deployment" (AI.Azure_CredentialTheftAttempt) when credentials appear in
//! model responses.
//!
//! ## Example
//! A user asks a coding assistant connected to an internal wiki "what are the deployment
//! settings for billing?", and the completion contains
//! `AWS_ACCESS_KEY_ID=AKIA…` and `AWS_SECRET_ACCESS_KEY=…`; the finding shows them as
//! `AKIA…7Q (20 chars)` and `k3Jx…9b (40 chars)`.
//!
//! ## False positives
//! Documentation examples and placeholders are ignored: the AWS documentation keys
//! (`AKIAIOSFODNN7EXAMPLE`), values containing `EXAMPLE`, `xxxx`, `****`, `...`, `<...>`,
//! `${...}` or `your_...`, runs of one character or of consecutive characters, the Azurite
//! development storage key, the jwt.io sample token, and common default database passwords
//! (`password`, `changeme`, `postgres`, a password equal to the user name). A model that
//! invents a realistic-looking key for a tutorial is flagged: the value cannot be told from
//! a real one without trying it. Generic high-entropy strings are never flagged on their
//! own.
//!
//! ## Response
//! Treat the credential as exposed: find its owner by the masked prefix and suffix, revoke
//! or rotate it, and review its use since the time of the event. Then find how the model got
//! it (system prompt, retrieval index, tool output, fine-tuning data) and remove it there,
//! and review the prompts of the same user for further extraction attempts.
//!
//! ## References
//! - https://learn.microsoft.com/en-us/azure/defender-for-cloud/alerts-ai-workloads
//! - https://atlas.mitre.org/techniques/AML.T0055
//! - https://attack.mitre.org/techniques/T1552/
//! - https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html
//! - https://learn.microsoft.com/en-us/azure/storage/common/storage-sas-overview
//! - https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/
//! - https://github.com/gitleaks/gitleaks

use aho_corasick::AhoCorasick;
use modelward_event::Event;
use modelward_rule::Severity;
use regex::{Captures, Regex};
use serde_json::{json, Map, Value};

use crate::detector::{BuildContext, Builtin, Code, Detector, Finding};
use crate::keywords::{KeywordMatch, Scan};
use crate::settings::{Settings, SettingsError};
use crate::text::Role;

pub const CODE: Code = Code {
    code: "MW-AI-0001",
    name: "Detected credential theft attempts on an Azure AI model deployment",
    defender: Some("AI.Azure_CredentialTheftAttempt"),
    // High, where Defender says medium: a usable credential has left in a response
    // (impact high × confidence high; docs/detectors.md, Severities).
    severity: Severity::High,
    tactics: &["Credential Access", "Lateral Movement", "Exfiltration"],
    atlas: ("AML.T0055", "Unsecured Credentials"),
    doc: include_str!("credential_theft.rs"),
};

/// A user rule, in the spirit of a gitleaks rule: the regex finds a candidate, the
/// secret is its capture group `secret_group` (0, as in gitleaks: the first non-empty
/// capture group, or the whole match when the regex has none), it is only tried when one
/// of `keywords` (case-insensitive; none means always) occurs in the text, and it is
/// rejected when its Shannon entropy is below `entropy`, it looks like a placeholder, or
/// one of `allow` matches it.
#[derive(Debug, Clone)]
pub struct CredentialRule {
    pub id: String,
    pub description: String,
    pub regex: Regex,
    pub secret_group: usize,
    pub keywords: Vec<String>,
    pub entropy: Option<f64>,
    /// Exceptions (gitleaks allowlists): a candidate one of them matches is dropped.
    pub allow: Vec<Allowlist>,
}

/// What an allowlist's regexes are matched against (gitleaks' `regexTarget`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AllowTarget {
    /// The secret (the rule's secret group); gitleaks' default.
    #[default]
    Secret,
    /// The rule's whole regex match.
    Match,
    /// The line(s) of text holding the match.
    Line,
}

/// An exception to a user rule, as a gitleaks allowlist without its `paths` and
/// `commits` (LLM text has neither): `regexes` matched against `target`, `stopwords`
/// (case-insensitive substrings of the secret). With `all` (gitleaks' `condition = "AND"`)
/// every kind of check it has must match; otherwise (OR) any one.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    pub description: String,
    pub regexes: Vec<Regex>,
    pub target: AllowTarget,
    pub stopwords: Vec<String>,
    pub all: bool,
}

impl Allowlist {
    /// Whether it allows (drops) `secret`, found as `whole` (the regex match) on `line`.
    pub fn allows(&self, secret: &str, whole: &str, line: &str) -> bool {
        let target = match self.target {
            AllowTarget::Secret => secret,
            AllowTarget::Match => whole,
            AllowTarget::Line => line,
        };
        let regex = (!self.regexes.is_empty())
            .then(|| !target.is_empty() && self.regexes.iter().any(|r| r.is_match(target)));
        let stopword = (!self.stopwords.is_empty()).then(|| {
            let lower = secret.to_lowercase();
            self.stopwords
                .iter()
                .any(|w| !w.is_empty() && lower.contains(&w.to_lowercase()))
        });
        let mut checks = [regex, stopword].into_iter().flatten().peekable();
        if self.all {
            checks.peek().is_some() && checks.all(|c| c)
        } else {
            checks.any(|c| c)
        }
    }
}

/// How a built-in rule validates its candidates (beyond its regex).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// A user rule: placeholder words and the rule's entropy.
    Custom,
    /// A token with a distinctive format: no placeholder, no degenerate runs.
    Token,
    /// `ghp_` tokens: their CRC32 checksum.
    Github,
    /// A 40-character run: an AWS key ID in the text or an AWS secret label before it.
    AwsSecret,
    /// Canonical base64 of this many bytes.
    Base64Key(usize),
    /// An Azure SAS signature (URL-escaped base64 of an HMAC-SHA256).
    AzureSas,
    /// A PEM block; group 1 is the key type.
    Pem,
    /// The `private_key` of a service-account JSON.
    Gcp,
    /// A signed JWT.
    Jwt,
    /// A database URI; groups: 1 scheme, 2 user, 3 password, 4 host.
    DbUri,
    /// A `key = "value"` assignment with a random-looking value.
    Generic,
}

struct Rule {
    id: String,
    description: String,
    regex: Regex,
    secret_group: usize,
    has_keywords: bool,
    entropy: Option<f64>,
    check: Check,
    allow: Vec<Allowlist>,
}

/// (id, description, regex, secret group, keywords, minimum entropy, check).
type BuiltIn = (
    &'static str,
    &'static str,
    &'static str,
    usize,
    &'static [&'static str],
    Option<f64>,
    Check,
);

/// The built-in rules, most specific first: a secret claimed by a rule is not reported
/// again by a later one (a connection string's key is not also a bare account key).
const BUILT_IN: &[BuiltIn] = &[
    (
        "aws-access-key-id",
        "AWS access key ID",
        r"\b((?:AKIA|ASIA)[A-Z2-7]{16})\b",
        1,
        &["akia", "asia"],
        None,
        Check::Token,
    ),
    (
        "azure-storage-connection-string",
        "Azure storage connection string",
        r"(?i:DefaultEndpointsProtocol)=https?;(?:[A-Za-z]+=[^;\s]*;)*?(?i:AccountKey)=([A-Za-z0-9+/]{86}==)",
        1,
        &["defaultendpointsprotocol"],
        None,
        Check::Base64Key(64),
    ),
    (
        "azure-servicebus-connection-string",
        "Azure Service Bus / Event Hubs connection string",
        r"Endpoint=sb://[A-Za-z0-9.-]+/?;SharedAccessKeyName=[^;\s]+;SharedAccessKey=([A-Za-z0-9+/]{43}=)",
        1,
        &["sharedaccesskey="],
        None,
        Check::Base64Key(32),
    ),
    (
        "azure-storage-account-key",
        "Azure storage account key",
        r#"(?i:account_?key|storage_?key)["']?\s*[:=]\s*["']?([A-Za-z0-9+/]{86}==)"#,
        1,
        &["accountkey", "account_key", "storagekey", "storage_key"],
        None,
        Check::Base64Key(64),
    ),
    (
        "azure-sas-token",
        "Azure shared access signature (SAS) token",
        r#"\bsv=[0-9]{4}-[0-9]{2}-[0-9]{2}(?:&[A-Za-z]{1,8}=[^&\s"'<>]*){0,16}?&sig=((?:[A-Za-z0-9+/]|%2[BbFf]){43}(?:=|%3[Dd])?)"#,
        1,
        &["sig="],
        None,
        Check::AzureSas,
    ),
    (
        "azure-sas-token",
        "Azure shared access signature (SAS) token",
        r#"\bsig=((?:[A-Za-z0-9+/]|%2[BbFf]){43}(?:=|%3[Dd])?)(?:&[A-Za-z]{1,8}=[^&\s"'<>]*){0,16}?&sv=[0-9]{4}-[0-9]{2}-[0-9]{2}"#,
        1,
        &["sig="],
        None,
        Check::AzureSas,
    ),
    (
        "gcp-service-account-key",
        "Google Cloud service-account private key",
        r#""private_key"\s*:\s*"(-----BEGIN[^"]*)""#,
        1,
        &["service_account"],
        None,
        Check::Gcp,
    ),
    (
        "private-key",
        "PEM private key",
        r"-----BEGIN ((?:[A-Z0-9]+ ){0,3})PRIVATE KEY(?: BLOCK)?-----((?:[^-]|-[^-])*)",
        2,
        &["private key"],
        None,
        Check::Pem,
    ),
    (
        "openai-api-key",
        "OpenAI API key",
        r"\b(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,250})",
        1,
        &["sk-"],
        Some(3.5),
        Check::Token,
    ),
    (
        "openai-api-key",
        "OpenAI API key",
        r"\b(sk-[A-Za-z0-9]{48})\b",
        1,
        &["sk-"],
        None,
        Check::Token,
    ),
    (
        "anthropic-api-key",
        "Anthropic API key",
        r"\b(sk-ant-(?:api|admin)[0-9]{2}-[A-Za-z0-9_-]{80,200})",
        1,
        &["sk-ant-"],
        None,
        Check::Token,
    ),
    (
        "huggingface-token",
        "Hugging Face access token",
        r"\b(hf_[A-Za-z]{34})\b",
        1,
        &["hf_"],
        Some(3.5),
        Check::Token,
    ),
    (
        "github-token",
        "GitHub token",
        r"\b(gh[pousr]_[A-Za-z0-9]{36})\b",
        1,
        &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        None,
        Check::Github,
    ),
    (
        "github-token",
        "GitHub token",
        r"\b(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})\b",
        1,
        &["github_pat_"],
        None,
        Check::Token,
    ),
    (
        "gitlab-token",
        "GitLab personal access token",
        r"\b(glpat-[A-Za-z0-9_-]{20,})",
        1,
        &["glpat-"],
        None,
        Check::Token,
    ),
    (
        "slack-token",
        "Slack token",
        r"\b(xox[baprs]-(?:[0-9]{1,16}-){1,4}[A-Za-z0-9]{16,64})\b",
        1,
        &["xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"],
        None,
        Check::Token,
    ),
    (
        "slack-webhook",
        "Slack incoming webhook",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/(T[A-Z0-9]{8,12}/[AB][A-Z0-9]{8,12}/[A-Za-z0-9]{20,32})",
        1,
        &["hooks.slack.com"],
        None,
        Check::Token,
    ),
    (
        "jwt",
        "JSON Web Token",
        r"\b(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{16,})",
        1,
        &["eyj"],
        None,
        Check::Jwt,
    ),
    (
        "database-uri",
        "Database URI with a password",
        r#"\b(postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?)://([^:/?#@\s"'<>]*):([^@/?#\s"'<>]+)@([A-Za-z0-9._\[\]:-]+)"#,
        3,
        &["postgres", "mysql", "mariadb", "mongodb", "redis", "amqp"],
        None,
        Check::DbUri,
    ),
    (
        "aws-secret-access-key",
        "AWS secret access key",
        r"[A-Za-z0-9/+]{40,}",
        0,
        &[
            "akia",
            "asia",
            "secret_access_key",
            "secretaccesskey",
            "secret-access-key",
            "aws_secret",
        ],
        Some(3.5),
        Check::AwsSecret,
    ),
];

/// Generic assignments: after the user's rules, so that those claim their secrets first.
const GENERIC: BuiltIn = (
    "generic-api-key",
    "API key or secret assignment",
    r#"(?i:api[_-]?key|api[_-]?secret|secret[_-]?key|client[_-]?secret|access[_-]?token|auth[_-]?token|private[_-]?token)["']?\s*(?::=|=>|[:=])\s*["'`]?([A-Za-z0-9_+/=-]{16,128})(?:[^A-Za-z0-9_+/=.-]|$)"#,
    1,
    &[
        "api_key",
        "api-key",
        "apikey",
        "api_secret",
        "api-secret",
        "apisecret",
        "secret_key",
        "secret-key",
        "secretkey",
        "client_secret",
        "client-secret",
        "clientsecret",
        "access_token",
        "access-token",
        "accesstoken",
        "auth_token",
        "auth-token",
        "authtoken",
        "private_token",
        "private-token",
        "privatetoken",
    ],
    Some(3.5),
    Check::Generic,
);

/// Marks of documentation examples and templates (compared case-insensitively).
const PLACEHOLDER_MARKS: &[&str] = &[
    "example",
    "xxxx",
    "****",
    "...",
    "\u{2026}",
    "<",
    ">",
    "{",
    "}",
    "$(",
    "your_",
    "your-",
    "yourapi",
    "yourkey",
    "yoursecret",
    "yourtoken",
    "placeholder",
    "redacted",
    "dummy",
    "sample",
    "changeme",
    "change_me",
    "replaceme",
    "replace_me",
    "insert_",
    "_here",
    "-here",
    "notreal",
    "not_real",
];

/// Publicly documented values: the Azurite development storage key, the jwt.io sample
/// token's signature, the AWS documentation keys.
const KNOWN_EXAMPLES: &[&str] = &[
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
];

/// Database passwords of documentation and default installations.
const DEFAULT_PASSWORDS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pwd",
    "secret",
    "changeme",
    "example",
    "test",
    "testing",
    "admin",
    "root",
    "toor",
    "guest",
    "postgres",
    "mysql",
    "mariadb",
    "redis",
    "mongo",
    "mongodb",
    "rabbitmq",
    "user",
    "username",
    "dbpass",
    "dbpassword",
    "db_password",
    "mypassword",
    "my_password",
    "mysecretpassword",
    "secretpassword",
    "password123",
    "pass123",
    "p@ssw0rd",
    "letmein",
    "default",
    "demo",
    "foobar",
    "qwerty",
    "123456",
    "12345678",
    "s3cr3t",
];

/// The most masked values listed per kind.
const MAX_VALUES: usize = 10;

/// Whole-text patterns some checks need.
struct Aux {
    aws_id: Regex,
    aws_label: Regex,
    gcp_type: Regex,
    gcp_email: Regex,
}

/// Credentials in completions (MW-AI-0001). Built once, shared by every thread.
pub struct CredentialTheft {
    rules: Vec<Rule>,
    /// The rules' keywords, lowercase; ids index `keyword_rules`.
    words: Vec<String>,
    /// An automaton over `words`, for texts scanned outside the shared keyword pass.
    keywords: Option<AhoCorasick>,
    /// Rules (indices into `rules`) of each keyword of `keywords`.
    keyword_rules: Vec<Vec<usize>>,
    aux: Option<Aux>,
}

impl Default for CredentialTheft {
    fn default() -> Self {
        CredentialTheft::new()
    }
}

/// ASCII word boundaries: the Unicode ones slow the lazy DFA down on non-ASCII text.
fn compile(pattern: &str) -> Option<Regex> {
    Regex::new(&pattern.replace(r"\b", r"(?-u:\b)")).ok()
}

impl CredentialTheft {
    /// The built-in rules.
    pub fn new() -> CredentialTheft {
        CredentialTheft::with_rules(Vec::new())
    }

    /// The built-in rules and the user's, tried after the specific built-in rules and
    /// before the generic `api_key = "..."` rule.
    pub fn with_rules(extra: Vec<CredentialRule>) -> CredentialTheft {
        let mut rules = Vec::new();
        let mut keywords: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        let mut add = |rule: Rule, words: &mut dyn Iterator<Item = String>| {
            let index = rules.len();
            for w in words.filter(|w| !w.is_empty()) {
                match keywords.iter().position(|k| *k == w) {
                    Some(k) => keyword_rules[k].push(index),
                    None => {
                        keywords.push(w);
                        keyword_rules.push(vec![index]);
                    }
                }
            }
            rules.push(rule);
        };
        let built_in = |b: &BuiltIn| {
            let (id, description, pattern, secret_group, words, entropy, check) = *b;
            compile(pattern).map(|regex| {
                (
                    Rule {
                        id: id.to_string(),
                        description: description.to_string(),
                        regex,
                        secret_group,
                        has_keywords: !words.is_empty(),
                        entropy,
                        check,
                        allow: Vec::new(),
                    },
                    words,
                )
            })
        };
        for (rule, words) in BUILT_IN.iter().filter_map(&built_in) {
            add(rule, &mut words.iter().map(|w| w.to_ascii_lowercase()));
        }
        for r in extra {
            let has_keywords = r.keywords.iter().any(|k| !k.is_empty());
            let rule = Rule {
                id: r.id,
                description: r.description,
                regex: r.regex,
                secret_group: r.secret_group,
                has_keywords,
                entropy: r.entropy,
                check: Check::Custom,
                allow: r.allow,
            };
            add(rule, &mut r.keywords.iter().map(|w| w.to_ascii_lowercase()));
        }
        if let Some((rule, words)) = built_in(&GENERIC) {
            add(rule, &mut words.iter().map(|w| w.to_ascii_lowercase()));
        }
        let words = keywords;
        let keywords = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&words)
            .ok();
        let aux = (|| {
            Some(Aux {
                aws_id: compile(BUILT_IN[0].2)?,
                aws_label: compile(r"(?i)(?:secret.?access.?key|aws.?secret)")?,
                gcp_type: compile(r#""type"\s*:\s*"service_account""#)?,
                gcp_email: compile(r#""client_email"\s*:\s*"([^"\s]{3,200})""#)?,
            })
        })();
        CredentialTheft {
            rules,
            words,
            keywords,
            keyword_rules,
            aux,
        }
    }

    /// The regular expressions of its rules, in the order they are tried (for benchmarks
    /// that compare against running each pattern on its own).
    pub fn patterns(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.regex.as_str()).collect()
    }

    /// The text with every credential it holds replaced by its masked form; None when it
    /// holds none. Used on every alert's fields, so no output carries a secret.
    pub fn redact(&self, text: &str) -> Option<String> {
        self.mask(text).map(|(out, _)| out)
    }

    /// [`CredentialTheft::redact`], with what was masked: each credential's kind (its rule
    /// id) and masked form, in order of first appearance.
    pub fn mask(&self, text: &str) -> Option<(String, Vec<Masked>)> {
        let mut hits = Vec::new();
        self.scan(text, None, &mut hits);
        if hits.is_empty() {
            return None;
        }
        let mut found: Vec<Masked> = Vec::new();
        for h in &hits {
            let kind = self
                .rules
                .get(h.rule)
                .map_or("credential", |r| r.id.as_str());
            if !found.iter().any(|m| m.value == h.masked && m.kind == kind) {
                found.push(Masked {
                    kind: kind.to_string(),
                    value: h.masked.clone(),
                });
            }
        }
        let mut out = text.to_string();
        // Longest first, so a secret inside another is not half-replaced.
        hits.sort_by_key(|h| std::cmp::Reverse(h.secret.len()));
        for h in &hits {
            out = out.replace(h.secret, &h.masked);
        }
        Some((out, found))
    }

    /// Adds the credentials of one text to `hits`. `keywords`: where the shared keyword
    /// pass found the rules' keywords; `None` to look for them here.
    fn scan<'t>(&self, text: &'t str, keywords: Option<&[KeywordMatch]>, hits: &mut Vec<Hit<'t>>) {
        // Which rules have a keyword in the text; allocated on the first keyword only.
        let mut triggered: Vec<bool> = Vec::new();
        let mut trigger = |keyword: usize| {
            if triggered.is_empty() {
                triggered = vec![false; self.rules.len()];
            }
            for &r in self.keyword_rules.get(keyword).into_iter().flatten() {
                if let Some(t) = triggered.get_mut(r) {
                    *t = true;
                }
            }
        };
        match (keywords, &self.keywords) {
            (Some(found), _) => found.iter().for_each(|m| trigger(m.keyword)),
            (None, Some(ac)) => ac
                .find_overlapping_iter(text)
                .for_each(|m| trigger(m.pattern().as_usize())),
            (None, None) => {}
        }
        let mut claimed: Vec<(usize, usize)> = Vec::new();
        let mut aws_id: Option<bool> = None;
        for (index, rule) in self.rules.iter().enumerate() {
            let run = !rule.has_keywords || triggered.get(index).copied().unwrap_or(false);
            if !run || !rule.regex.is_match(text) {
                continue;
            }
            for caps in rule.regex.captures_iter(text) {
                let Some(m) = secret_of(rule, &caps) else {
                    continue;
                };
                if m.as_str().is_empty()
                    || claimed.iter().any(|&(s, e)| m.start() < e && s < m.end())
                {
                    continue;
                }
                if let Some(masked) = self.validate(rule, text, &caps, m, &mut aws_id) {
                    claimed.push((m.start(), m.end()));
                    hits.push(Hit {
                        rule: index,
                        secret: m.as_str(),
                        masked,
                    });
                }
            }
        }
    }

    /// The masked value when the candidate is a credential.
    fn validate(
        &self,
        rule: &Rule,
        text: &str,
        caps: &Captures<'_>,
        m: regex::Match<'_>,
        aws_id: &mut Option<bool>,
    ) -> Option<String> {
        let s = m.as_str();
        if KNOWN_EXAMPLES.iter().any(|k| s.contains(k)) {
            return None;
        }
        if let Some(min) = rule.entropy {
            if entropy(s) < min {
                return None;
            }
        }
        let token_ok = |s: &str| !looks_placeholder(s) && !degenerate(s);
        match rule.check {
            Check::Custom => {
                let whole = caps.get(0).unwrap_or(m);
                let ok = !looks_placeholder(s)
                    && !rule.allow.iter().any(|a| {
                        a.allows(s, whole.as_str(), line_of(text, whole.start(), whole.end()))
                    });
                ok.then(|| mask(s))
            }
            Check::Token => token_ok(s).then(|| mask(s)),
            Check::Github => {
                let ok = token_ok(s) && (!s.starts_with("ghp_") || github_checksum_ok(s));
                ok.then(|| mask(s))
            }
            Check::AwsSecret => {
                let shape = s.len() == 40
                    && s.bytes().any(|b| b.is_ascii_uppercase())
                    && s.bytes().any(|b| b.is_ascii_lowercase())
                    && token_ok(s);
                if !shape {
                    return None;
                }
                let aux = self.aux.as_ref()?;
                let labelled = aux
                    .aws_label
                    .is_match(&text[floor_boundary(text, m.start().saturating_sub(80))..m.start()]);
                let with_id = *aws_id.get_or_insert_with(|| {
                    aux.aws_id
                        .find_iter(text)
                        .any(|k| token_ok(k.as_str()) && !KNOWN_EXAMPLES.contains(&k.as_str()))
                });
                (labelled || with_id).then(|| mask(s))
            }
            Check::Base64Key(bytes) => {
                let ok = token_ok(s) && b64_decode(s).is_some_and(|d| d.len() == bytes);
                ok.then(|| mask(s))
            }
            Check::AzureSas => {
                let sig = s
                    .replace("%2B", "+")
                    .replace("%2b", "+")
                    .replace("%2F", "/")
                    .replace("%2f", "/")
                    .replace("%3D", "=")
                    .replace("%3d", "=");
                let ok = token_ok(&sig)
                    && entropy(&sig) >= 3.5
                    && b64_decode(&sig).is_some_and(|d| d.len() == 32);
                ok.then(|| format!("sig={}", mask(&sig)))
            }
            Check::Pem => {
                let kind = caps.get(1).map_or("", |k| k.as_str());
                pem_body_ok(s).then(|| {
                    format!(
                        "-----BEGIN {kind}PRIVATE KEY----- ({} chars)",
                        s.chars().count()
                    )
                })
            }
            Check::Gcp => {
                let aux = self.aux.as_ref()?;
                if !aux.gcp_type.is_match(text) {
                    return None;
                }
                let body = s.split_once("KEY-----").map_or("", |(_, b)| b);
                if !pem_body_ok(body) {
                    return None;
                }
                let email = aux
                    .gcp_email
                    .captures(text)
                    .and_then(|c| c.get(1))
                    .map(|e| format!(", client_email {}", truncate(e.as_str(), 120)))
                    .unwrap_or_default();
                Some(format!(
                    "-----BEGIN PRIVATE KEY----- ({} chars){email}",
                    s.chars().count()
                ))
            }
            Check::Jwt => {
                let (alg, typ) = jwt_header(s)?;
                Some(format!(
                    "JWT alg={} typ={} ({} chars)",
                    truncate(&alg, 20),
                    truncate(&typ, 20),
                    s.chars().count()
                ))
            }
            Check::DbUri => {
                let part = |i: usize| caps.get(i).map_or("", |p| p.as_str());
                let (scheme, user, host) = (part(1), part(2), part(4));
                if !db_password_ok(s, user) {
                    return None;
                }
                Some(format!(
                    "{scheme}://{}:{}@{}",
                    truncate(user, 64),
                    mask(s),
                    truncate(host, 100)
                ))
            }
            Check::Generic => {
                let ok = token_ok(s)
                    && s.bytes().any(|b| b.is_ascii_digit())
                    && s.bytes().any(|b| b.is_ascii_alphabetic());
                ok.then(|| mask(s))
            }
        }
    }
}

/// The secret of a match: the rule's group; for a user rule's group 0, as gitleaks does,
/// the first non-empty capture group, or the whole match when the regex has none.
fn secret_of<'t>(rule: &Rule, caps: &Captures<'t>) -> Option<regex::Match<'t>> {
    if rule.check == Check::Custom && rule.secret_group == 0 && caps.len() > 1 {
        return (1..caps.len())
            .filter_map(|i| caps.get(i))
            .find(|g| !g.as_str().is_empty())
            .or_else(|| caps.get(0));
    }
    caps.get(rule.secret_group)
}

/// The line(s) of `text` holding `start..end`, without their line breaks.
fn line_of(text: &str, start: usize, end: usize) -> &str {
    let from = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let to = text[end..].find('\n').map_or(text.len(), |i| end + i);
    text[from..to].trim_end_matches('\r')
}

/// One credential found.
/// A credential masked in a text: its kind (the rule's id) and masked form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masked {
    pub kind: String,
    pub value: String,
}

struct Hit<'t> {
    rule: usize,
    secret: &'t str,
    masked: String,
}

/// Shows the first 4 and last 2 characters and the length; short values only the length.
fn mask(s: &str) -> String {
    let n = s.chars().count();
    if n < 20 {
        return format!("\u{2026} ({n} chars)");
    }
    let head: String = s.chars().take(4).collect();
    let tail: String = s.chars().skip(n - 2).collect();
    format!("{head}\u{2026}{tail} ({n} chars)")
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}\u{2026}", &s[..i]),
        None => s.to_string(),
    }
}

/// The largest char boundary at or below `i`.
fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Shannon entropy in bits per byte.
fn entropy(s: &str) -> f64 {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    !n.is_empty() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// A template or documentation value rather than a credential.
fn looks_placeholder(s: &str) -> bool {
    let mut chars = s.chars();
    let first = chars.next();
    first.is_none_or(|f| chars.all(|c| c == f) || f == '$' || f == '%')
        || PLACEHOLDER_MARKS.iter().any(|m| contains_ignore_case(s, m))
}

/// Runs of one character or of consecutive characters (`aaaaaa`, `123456`, `abcdef`), or
/// too few distinct characters: not random.
fn degenerate(s: &str) -> bool {
    let b = s.as_bytes();
    let (mut same, mut up, mut down) = (1, 1, 1);
    for w in b.windows(2) {
        let alnum = w[0].is_ascii_alphanumeric() && w[1].is_ascii_alphanumeric();
        same = if w[1] == w[0] { same + 1 } else { 1 };
        up = if alnum && w[1] == w[0].wrapping_add(1) {
            up + 1
        } else {
            1
        };
        down = if alnum && w[0] == w[1].wrapping_add(1) {
            down + 1
        } else {
            1
        };
        if same >= 6 || up >= 6 || down >= 6 {
            return true;
        }
    }
    let mut seen = [false; 256];
    b.iter().for_each(|&c| seen[usize::from(c)] = true);
    b.len() >= 16 && seen.iter().filter(|&&x| x).count() < 6
}

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` in base 62, left-padded with `0` to 6 digits (62^6 > 2^32).
fn base62_6(mut n: u32) -> [u8; 6] {
    let mut out = [b'0'; 6];
    for digit in out.iter_mut().rev() {
        *digit = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// A classic GitHub token (`ghp_` + 30 random + 6 checksum): the checksum is the base62
/// CRC32 of the 30 random characters.
fn github_checksum_ok(token: &str) -> bool {
    let b = token.as_bytes();
    match (b.get(4..34), b.get(34..40)) {
        (Some(random), Some(check)) if b.len() == 40 => base62_6(crc32(random)) == check,
        _ => false,
    }
}

/// Standard or URL-safe base64, padding optional, trailing bits zero (canonical).
fn b64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (acc == 0).then_some(out)
}

/// The body of a PEM block (escaped `\n` allowed, as in JSON): base64 lines after
/// optional `Name: value` headers, until the `-----END` line; real keys are long and
/// random.
fn pem_body_ok(body: &str) -> bool {
    let body = body.replace("\\n", "\n").replace("\\r", "\n");
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    for line in body.lines().map(str::trim) {
        if line.starts_with("-----") {
            break;
        }
        if line.is_empty() || line.contains(':') {
            continue;
        }
        for b in line.bytes() {
            if !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')) {
                return false;
            }
            counts[usize::from(b)] += 1;
            n += 1;
        }
    }
    if n < 64 || looks_placeholder_mark(&body) {
        return false;
    }
    let total = f64::from(n);
    let bits: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / total;
            -p * p.log2()
        })
        .sum();
    bits >= 4.0
}

fn looks_placeholder_mark(s: &str) -> bool {
    ["example", "xxxx"]
        .iter()
        .any(|m| contains_ignore_case(s, m))
}

/// (alg, typ) of a signed JWT whose header and payload are JSON objects.
fn jwt_header(token: &str) -> Option<(String, String)> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if signature.len() < 16 || degenerate(signature) || looks_placeholder(signature) {
        return None;
    }
    let header: Value = serde_json::from_slice(&b64_decode(header)?).ok()?;
    let payload: Value = serde_json::from_slice(&b64_decode(payload)?).ok()?;
    if !payload.is_object() {
        return None;
    }
    let alg = header.get("alg")?.as_str()?;
    if alg.eq_ignore_ascii_case("none") {
        return None;
    }
    let typ = header.get("typ").and_then(Value::as_str).unwrap_or("-");
    Some((alg.to_string(), typ.to_string()))
}

fn db_password_ok(password: &str, user: &str) -> bool {
    password.chars().count() >= 4
        && password != user
        && !looks_placeholder(password)
        && !DEFAULT_PASSWORDS
            .iter()
            .any(|d| d.eq_ignore_ascii_case(password))
        && !["[", "%(", "@"].iter().any(|p| password.starts_with(p))
}

impl Builtin for CredentialTheft {
    const CODES: &'static [Code] = &[CODE];

    /// The built-in rules and the user's gitleaks rules (which the redactor uses as well).
    fn build(_: &Settings, ctx: &mut BuildContext<'_>) -> Result<Option<Self>, SettingsError> {
        Ok(Some(CredentialTheft::with_rules(
            ctx.gitleaks_rules.clone(),
        )))
    }
}

impl CredentialTheft {
    /// The credentials `modelward gateway` masked in a completion before its caller got it
    /// (`modelward.masked` of its LLM log: the record holds the masked text, so the scan
    /// finds nothing): one finding per kind, as for credentials found in the text.
    fn masked_by_gateway(&self, event: &Event, out: &mut Vec<Finding>) {
        let mut kinds: Vec<(String, Vec<String>)> = Vec::new();
        // `get` gives an array's elements one by one.
        for m in event.get(GATEWAY_MASKED) {
            let (Some(kind), Some(value)) = (m["kind"].as_str(), m["value"].as_str()) else {
                continue;
            };
            match kinds.iter_mut().find(|(k, _)| k == kind) {
                Some((_, values)) if !values.iter().any(|v| v == value) => {
                    values.push(value.to_string())
                }
                Some(_) => {}
                None => kinds.push((kind.to_string(), vec![value.to_string()])),
            }
        }
        for (kind, mut values) in kinds {
            let description = self
                .rules
                .iter()
                .find(|r| r.id == kind)
                .map_or_else(|| kind.clone(), |r| r.description.clone());
            let count = values.len();
            values.truncate(MAX_VALUES);
            let more = match count {
                0 | 1 => String::new(),
                n => format!(" and {} more", n - 1),
            };
            let mut evidence = Map::new();
            evidence.insert("kind".into(), json!(kind));
            evidence.insert("description".into(), json!(description));
            evidence.insert("count".into(), json!(count));
            evidence.insert("values".into(), json!(values));
            evidence.insert("role".into(), json!(Role::Completion.as_str()));
            evidence.insert("masked_by".into(), json!("gateway"));
            out.push(Finding {
                code: CODE.code,
                role: Some(Role::Completion),
                summary: format!(
                    "{description} in the completion (masked by the gateway before the caller got it): {}{more}",
                    values.first().map_or("", String::as_str)
                ),
                evidence,
                severity: None,
            });
        }
    }
}

/// Where the gateway's LLM log records the credentials it masked in a completion.
pub const GATEWAY_MASKED: &str = "modelward.masked";

impl Detector for CredentialTheft {
    fn codes(&self) -> Vec<&'static str> {
        vec![CODE.code]
    }

    fn keywords(&self) -> Vec<String> {
        self.words.clone()
    }

    fn inspect(&self, event: &Event, scan: &Scan<'_>, out: &mut Vec<Finding>) {
        let mut hits = Vec::new();
        for t in scan.role(Role::Completion) {
            self.scan(t.text, t.keywords, &mut hits);
        }
        if hits.is_empty() {
            self.masked_by_gateway(event, out);
            return;
        }
        // One finding per kind, in rule order, distinct values only.
        let mut kinds: Vec<(&Rule, Vec<&str>, Vec<String>)> = Vec::new();
        for hit in hits {
            let Some(rule) = self.rules.get(hit.rule) else {
                continue;
            };
            let at = match kinds.iter().position(|(r, _, _)| r.id == rule.id) {
                Some(at) => at,
                None => {
                    kinds.push((rule, Vec::new(), Vec::new()));
                    kinds.len() - 1
                }
            };
            let (_, secrets, masked) = &mut kinds[at];
            if !secrets.contains(&hit.secret) {
                secrets.push(hit.secret);
                masked.push(hit.masked);
            }
        }
        for (rule, secrets, mut masked) in kinds {
            let count = secrets.len();
            masked.truncate(MAX_VALUES);
            let more = match count {
                0 | 1 => String::new(),
                n => format!(" and {} more", n - 1),
            };
            let summary = format!(
                "{} in the completion: {}{more}",
                rule.description,
                masked.first().map_or("", String::as_str)
            );
            let mut evidence = Map::new();
            evidence.insert("kind".into(), json!(rule.id));
            evidence.insert("description".into(), json!(rule.description));
            evidence.insert("count".into(), json!(count));
            evidence.insert("values".into(), json!(masked));
            evidence.insert("role".into(), json!(Role::Completion.as_str()));
            out.push(Finding {
                code: CODE.code,
                role: Some(Role::Completion),
                summary,
                evidence,
                severity: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::LlmText;

    const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const HEX: &[u8] = b"0123456789abcdef";

    /// Deterministic random-looking characters, so that no literal secret is in the source.
    fn rnd(seed: u64, n: usize, alphabet: &[u8]) -> String {
        let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                alphabet[((x >> 33) % alphabet.len() as u64) as usize] as char
            })
            .collect()
    }

    fn b64url(data: &[u8]) -> String {
        const URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                out.push(URL[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }

    fn github(prefix: &str, seed: u64) -> String {
        let random = rnd(seed, 30, B62);
        let check = base62_6(crc32(random.as_bytes()));
        format!("{prefix}{random}{}", std::str::from_utf8(&check).unwrap())
    }

    fn storage_key(seed: u64) -> String {
        format!("{}{}==", rnd(seed, 85, B64), rnd(seed + 1, 1, b"AQgw"))
    }

    fn pem_body(seed: u64) -> String {
        (0..8)
            .map(|i| rnd(seed + i, 64, B64))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn jwt(seed: u64) -> String {
        format!(
            "{}.{}.{}",
            b64url(br#"{"alg":"HS256","typ":"JWT"}"#),
            b64url(br#"{"sub":"svc-billing","role":"admin","exp":1893456000}"#),
            rnd(
                seed,
                43,
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
            )
        )
    }

    /// (kind, completion, secrets that must never be shown).
    fn positives() -> Vec<(&'static str, String, Vec<String>)> {
        let aws_id = format!("AKIA{}", rnd(1, 16, B32));
        let aws_secret = rnd(2, 40, B64);
        let conn_key = storage_key(3);
        let account_key = storage_key(5);
        let sb_key = format!("{}{}=", rnd(7, 42, B64), rnd(8, 1, b"AEIMQUYcgkosw048"));
        let sig = format!("{}{}", rnd(9, 42, B64), rnd(10, 1, b"AEIMQUYcgkosw048"));
        let sig_escaped = sig.replace('+', "%2B").replace('/', "%2F");
        let gcp_body = pem_body(11);
        let pem = pem_body(21);
        let openai_legacy = format!("sk-{}", rnd(31, 48, B62));
        let openai_project = format!("sk-proj-{}", rnd(32, 120, B62));
        let anthropic = format!("sk-ant-api03-{}AA", rnd(33, 93, B62));
        let hf = format!("hf_{}", rnd(34, 34, LETTERS));
        let ghp = github("ghp_", 35);
        let fine_grained = format!("github_pat_{}_{}", rnd(36, 22, B62), rnd(37, 59, B62));
        let glpat = format!("glpat-{}", rnd(38, 20, B62));
        let digits: &[u8] = b"0123456789";
        let slack = format!(
            "xoxb-{}-{}-{}",
            rnd(39, 12, digits),
            rnd(40, 13, digits),
            rnd(41, 24, B62)
        );
        let hook_secret = rnd(42, 24, B62);
        let hook = format!("T{}/B{}/{hook_secret}", rnd(43, 9, B32), rnd(44, 9, B32));
        let token = jwt(45);
        let payload = token.split('.').nth(1).unwrap_or("").to_string();
        let db_password = rnd(46, 14, B62);
        let mongo_password = rnd(48, 18, B62);
        let generic = rnd(47, 32, HEX);
        let begin = "-----BEGIN ";
        let gcp = [
            "{".to_string(),
            r#""type": "service_account","#.to_string(),
            r#""project_id": "billing-prod-4821","#.to_string(),
            format!(r#""private_key_id": "{}","#, rnd(12, 40, HEX)),
            format!(
                r#""private_key": "{begin}PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n","#,
                gcp_body.replace('\n', "\\n")
            ),
            r#""client_email": "exporter@billing-prod-4821.iam.gserviceaccount.com""#.to_string(),
            "}".to_string(),
        ]
        .join("\n  ");
        let sas = [
            "https://billingprod.blob.core.windows.net/invoices/march.pdf?sp=r",
            "st=2025-03-01T09:00:00Z&se=2025-03-31T17:00:00Z&spr=https&sv=2022-11-02&sr=b",
        ]
        .join("&");
        let lines = |s: &str| s.lines().map(str::to_string).collect::<Vec<_>>();
        vec![
            (
                "aws-access-key-id",
                format!("AWS_ACCESS_KEY_ID={aws_id}\nAWS_SECRET_ACCESS_KEY={aws_secret}"),
                vec![aws_id.clone(), aws_secret.clone()],
            ),
            (
                "aws-secret-access-key",
                format!("aws_access_key_id = {aws_id}\naws_secret_access_key = {aws_secret}"),
                vec![aws_id, aws_secret],
            ),
            (
                "azure-storage-connection-string",
                format!(
                    "DefaultEndpointsProtocol=https;AccountName=billingprod;AccountKey={conn_key};\
                     EndpointSuffix=core.windows.net"
                ),
                vec![conn_key],
            ),
            (
                "azure-storage-account-key",
                format!("$env:AZURE_STORAGE_KEY = \"{account_key}\""),
                vec![account_key],
            ),
            (
                "azure-servicebus-connection-string",
                format!(
                    "Endpoint=sb://orders-prod.servicebus.windows.net/;\
                     SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={sb_key}"
                ),
                vec![sb_key],
            ),
            (
                "azure-sas-token",
                format!("{sas}&sig={sig_escaped}%3D"),
                vec![sig, sig_escaped],
            ),
            ("gcp-service-account-key", gcp, lines(&gcp_body)),
            (
                "private-key",
                format!("Key:\n{begin}RSA PRIVATE KEY-----\n{pem}\n-----END RSA PRIVATE KEY-----"),
                lines(&pem),
            ),
            (
                "openai-api-key",
                format!("OPENAI_API_KEY={openai_legacy}"),
                vec![openai_legacy],
            ),
            (
                "openai-api-key",
                format!("client = OpenAI(api_key=\"{openai_project}\")"),
                vec![openai_project],
            ),
            (
                "anthropic-api-key",
                format!("ANTHROPIC_API_KEY={anthropic}"),
                vec![anthropic],
            ),
            (
                "huggingface-token",
                format!("huggingface-cli login --token {hf}"),
                vec![hf],
            ),
            (
                "github-token",
                format!("git clone https://{ghp}@github.com/acme/billing.git"),
                vec![ghp],
            ),
            (
                "github-token",
                format!("GH_TOKEN={fine_grained}"),
                vec![fine_grained],
            ),
            (
                "gitlab-token",
                format!("PRIVATE-TOKEN: {glpat}"),
                vec![glpat],
            ),
            (
                "slack-token",
                format!("SLACK_BOT_TOKEN={slack}"),
                vec![slack],
            ),
            (
                "slack-webhook",
                format!("curl -X POST https://hooks.slack.com/services/{hook} -d @msg.json"),
                vec![hook, hook_secret],
            ),
            (
                "jwt",
                format!("Authorization: Bearer {token}"),
                vec![token, payload],
            ),
            (
                "database-uri",
                format!(
                    "DB=postgresql://billing_app:{db_password}@billing-db.internal:5432/billing"
                ),
                vec![db_password],
            ),
            (
                "database-uri",
                format!(
                    "MONGO_URI=\"mongodb+srv://reporter:{mongo_password}@cluster0.mongodb.net/r\""
                ),
                vec![mongo_password],
            ),
            (
                "generic-api-key",
                format!("config = {{ \"client_secret\": \"{generic}\" }}"),
                vec![generic],
            ),
        ]
    }

    fn findings(completion: &str) -> Vec<Finding> {
        let text = LlmText {
            prompt: vec![completion],
            completion: vec![completion],
        };
        let mut out = Vec::new();
        out.extend(crate::detector::inspect_alone(
            &CredentialTheft::new(),
            &Event::default(),
            &text,
        ));
        out
    }

    #[test]
    fn credentials_the_gateway_masked_are_found_from_its_log_record() {
        let mut fields = Map::new();
        fields.insert(
            GATEWAY_MASKED.into(),
            json!([
                {"kind": "aws-access-key-id", "value": "AKIA…M2 (20 chars)"},
                {"kind": "aws-access-key-id", "value": "AKIA…M2 (20 chars)"},
                {"kind": "github-pat", "value": "ghp_…Zz (40 chars)"},
            ]),
        );
        let event = Event::new(fields, Default::default());
        let masked_text = "Use AKIA…M2 (20 chars) for billing.";
        let text = LlmText {
            prompt: vec![],
            completion: vec![masked_text],
        };
        let out = crate::detector::inspect_alone(&CredentialTheft::new(), &event, &text);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[0].evidence["masked_by"], json!("gateway"));
        assert_eq!(out[0].evidence["count"], json!(1));
        assert!(out[0].summary.contains("masked by the gateway"));
        // Without the record, the masked text alone is no credential.
        assert!(
            crate::detector::inspect_alone(&CredentialTheft::new(), &Event::default(), &text)
                .is_empty()
        );
    }

    fn kinds(completion: &str) -> Vec<String> {
        findings(completion)
            .iter()
            .map(|f| f.evidence["kind"].as_str().unwrap_or("").to_string())
            .collect()
    }

    #[test]
    fn every_built_in_rule_compiles() {
        let d = CredentialTheft::new();
        assert_eq!(d.rules.len(), BUILT_IN.len() + 1);
        assert!(d.keywords.is_some());
        assert!(d.aux.is_some());
    }

    #[test]
    fn finds_every_kind() {
        for (kind, completion, _) in positives() {
            let found = kinds(&completion);
            assert!(
                found.iter().any(|k| k == kind),
                "{kind} not found in {completion:?}: {found:?}"
            );
        }
    }

    #[test]
    fn aws_key_id_with_its_secret() {
        let (_, completion, _) = &positives()[0];
        let f = findings(completion);
        assert_eq!(
            kinds(completion),
            vec!["aws-access-key-id", "aws-secret-access-key"]
        );
        assert_eq!(f[0].evidence["count"], json!(1));
        assert_eq!(f[0].evidence["role"], json!("completion"));
        assert_eq!(f[0].role, Some(Role::Completion));
        let masked = f[0].evidence["values"][0].as_str().unwrap_or("");
        assert!(masked.starts_with("AKIA\u{2026}") && masked.ends_with(" (20 chars)"));
        // A 40-character string with neither a key ID nor a label is not a secret.
        assert!(findings(&format!("commit {}", rnd(2, 40, B64))).is_empty());
    }

    #[test]
    fn one_finding_per_kind_with_distinct_counts() {
        let a = github("ghp_", 100);
        let b = github("ghp_", 101);
        let f = findings(&format!("{a}\n{b}\n{a}\n{}", github("gho_", 102)));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].evidence["count"], json!(3));
        assert!(f[0].summary.contains("and 2 more"));
    }

    #[test]
    fn connection_string_key_is_not_reported_twice() {
        let (_, completion, _) = &positives()[2];
        assert_eq!(kinds(completion), vec!["azure-storage-connection-string"]);
        let (_, completion, _) = &positives()[6];
        assert_eq!(kinds(completion), vec!["gcp-service-account-key"]);
    }

    #[test]
    fn github_checksum_failure_is_rejected() {
        let good = github("ghp_", 7);
        assert!(github_checksum_ok(&good));
        assert_eq!(kinds(&good), vec!["github-token"]);
        // Change one checksum character.
        let mut bad = good.clone();
        let last = bad.pop().unwrap_or('0');
        bad.push(if last == 'a' { 'b' } else { 'a' });
        assert!(!github_checksum_ok(&bad));
        assert!(findings(&bad).is_empty());
        // Change one random character.
        let bad = format!(
            "ghp_{}{}",
            if &good[4..5] == "Q" { "R" } else { "Q" },
            &good[5..]
        );
        assert!(findings(&bad).is_empty());
    }

    #[test]
    fn crc32_and_base62() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(&base62_6(0), b"000000");
        assert_eq!(&base62_6(61), b"00000z");
        assert_eq!(&base62_6(62), b"000010");
        assert_eq!(&base62_6(u32::MAX), b"4gfFC3");
    }

    #[test]
    fn placeholders_in_code_samples_raise_nothing() {
        let samples = [
            "client = OpenAI(api_key=\"sk-...\")",
            "OPENAI_API_KEY=sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "OPENAI_API_KEY=sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "export AWS_ACCESS_KEY_ID=AKIAI44QH8DHBEXAMPLE",
            "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "GITHUB_TOKEN=ghp_0000000000000000000000000000000000000",
            "token = 'ghp_your_personal_access_token_here'",
            "DATABASE_URL=postgres://user:password@localhost:5432/db",
            "postgresql://postgres:postgres@localhost/app",
            "mysql://root:<password>@127.0.0.1:3306/shop",
            "mongodb+srv://admin:${MONGO_PASSWORD}@cluster0.mongodb.net/test",
            "redis://:changeme@cache:6379/0",
            "amqp://guest:guest@localhost:5672/",
            "postgres://app:****@db/app",
            "api_key = \"your_api_key_here\"",
            "API_KEY=\"<YOUR_API_KEY>\"",
            "const apiKey = process.env.OPENAI_API_KEY;",
            "access_token: \"{{ secrets.ACCESS_TOKEN }}\"",
            "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC...\n-----END PRIVATE KEY-----",
            "DefaultEndpointsProtocol=https;AccountName=myaccount;AccountKey=<your-account-key>;EndpointSuffix=core.windows.net",
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;",
            "https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sr=b&sig=<signature>",
            "SLACK_BOT_TOKEN=xoxb-your-bot-token",
            "SLACK_BOT_TOKEN=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
            "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
            "Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
            "HF_TOKEN=hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "GITLAB_TOKEN=glpat-xxxxxxxxxxxxxxxxxxxx",
            "ANTHROPIC_API_KEY=sk-ant-api03-...",
            "{\"type\": \"service_account\", \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n...\\n-----END PRIVATE KEY-----\\n\"}",
        ];
        for s in samples {
            assert!(findings(s).is_empty(), "{s:?}: {:?}", kinds(s));
        }
    }

    #[test]
    fn ordinary_text_raises_nothing() {
        let image = rnd(60, 4000, B64);
        let mut samples: Vec<String> = [
            "Your order number is ORD-2024-00018734 and ships from our Asia warehouse.",
            "Request 123e4567-e89b-12d3-a456-426614174000 failed at commit \
             a94a8fe5ccb19ba61c4c0873d391e987982fbbd3.",
            "OpenAI keys start with the sk- prefix; project keys with sk-proj- and are secret.",
            "Use a SAS token (sv=, sig=) or a connection string; never paste a private key.",
            "Connect with postgres://localhost/db or mysql://db.internal/shop (no password).",
            "The hf_hub_download function and the ghp_ prefix are documented on GitHub.",
        ]
        .map(String::from)
        .to_vec();
        samples.push(format!("![chart](data:image/png;base64,{image}=)"));
        samples.push(format!("hash: {}", rnd(61, 64, HEX)));
        for s in &samples {
            assert!(findings(s).is_empty(), "{s:?}: {:?}", kinds(s));
        }
    }

    #[test]
    fn more_formats() {
        let sig = format!("{}{}", rnd(90, 42, B64), rnd(91, 1, b"AEIMQUYcgkosw048"));
        let url = format!(
            "?sig={}&se=2025-04-01&sv=2024-08-04",
            sig.replace('/', "%2F")
        );
        assert_eq!(kinds(&url), vec!["azure-sas-token"]);
        let redis = format!(
            "REDIS_URL=rediss://:{}@cache.internal:6380/0",
            rnd(92, 24, B62)
        );
        assert_eq!(kinds(&redis), vec!["database-uri"]);
        let xoxp = format!(
            "xoxp-{}-{}-{}-{}",
            rnd(93, 10, b"0123456789"),
            rnd(94, 10, b"0123456789"),
            rnd(95, 13, b"0123456789"),
            rnd(96, 32, HEX)
        );
        assert_eq!(kinds(&xoxp), vec!["slack-token"]);
        let pgp = format!(
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n{}\n=Ab3x\n\
             -----END PGP PRIVATE KEY BLOCK-----",
            pem_body(97)
        );
        assert_eq!(kinds(&pgp), vec!["private-key"]);
        // The same key without the service-account type is a plain PEM key.
        let json = format!(
            r#"{{"private_key": "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----"}}"#,
            pem_body(98).replace('\n', "\\n")
        );
        assert_eq!(kinds(&json), vec!["private-key"]);
        let ghs = github("ghs_", 99);
        assert_eq!(kinds(&format!("token: {ghs}")), vec!["github-token"]);
        // Tokens glued to other text are not tokens.
        assert!(findings(&format!("x{}", github("ghp_", 98))).is_empty());
    }

    #[test]
    fn prompts_are_not_scanned() {
        let token = github("ghp_", 9);
        let text = LlmText {
            prompt: vec![&token],
            completion: vec!["I cannot help with that."],
        };
        let mut out = Vec::new();
        out.extend(crate::detector::inspect_alone(
            &CredentialTheft::new(),
            &Event::default(),
            &text,
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn no_secret_in_the_findings() {
        let all = positives();
        let completion: String = all
            .iter()
            .map(|(_, c, _)| c.as_str())
            .collect::<Vec<_>>()
            .join("\n\n");
        let f = findings(&completion);
        let kinds: Vec<&str> = f
            .iter()
            .map(|f| f.evidence["kind"].as_str().unwrap_or(""))
            .collect();
        for (kind, _, _) in &all {
            assert!(kinds.contains(kind), "{kind} missing from {kinds:?}");
        }
        let debug = format!("{f:?}");
        for (kind, _, secrets) in &all {
            for s in secrets {
                assert!(s.len() >= 8, "{kind}: test secret too short");
                assert!(!debug.contains(s.as_str()), "{kind}: {s} leaked in {debug}");
            }
        }
        // Masks: PEM keys show the header, JWTs the header's alg and typ.
        assert!(debug.contains("-----BEGIN RSA PRIVATE KEY----- ("));
        assert!(debug.contains("JWT alg=HS256 typ=JWT ("));
        assert!(
            debug.contains("postgresql://billing_app:\u{2026} (14 chars)@billing-db.internal:5432")
        );
    }

    #[test]
    fn masking() {
        assert_eq!(mask("AKIAABCDEFGHIJKLMNLE"), "AKIA\u{2026}LE (20 chars)");
        assert_eq!(mask("hunter2hunter2"), "\u{2026} (14 chars)");
        assert_eq!(mask(""), "\u{2026} (0 chars)");
        assert_eq!(mask(&"é".repeat(30)), "éééé\u{2026}éé (30 chars)");
    }

    #[test]
    fn user_rules() {
        let rule = CredentialRule {
            id: "acme-token".into(),
            description: "ACME internal token".into(),
            regex: Regex::new(r"\b(acme_[a-z0-9]{24})\b").unwrap(),
            secret_group: 1,
            keywords: vec!["ACME_".into()],
            entropy: Some(3.0),
            allow: Vec::new(),
        };
        let d = CredentialTheft::with_rules(vec![rule]);
        let secret = format!(
            "acme_{}",
            rnd(70, 24, b"abcdefghijklmnopqrstuvwxyz0123456789")
        );
        let token = format!("token: {secret}");
        let text = LlmText {
            prompt: Vec::new(),
            completion: vec![&token, "acme_example"],
        };
        let mut out = Vec::new();
        out.extend(crate::detector::inspect_alone(&d, &Event::default(), &text));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].evidence["kind"], json!("acme-token"));
        assert!(!format!("{out:?}").contains(&secret));
        // Low entropy is rejected.
        let text = LlmText {
            prompt: Vec::new(),
            completion: vec!["acme_abababababababababababab"],
        };
        let mut out = Vec::new();
        out.extend(crate::detector::inspect_alone(&d, &Event::default(), &text));
        assert!(out.is_empty());
    }

    #[test]
    fn user_rule_allowlists_and_first_group() {
        let secret = rnd(71, 24, b"abcdefghijklmnopqrstuvwxyz0123456789");
        let rule = |allow: Vec<Allowlist>| CredentialRule {
            id: "acme-token".into(),
            description: "ACME internal token".into(),
            // Group 0: the first non-empty group, as gitleaks.
            regex: Regex::new(r"acme_(?:([a-z0-9]{24})|(X))").unwrap(),
            secret_group: 0,
            keywords: vec!["acme_".into()],
            entropy: None,
            allow,
        };
        let run = |allow: Vec<Allowlist>, completion: &str| {
            let text = LlmText {
                prompt: Vec::new(),
                completion: vec![completion],
            };
            crate::detector::inspect_alone(
                &CredentialTheft::with_rules(vec![rule(allow)]),
                &Event::default(),
                &text,
            )
        };
        let completion = format!("note: internal\ntoken acme_{secret} # fixture\nend");
        let f = run(Vec::new(), &completion);
        assert_eq!(f.len(), 1);
        assert!(f[0].evidence["values"][0]
            .as_str()
            .unwrap_or("")
            .ends_with("(24 chars)"));
        let by = |target: AllowTarget, re: &str| Allowlist {
            regexes: vec![Regex::new(re).unwrap()],
            target,
            ..Allowlist::default()
        };
        // Secret: the group only, not the prefix.
        assert_eq!(
            run(vec![by(AllowTarget::Secret, "^acme_")], &completion).len(),
            1
        );
        assert!(run(vec![by(AllowTarget::Match, "^acme_")], &completion).is_empty());
        // Line: the match's line, not its neighbours.
        assert!(run(vec![by(AllowTarget::Line, "# fixture$")], &completion).is_empty());
        assert_eq!(
            run(vec![by(AllowTarget::Line, "internal")], &completion).len(),
            1
        );
        // AND without a matching stopword keeps it; OR with one drops it.
        let mut and = by(AllowTarget::Line, "fixture");
        and.stopwords = vec!["zzzz".into()];
        and.all = true;
        assert_eq!(run(vec![and.clone()], &completion).len(), 1);
        and.all = false;
        assert!(run(vec![and], &completion).is_empty());
        let stop = Allowlist {
            stopwords: vec![secret[3..9].to_uppercase()],
            ..Allowlist::default()
        };
        assert!(run(vec![stop], &completion).is_empty());
    }

    #[test]
    fn no_panic_on_odd_input() {
        let odd = [
            "",
            "sk-",
            "ghp_\u{00e9}\u{00e9}\u{00e9}",
            "eyJ.eyJ.",
            "eyJhbGciOiJIUzI1NiJ9.eyJ\u{00e9}.abc",
            "\u{00e9}\u{00e9}aws_secret_access_key=\u{00e9}",
            "postgres://:@",
            "-----BEGIN PRIVATE KEY-----",
            "sig=%2",
            "\u{00e9}€ AKIA",
        ];
        for s in odd {
            let _ = findings(s);
        }
        let long = format!("\u{00e9}aws_secret_access_key={}", rnd(80, 40, B64));
        let _ = findings(&long);
        assert!(b64_decode("a").is_none());
        assert!(b64_decode("YQ").is_some_and(|d| d == b"a"));
        assert!(b64_decode("YR").is_none());
    }
}
