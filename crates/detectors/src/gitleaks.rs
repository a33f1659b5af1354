//! A user's `gitleaks.toml` (the configuration of the gitleaks secret scanner) as user
//! rules of the credential-theft detector.
//!
//! Read: `[[rules]]` (`id`, `description`, `regex`, `secretGroup`, `entropy`, `keywords`,
//! `path`, `tags`), their allowlists (`[rules.allowlist]` and `[[rules.allowlists]]`), the
//! global allowlists (`[allowlist]` and `[[allowlists]]`, with `targetRules`), and
//! `[extend] path` (merged as gitleaks does, two levels deep). Allowlist `paths` and
//! `commits` do not apply to LLM text; rules with a `path` never match it. What cannot
//! apply is skipped and reported as a warning, as are `[extend] useDefault` (gitleaks'
//! own rules are not shipped) and rules whose regex does not compile.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Deserialize;

use crate::detectors::credential_theft::{AllowTarget, Allowlist, CredentialRule};
use crate::go_regex::go_regex_to_rust;
use crate::settings::SettingsError;

/// How many `[extend] path` levels are followed (gitleaks' limit).
const MAX_EXTEND_DEPTH: usize = 2;

#[derive(Debug, Default, Deserialize)]
struct RawConfig {
    #[serde(default)]
    extend: Option<RawExtend>,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default, alias = "allowList")]
    allowlist: Option<RawAllowlist>,
    #[serde(default, alias = "allowLists")]
    allowlists: Vec<RawAllowlist>,
}

#[derive(Debug, Default, Deserialize)]
struct RawExtend {
    #[serde(default, alias = "usedefault", alias = "UseDefault")]
    #[serde(rename = "useDefault")]
    use_default: bool,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default, alias = "disabledrules", alias = "DisabledRules")]
    #[serde(rename = "disabledRules")]
    disabled_rules: Vec<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
struct RawRule {
    #[serde(default)]
    id: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    regex: Option<String>,
    #[serde(default, alias = "secretgroup", alias = "SecretGroup")]
    #[serde(rename = "secretGroup")]
    secret_group: Option<i64>,
    #[serde(default)]
    entropy: Option<f64>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default, alias = "allowList")]
    allowlist: Option<RawAllowlist>,
    #[serde(default, alias = "allowLists")]
    allowlists: Vec<RawAllowlist>,
    #[serde(default)]
    required: Vec<toml::Value>,
}

#[derive(Debug, Default, Clone, Deserialize)]
struct RawAllowlist {
    #[serde(default)]
    description: String,
    #[serde(default)]
    condition: Option<String>,
    #[serde(default)]
    commits: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default, alias = "regextarget", alias = "RegexTarget")]
    #[serde(rename = "regexTarget")]
    regex_target: Option<String>,
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default, alias = "stopWords", alias = "StopWords")]
    stopwords: Vec<String>,
    /// Global allowlists only: the rules it applies to (none: every rule).
    #[serde(default, alias = "targetrules", alias = "TargetRules")]
    #[serde(rename = "targetRules")]
    target_rules: Vec<String>,
}

/// The rules of a gitleaks configuration file, and warnings about what was skipped.
///
/// An unreadable file is [`SettingsError::Io`], a TOML error [`SettingsError::Line`]; a
/// rule that cannot be used (bad regex, `path` rule, no id) is skipped with a warning.
pub fn load_gitleaks(path: &Path) -> Result<(Vec<CredentialRule>, Vec<String>), SettingsError> {
    let mut warnings = Vec::new();
    let file = path.display().to_string();
    let raw = read_config(path, 0, &mut warnings)?;
    let rules = compile_config(&file, raw, &mut warnings);
    Ok((rules, warnings))
}

/// The rules of gitleaks configuration text alone (`[extend]` is not followed), and
/// warnings; for callers that hold the text (and for fuzzing).
pub fn parse_gitleaks(
    text: &str,
    file: &str,
) -> Result<(Vec<CredentialRule>, Vec<String>), SettingsError> {
    let mut warnings = Vec::new();
    let raw = parse_raw(text, file)?;
    let rules = compile_config(file, raw, &mut warnings);
    Ok((rules, warnings))
}

fn read_raw(path: &Path) -> Result<RawConfig, SettingsError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Io {
        file: file.clone(),
        source,
    })?;
    parse_raw(&text, &file)
}

