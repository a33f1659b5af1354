//! Shared by the three phishing-URL detectors (MW-AI-0005, MW-AI-0006, MW-AI-0007): URL
//! extraction from LLM text, URL normalisation (with RFC 3492 punycode for international
//! host names), the index of phishing feeds the user provides, and the split of the phishing
//! URLs of one event by where they came from (the user's prompt, the model's completion, or
//! both / a message of unclear role).
//!
//! Feeds, auto-detected per file: OpenPhish (one URL per line), PhishTank JSON (an array of
//! objects with `url`), CSV with a header naming a `url` column (PhishTank), URLhaus CSV
//! (`#` comment lines, quoted `id,dateadded,url,url_status,...` rows), and plain domain lists
//! (one domain per line, `#` comments). URL and domain lines may be mixed in one text file.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use modelward_event::source::openai_body::TOOL_RESULTS;
use modelward_event::Event;
use regex::Regex;
use serde_json::{json, Map, Value};

use crate::detector::{Code, Finding};
use crate::keywords::Scan;
use crate::punycode::{host_to_ascii, host_to_unicode};
use crate::settings::{read_list, SettingsError};
use crate::text::{collect, Role};

/// Hosts (and their subdomains) of documentation that are never reported, even when a feed
/// lists them by mistake.
const DOCUMENTATION_HOSTS: &[&str] = &[
    "learn.microsoft.com",
    "docs.microsoft.com",
    "example.com",
    "example.net",
    "example.org",
];

fn is_documentation(host: &str) -> bool {
    DOCUMENTATION_HOSTS.iter().any(|d| is_within(host, d))
}

/// Whether `host` is `domain` or one of its subdomains.
fn is_within(host: &str, domain: &str) -> bool {
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|rest| rest.ends_with('.'))
}

// ---------------------------------------------------------------------------------------
// URLs
// ---------------------------------------------------------------------------------------

/// A normalised URL: lowercase scheme and ASCII host, no default port, no fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub scheme: String,
    pub host: String,
    pub port: Option<u16>,
    /// Path (at least `/`) and query.
    pub path: String,
}

impl Url {
    /// Parses `scheme://[user@]host[:port][/path][?query][#fragment]` (http, https, ftp).
    pub fn parse(raw: &str) -> Option<Url> {
        let (scheme, rest) = raw.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            "ftp" => 21,
            _ => return None,
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = match host_port.rsplit_once(':') {
            Some((h, p)) if !h.starts_with('[') || h.ends_with(']') => {
                let port: u16 = if p.is_empty() {
                    default_port
                } else {
                    p.parse().ok()?
                };
                (h, (port != default_port).then_some(port))
            }
            _ => (host_port, None),
        };
        let host = if host.starts_with('[') && host.ends_with(']') {
            host.to_ascii_lowercase()
        } else {
            host_to_ascii(host)?
        };
        let tail = tail.split('#').next().unwrap_or("");
        let path = if tail.starts_with('/') {
            tail.to_string()
        } else {
            format!("/{tail}")
        };
        Some(Url {
            scheme,
            host,
            port,
            path,
        })
    }

    fn authority(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }

    /// The full normalised form.
    pub fn normalised(&self) -> String {
        format!("{}://{}{}", self.scheme, self.authority(), self.path)
    }

    /// Host, port, path and query, without the scheme and a trailing slash: what tells
    /// two mentions of one URL apart.
    fn key(&self) -> String {
        let key = format!("{}{}", self.authority(), self.path);
        key.trim_end_matches('/').to_string()
    }

    /// A form safe to show: `hxxps://evil[.]example/login`.
    pub fn defanged(&self, bare: bool) -> String {
        let host = self.authority().replace('.', "[.]");
        let path = if bare && self.path == "/" {
            ""
        } else {
            &self.path
        };
        if bare {
            return format!("{host}{path}");
        }
        let scheme = match self.scheme.as_str() {
            "http" => "hxxp",
            "https" => "hxxps",
            _ => "fxp",
        };
        format!("{scheme}://{host}{path}")
    }
}

/// A URL found in text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub url: Url,
    /// A bare domain (no scheme in the text).
    pub bare: bool,
}

/// The URL and defanging patterns (for benchmarks that run each pattern on its own).
pub fn patterns() -> Vec<&'static str> {
    [url_regex(), defang_regex()]
        .into_iter()
        .flatten()
        .map(Regex::as_str)
        .collect()
}

fn url_regex() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r#"(?i)(?:https?|ftp)://[^\s<>"'`\[\]{}|\\^\x00-\x1f\x7f]+"#).ok())
        .as_ref()
}

/// Literals one of which every scheme URL or defanged URL holds (after refanging, a scheme
/// URL holds `://`; `hxxp` and `fxp` are refanged to schemes).
const URL_MARKERS: [&str; 9] = [
    "://", "[:]", "[.]", "(.)", "{.}", "[dot]", "(dot)", "hxxp", "fxp://",
];

fn defang_regex() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)\[://\]|\[:\]|\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\bhxxp|\bfxp://").ok()
    })
    .as_ref()
}

/// Undoes the usual defanging: `hxxp`, `[.]`, `(.)`, `[:]`, `[://]`.
pub fn refang(text: &str) -> std::borrow::Cow<'_, str> {
    let Some(re) = defang_regex() else {
        return std::borrow::Cow::Borrowed(text);
    };
    re.replace_all(text, |c: &regex::Captures| {
        let m = c.get(0).map_or("", |m| m.as_str()).to_ascii_lowercase();
        match m.as_str() {
            "[://]" => "://",
            "[:]" => ":",
            "hxxp" => "http",
            "fxp://" => "ftp://",
            _ => ".",
        }
        .to_string()
    })
}

/// Drops trailing punctuation (and a closing parenthesis that does not close one opened in
/// the URL).
fn trim_trailing(s: &str) -> &str {
    let mut s = s;
    loop {
        match s.chars().last() {
            Some('.' | ',' | ';' | ':' | '!' | '?' | '\'' | '"' | ']' | '*' | '>') => {
                s = &s[..s.len() - 1];
            }
            Some(')') if s.matches('(').count() < s.matches(')').count() => {
                s = &s[..s.len() - 1];
            }
            _ => return s,
        }
    }
}

fn is_host_char(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '_' || c == '.'
}

// ---------------------------------------------------------------------------------------
// The feed index
// ---------------------------------------------------------------------------------------

/// Where a text feed's URLs are, once a CSV header or a URLhaus row has been seen.
#[derive(Debug, Default)]
struct CsvState {
    on: bool,
    url_column: Option<usize>,
}

/// Phishing URLs and domains from the user's feeds, for lookup.
#[derive(Debug, Default)]
pub struct PhishingIndex {
    /// Feed names (file names), by id.
    feeds: Vec<String>,
    /// Normalised URL -> feeds.
    urls: HashMap<String, BTreeSet<usize>>,
    /// Host -> (path prefix, feed) of listed URLs.
    prefixes: HashMap<String, Vec<(String, usize)>>,
    /// Listed domain (ASCII) -> feeds.
    domains: HashMap<String, BTreeSet<usize>>,
    /// Bare-domain search over `bare_patterns`.
    bare: Option<AhoCorasick>,
    /// The listed domains in ASCII and (where it differs) Unicode form.
    bare_patterns: Vec<String>,
}

/// One CSV record (quotes with `""` escapes; records on one line).
fn csv_fields(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            (false, ',') => fields.push(std::mem::take(&mut field)),
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return None;
    }
    fields.push(field);
    Some(fields.into_iter().map(|f| f.trim().to_string()).collect())
}