fn parse_raw(text: &str, file: &str) -> Result<RawConfig, SettingsError> {
    toml::from_str::<RawConfig>(text).map_err(|e| {
        let line = e.span().map_or(1, |s| {
            text[..s.start.min(text.len())].matches('\n').count() + 1
        });
        SettingsError::Line {
            file: file.to_string(),
            line,
            message: e.message().trim().to_string(),
        }
    })
}

/// Reads a file and, through `[extend] path`, the files it extends, merged.
fn read_config(
    path: &Path,
    depth: usize,
    warnings: &mut Vec<String>,
) -> Result<RawConfig, SettingsError> {
    let file = path.display().to_string();
    let mut raw = read_raw(path)?;
    let Some(extend) = raw.extend.take() else {
        return Ok(raw);
    };
    if extend.use_default {
        warnings.push(format!(
            "{file}: [extend] useDefault: gitleaks' default rules are not included; only \
             this file's rules are loaded (the credential-theft detector has its own \
             built-in rules)"
        ));
    }
    if let Some(url) = &extend.url {
        warnings.push(format!(
            "{file}: [extend] url `{url}` is not supported: not loaded"
        ));
    }
    let Some(base_path) = extend.path.as_deref().filter(|p| !p.is_empty()) else {
        if !extend.disabled_rules.is_empty() {
            warnings.push(format!(
                "{file}: [extend] disabledRules only applies to an extended configuration: \
                 ignored"
            ));
        }
        return Ok(raw);
    };
    if depth >= MAX_EXTEND_DEPTH {
        warnings.push(format!(
            "{file}: [extend] path `{base_path}` not loaded: configurations extend at most \
             {MAX_EXTEND_DEPTH} levels deep"
        ));
        return Ok(raw);
    }
    // Relative to the extending file, else to the working directory (as gitleaks).
    let relative = path
        .parent()
        .map(|dir| dir.join(base_path))
        .filter(|p| p.exists());
    let resolved = relative.unwrap_or_else(|| PathBuf::from(base_path));
    let base = read_config(&resolved, depth + 1, warnings)?;
    Ok(extend_with(
        raw,
        base,
        &extend.disabled_rules,
        &file,
        warnings,
    ))
}

/// gitleaks' merge: the base's rules not disabled are added; a rule of both keeps the
/// base's fields the extending file does not set and appends keywords and allowlists;
/// global allowlists are appended.
fn extend_with(
    mut current: RawConfig,
    base: RawConfig,
    disabled: &[String],
    file: &str,
    warnings: &mut Vec<String>,
) -> RawConfig {
    for id in disabled {
        if !base.rules.iter().any(|r| &r.id == id) {
            warnings.push(format!(
                "{file}: [extend] disabledRules: rule `{id}` is not in the extended configuration"
            ));
        }
    }
    for mut b in base.rules {
        if disabled.contains(&b.id) {
            continue;
        }
        match current.rules.iter_mut().find(|r| r.id == b.id) {
            None => current.rules.push(b),
            Some(c) => {
                if !c.description.is_empty() {
                    b.description = std::mem::take(&mut c.description);
                }
                if c.entropy.is_some_and(|e| e != 0.0) {
                    b.entropy = c.entropy;
                }
                if c.secret_group.is_some_and(|g| g != 0) {
                    b.secret_group = c.secret_group;
                }
                if c.regex.as_deref().is_some_and(|r| !r.is_empty()) {
                    b.regex = c.regex.take();
                }
                if c.path.as_deref().is_some_and(|p| !p.is_empty()) {
                    b.path = c.path.take();
                }
                b.keywords.append(&mut c.keywords);
                b.allowlists.extend(b.allowlist.take());
                b.allowlists.extend(c.allowlist.take());
                b.allowlists.append(&mut c.allowlists);
                *c = b;
            }
        }
    }
    current.allowlists.extend(base.allowlist);
    current.allowlists.extend(base.allowlists);
    current
}

/// The first line of a regex error ("error: ..."), not its drawing of the pattern.
fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map_or_else(|| text.replace('\n', " "), str::to_string)
}

fn compile_regex(pattern: &str) -> Result<Regex, String> {
    Regex::new(&go_regex_to_rust(pattern)).map_err(|e| regex_error(&e))
}

/// An allowlist usable on LLM text; None (with a warning) when it cannot apply.
fn compile_allowlist(
    a: &RawAllowlist,
    what: &str,
    file: &str,
    warnings: &mut Vec<String>,
) -> Option<Allowlist> {
    let all = match a
        .condition
        .as_deref()
        .unwrap_or("")
        .to_ascii_uppercase()
        .as_str()
    {
        "" | "OR" | "||" => false,
        "AND" | "&&" => true,
        other => {
            warnings.push(format!(
                "{file}: {what}: unknown condition `{other}` (expected AND or OR): allowlist \
                 ignored"
            ));
            return None;
        }
    };
    let target = match a.regex_target.as_deref().unwrap_or("secret") {
        "" | "secret" => AllowTarget::Secret,
        "match" => AllowTarget::Match,
        "line" => AllowTarget::Line,
        other => {
            warnings.push(format!(
                "{file}: {what}: unknown regexTarget `{other}` (expected secret, match or \
                 line): allowlist ignored"
            ));
            return None;
        }
    };
    let mut regexes = Vec::new();
    for r in &a.regexes {
        match compile_regex(r) {
            Ok(re) => regexes.push(re),
            Err(e) => {
                warnings.push(format!(
                    "{file}: {what}: regex `{r}` does not compile ({e}): allowlist ignored"
                ));
                return None;
            }
        }
    }
    let stopwords: Vec<String> = a.stopwords.iter().map(|w| w.to_lowercase()).collect();
    let needs_file = !a.paths.is_empty() || !a.commits.is_empty();
    if all && needs_file {
        warnings.push(format!(
            "{file}: {what}: condition AND with paths or commits never matches LLM text: \
             allowlist ignored"
        ));
        return None;
    }
    if regexes.is_empty() && stopwords.is_empty() {
        if needs_file {
            warnings.push(format!(
                "{file}: {what}: only paths or commits, which do not apply to LLM text: \
                 allowlist ignored"
            ));
        }
        return None;
    }
    Some(Allowlist {
        description: a.description.clone(),
        regexes,
        target,
        stopwords,
        all,
    })
}