/// The 1-based line of each top-level element of a JSON array.
fn json_element_lines(text: &str) -> Vec<usize> {
    let (mut line, mut depth, mut in_string, mut escaped) = (1, 0usize, false, false);
    let mut out = Vec::new();
    let mut expecting = false;
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        if expecting && !c.is_whitespace() && c != ']' {
            out.push(line);
            expecting = false;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => {
                depth += 1;
                if depth == 1 {
                    expecting = true;
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 1 => expecting = true,
            _ => {}
        }
    }
    out
}

fn is_domain(s: &str) -> Option<String> {
    if s.contains(['/', ':', ' ', '\t', '@']) {
        return None;
    }
    let host = host_to_ascii(s)?;
    host.contains('.').then_some(host)
}

impl PhishingIndex {
    /// Reads the feeds. A file that cannot be read is an error; a line that is neither a URL
    /// nor a domain is reported in `skipped` and the rest of the feed is used.
    pub fn load(
        paths: &[PathBuf],
        skipped: &mut Vec<SettingsError>,
    ) -> Result<PhishingIndex, SettingsError> {
        let mut texts = Vec::new();
        for path in paths {
            texts.push((path.display().to_string(), read_list(path)?));
        }
        let refs: Vec<(&str, &str)> = texts
            .iter()
            .map(|(f, t)| (f.as_str(), t.as_str()))
            .collect();
        PhishingIndex::from_texts(&refs, skipped)
    }

    /// Builds the index from (file name, contents) pairs.
    pub fn from_texts(
        feeds: &[(&str, &str)],
        skipped: &mut Vec<SettingsError>,
    ) -> Result<PhishingIndex, SettingsError> {
        let mut index = PhishingIndex::default();
        for (file, text) in feeds {
            index.add_feed(file, text, skipped);
        }
        index.build()?;
        Ok(index)
    }

    /// Number of listed URLs and domains.
    pub fn len(&self) -> usize {
        self.urls.len() + self.domains.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds one feed; lines that are neither a URL nor a domain go to `skipped`.
    fn add_feed(&mut self, file: &str, text: &str, skipped: &mut Vec<SettingsError>) {
        let id = self.feeds.len();
        let name = std::path::Path::new(file)
            .file_name()
            .map_or_else(|| file.to_string(), |n| n.to_string_lossy().into_owned());
        self.feeds.push(name);
        let mut bad = |line: usize, message: String| {
            skipped.push(SettingsError::Line {
                file: file.to_string(),
                line,
                message,
            });
        };
        let text = text.trim_start_matches('\u{FEFF}');
        if text.trim_start().starts_with('[') {
            return self.add_json(id, text, &mut bad);
        }
        let mut csv = CsvState::default();
        for (n, raw) in text.lines().enumerate() {
            if let Err(message) = self.add_line(id, raw.trim(), &mut csv) {
                bad(n + 1, message);
            }
        }
    }

    /// One line of a text feed: a URL, a domain, or a CSV header or row.
    fn add_line(&mut self, id: usize, line: &str, csv: &mut CsvState) -> Result<(), String> {
        if line.is_empty() {
            return Ok(());
        }
        // CSV: a header with a `url` column (possibly commented, as URLhaus has it), or
        // URLhaus rows (quoted, the URL third).
        if let Some(comment) = line.strip_prefix('#') {
            let cols = csv_fields(comment.trim()).unwrap_or_default();
            if cols.len() > 2 {
                if let Some(i) = cols.iter().position(|c| c.eq_ignore_ascii_case("url")) {
                    csv.url_column = Some(i);
                    csv.on = true;
                }
            }
            return Ok(());
        }
        let first_data = !csv.on && csv.url_column.is_none();
        if first_data && line.contains(',') {
            let cols = csv_fields(line).ok_or("unclosed quote")?;
            if let Some(i) = cols.iter().position(|c| c.eq_ignore_ascii_case("url")) {
                csv.url_column = Some(i);
                csv.on = true;
                return Ok(());
            }
            if line.starts_with('"') && cols.len() >= 3 {
                csv.url_column = Some(2);
                csv.on = true;
            }
        }
        if csv.on {
            let cols = csv_fields(line).ok_or("unclosed quote")?;
            let column = csv.url_column.unwrap_or(2);
            let value = cols
                .get(column)
                .ok_or_else(|| format!("expected a URL in column {}, found none", column + 1))?;
            self.add_url(id, value)
        } else if line.contains("://") {
            self.add_url(id, line)
        } else {
            let domain = is_domain(line)
                .ok_or_else(|| format!("expected a URL or a domain, found `{line}`"))?;
            self.domains.entry(domain).or_default().insert(id);
            Ok(())
        }
    }

    fn add_json(&mut self, id: usize, text: &str, bad: &mut dyn FnMut(usize, String)) {
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => return bad(e.line(), format!("invalid JSON: {e}")),
        };
        let lines = json_element_lines(text);
        let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
        for (i, item) in items.iter().enumerate() {
            let line = lines.get(i).copied().unwrap_or(1);
            let url = item
                .get("url")
                .and_then(Value::as_str)
                .or_else(|| item.as_str());
            let added = match url {
                Some(url) => self.add_url(id, url),
                None => Err(format!("entry {} has no `url`", i + 1)),
            };
            if let Err(message) = added {
                bad(line, message);
            }
        }
    }

    fn add_url(&mut self, id: usize, raw: &str) -> Result<(), String> {
        let url = Url::parse(raw.trim()).ok_or_else(|| format!("`{raw}` is not a URL"))?;
        self.urls.entry(url.normalised()).or_default().insert(id);
        let path = url.path.split('?').next().unwrap_or("/").to_string();
        self.prefixes
            .entry(url.authority())
            .or_default()
            .push((path, id));
        Ok(())
    }

    fn build(&mut self) -> Result<(), SettingsError> {
        let mut patterns = Vec::new();
        for domain in self.domains.keys() {
            patterns.push(domain.clone());
            let unicode = host_to_unicode(domain);
            if unicode != *domain {
                patterns.push(unicode);
            }
        }
        self.bare_patterns = patterns;
        if !self.bare_patterns.is_empty() {
            let ac = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(&self.bare_patterns)
                .map_err(|e| SettingsError::Config(format!("phishing domains: {e}")))?;
            self.bare = Some(ac);
        }
        Ok(())
    }

    /// The feeds (by name) that list this URL; empty when none does.
    pub fn lookup(&self, url: &Url) -> Vec<&str> {
        if is_documentation(&url.host) {
            return Vec::new();
        }
        let mut ids: BTreeSet<usize> = BTreeSet::new();
        if let Some(f) = self.urls.get(&url.normalised()) {
            ids.extend(f);
        }
        // The host and every parent domain.
        let mut host = url.host.as_str();
        loop {
            if let Some(f) = self.domains.get(host) {
                ids.extend(f);
            }
            match host.split_once('.') {
                Some((_, parent)) => host = parent,
                None => break,
            }
        }
        if let Some(listed) = self.prefixes.get(&url.authority()) {
            let path = url.path.split('?').next().unwrap_or("/");
            for (prefix, id) in listed {
                let matched = path.strip_prefix(prefix.as_str()).is_some_and(|rest| {
                    prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/')
                });
                if matched {
                    ids.insert(*id);
                }
            }
        }
        ids.into_iter()
            .filter_map(|i| self.feeds.get(i).map(String::as_str))
            .collect()
    }

    /// Every URL of a text: scheme URLs (plain, markdown links, autolinks, defanged), and
    /// bare mentions of listed domains. Deduplicated, in order of appearance.
    pub fn extract(&self, text: &str) -> Vec<Extracted> {
        let text = refang(text);
        let text = text.as_ref();
        let mut out: Vec<Extracted> = Vec::new();
        let mut spans = Vec::new();
        for m in url_regex().into_iter().flat_map(|re| re.find_iter(text)) {
            spans.push((m.start(), m.end()));
            if let Some(url) = Url::parse(trim_trailing(m.as_str())) {
                out.push(Extracted { url, bare: false });
            }
        }
        if let Some(ac) = &self.bare {
            for m in ac.find_overlapping_iter(text) {
                let (s, e) = (m.start(), m.end());
                if spans.iter().any(|&(a, b)| s < b && e > a) {
                    continue;
                }
                let before = text[..s].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_') {
                    continue;
                }
                let mut after = text[e..].chars();
                match (after.next(), after.next()) {
                    (Some(c), _) if c.is_alphanumeric() || c == '-' || c == '_' => continue,
                    (Some('.'), Some(c)) if c.is_alphanumeric() || c == '-' => continue,
                    _ => {}
                }
                // Subdomains to the left, a path to the right.
                let start = text[..s]
                    .char_indices()
                    .rev()
                    .take_while(|&(_, c)| is_host_char(c))
                    .last()
                    .map_or(s, |(i, _)| i);
                let tail_len = if text[e..].starts_with(['/', ':', '?']) {
                    text[e..]
                        .find(|c: char| c.is_whitespace() || "<>\"'`[]{}|\\^".contains(c))
                        .unwrap_or(text.len() - e)
                } else {
                    0
                };
                let raw = trim_trailing(&text[start..e + tail_len]);
                if let Some(url) = Url::parse(&format!("http://{raw}")) {
                    out.push(Extracted { url, bare: true });
                }
            }
        }
        let mut seen = BTreeSet::new();
        out.retain(|x| seen.insert((x.url.key(), x.bare)));
        out
    }

    /// Keywords without which a text holds no URL [`PhishingIndex::extract`] finds: the
    /// scheme separator, the defanging marks, and the listed domains (ASCII and Unicode).
    pub fn keywords(&self) -> Vec<String> {
        URL_MARKERS
            .iter()
            .map(|m| m.to_string())
            .chain(self.bare_patterns.iter().cloned())
            .collect()
    }

    /// The listed URLs of one event, by origin. Texts without any of the index's
    /// [`keywords`](PhishingIndex::keywords) are not searched.
    pub fn classify(&self, event: &Event, scan: &Scan<'_>) -> Classified {
        // Messages of unclear origin, read once a listed URL is found.
        let mut unclear: Option<Vec<(&str, String)>> = None;
        let mut hits: Vec<Pending> = Vec::new();
        for ts in scan.texts() {
            if !ts.any_keyword() {
                continue;
            }
            let t = ts.text;
            for x in self.extract(t) {
                let feeds = self.lookup(&x.url);
                if feeds.is_empty() {
                    continue;
                }
                let label = match ts.role {
                    Role::Completion => "completion".to_string(),
                    Role::Prompt => {
                        let unclear = unclear.get_or_insert_with(|| unclear_messages(event));
                        match unclear.iter().find(|(u, _)| *u == t) {
                            Some((_, r)) => format!("{r} message"),
                            None => "prompt".to_string(),
                        }
                    }
                };
                record(&mut hits, &x, &feeds, label);
            }
        }
        // Tool results (`gen_ai.tool.results`), of every source.
        for result in event.get(TOOL_RESULTS) {
            let Some(t) = result.get("content").and_then(Value::as_str) else {
                continue;
            };
            for x in self.extract(t) {
                let feeds = self.lookup(&x.url);
                if feeds.is_empty() {
                    continue;
                }
                record(&mut hits, &x, &feeds, TOOL_OUTPUT.to_string());
            }
        }
        let mut c = Classified::default();
        for (_, url, feeds, roles) in hits {
            let hit = Hit {
                url,
                feeds: feeds.into_iter().collect(),
                roles: roles.into_iter().collect(),
            };
            if hit.roles.iter().any(|r| is_tool(r)) {
                c.tool.push(hit);
                continue;
            }
            let prompt = hit.roles.iter().any(|r| r == "prompt");
            let completion = hit.roles.iter().any(|r| r == "completion");
            let other = hit.roles.iter().any(|r| r != "prompt" && r != "completion");
            match (prompt, completion, other) {
                (false, true, false) => c.response.push(hit),
                (true, false, false) => c.prompt.push(hit),
                _ => c.application.push(hit),
            }
        }
        c
    }
}