/// The rules of a merged configuration.
fn compile_config(file: &str, raw: RawConfig, warnings: &mut Vec<String>) -> Vec<CredentialRule> {
    let ids: HashSet<&str> = raw.rules.iter().map(|r| r.id.as_str()).collect();
    let mut global: Vec<(Vec<String>, Allowlist)> = Vec::new();
    for (i, a) in raw.allowlist.iter().chain(&raw.allowlists).enumerate() {
        let what = format!("global allowlist {}", i + 1);
        for t in &a.target_rules {
            if !ids.contains(t.as_str()) {
                warnings.push(format!("{file}: {what}: target rule `{t}` does not exist"));
            }
        }
        if let Some(allow) = compile_allowlist(a, &what, file, warnings) {
            global.push((a.target_rules.clone(), allow));
        }
    }
    let mut out = Vec::new();
    for (n, r) in raw.rules.into_iter().enumerate() {
        let id = r.id.trim().to_string();
        if id.is_empty() {
            warnings.push(format!("{file}: rule {} skipped: it has no id", n + 1));
            continue;
        }
        let skip = |why: String, warnings: &mut Vec<String>| {
            warnings.push(format!("{file}: rule `{id}` skipped: {why}"));
        };
        let pattern = r.regex.as_deref().unwrap_or("");
        if r.path.as_deref().is_some_and(|p| !p.is_empty()) {
            let why = if pattern.is_empty() {
                "a path-only rule matches file names, which LLM text does not have".to_string()
            } else {
                "its `path` restricts it to files, which LLM text does not have".to_string()
            };
            skip(why, warnings);
            continue;
        }
        if pattern.is_empty() {
            skip("it has no regex".to_string(), warnings);
            continue;
        }
        if !r.required.is_empty() {
            skip(
                "composite rules ([[rules.required]]) are not supported".to_string(),
                warnings,
            );
            continue;
        }
        let regex = match compile_regex(pattern) {
            Ok(re) => re,
            Err(e) => {
                skip(format!("regex does not compile: {e}"), warnings);
                continue;
            }
        };
        let secret_group = match r.secret_group.unwrap_or(0) {
            g if g < 0 => {
                skip(format!("secretGroup {g} is negative"), warnings);
                continue;
            }
            g => g as usize,
        };
        if secret_group >= regex.captures_len() {
            skip(
                format!(
                    "secretGroup {secret_group} but the regex has {} group(s)",
                    regex.captures_len() - 1
                ),
                warnings,
            );
            continue;
        }
        let mut allow = Vec::new();
        for (i, a) in r.allowlist.iter().chain(&r.allowlists).enumerate() {
            let what = format!("rule `{id}` allowlist {}", i + 1);
            allow.extend(compile_allowlist(a, &what, file, warnings));
        }
        for (targets, a) in &global {
            if targets.is_empty() || targets.contains(&id) {
                allow.push(a.clone());
            }
        }
        out.push(CredentialRule {
            description: if r.description.is_empty() {
                id.clone()
            } else {
                r.description
            },
            id,
            regex,
            secret_group,
            keywords: r.keywords,
            entropy: r.entropy.filter(|e| *e > 0.0),
            allow,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::Finding;
    use crate::detectors::credential_theft::CredentialTheft;
    use crate::text::LlmText;
    use modelward_event::Event;

    /// A temporary gitleaks.toml.
    fn write(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mw-gitleaks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn load(name: &str, text: &str) -> (Vec<CredentialRule>, Vec<String>) {
        load_gitleaks(&write(name, text)).unwrap()
    }

    fn kinds(rules: &[CredentialRule], completion: &str) -> Vec<String> {
        let d = CredentialTheft::with_rules(rules.to_vec());
        let text = LlmText {
            prompt: Vec::new(),
            completion: vec![completion],
        };
        let mut out: Vec<Finding> = Vec::new();
        out.extend(crate::detector::inspect_alone(&d, &Event::default(), &text));
        assert!(!format!("{out:?}").contains(&secret()), "secret leaked");
        out.iter()
            .map(|f| f.evidence["kind"].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// A random-looking 32-character value, built at run time.
    fn secret() -> String {
        ["q7Rk2Lm9", "Xv4Tz8Pw", "3Jn6Bc1H", "d5Fg0Ys2"].concat()
    }

    const ACME: &str = r#"
title = "acme"

[[rules]]
id = "acme-deploy-token"
description = "ACME deploy token"
regex = '''(?i)\b(acme_dep)_([\w]{32})\b'''
secretGroup = 2
entropy = 3.5
keywords = ["acme_dep"]
tags = ["acme", "token"]
"#;

    #[test]
    fn rule_with_keywords_group_and_entropy() {
        let (rules, warnings) = load("acme.toml", ACME);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].id, "acme-deploy-token");
        assert_eq!(rules[0].secret_group, 2);
        let found = kinds(&rules, &format!("DEPLOY=ACME_DEP_{}", secret()));
        assert_eq!(found, vec!["acme-deploy-token"]);
        // Low entropy.
        let low = "ab".repeat(16);
        assert!(kinds(&rules, &format!("acme_dep_{low}")).is_empty());
        // No keyword, no run: the same shape under another prefix.
        assert!(kinds(&rules, &format!("other_{}", secret())).is_empty());
    }

    #[test]
    fn allowlists_by_regex_stopword_and_condition() {
        let config = r#"
[[rules]]
id = "acme-key"
regex = '''acme_key\s*=\s*"([0-9A-Za-z]{32})"'''
keywords = ["acme_key"]

[[rules.allowlists]]
description = "test keys"
regexes = ['''^q7Rk''']

[[rules]]
id = "acme-stop"
regex = '''acme_stop\s*=\s*"([0-9A-Za-z]{32})"'''
keywords = ["acme_stop"]
[rules.allowlist]
stopwords = ["XV4TZ"]

[[rules]]
id = "acme-and"
regex = '''acme_and\s*=\s*"([0-9A-Za-z]{32})"'''
keywords = ["acme_and"]
[[rules.allowlists]]
condition = "AND"
regexTarget = "line"
regexes = ['''#\s*test''']
stopwords = ["bc1h"]
"#;
        let (rules, warnings) = load("allow.toml", config);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(rules.len(), 3);
        let s = secret();
        // Regex on the secret.
        assert!(kinds(&rules, &format!("acme_key = \"{s}\"")).is_empty());
        let other: String = s.chars().rev().collect();
        assert_eq!(
            kinds(&rules, &format!("acme_key = \"{other}\"")),
            vec!["acme-key"]
        );
        // Stopword, case-insensitive.
        assert!(kinds(&rules, &format!("acme_stop = \"{s}\"")).is_empty());
        assert_eq!(
            kinds(&rules, &format!("acme_stop = \"{other}\"")),
            vec!["acme-stop"]
        );
        // AND: the line regex and the stopword both.
        assert!(kinds(&rules, &format!("acme_and = \"{s}\" # test")).is_empty());
        assert_eq!(
            kinds(&rules, &format!("acme_and = \"{s}\"\n# test")),
            vec!["acme-and"]
        );
        assert_eq!(
            kinds(&rules, &format!("acme_and = \"{other}\" # test")),
            vec!["acme-and"]
        );
    }

    #[test]
    fn global_allowlists() {
        let config = format!(
            "{ACME}\n[[rules]]\nid = \"beta\"\nregex = '''beta-([0-9A-Za-z]{{32}})'''\n\
             [allowlist]\ndescription = \"fixtures\"\nregexTarget = \"match\"\n\
             regexes = ['''(?i)^acme_dep_q7''']\npaths = ['''fixtures/''']\n"
        );
        let (rules, warnings) = load("global.toml", &config);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(rules.iter().all(|r| r.allow.len() == 1));
        assert!(kinds(&rules, &format!("ACME_DEP_{}", secret())).is_empty());
        assert_eq!(kinds(&rules, &format!("beta-{}", secret())), vec!["beta"]);
        // The newer form, aimed at one rule.
        let config = format!(
            "{ACME}\n[[allowlists]]\ntargetRules = [\"acme-deploy-token\"]\n\
             stopwords = [\"8pw3\"]\n[[allowlists]]\ntargetRules = [\"nope\"]\nstopwords = [\"x\"]\n"
        );
        let (rules, warnings) = load("global2.toml", &config);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("`nope` does not exist"));
        assert!(kinds(&rules, &format!("ACME_DEP_{}", secret())).is_empty());
    }

    #[test]
    fn bad_regex_and_path_rules_are_skipped() {
        let config = format!(
            "{ACME}\n[[rules]]\nid = \"broken\"\nregex = '''(unclosed'''\n\
             [[rules]]\nid = \"env-files\"\npath = '''\\.env$'''\n\
             [[rules]]\nid = \"env-pass\"\npath = '''\\.env$'''\nregex = '''PASS=(\\S+)'''\n"
        );
        let path = write("skip.toml", &config);
        let (rules, warnings) = load_gitleaks(&path).unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        let file = path.display().to_string();
        assert!(warnings[0].starts_with(&format!("{file}: rule `broken` skipped: regex")));
        assert!(warnings[0].contains("unclosed group"), "{}", warnings[0]);
        assert!(warnings[1].contains("`env-files` skipped: a path-only rule"));
        assert!(warnings[2].contains("`env-pass` skipped"));
        assert_eq!(
            kinds(&rules, &format!("acme_dep_{}", secret())),
            vec!["acme-deploy-token"]
        );
    }

    #[test]
    fn extend_use_default_warns() {
        let config = format!("[extend]\nuseDefault = true\ndisabledRules = [\"x\"]\n{ACME}");
        let (rules, warnings) = load("extend.toml", &config);
        assert_eq!(rules.len(), 1);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("useDefault"));
        assert!(warnings[1].contains("disabledRules"));
    }

    #[test]
    fn extend_path_merges() {
        write(
            "base.toml",
            "[[rules]]\nid = \"acme-deploy-token\"\nregex = '''nothing'''\nkeywords = [\"x\"]\n\
             [[rules]]\nid = \"gone\"\nregex = '''gone'''\n\
             [[rules]]\nid = \"kept\"\nregex = '''kept-([0-9A-Za-z]{32})'''\n",
        );
        let config = format!("[extend]\npath = \"base.toml\"\ndisabledRules = [\"gone\"]\n{ACME}");
        let (rules, warnings) = load("child.toml", &config);
        assert!(warnings.is_empty(), "{warnings:?}");
        let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, vec!["acme-deploy-token", "kept"]);
        assert_eq!(rules[0].keywords, vec!["x", "acme_dep"]);
        assert_eq!(kinds(&rules, &format!("kept-{}", secret())), vec!["kept"]);
        assert_eq!(
            kinds(&rules, &format!("acme_dep_{}", secret())),
            vec!["acme-deploy-token"]
        );
    }

    #[test]
    fn toml_errors_name_the_line() {
        let path = write(
            "syntax.toml",
            "[[rules]]\nid = \"a\"\nregex = '''x\nentropy = 3\n",
        );
        let e = load_gitleaks(&path).unwrap_err();
        assert!(matches!(e, SettingsError::Line { .. }), "{e}");
        let path = write("type.toml", "[[rules]]\nid = \"a\"\n\nentropy = \"high\"\n");
        match load_gitleaks(&path).unwrap_err() {
            SettingsError::Line { line, file, .. } => {
                assert_eq!(line, 4);
                assert_eq!(file, path.display().to_string());
            }
            e => panic!("{e}"),
        }
        let e = load_gitleaks(Path::new("/nonexistent/gitleaks.toml")).unwrap_err();
        assert!(matches!(e, SettingsError::Io { .. }));
    }
}