/// A listed URL being collected: (key, shown, feeds, labels).
type Pending = (String, String, BTreeSet<String>, BTreeSet<String>);

/// Adds one occurrence of a listed URL to the hits (one entry per URL key).
fn record(hits: &mut Vec<Pending>, x: &Extracted, feeds: &[&str], label: String) {
    let key = x.url.key();
    let at = match hits.iter().position(|h| h.0 == key) {
        Some(i) => i,
        None => {
            hits.push((
                key,
                x.url.defanged(x.bare),
                BTreeSet::new(),
                BTreeSet::new(),
            ));
            hits.len() - 1
        }
    };
    if let Some(h) = hits.get_mut(at) {
        h.2.extend(feeds.iter().map(|f| f.to_string()));
        h.3.insert(label);
    }
}

/// The label of a URL found in `gen_ai.tool.results`.
const TOOL_OUTPUT: &str = "tool output";

/// Whether a hit's label says it came from a tool: a tool result, or a chat message of role
/// `tool` or `function`.
fn is_tool(label: &str) -> bool {
    matches!(label, TOOL_OUTPUT | "tool message" | "function message")
}

/// Texts of prompt chat messages whose role is not the user's (system, assistant history,
/// tool results, no role): where a URL's origin is not clear. (text, role)
fn unclear_messages(event: &Event) -> Vec<(&str, String)> {
    let mut out = Vec::new();
    for message in event.get("gen_ai.prompt") {
        let Value::Object(map) = message else {
            continue;
        };
        let role = map
            .get("role")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase);
        if matches!(role.as_deref(), Some("user" | "human")) {
            continue;
        }
        let mut found = Vec::new();
        collect(message, &mut found);
        let role = role.unwrap_or_else(|| "unknown-role".to_string());
        out.extend(found.into_iter().map(|t| (t, role.clone())));
    }
    out
}

/// A listed URL of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Defanged.
    pub url: String,
    pub feeds: Vec<String>,
    /// `prompt`, `completion`, or `<role> message` for prompt messages not from the user.
    pub roles: Vec<String>,
}

/// The listed URLs of an event, by origin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Classified {
    /// Only in the completion (MW-AI-0005).
    pub response: Vec<Hit>,
    /// In both, or in a message of unclear role (MW-AI-0006).
    pub application: Vec<Hit>,
    /// Only in the user's prompt (MW-AI-0007).
    pub prompt: Vec<Hit>,
    /// In a tool's output, wherever else (MW-AI-0017).
    pub tool: Vec<Hit>,
}

/// The one finding of a phishing detector for these hits (none when there are none).
pub(crate) fn finding(
    code: &Code,
    role: Option<Role>,
    where_: &str,
    hits: &[Hit],
) -> Option<Finding> {
    let first = hits.first()?;
    let mut feeds: Vec<&str> = hits
        .iter()
        .flat_map(|h| h.feeds.iter().map(String::as_str))
        .collect();
    feeds.sort_unstable();
    feeds.dedup();
    let mut roles: Vec<&str> = hits
        .iter()
        .flat_map(|h| h.roles.iter().map(String::as_str))
        .collect();
    roles.sort_unstable();
    roles.dedup();
    let mut evidence = Map::new();
    evidence.insert(
        "urls".into(),
        json!(hits.iter().map(|h| &h.url).collect::<Vec<_>>()),
    );
    evidence.insert("feeds".into(), json!(feeds));
    evidence.insert("roles".into(), json!(roles));
    evidence.insert("count".into(), json!(hits.len()));
    let more = match hits.len() {
        1 => String::new(),
        n => format!(" and {} more", n - 1),
    };
    Some(Finding {
        code: code.code,
        role,
        summary: format!(
            "phishing URL {}{more} {where_} (listed in {})",
            first.url,
            feeds.join(", ")
        ),
        evidence,
        severity: None,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::keywords::Scanned;
    use crate::text::LlmText;

    pub(crate) fn index() -> PhishingIndex {
        PhishingIndex::from_texts(&[
            ("openphish.txt", "https://evil.example/login\nhttp://paypa1-secure.net/verify/\nhttps://learn.microsoft.com/en-us/azure/\n"),
            ("domains.txt", "# phishing domains\nbad-bank.test\nxn--bcher-kva.example\nexample.com\nmünchen-login.test\n"),
        ], &mut Vec::new())
        .unwrap()
    }

    fn urls(text: &str) -> Vec<String> {
        index()
            .extract(text)
            .into_iter()
            .map(|x| x.url.normalised())
            .collect()
    }

    #[test]
    fn international_hosts_match_in_either_form() {
        // Text in Unicode finds a feed in ASCII, and the reverse.
        let ix = index();
        let found = ix.extract("see https://bücher.example/x and münchen-login.test");
        assert_eq!(found[0].url.host, "xn--bcher-kva.example");
        assert!(!ix.lookup(&found[0].url).is_empty());
        let found = ix.extract("go to xn--mnchen-login-dlb.test now");
        assert_eq!(found.len(), 1);
        assert_eq!(ix.lookup(&found[0].url), vec!["domains.txt"]);
        assert_eq!(
            host_to_ascii("münchen-login.test").as_deref(),
            Some("xn--mnchen-login-dlb.test")
        );
        let found = ix.extract("Visit bücher.example today");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].url.host, "xn--bcher-kva.example");
    }

    #[test]
    fn extraction_forms() {
        assert_eq!(
            urls("Go to HTTPS://Evil.Example:443/login."),
            vec!["https://evil.example/login"]
        );
        assert_eq!(
            urls("[sign in](https://evil.example/login) now"),
            vec!["https://evil.example/login"]
        );
        assert_eq!(
            urls("<https://evil.example/login>"),
            vec!["https://evil.example/login"]
        );
        assert_eq!(
            urls("[https://evil.example/login](https://evil.example/login)"),
            vec!["https://evil.example/login"]
        );
        assert_eq!(
            urls("hxxps://evil[.]example/login"),
            vec!["https://evil.example/login"]
        );
        assert_eq!(
            urls("hXXp[://]evil(.)example[:]8080/a"),
            vec!["http://evil.example:8080/a"]
        );
        assert_eq!(
            urls("(see https://x.test/a_(b))"),
            vec!["https://x.test/a_(b)"]
        );
        assert_eq!(
            urls("https://paypal.com@evil.example/x#frag"),
            vec!["https://evil.example/x"]
        );
        // Bare domains only when listed, as whole labels, with subdomains and paths.
        assert_eq!(
            urls("mail from login.bad-bank.test/reset?id=1, today"),
            vec!["http://login.bad-bank.test/reset?id=1"]
        );
        assert_eq!(urls("bad-bank[.]test"), vec!["http://bad-bank.test/"]);
        assert!(urls("notbad-bank.test or bad-bank.test.au or bad-bank.testing").is_empty());
        assert!(urls("other.test and nothing").is_empty());
    }

    #[test]
    fn matching_and_documentation() {
        let ix = index();
        let hit = |s: &str| ix.extract(s).iter().any(|x| !ix.lookup(&x.url).is_empty());
        assert!(hit("https://evil.example/login"));
        assert!(hit("http://evil.example/login?next=1"));
        assert!(hit("https://evil.example/login/step2"));
        assert!(!hit("https://evil.example/loginhelp"));
        assert!(!hit("https://evil.example/"));
        assert!(hit("https://paypa1-secure.net/verify/account"));
        assert!(hit("https://a.b.bad-bank.test/"));
        // Documentation is never flagged, even when a feed lists it.
        assert!(!hit(
            "https://learn.microsoft.com/en-us/azure/defender-for-cloud/"
        ));
        assert!(!hit("https://example.com/login and www.example.com"));
        assert_eq!(
            Url::parse("https://evil.example/login")
                .map(|u| u.defanged(false))
                .as_deref(),
            Some("hxxps://evil[.]example/login")
        );
    }

    #[test]
    fn feed_formats() {
        let phishtank_json = "[\n  {\"phish_id\": 1, \"url\": \"http://pt-json.test/a\"},\n  {\"phish_id\": 2, \"url\": \"https://pt-json2.test/\"}\n]";
        let phishtank_csv = "phish_id,url,phish_detail_url,submission_time,verified,verification_time,online,target\n123,http://pt-csv.test/x?a=1,http://www.phishtank.com/phish_detail.php?phish_id=123,2024-01-01T00:00:00+00:00,yes,2024-01-01T00:01:00+00:00,yes,Other\n";
        let urlhaus = "################\n# abuse.ch URLhaus\n# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n\"3007351\",\"2024-07-01 10:00:00\",\"http://urlhaus.test/bins/x.sh\",\"online\",\"2024-07-01 10:00:00\",\"malware_download\",\"elf,mirai\",\"https://urlhaus.abuse.ch/url/3007351/\",\"anonymous\"\n";
        let openphish = "https://op.test/login\nhttp://op2.test/\n";
        let domains = "# list\nphish-domain.test\n\n";
        let ix = PhishingIndex::from_texts(
            &[
                ("pt.json", phishtank_json),
                ("pt.csv", phishtank_csv),
                ("urlhaus.csv", urlhaus),
                ("feed.txt", openphish),
                ("domains.txt", domains),
            ],
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(ix.len(), 7);
        for (url, feed) in [
            ("http://pt-json.test/a", "pt.json"),
            ("https://pt-json2.test/", "pt.json"),
            ("http://pt-csv.test/x?a=1", "pt.csv"),
            ("http://urlhaus.test/bins/x.sh", "urlhaus.csv"),
            ("https://op.test/login", "feed.txt"),
            ("https://www.phish-domain.test/", "domains.txt"),
        ] {
            let u = Url::parse(url).unwrap();
            assert_eq!(ix.lookup(&u), vec![feed], "{url}");
        }
    }

    #[test]
    fn bad_feed_lines_are_reported_and_skipped() {
        let skipped = |feeds: &[(&str, &str)]| {
            let mut skipped = Vec::new();
            let ix = PhishingIndex::from_texts(feeds, &mut skipped).unwrap();
            let messages: Vec<String> = skipped.iter().map(ToString::to_string).collect();
            (ix.len(), messages)
        };
        assert_eq!(
            skipped(&[(
                "feed.txt",
                "https://ok.test/\n# c\nnot a domain\nbad.test\n"
            )]),
            (
                2,
                vec!["feed.txt:3: expected a URL or a domain, found `not a domain`".to_string()]
            )
        );
        assert_eq!(
            skipped(&[("feed.txt", "https://ok.test/\ngopher://x.test/\n")]),
            (
                1,
                vec!["feed.txt:2: `gopher://x.test/` is not a URL".to_string()]
            )
        );
        assert_eq!(
            skipped(&[(
                "u.csv",
                "# id,dateadded,url,url_status\n\"1\",\"d\",\"http://a.test/\",\"online\"\n\"2\",\"d\n",
            )]),
            (1, vec!["u.csv:3: unclosed quote".to_string()])
        );
        assert_eq!(
            skipped(&[(
                "p.json",
                "[\n {\"url\": \"http://a.test/\"},\n {\"id\": 2}\n]",
            )]),
            (1, vec!["p.json:3: entry 2 has no `url`".to_string()])
        );
        let (_, messages) = skipped(&[("p.json", "[\n {\"url\": ")]);
        assert!(
            messages[0].starts_with("p.json:2: invalid JSON"),
            "{messages:?}"
        );
        let dir = std::env::temp_dir().join(format!("mw-phish-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("missing.txt");
        assert!(PhishingIndex::load(&[path], &mut Vec::new()).is_err());
        let good = dir.join("good.txt");
        std::fs::write(&good, "evil.test\n").unwrap();
        assert_eq!(
            PhishingIndex::load(&[good], &mut Vec::new()).unwrap().len(),
            1
        );
    }

    #[test]
    fn classify_by_origin() {
        let ix = index();
        let classify = |event: &Event, text: &LlmText<'_>| {
            ix.classify(event, &Scan::new(text, &Scanned::default(), 0))
        };
        let text = |p: &'static str, c: &'static str| LlmText {
            prompt: vec![p],
            completion: vec![c],
        };
        let c = classify(
            &Event::default(),
            &text("hi", "log in at https://evil.example/login"),
        );
        assert_eq!(c.response.len(), 1);
        assert!(c.application.is_empty() && c.prompt.is_empty());
        let c = classify(
            &Event::default(),
            &text(
                "is hxxps://evil[.]example/login safe?",
                "No: https://evil.example/login/ is phishing",
            ),
        );
        assert_eq!(c.application.len(), 1);
        assert_eq!(c.application[0].roles, vec!["completion", "prompt"]);
        let c = classify(
            &Event::default(),
            &text("summarise bad-bank.test", "it is a bank"),
        );
        assert_eq!(c.prompt.len(), 1);
        let event = Event::from_json(r#"{"gen_ai":{"prompt":[{"role":"user","content":"summarise the page"},{"role":"tool","content":"Click https://evil.example/login"}],"completion":"done"}}"#).unwrap();
        let c = classify(&event, &LlmText::of(&event));
        // A tool's output: its origin is known (MW-AI-0017).
        assert!(c.application.is_empty());
        assert_eq!(c.tool.len(), 1);
        assert_eq!(c.tool[0].roles, vec!["tool message"]);
    }
}
