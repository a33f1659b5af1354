//! The string-processing core of the ES|QL `GROK` command.
//!
//! `GROK input "pattern"` matches a string against a regular expression
//! assembled from named grok patterns and returns the named captures as new
//! columns. This module reproduces what Elasticsearch's `libs/grok` (`Grok`,
//! `GrokCaptureConfig`, `GrokCaptureType`) and the ES|QL planner do, on top of
//! the Rust `regex` crate instead of Joni/Oniguruma.
//!
//! # Pattern syntax
//!
//! * `%{SYNTAX}` inserts the built-in pattern `SYNTAX` without capturing it
//!   (named captures inside it, such as those of `%{SYSLOGPROG}`, are kept).
//! * `%{SYNTAX:SEMANTIC}` captures the match into the column `SEMANTIC`.
//!   Semantic names may contain letters, digits and `@ [ ] _ . -`, so dotted
//!   ECS names like `source.ip` work.
//! * `%{SYNTAX:SEMANTIC:TYPE}` converts the value; `TYPE` is `int`
//!   (integer), `long`, `float` or `double` (both give a double column; `float`
//!   values are parsed at single precision first, as Elasticsearch does),
//!   `boolean` or `string`. Any other type name silently means keyword, like
//!   in Elasticsearch.
//! * `%{SYNTAX=definition}` is accepted and the definition ignored, as in
//!   Elasticsearch.
//! * Raw regular expressions may be mixed in, including Oniguruma named
//!   groups `(?<name>…)` and `(?'name'…)`; a name may carry a type too
//!   (`(?<x:n:int>\d+)` is read like the expansion of `%{x:n:int}`: as in
//!   Elasticsearch the name is split on `:`, and the column is the second
//!   part when there is one, so `(?<a:b>…)` is the column `b`).
//!
//! The built-in patterns are the ECS v1 set that ES|QL uses (see
//! [`builtin_pattern_names`]); nested references are expanded recursively
//! and unknown names or circular references are errors.
//!
//! # Matching and output
//!
//! * The pattern is searched anywhere in the input (unanchored, leftmost
//!   match); use `^`/`$` to anchor. As in Oniguruma's Ruby syntax, `^` and `$`
//!   match at line boundaries and `.` does not match `\n`.
//! * [`Grok::columns`] lists the captures sorted by name, which is the order
//!   in which ES|QL adds the columns. A name that is captured by several
//!   groups of the *same* `%{SYNTAX:SEMANTIC[:TYPE]}` spelling is one column
//!   holding every participating value (a multi-valued column); the same
//!   name with a different spelling is rejected ("the attribute \[x\] is
//!   defined multiple times with different types").
//! * [`Grok::apply`] returns `None` when the pattern does not match (ES|QL then
//!   sets every column to `null`), otherwise one list of values per column;
//!   a list is empty (`null`) when its groups did not take part in the match.
//! * Conversion failures (`%{WORD:x:int}` on `abc`, or an integer that
//!   overflows) make Elasticsearch fail the whole query with a
//!   `NumberFormatException`. [`Grok::try_apply`] reports them as
//!   [`GrokError::Conversion`]; [`Grok::apply`] drops the unconvertible value
//!   (the column becomes `null` if no other value remains).
//!
//! # Differences from Oniguruma
//!
//! The pattern is translated to the `regex` crate's syntax: named groups,
//! atomic groups `(?>…)` (treated as plain groups), possessive quantifiers
//! (treated as greedy), `\h`, `{,n}`, literal braces, the `m` option (dot
//! matches newline) and line anchors are converted. Look-around, back
//! references, `\G`, `\K`, `\Z`, conditionals and absent operators are not
//! available and are reported as [`GrokError::Syntax`]. The built-in patterns
//! that use look-around in Elasticsearch are rewritten without it; each such
//! definition says how in a comment.

use std::collections::HashMap;
use std::fmt;

use modelward_rule::RegexBudget;
use regex::Regex;

/// Upper bound on expanded `%{…}` references (Elasticsearch's sanity limit).
const MAX_REFERENCES: usize = 100_000;

/// Compiled program size limit for the `regex` crate (the Unicode classes of
/// large patterns such as `COMBINEDAPACHELOG` exceed the default).
const REGEX_SIZE_LIMIT: usize = 64 << 20;

/// Built-in patterns: Elasticsearch's ECS v1 definitions (`grok-patterns`,
/// `httpd`, `linux-syslog`, `java`), written for the `regex` crate.
const PATTERNS: &[(&str, &str)] = &[
    ("USERNAME", r"[a-zA-Z0-9._-]+"),
    ("USER", r"%{USERNAME}"),
    (
        "EMAILLOCALPART",
        r"[a-zA-Z0-9!#$%&'*+\-/=?^_`{|}~]{1,64}(?:\.[a-zA-Z0-9!#$%&'*+\-/=?^_`{|}~]{1,62}){0,63}",
    ),
    ("EMAILADDRESS", r"%{EMAILLOCALPART}@%{HOSTNAME}"),
    ("INT", r"(?:[+-]?(?:[0-9]+))"),
    // Elasticsearch: (?<![0-9.+-])(?>…). The look-behind (no digit, dot or
    // sign before the number) and the atomic group are dropped.
    (
        "BASE10NUM",
        r"(?:[+-]?(?:(?:[0-9]+(?:\.[0-9]+)?)|(?:\.[0-9]+)))",
    ),
    ("NUMBER", r"(?:%{BASE10NUM})"),
    // Elasticsearch: (?<![0-9A-Fa-f])(?:…). The look-behind is dropped.
    ("BASE16NUM", r"(?:[+-]?(?:0x)?(?:[0-9A-Fa-f]+))"),
    // Elasticsearch: \b(?<![0-9A-Fa-f.])(?:…)\b. The look-behind is dropped.
    (
        "BASE16FLOAT",
        r"\b(?:[+-]?(?:0x)?(?:(?:[0-9A-Fa-f]+(?:\.[0-9A-Fa-f]*)?)|(?:\.[0-9A-Fa-f]+)))\b",
    ),
    ("POSINT", r"\b(?:[1-9][0-9]*)\b"),
    ("NONNEGINT", r"\b(?:[0-9]+)\b"),
    ("WORD", r"\b\w+\b"),
    ("NOTSPACE", r"\S+"),
    ("SPACE", r"\s*"),
    ("DATA", r".*?"),
    ("GREEDYDATA", r".*"),
    // Elasticsearch: (?>(?<!\\)(?>"(?>\\.|[^\\"]+)+"|…)). The look-behind
    // (no backslash before the opening quote) and atomic groups are dropped.
    (
        "QUOTEDSTRING",
        r#"(?:"(?:\\.|[^\\"]+)+"|""|'(?:\\.|[^\\']+)+'|''|`(?:\\.|[^\\`]+)+`|``)"#,
    ),
    (
        "UUID",
        r"[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}",
    ),
    (
        "URN",
        r"urn:[0-9A-Za-z][0-9A-Za-z-]{0,31}:(?:%[0-9a-fA-F]{2}|[0-9A-Za-z()+,.:=@;$_!*'/?#-])+",
    ),
    ("MAC", r"(?:%{CISCOMAC}|%{WINDOWSMAC}|%{COMMONMAC})"),
    ("CISCOMAC", r"(?:(?:[A-Fa-f0-9]{4}\.){2}[A-Fa-f0-9]{4})"),
    ("WINDOWSMAC", r"(?:(?:[A-Fa-f0-9]{2}-){5}[A-Fa-f0-9]{2})"),
    ("COMMONMAC", r"(?:(?:[A-Fa-f0-9]{2}:){5}[A-Fa-f0-9]{2})"),
    (
        "IPV6",
        concat!(
            r"((([0-9A-Fa-f]{1,4}:){7}([0-9A-Fa-f]{1,4}|:))",
            r"|(([0-9A-Fa-f]{1,4}:){6}(:[0-9A-Fa-f]{1,4}|((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3})|:))",
            r"|(([0-9A-Fa-f]{1,4}:){5}(((:[0-9A-Fa-f]{1,4}){1,2})|:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3})|:))",
            r"|(([0-9A-Fa-f]{1,4}:){4}(((:[0-9A-Fa-f]{1,4}){1,3})|((:[0-9A-Fa-f]{1,4})?:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:))",
            r"|(([0-9A-Fa-f]{1,4}:){3}(((:[0-9A-Fa-f]{1,4}){1,4})|((:[0-9A-Fa-f]{1,4}){0,2}:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:))",
            r"|(([0-9A-Fa-f]{1,4}:){2}(((:[0-9A-Fa-f]{1,4}){1,5})|((:[0-9A-Fa-f]{1,4}){0,3}:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:))",
            r"|(([0-9A-Fa-f]{1,4}:){1}(((:[0-9A-Fa-f]{1,4}){1,6})|((:[0-9A-Fa-f]{1,4}){0,4}:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:))",
            r"|(:(((:[0-9A-Fa-f]{1,4}){1,7})|((:[0-9A-Fa-f]{1,4}){0,5}:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:)))(%.+)?",
        ),
    ),
    // Elasticsearch: (?<![0-9])(?:…)(?![0-9]). Both look-arounds become `\b`:
    // the address still cannot start or end inside a longer run of digits,
    // but it also cannot touch a letter or `_` (Elasticsearch allows that).
    (
        "IPV4",
        concat!(
            r"\b(?:(?:[0-1]?[0-9]{1,2}|2[0-4][0-9]|25[0-5])[.](?:[0-1]?[0-9]{1,2}|2[0-4][0-9]|25[0-5])",
            r"[.](?:[0-1]?[0-9]{1,2}|2[0-4][0-9]|25[0-5])[.](?:[0-1]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]))\b",
        ),
    ),
    ("IP", r"(?:%{IPV6}|%{IPV4})"),
    (
        "HOSTNAME",
        r"\b(?:[0-9A-Za-z][0-9A-Za-z-]{0,62})(?:\.(?:[0-9A-Za-z][0-9A-Za-z-]{0,62}))*(\.?|\b)",
    ),
    ("IPORHOST", r"(?:%{IP}|%{HOSTNAME})"),
    ("HOSTPORT", r"%{IPORHOST}:%{POSINT}"),
    ("PATH", r"(?:%{UNIXPATH}|%{WINPATH})"),
    // Oniguruma's [[:alnum:]] is Unicode-aware; the regex crate's is ASCII.
    ("UNIXPATH", r"(/[\p{L}\p{M}\p{Nd}_%!$@:.,+~-]*)+"),
    ("TTY", r"(?:/dev/(pts|tty([pq])?)(\w+)?/?(?:[0-9]+))"),
    // Elasticsearch: (?>[A-Za-z]+:|\\)…; the atomic group is dropped.
    ("WINPATH", r"(?:[A-Za-z]+:|\\)(?:\\[^\\?*]*)+"),
    ("URIPROTO", r"[A-Za-z]([A-Za-z0-9+\-.]+)+"),
    ("URIHOST", r"%{IPORHOST}(?::%{POSINT})?"),
    ("URIPATH", r"(?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_\-]*)+"),
    ("URIQUERY", r"[A-Za-z0-9$.+!*'|(){},~@#%&/=:;_?\-\[\]<>]*"),
    ("URIPARAM", r"\?%{URIQUERY}"),
    ("URIPATHPARAM", r"%{URIPATH}(?:\?%{URIQUERY})?"),
    (
        "URI",
        r"%{URIPROTO}://(?:%{USER}(?::[^@]*)?@)?(?:%{URIHOST})?(?:%{URIPATH}(?:\?%{URIQUERY})?)?",
    ),
    (
        "MONTH",
        concat!(
            r"\b(?:[Jj]an(?:uary|uar)?|[Ff]eb(?:ruary|ruar)?|[Mm](?:a|ä)?r(?:ch|z)?|[Aa]pr(?:il)?",
            r"|[Mm]a(?:y|i)?|[Jj]un(?:e|i)?|[Jj]ul(?:y|i)?|[Aa]ug(?:ust)?|[Ss]ep(?:tember)?",
            r"|[Oo](?:c|k)?t(?:ober)?|[Nn]ov(?:ember)?|[Dd]e(?:c|z)(?:ember)?)\b",
        ),
    ),
    ("MONTHNUM", r"(?:0?[1-9]|1[0-2])"),
    ("MONTHNUM2", r"(?:0[1-9]|1[0-2])"),
    ("MONTHDAY", r"(?:(?:0[1-9])|(?:[12][0-9])|(?:3[01])|[1-9])"),
    (
        "DAY",
        r"(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?|Sat(?:urday)?|Sun(?:day)?)",
    ),
    // Elasticsearch: (?>\d\d){1,2}; the atomic group is dropped.
    ("YEAR", r"(?:\d\d){1,2}"),
    ("HOUR", r"(?:2[0123]|[01]?[0-9])"),
    ("MINUTE", r"(?:[0-5][0-9])"),
    ("SECOND", r"(?:(?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?)"),
    // Elasticsearch: (?!<[0-9])%{HOUR}:%{MINUTE}(?::%{SECOND})(?![0-9]). The
    // leading look-ahead is a no-op (a typo for a look-behind). The trailing
    // "no digit follows" look-ahead is dropped; to keep its main effect (a
    // leap second `60` is not cut to `6`) SECOND is inlined with `60` tried
    // first. Seconds followed by more digits still match here.
    (
        "TIME",
        r"%{HOUR}:%{MINUTE}(?::(?:(?:60|[0-5]?[0-9])(?:[:.,][0-9]+)?))",
    ),
    ("DATE_US", r"%{MONTHNUM}[/-]%{MONTHDAY}[/-]%{YEAR}"),
    ("DATE_EU", r"%{MONTHDAY}[./-]%{MONTHNUM}[./-]%{YEAR}"),
    ("ISO8601_TIMEZONE", r"(?:Z|[+-]%{HOUR}(?::?%{MINUTE}))"),
    ("ISO8601_SECOND", r"%{SECOND}"),
    (
        "TIMESTAMP_ISO8601",
        r"%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}(?::?%{SECOND})?%{ISO8601_TIMEZONE}?",
    ),
    ("DATE", r"%{DATE_US}|%{DATE_EU}"),
    ("DATESTAMP", r"%{DATE}[- ]%{TIME}"),
    ("TZ", r"(?:[APMCE][SD]T|UTC)"),
    (
        "DATESTAMP_RFC822",
        r"%{DAY} %{MONTH} %{MONTHDAY} %{YEAR} %{TIME} %{TZ}",
    ),
    (
        "DATESTAMP_RFC2822",
        r"%{DAY}, %{MONTHDAY} %{MONTH} %{YEAR} %{TIME} %{ISO8601_TIMEZONE}",
    ),
    (
        "DATESTAMP_OTHER",
        r"%{DAY} %{MONTH} %{MONTHDAY} %{TIME} %{TZ} %{YEAR}",
    ),
    (
        "DATESTAMP_EVENTLOG",
        r"%{YEAR}%{MONTHNUM2}%{MONTHDAY}%{HOUR}%{MINUTE}%{SECOND}",
    ),
    ("SYSLOGTIMESTAMP", r"%{MONTH} +%{MONTHDAY} %{TIME}"),
    ("PROG", r"[\x21-\x5a\x5c\x5e-\x7e]+"),
    (
        "SYSLOGPROG",
        r"%{PROG:process.name}(?:\[%{POSINT:process.pid:int}\])?",
    ),
    ("SYSLOGHOST", r"%{IPORHOST}"),
    (
        "SYSLOGFACILITY",
        r"<%{NONNEGINT:log.syslog.facility.code:int}.%{NONNEGINT:log.syslog.priority:int}>",
    ),
    ("HTTPDATE", r"%{MONTHDAY}/%{MONTH}/%{YEAR}:%{TIME} %{INT}"),
    ("QS", r"%{QUOTEDSTRING}"),
    (
        "SYSLOGBASE",
        r"%{SYSLOGTIMESTAMP:timestamp} (?:%{SYSLOGFACILITY} )?%{SYSLOGHOST:host.hostname} %{SYSLOGPROG}:",
    ),
    (
        "LOGLEVEL",
        concat!(
            r"([Aa]lert|ALERT|[Tt]race|TRACE|[Dd]ebug|DEBUG|[Nn]otice|NOTICE|[Ii]nfo?(?:rmation)?",
            r"|INFO?(?:RMATION)?|[Ww]arn?(?:ing)?|WARN?(?:ING)?|[Ee]rr?(?:or)?|ERR?(?:OR)?",
            r"|[Cc]rit?(?:ical)?|CRIT?(?:ICAL)?|[Ff]atal|FATAL|[Ss]evere|SEVERE|EMERG(?:ENCY)?",
            r"|[Ee]merg(?:ency)?)",
        ),
    ),
    // httpd
    ("HTTPDUSER", r"%{EMAILADDRESS}|%{USER}"),
    (
        "HTTPDERROR_DATE",
        r"%{DAY} %{MONTH} %{MONTHDAY} %{TIME} %{YEAR}",
    ),
    (
        "HTTPD_COMMONLOG",
        concat!(
            r"%{IPORHOST:source.address} (?:-|%{HTTPDUSER:apache.access.user.identity}) ",
            r"(?:-|%{HTTPDUSER:user.name}) \[%{HTTPDATE:timestamp}\] ",
            r#""(?:%{WORD:http.request.method} %{NOTSPACE:url.original}(?: HTTP/%{NUMBER:http.version})?|%{DATA})" "#,
            r"(?:-|%{INT:http.response.status_code:int}) (?:-|%{INT:http.response.body.bytes:long})",
        ),
    ),
    (
        "HTTPD_COMBINEDLOG",
        r#"%{HTTPD_COMMONLOG} "(?:-|%{DATA:http.request.referrer})" "(?:-|%{DATA:user_agent.original})""#,
    ),
    (
        "HTTPD20_ERRORLOG",
        concat!(
            r"\[%{HTTPDERROR_DATE:timestamp}\] \[%{LOGLEVEL:log.level}\] ",
            r"(?:\[client %{IPORHOST:source.address}\] )?%{GREEDYDATA:message}",
        ),
    ),
    // Verbatim, including the upstream `code?}` typo: that reference is not
    // a valid `%{…}` token and stays literal text, exactly as in Elasticsearch.
    (
        "HTTPD24_ERRORLOG",
        concat!(
            r"\[%{HTTPDERROR_DATE:timestamp}\] \[(?:%{WORD:apache.error.module})?:%{LOGLEVEL:log.level}\] ",
            r"\[pid %{POSINT:process.pid:long}(:tid %{INT:process.thread.id:int})?\]",
            r"(?: \(%{POSINT:apache.error.proxy.error.code?}\)%{DATA:apache.error.proxy.error.message}:)?",
            r"(?: \[client %{IPORHOST:source.address}(?::%{POSINT:source.port:int})?\])?",
            r"(?: %{DATA:error.code}:)? %{GREEDYDATA:message}",
        ),
    ),
    ("HTTPD_ERRORLOG", r"%{HTTPD20_ERRORLOG}|%{HTTPD24_ERRORLOG}"),
    ("COMMONAPACHELOG", r"%{HTTPD_COMMONLOG}"),
    ("COMBINEDAPACHELOG", r"%{HTTPD_COMBINEDLOG}"),
    // linux-syslog (SYSLOGPAMSESSION is left out: it captures inside a
    // look-ahead, which has no equivalent here).
    ("SYSLOG5424PRINTASCII", r"[!-~]+"),
    (
        "SYSLOGBASE2",
        concat!(
            r"(?:%{SYSLOGTIMESTAMP:timestamp}|%{TIMESTAMP_ISO8601:timestamp})(?: %{SYSLOGFACILITY})?",
            r"(?: %{SYSLOGHOST:host.hostname})?(?: %{SYSLOGPROG}:)?",
        ),
    ),
    ("CRON_ACTION", r"[A-Z ]+"),
    (
        "CRONLOG",
        r"%{SYSLOGBASE} \(%{USER:user.name}\) %{CRON_ACTION:system.cron.action} \(%{DATA:message}\)",
    ),
    ("SYSLOGLINE", r"%{SYSLOGBASE2} %{GREEDYDATA:message}"),
    ("SYSLOG5424PRI", r"<%{NONNEGINT:log.syslog.priority:int}>"),
    ("SYSLOG5424SD", r"\[%{DATA}\]+"),
    (
        "SYSLOG5424BASE",
        concat!(
            r"%{SYSLOG5424PRI}%{NONNEGINT:system.syslog.version} +(?:-|%{TIMESTAMP_ISO8601:timestamp})",
            r" +(?:-|%{IPORHOST:host.hostname}) +(?:-|%{SYSLOG5424PRINTASCII:process.name})",
            r" +(?:-|%{POSINT:process.pid:int}) +(?:-|%{SYSLOG5424PRINTASCII:event.code})",
            r" +(?:-|%{SYSLOG5424SD:system.syslog.structured_data})?",
        ),
    ),
    (
        "SYSLOG5424LINE",
        r"%{SYSLOG5424BASE} +%{GREEDYDATA:message}",
    ),
    // java
    (
        "JAVACLASS",
        r"(?:[a-zA-Z$_][a-zA-Z$_0-9]*\.)*[a-zA-Z$_][a-zA-Z$_0-9]*",
    ),
    ("JAVAFILE", r"(?:[a-zA-Z$_0-9. -]+)"),
    (
        "JAVAMETHOD",
        r"(?:(<(?:cl)?init>)|[a-zA-Z$_][a-zA-Z$_0-9]*)",
    ),
    (
        "JAVASTACKTRACEPART",
        concat!(
            r"%{SPACE}at %{JAVACLASS:java.log.origin.class.name}\.%{JAVAMETHOD:log.origin.function}",
            r"\(%{JAVAFILE:log.origin.file.name}(?::%{INT:log.origin.file.line:int})?\)",
        ),
    ),
    ("JAVATHREAD", r"(?:[A-Z]{2}-Processor[\d]+)"),
    ("JAVALOGMESSAGE", r"(?:.*)"),
];

/// The names of the built-in grok patterns, in definition order.
pub fn builtin_pattern_names() -> impl Iterator<Item = &'static str> {
    PATTERNS.iter().map(|(name, _)| *name)
}

fn builtin_pattern(name: &str) -> Option<&'static str> {
    PATTERNS
        .iter()
        .find(|(candidate, _)| *candidate == name)
        .map(|(_, definition)| *definition)
}

/// Why a grok pattern was rejected, or a value could not be converted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GrokError {
    /// `%{NAME}` refers to a pattern that does not exist.
    #[error(
        "unable to find pattern [{name}] in Grok's pattern dictionary \
         (referenced at offset {offset})"
    )]
    UnknownPattern {
        /// The missing pattern name.
        name: String,
        /// Byte offset of the `%{` reference in the grok pattern.
        offset: usize,
    },
    /// Pattern references loop back to a pattern being expanded.
    #[error("circular reference in grok pattern [{chain}] (referenced at offset {offset})")]
    CircularReference {
        /// The reference chain, `A=>B=>A`.
        chain: String,
        /// Byte offset of the top-level `%{` reference in the grok pattern.
        offset: usize,
    },
    /// The expansion needs more than 100 000 references.
    #[error("can not convert grok pattern to a regular expression: more than {limit} pattern references")]
    TooManyReferences {
        /// The limit.
        limit: usize,
    },
    /// Regular expression syntax that is invalid or not supported here.
    #[error("invalid grok pattern at offset {offset}: {message}")]
    Syntax {
        /// Byte offset in the grok pattern (the `%{` reference for text that
        /// comes from a built-in pattern).
        offset: usize,
        /// What is wrong.
        message: String,
    },
    /// The translated regular expression does not compile.
    #[error("invalid grok pattern: {message}")]
    Regex {
        /// The `regex` crate's error message.
        message: String,
    },
    /// The same column name is produced by differently spelled captures.
    #[error("invalid grok pattern: the attribute [{name}] is defined multiple times with different types")]
    DuplicateAttribute {
        /// The column name.
        name: String,
    },
    /// A capture such as `%{WORD::int}` names no column.
    #[error("invalid grok pattern: the capture [{capture}] has an empty field name")]
    EmptyFieldName {
        /// The capture as written (`WORD::int`).
        capture: String,
    },
    /// [`Grok::new_multi`] was called without patterns.
    #[error("invalid grok pattern: no pattern given")]
    NoPatterns,
    /// A captured value does not convert to the column type.
    #[error("cannot convert [{value}] to {target} for grok column [{column}]")]
    Conversion {
        /// The column name.
        column: String,
        /// The captured text.
        value: String,
        /// The column type.
        target: GrokType,
    },
}

/// The type of a grok output column, as ES|QL types it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrokType {
    /// `keyword` (no type, `:string`, or an unknown type name).
    Keyword,
    /// `integer` (`:int`).
    Integer,
    /// `long` (`:long`).
    Long,
    /// `double` (`:float` or `:double`; ES|QL widens floats to doubles).
    Double,
    /// `boolean` (`:boolean`).
    Boolean,
}

impl fmt::Display for GrokType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GrokType::Keyword => "keyword",
            GrokType::Integer => "integer",
            GrokType::Long => "long",
            GrokType::Double => "double",
            GrokType::Boolean => "boolean",
        })
    }
}

/// One captured and converted value.
#[derive(Debug, Clone, PartialEq)]
pub enum GrokValue {
    /// A [`GrokType::Keyword`] value.
    Keyword(String),
    /// A [`GrokType::Integer`] value.
    Integer(i32),
    /// A [`GrokType::Long`] value.
    Long(i64),
    /// A [`GrokType::Double`] value.
    Double(f64),
    /// A [`GrokType::Boolean`] value.
    Boolean(bool),
}

/// How captured text is converted, as in Elasticsearch's `GrokCaptureType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conversion {
    String,
    Int,
    Long,
    Float,
    Double,
    Boolean,
}

impl Conversion {
    fn from_type_name(name: &str) -> Conversion {
        match name {
            "int" => Conversion::Int,
            "long" => Conversion::Long,
            "float" => Conversion::Float,
            "double" => Conversion::Double,
            "boolean" => Conversion::Boolean,
            _ => Conversion::String,
        }
    }

    fn column_type(self) -> GrokType {
        match self {
            Conversion::String => GrokType::Keyword,
            Conversion::Int => GrokType::Integer,
            Conversion::Long => GrokType::Long,
            Conversion::Float | Conversion::Double => GrokType::Double,
            Conversion::Boolean => GrokType::Boolean,
        }
    }

    /// Converts like Java's `Integer.parseInt`, `Long.parseLong`,
    /// `Float.parseFloat`, `Double.parseDouble` and `Boolean.parseBoolean`.
    fn convert(self, text: &str) -> Option<GrokValue> {
        match self {
            Conversion::String => Some(GrokValue::Keyword(text.to_string())),
            Conversion::Int => text.parse().ok().map(GrokValue::Integer),
            Conversion::Long => text.parse().ok().map(GrokValue::Long),
            Conversion::Float => java_float(text).map(GrokValue::Double),
            Conversion::Double => java_double(text).map(GrokValue::Double),
            Conversion::Boolean => Some(GrokValue::Boolean(text.eq_ignore_ascii_case("true"))),
        }
    }
}

/// A floating point literal as Java's `FloatingDecimal` reads it.
enum JavaFloat<'t> {
    NaN,
    Infinity,
    Decimal(&'t str),
}

/// Splits a Java floating point literal into sign and body: surrounding
/// whitespace (chars `<= ' '`) is trimmed and an `f`/`d` suffix removed.
/// Hexadecimal literals are not supported.
fn java_float_parts(text: &str) -> Option<(bool, JavaFloat<'_>)> {
    let trimmed = text.trim_matches(|c: char| c <= ' ');
    let (negative, body) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    match body {
        "NaN" => return Some((negative, JavaFloat::NaN)),
        "Infinity" => return Some((negative, JavaFloat::Infinity)),
        _ => {}
    }
    let decimal = body.strip_suffix(['f', 'F', 'd', 'D']).unwrap_or(body);
    is_java_decimal(decimal).then_some((negative, JavaFloat::Decimal(decimal)))
}

/// `digits [. digits] [(e|E) [+-] digits]` with at least one mantissa digit.
fn is_java_decimal(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let mut parts = mantissa.splitn(2, '.');
    let int_part = parts.next().unwrap_or("");
    let frac_part = parts.next().unwrap_or("");
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = all_digits(int_part)
        && all_digits(frac_part)
        && !(int_part.is_empty() && frac_part.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        !digits.is_empty() && all_digits(digits)
    });
    mantissa_ok && exponent_ok
}

fn java_double(text: &str) -> Option<f64> {
    let (negative, body) = java_float_parts(text)?;
    let value = match body {
        JavaFloat::NaN => f64::NAN,
        JavaFloat::Infinity => f64::INFINITY,
        JavaFloat::Decimal(decimal) => decimal.parse::<f64>().ok()?,
    };
    Some(if negative { -value } else { value })
}

/// Parses at single precision, then widens (ES|QL stores floats as doubles).
fn java_float(text: &str) -> Option<f64> {
    let (negative, body) = java_float_parts(text)?;
    let value = match body {
        JavaFloat::NaN => f32::NAN,
        JavaFloat::Infinity => f32::INFINITY,
        JavaFloat::Decimal(decimal) => decimal.parse::<f32>().ok()?,
    };
    Some(f64::from(if negative { -value } else { value }))
}

/// An output column and the capture groups that feed it.
#[derive(Debug, Clone)]
struct Column {
    name: String,
    conversion: Conversion,
    /// Capture group indices, in pattern order.
    groups: Vec<usize>,
}

/// A compiled ES|QL `GROK` pattern.
#[derive(Debug, Clone)]
pub struct Grok {
    pattern: String,
    regex: Regex,
    columns: Vec<(String, GrokType)>,
    sources: Vec<Column>,
}

impl Grok {
    /// Expands and compiles a grok pattern.
    pub fn new(pattern: &str) -> Result<Grok, GrokError> {
        Grok::new_within(pattern, &RegexBudget::unlimited())
    }

    /// [`Grok::new`], its compiled regex charged to `regexes`.
    pub fn new_within(pattern: &str, regexes: &RegexBudget) -> Result<Grok, GrokError> {
        let expansion = expand(pattern)?;
        let (source, keys) = Translator::new(&expansion).run()?;
        let regex = regexes
            .compile_sized(&source, REGEX_SIZE_LIMIT, REGEX_SIZE_LIMIT)
            .map_err(|e| GrokError::Regex {
                message: e.to_string(),
            })?;
        if regex.captures_len() != keys.len() + 1 {
            return Err(GrokError::Regex {
                message: "unexpected capture groups in the translated expression".to_string(),
            });
        }
        let sources = build_columns(&keys)?;
        let columns = sources
            .iter()
            .map(|c| (c.name.clone(), c.conversion.column_type()))
            .collect();
        Ok(Grok {
            pattern: pattern.to_string(),
            regex,
            columns,
            sources,
        })
    }

    /// Compiles several patterns the way ES|QL's `GROK input "p1", "p2"` does:
    /// each one must be valid on its own, and they are combined into
    /// `(?:p1)|(?:p2)` (the leftmost match wins, then the earliest pattern).
    pub fn new_multi(patterns: &[&str]) -> Result<Grok, GrokError> {
        match patterns {
            [] => Err(GrokError::NoPatterns),
            [single] => Grok::new(single),
            many => {
                for pattern in many {
                    Grok::new(pattern)?;
                }
                let combined: Vec<String> = many.iter().map(|p| format!("(?:{p})")).collect();
                Grok::new(&combined.join("|"))
            }
        }
    }

    /// The grok pattern this was compiled from.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The output columns and their types, sorted by name (ES|QL's order).
    pub fn columns(&self) -> &[(String, GrokType)] {
        &self.columns
    }

    /// Matches `input`: `None` when the pattern does not match, otherwise the
    /// values of each column (same order as [`columns`](Self::columns)).
    /// Values that do not convert to the column type are left out.
    pub fn apply(&self, input: &str) -> Option<Vec<Vec<GrokValue>>> {
        let captures = self.regex.captures(input)?;
        let row = self
            .sources
            .iter()
            .map(|column| {
                column
                    .groups
                    .iter()
                    .filter_map(|g| captures.get(*g))
                    .filter_map(|m| column.conversion.convert(m.as_str()))
                    .collect()
            })
            .collect();
        Some(row)
    }

    /// Like [`apply`](Self::apply), but a value that does not convert to its
    /// column type is an error, as it is in Elasticsearch (which fails the
    /// query).
    pub fn try_apply(&self, input: &str) -> Result<Option<Vec<Vec<GrokValue>>>, GrokError> {
        let Some(captures) = self.regex.captures(input) else {
            return Ok(None);
        };
        let mut row = Vec::with_capacity(self.sources.len());
        for column in &self.sources {
            let mut values = Vec::with_capacity(column.groups.len());
            for text in column.groups.iter().filter_map(|g| captures.get(*g)) {
                let value = column.conversion.convert(text.as_str()).ok_or_else(|| {
                    GrokError::Conversion {
                        column: column.name.clone(),
                        value: text.as_str().to_string(),
                        target: column.conversion.column_type(),
                    }
                })?;
                values.push(value);
            }
            row.push(values);
        }
        Ok(Some(row))
    }
}

/// Groups capture keys (`NUMBER:num:int`, `name`) into columns sorted by
/// name; capture group `i + 1` belongs to `keys[i]`.
fn build_columns(keys: &[String]) -> Result<Vec<Column>, GrokError> {
    let mut by_key: Vec<(&str, Vec<usize>)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, key) in keys.iter().enumerate() {
        let slot = *index.entry(key.as_str()).or_insert_with(|| {
            by_key.push((key.as_str(), Vec::new()));
            by_key.len() - 1
        });
        if let Some((_, groups)) = by_key.get_mut(slot) {
            groups.push(i + 1);
        }
    }
    let mut columns = Vec::with_capacity(by_key.len());
    for (key, groups) in by_key {
        let (name, conversion) = parse_capture_key(key);
        if name.is_empty() {
            return Err(GrokError::EmptyFieldName {
                capture: key.to_string(),
            });
        }
        columns.push(Column {
            name: name.to_string(),
            conversion,
            groups,
        });
    }
    columns.sort_by(|a, b| a.name.encode_utf16().cmp(b.name.encode_utf16()));
    if let Some(pair) = columns.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(GrokError::DuplicateAttribute {
            name: pair[0].name.clone(),
        });
    }
    Ok(columns)
}

/// Splits a capture key like Java's `groupName.split(":")`: the column is the
/// second part (or the only one), the type the third when there are exactly
/// three parts.
fn parse_capture_key(key: &str) -> (&str, Conversion) {
    let mut parts: Vec<&str> = key.split(':').collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    let name = match parts.as_slice() {
        [only] => only,
        [_, name, ..] => name,
        [] => "",
    };
    let conversion = match parts.as_slice() {
        [_, _, type_name] => Conversion::from_type_name(type_name),
        _ => Conversion::String,
    };
    (name, conversion)
}

// ---------------------------------------------------------------------------
// Expansion of %{…} references
// ---------------------------------------------------------------------------

/// The expanded pattern in Oniguruma syntax, and for each byte the offset in
/// the user's pattern it comes from (the `%{` of the top-level reference for
/// text taken from built-in patterns).
#[derive(Debug, Default)]
struct Expansion {
    text: String,
    origins: Vec<usize>,
    references: usize,
}

impl Expansion {
    fn push_user(&mut self, text: &str, offset: usize) {
        self.text.push_str(text);
        self.origins.extend(offset..offset + text.len());
    }

    fn push_at(&mut self, text: &str, origin: usize) {
        self.text.push_str(text);
        self.origins.extend(std::iter::repeat_n(origin, text.len()));
    }
}

/// A `%{NAME[:SUBNAME][=DEFINITION]}` reference.
struct Reference<'p> {
    start: usize,
    end: usize,
    name: &'p str,
    subname: Option<&'p str>,
}

fn expand(pattern: &str) -> Result<Expansion, GrokError> {
    let mut expansion = Expansion::default();
    let mut stack = Vec::new();
    expand_into(pattern, None, &mut stack, &mut expansion)?;
    Ok(expansion)
}

/// Appends `text` with its references expanded. `origin` is `None` for the
/// user's pattern and the top-level reference offset for built-in text.
fn expand_into<'s>(
    text: &'s str,
    origin: Option<usize>,
    stack: &mut Vec<&'s str>,
    out: &mut Expansion,
) -> Result<(), GrokError> {
    let mut pos = 0;
    while let Some(reference) = next_reference(text, pos) {
        push_text(out, &text[pos..reference.start], origin, pos);
        let here = origin.unwrap_or(reference.start);
        out.references += 1;
        if out.references > MAX_REFERENCES {
            return Err(GrokError::TooManyReferences {
                limit: MAX_REFERENCES,
            });
        }
        let name = reference.name;
        let body = builtin_pattern(name).ok_or_else(|| GrokError::UnknownPattern {
            name: name.to_string(),
            offset: here,
        })?;
        if stack.contains(&name) {
            let mut chain: Vec<&str> = stack.clone();
            chain.push(name);
            return Err(GrokError::CircularReference {
                chain: chain.join("=>"),
                offset: here,
            });
        }
        match reference.subname {
            Some(subname) => out.push_at(&format!("(?<{name}:{subname}>"), here),
            None => out.push_at("(?:", here),
        }
        stack.push(name);
        expand_into(body, Some(here), stack, out)?;
        stack.pop();
        out.push_at(")", here);
        pos = reference.end;
    }
    push_text(out, &text[pos..], origin, pos);
    Ok(())
}

fn push_text(out: &mut Expansion, text: &str, origin: Option<usize>, offset: usize) {
    match origin {
        Some(at) => out.push_at(text, at),
        None => out.push_user(text, offset),
    }
}

/// Finds the next reference at or after `from`, as Elasticsearch's
/// `%\{(?<name>(?<pattern>[A-z0-9]+)(?::(?<subname>[[:alnum:]@\[\]_:.-]+))?)(?:=(?<definition>(?:[^{}]+|\.+)+))?\}`
/// does. `%{` that does not start a valid reference stays literal text.
fn next_reference(text: &str, from: usize) -> Option<Reference<'_>> {
    let mut search = from;
    while let Some(found) = text.get(search..).and_then(|t| t.find("%{")) {
        let start = search + found;
        if let Some(reference) = parse_reference(text, start) {
            return Some(reference);
        }
        search = start + 1;
    }
    None
}

fn parse_reference(text: &str, start: usize) -> Option<Reference<'_>> {
    let body = text.get(start + 2..)?;
    let name_len = prefix_len(body, |c| ('A'..='z').contains(&c) || c.is_ascii_digit());
    if name_len == 0 {
        return None;
    }
    let mut rest = &body[name_len..];
    let mut subname = None;
    if let Some(after) = rest.strip_prefix(':') {
        let len = prefix_len(after, is_subname_char);
        if len > 0 {
            subname = Some(&after[..len]);
            rest = &after[len..];
        }
    }
    if let Some(after) = rest.strip_prefix('=') {
        let len = prefix_len(after, |c| c != '{' && c != '}');
        if len > 0 {
            rest = &after[len..];
        }
    }
    let after = rest.strip_prefix('}')?;
    Some(Reference {
        start,
        end: text.len() - after.len(),
        name: &body[..name_len],
        subname,
    })
}

fn is_subname_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '@' | '[' | ']' | '_' | ':' | '.' | '-')
}

/// Length in bytes of the longest prefix whose chars satisfy `accept`.
fn prefix_len(text: &str, accept: impl Fn(char) -> bool) -> usize {
    text.char_indices()
        .find(|(_, c)| !accept(*c))
        .map_or(text.len(), |(i, _)| i)
}

// ---------------------------------------------------------------------------
// Translation from Oniguruma (Ruby syntax) to the regex crate
// ---------------------------------------------------------------------------

/// Rewrites an expanded pattern into `regex` crate syntax. Every named group
/// becomes a plain capturing group and every other group non-capturing, so
/// capture group `i + 1` belongs to `keys[i]`.
struct Translator<'e> {
    src: &'e str,
    origins: &'e [usize],
    pos: usize,
    out: String,
    keys: Vec<String>,
    class_depth: usize,
}

impl<'e> Translator<'e> {
    fn new(expansion: &'e Expansion) -> Translator<'e> {
        Translator {
            src: &expansion.text,
            origins: &expansion.origins,
            pos: 0,
            out: String::with_capacity(expansion.text.len() + 64),
            keys: Vec::new(),
            class_depth: 0,
        }
    }

    fn run(mut self) -> Result<(String, Vec<String>), GrokError> {
        while let Some(c) = self.peek() {
            if self.class_depth > 0 {
                self.class_char(c)?;
            } else {
                self.outer_char(c)?;
            }
        }
        Ok((self.out, self.keys))
    }

    fn rest(&self) -> &'e str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.rest().chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn error(&self, at: usize, message: impl Into<String>) -> GrokError {
        let offset = self
            .origins
            .get(at)
            .or_else(|| self.origins.last())
            .copied()
            .unwrap_or(0);
        GrokError::Syntax {
            offset,
            message: message.into(),
        }
    }

    /// Emits `c` as a literal character.
    fn push_literal(&mut self, c: char) {
        if regex_syntax_meta(c) || c.is_whitespace() {
            self.out.push('\\');
        }
        self.out.push(c);
    }

    fn outer_char(&mut self, c: char) -> Result<(), GrokError> {
        match c {
            '\\' => return self.escape(false),
            '(' => return self.group(),
            '{' => self.brace(),
            '*' | '+' | '?' => self.quantifier(),
            '[' => {
                self.bump();
                self.open_class();
            }
            '}' | ']' => {
                self.bump();
                self.push_literal(c);
            }
            '^' | '$' => {
                self.bump();
                self.out
                    .push_str(if c == '^' { "(?m:^)" } else { "(?m:$)" });
            }
            _ => {
                self.bump();
                self.out.push(c);
            }
        }
        Ok(())
    }

    /// `*`, `+`, `?` with an optional lazy `?`; possessive `+` is dropped.
    fn quantifier(&mut self) {
        if let Some(c) = self.bump() {
            self.out.push(c);
        }
        match self.peek() {
            Some('?') => {
                self.bump();
                self.out.push('?');
            }
            Some('+') => {
                self.bump();
            }
            _ => {}
        }
    }

    /// `{n}`, `{n,}`, `{n,m}` and `{,m}` are intervals; any other `{` is a
    /// literal brace in Oniguruma.
    fn brace(&mut self) {
        match parse_interval(self.rest()) {
            Some((interval, len)) => {
                self.pos += len;
                self.out.push_str(&interval);
            }
            None => {
                self.bump();
                self.out.push_str("\\{");
            }
        }
    }

    fn group(&mut self) -> Result<(), GrokError> {
        let start = self.pos;
        self.bump();
        if self.peek() != Some('?') {
            self.out.push_str("(?:");
            return Ok(());
        }
        self.bump();
        match self.peek() {
            Some('<') if matches!(self.peek_second(), Some('=') | Some('!')) => {
                Err(self.error(start, "look-behind `(?<=…)`/`(?<!…)` is not supported"))
            }
            Some('=') | Some('!') => {
                Err(self.error(start, "look-ahead `(?=…)`/`(?!…)` is not supported"))
            }
            Some('<') => {
                self.bump();
                self.named_group('>', start)
            }
            Some('\'') => {
                self.bump();
                self.named_group('\'', start)
            }
            Some('>') | Some(':') => {
                // Atomic groups are approximated by plain groups.
                self.bump();
                self.out.push_str("(?:");
                Ok(())
            }
            Some('#') => self.comment(start),
            Some('P') => Err(self.error(start, "undefined group option `(?P`")),
            _ => self.option_group(start),
        }
    }

    fn named_group(&mut self, close: char, start: usize) -> Result<(), GrokError> {
        let rest = self.rest();
        let Some(end) = rest.find(close) else {
            return Err(self.error(start, "invalid group name: missing terminator"));
        };
        let name = &rest[..end];
        if name.is_empty() {
            return Err(self.error(start, "group name is empty"));
        }
        self.keys.push(name.to_string());
        self.pos += end + close.len_utf8();
        self.out.push('(');
        Ok(())
    }

    fn comment(&mut self, start: usize) -> Result<(), GrokError> {
        match self.rest().find(')') {
            Some(end) => {
                self.pos += end + 1;
                Ok(())
            }
            None => Err(self.error(start, "unterminated comment group")),
        }
    }

    /// `(?imx-imx)` and `(?imx-imx:…)`; Ruby's `m` (dot matches newline) is
    /// the regex crate's `s`.
    fn option_group(&mut self, start: usize) -> Result<(), GrokError> {
        let rest = self.rest();
        let len = prefix_len(rest, |c| matches!(c, 'i' | 'm' | 'x' | '-'));
        let terminator = rest[len..].chars().next();
        if len == 0 || !matches!(terminator, Some(':') | Some(')')) {
            return Err(self.error(start, "undefined group option"));
        }
        let flags: String = rest[..len]
            .chars()
            .map(|c| if c == 'm' { 's' } else { c })
            .collect();
        self.out.push_str("(?");
        self.out.push_str(&flags);
        if let Some(t) = terminator {
            self.out.push(t);
        }
        self.pos += len + 1;
        Ok(())
    }

    fn open_class(&mut self) {
        self.out.push('[');
        self.class_depth += 1;
        if self.peek() == Some('^') {
            self.bump();
            self.out.push('^');
        }
        if self.peek() == Some(']') {
            self.bump();
            self.out.push_str("\\]");
        }
    }

    fn class_char(&mut self, c: char) -> Result<(), GrokError> {
        match c {
            '\\' => return self.escape(true),
            '[' => self.class_bracket(),
            ']' => {
                self.bump();
                self.out.push(']');
                self.class_depth = self.class_depth.saturating_sub(1);
            }
            '&' if self.rest().starts_with("&&") => {
                self.pos += 2;
                self.out.push_str("&&");
            }
            '-' if self.rest().starts_with("--") => {
                // Oniguruma has no `--` set difference: the second `-` is a
                // range endpoint or a literal.
                self.pos += 2;
                self.out.push_str("-\\-");
            }
            '&' | '~' => {
                self.bump();
                self.out.push('\\');
                self.out.push(c);
            }
            _ => {
                self.bump();
                self.out.push(c);
            }
        }
        Ok(())
    }

    /// `[` inside a class: a POSIX bracket `[:name:]` or a nested class.
    fn class_bracket(&mut self) {
        let rest = self.rest();
        if let Some(end) = rest.strip_prefix("[:").and_then(|r| r.find(":]")) {
            let len = end + 4;
            self.out.push_str(&rest[..len]);
            self.pos += len;
        } else {
            self.bump();
            self.open_class();
        }
    }

    fn escape(&mut self, in_class: bool) -> Result<(), GrokError> {
        let start = self.pos;
        self.bump();
        let Some(c) = self.bump() else {
            return Err(self.error(start, "pattern ends with a backslash"));
        };
        match c {
            'h' => self
                .out
                .push_str(if in_class { "0-9a-fA-F" } else { "[0-9a-fA-F]" }),
            'H' if in_class => {
                return Err(self.error(start, "`\\H` inside a character class is not supported"))
            }
            'H' => self.out.push_str("[^0-9a-fA-F]"),
            'e' => self.out.push_str("\\x1B"),
            'b' if in_class => self.out.push_str("\\x08"),
            'x' => return self.hex_escape(start),
            'p' | 'P' => self.property(c),
            '0'..='9' => {
                return Err(
                    self.error(start, "back references and octal escapes are not supported")
                );
            }
            'k' | 'g' | 'G' | 'K' | 'Z' | 'R' | 'X' | 'c' | 'C' | 'M' => {
                return Err(self.error(start, format!("escape `\\{c}` is not supported")));
            }
            'd' | 'D' | 'w' | 'W' | 's' | 'S' | 'n' | 't' | 'r' | 'f' | 'v' | 'a' => {
                self.out.push('\\');
                self.out.push(c);
            }
            'b' | 'B' | 'A' | 'z' => {
                self.out.push('\\');
                self.out.push(c);
            }
            // Oniguruma treats other escaped characters as literals.
            _ => self.push_literal(c),
        }
        Ok(())
    }

    /// `\xHH` (one or two hex digits) or `\x{…}`.
    fn hex_escape(&mut self, start: usize) -> Result<(), GrokError> {
        let rest = self.rest();
        if let Some(braced) = rest.strip_prefix('{') {
            let Some(end) = braced.find('}') else {
                return Err(self.error(start, "unterminated `\\x{…}` escape"));
            };
            self.out.push_str("\\x{");
            self.out.push_str(&braced[..end]);
            self.out.push('}');
            self.pos += end + 2;
            return Ok(());
        }
        let digits = prefix_len(rest, |c| c.is_ascii_hexdigit()).min(2);
        if digits == 0 {
            return Err(self.error(start, "invalid `\\x` escape"));
        }
        self.out.push_str(if digits == 1 { "\\x0" } else { "\\x" });
        self.out.push_str(&rest[..digits]);
        self.pos += digits;
        Ok(())
    }

    /// `\p{Name}`, `\P{Name}` and Oniguruma's negated `\p{^Name}`.
    fn property(&mut self, kind: char) {
        let rest = self.rest();
        let braced = rest
            .strip_prefix('{')
            .and_then(|b| b.find('}').map(|end| &b[..end]));
        let Some(name) = braced else {
            self.out.push('\\');
            self.out.push(kind);
            return;
        };
        self.pos += name.len() + 2;
        let (kind, name) = match name.strip_prefix('^') {
            Some(negated) => (if kind == 'p' { 'P' } else { 'p' }, negated),
            None => (kind, name),
        };
        self.out.push('\\');
        self.out.push(kind);
        self.out.push('{');
        self.out.push_str(name);
        self.out.push('}');
    }
}

/// Characters the regex crate treats as meta characters.
fn regex_syntax_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.'
            | '+'
            | '*'
            | '?'
            | '('
            | ')'
            | '|'
            | '['
            | ']'
            | '{'
            | '}'
            | '^'
            | '$'
            | '#'
            | '&'
            | '-'
            | '~'
    )
}

/// Parses an Oniguruma interval at the start of `text` (which starts with
/// `{`); returns it in regex crate syntax and its length in `text`.
fn parse_interval(text: &str) -> Option<(String, usize)> {
    let body = text.strip_prefix('{')?;
    let close = body.find('}')?;
    let inner = &body[..close];
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let interval = match inner.split_once(',') {
        None if !inner.is_empty() && all_digits(inner) => format!("{{{inner}}}"),
        Some((low, high))
            if all_digits(low) && all_digits(high) && !(low.is_empty() && high.is_empty()) =>
        {
            let low = if low.is_empty() { "0" } else { low };
            format!("{{{low},{high}}}")
        }
        _ => return None,
    };
    Some((interval, close + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw(s: &str) -> GrokValue {
        GrokValue::Keyword(s.to_string())
    }

    /// Column name → values, for readable assertions.
    fn run(pattern: &str, input: &str) -> Option<Vec<(String, Vec<GrokValue>)>> {
        let grok = Grok::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        grok.apply(input).map(|row| {
            grok.columns()
                .iter()
                .map(|(name, _)| name.clone())
                .zip(row)
                .collect()
        })
    }

    fn single(pattern: &str, input: &str) -> Option<String> {
        let row = run(pattern, input)?;
        match row.as_slice() {
            [(_, values)] => match values.as_slice() {
                [GrokValue::Keyword(s)] => Some(s.clone()),
                _ => None,
            },
            _ => None,
        }
    }

    fn value(row: &[(String, Vec<GrokValue>)], name: &str) -> Vec<GrokValue> {
        row.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no column {name}"))
    }

    // --- ES|QL documentation examples -------------------------------------

    #[test]
    fn doc_ip_timestamp_status() {
        let grok = Grok::new(r"%{IP:ip} \[%{TIMESTAMP_ISO8601:@timestamp}\] %{GREEDYDATA:status}")
            .unwrap();
        assert_eq!(
            grok.columns(),
            [
                ("@timestamp".to_string(), GrokType::Keyword),
                ("ip".to_string(), GrokType::Keyword),
                ("status".to_string(), GrokType::Keyword)
            ]
        );
        assert_eq!(
            grok.apply("1.2.3.4 [2023-01-23T12:15:00.000Z] Connected"),
            Some(vec![
                vec![kw("2023-01-23T12:15:00.000Z")],
                vec![kw("1.2.3.4")],
                vec![kw("Connected")]
            ])
        );
    }

    #[test]
    fn doc_timestamp_ip_email_number() {
        let grok =
            Grok::new("%{TIMESTAMP_ISO8601:date} %{IP:ip} %{EMAILADDRESS:email} %{NUMBER:num}")
                .unwrap();
        let row = grok
            .apply("2023-01-23T12:15:00.000Z 127.0.0.1 some.email@foo.com 42")
            .unwrap();
        let names: Vec<&str> = grok.columns().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["date", "email", "ip", "num"]);
        assert_eq!(
            row,
            vec![
                vec![kw("2023-01-23T12:15:00.000Z")],
                vec![kw("some.email@foo.com")],
                vec![kw("127.0.0.1")],
                vec![kw("42")]
            ]
        );
    }

    #[test]
    fn doc_number_as_int() {
        let grok =
            Grok::new("%{TIMESTAMP_ISO8601:date} %{IP:ip} %{EMAILADDRESS:email} %{NUMBER:num:int}")
                .unwrap();
        assert_eq!(grok.columns()[3], ("num".to_string(), GrokType::Integer));
        let row = grok
            .apply("2023-01-23T12:15:00.000Z 127.0.0.1 some.email@foo.com 42")
            .unwrap();
        assert_eq!(row[3], vec![GrokValue::Integer(42)]);
        assert_eq!(row[0], vec![kw("2023-01-23T12:15:00.000Z")]);
    }

    #[test]
    fn doc_duplicate_names_are_multi_valued() {
        let pattern = "%{WORD:zip_parts} %{WORD:zip_parts}";
        assert_eq!(
            run(pattern, "1016 ED"),
            Some(vec![("zip_parts".into(), vec![kw("1016"), kw("ED")])])
        );
        assert_eq!(
            run(pattern, "CA 94108"),
            Some(vec![("zip_parts".into(), vec![kw("CA"), kw("94108")])])
        );
        assert_eq!(run(pattern, "100-7014"), None);
    }

    #[test]
    fn doc_custom_named_capture() {
        assert_eq!(
            single(
                "(?<queue_id>[0-9A-F]{10,11})",
                "postfix/smtp[123]: 4E7A85B1D2C: to=<a@b>"
            )
            .as_deref(),
            Some("4E7A85B1D2C")
        );
    }

    #[test]
    fn apache_combined_log() {
        let line = r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#;
        let grok = Grok::new("%{COMBINEDAPACHELOG}").unwrap();
        let columns: Vec<(&str, GrokType)> = grok
            .columns()
            .iter()
            .map(|(n, t)| (n.as_str(), *t))
            .collect();
        assert_eq!(
            columns,
            [
                ("apache.access.user.identity", GrokType::Keyword),
                ("http.request.method", GrokType::Keyword),
                ("http.request.referrer", GrokType::Keyword),
                ("http.response.body.bytes", GrokType::Long),
                ("http.response.status_code", GrokType::Integer),
                ("http.version", GrokType::Keyword),
                ("source.address", GrokType::Keyword),
                ("timestamp", GrokType::Keyword),
                ("url.original", GrokType::Keyword),
                ("user.name", GrokType::Keyword),
                ("user_agent.original", GrokType::Keyword),
            ]
        );
        let row = grok.apply(line).unwrap();
        assert_eq!(
            row,
            vec![
                vec![],
                vec![kw("GET")],
                vec![kw("http://www.example.com/start.html")],
                vec![GrokValue::Long(2326)],
                vec![GrokValue::Integer(200)],
                vec![kw("1.0")],
                vec![kw("127.0.0.1")],
                vec![kw("10/Oct/2000:13:55:36 -0700")],
                vec![kw("/apache_pb.gif")],
                vec![kw("frank")],
                vec![kw("Mozilla/4.08 [en] (Win98; I ;Nav)")],
            ]
        );
    }

    #[test]
    fn apache_common_log_with_dashes() {
        let line = r#"10.0.0.7 - - [01/Jan/2024:00:00:01 +0000] "POST /login HTTP/1.1" 302 -"#;
        let row = run("%{COMMONAPACHELOG}", line).unwrap();
        assert_eq!(value(&row, "http.response.body.bytes"), vec![]);
        assert_eq!(
            value(&row, "http.response.status_code"),
            vec![GrokValue::Integer(302)]
        );
        assert_eq!(value(&row, "user.name"), vec![]);
        assert_eq!(value(&row, "source.address"), vec![kw("10.0.0.7")]);
    }

    // --- ES|QL csv-spec cases ----------------------------------------------

    #[test]
    fn csv_simple_and_no_match() {
        assert_eq!(single("%{WORD:b} .*", "foo bar").as_deref(), Some("foo"));
        let grok = Grok::new("%{NUMBER:b:int} .*").unwrap();
        assert_eq!(grok.columns(), [("b".to_string(), GrokType::Integer)]);
        assert_eq!(grok.apply("foo bar"), None);
    }

    #[test]
    fn csv_type_conversions() {
        let grok =
            Grok::new("%{NUMBER:b:int} %{NUMBER:c:float} %{NUMBER:d:double} %{WORD:e:boolean}")
                .unwrap();
        let types: Vec<GrokType> = grok.columns().iter().map(|(_, t)| *t).collect();
        assert_eq!(
            types,
            [
                GrokType::Integer,
                GrokType::Double,
                GrokType::Double,
                GrokType::Boolean
            ]
        );
        assert_eq!(
            grok.apply("12 15.5 15.6 true"),
            Some(vec![
                vec![GrokValue::Integer(12)],
                vec![GrokValue::Double(15.5)],
                vec![GrokValue::Double(15.6)],
                vec![GrokValue::Boolean(true)]
            ])
        );
    }

    #[test]
    fn float_is_parsed_at_single_precision() {
        let row = run("%{NUMBER:f:float}", "15.6").unwrap();
        assert_eq!(row[0].1, vec![GrokValue::Double(f64::from(15.6f32))]);
        assert_ne!(row[0].1, vec![GrokValue::Double(15.6)]);
    }

    #[test]
    fn csv_manual_pattern() {
        let pattern = "(?<b>[0-9a-z]{4,11}) (?<c>[0-9a-z]{1,11})";
        assert_eq!(
            run(pattern, "asdf bar"),
            Some(vec![
                ("b".into(), vec![kw("asdf")]),
                ("c".into(), vec![kw("bar")])
            ])
        );
        assert_eq!(run(pattern, "foo bar"), None);
    }

    #[test]
    fn csv_match_position_is_unanchored() {
        let pattern = "%{WORD:first_name} %{WORD:last_name} %{NUMBER:num:int}";
        for input in [
            "Georgi Facello 123 456",
            "123 Georgi Facello 123",
            "123 Georgi Facello 123 456",
        ] {
            let row = run(pattern, input).unwrap();
            assert_eq!(value(&row, "first_name"), vec![kw("Georgi")], "{input}");
            assert_eq!(value(&row, "last_name"), vec![kw("Facello")], "{input}");
            assert_eq!(value(&row, "num"), vec![GrokValue::Integer(123)], "{input}");
        }
    }

    #[test]
    fn csv_shadowing_with_multiple_values() {
        let row = run(
            "Zürich, the %{WORD:city} %{WORD:foo} %{WORD:city} %{WORD:foo}",
            "Zürich, the largest city in Switzerland",
        )
        .unwrap();
        assert_eq!(value(&row, "city"), vec![kw("largest"), kw("in")]);
        assert_eq!(value(&row, "foo"), vec![kw("city"), kw("Switzerland")]);
    }

    #[test]
    fn csv_optional_groups() {
        let pattern = r"%{WORD:a}?\s*%{WORD:b}?\s*%{WORD:c}?";
        let row = run(pattern, "Senior Team Lead").unwrap();
        assert_eq!(value(&row, "a"), vec![kw("Senior")]);
        assert_eq!(value(&row, "b"), vec![kw("Team")]);
        assert_eq!(value(&row, "c"), vec![kw("Lead")]);
        let row = run(pattern, "Accountant").unwrap();
        assert_eq!(value(&row, "b"), vec![]);
        assert_eq!(value(&row, "c"), vec![]);
    }

    #[test]
    fn csv_multi_patterns() {
        let grok = Grok::new_multi(&["ABC %{WORD:foo}", "XYZ %{WORD:bar}"]).unwrap();
        let names: Vec<&str> = grok.columns().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["bar", "foo"]);
        assert_eq!(
            grok.apply("XYZ extractme"),
            Some(vec![vec![kw("extractme")], vec![]])
        );
        let grok = Grok::new_multi(&["Georgi %{WORD:g}", "%{WORD:first} %{WORD:last}"]).unwrap();
        let names: Vec<&str> = grok.columns().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["first", "g", "last"]);
        assert_eq!(
            grok.apply("Georgi Facello"),
            Some(vec![vec![], vec![kw("Facello")], vec![]])
        );
        assert_eq!(
            grok.apply("Bezalel Simmel"),
            Some(vec![vec![kw("Bezalel")], vec![], vec![kw("Simmel")]])
        );
        assert_eq!(
            Grok::new_multi(&["%{UUID:def}", "%{INT:def}"]).unwrap_err(),
            GrokError::DuplicateAttribute { name: "def".into() }
        );
        assert!(Grok::new_multi(&["(", ")"]).is_err());
        assert_eq!(Grok::new_multi(&[]).unwrap_err(), GrokError::NoPatterns);
    }

    // --- libs/grok test cases (ECS mode) --------------------------------------

    #[test]
    fn match_without_captures() {
        let grok = Grok::new("value").unwrap();
        assert!(grok.columns().is_empty());
        assert_eq!(grok.apply("value"), Some(vec![]));
        assert_eq!(grok.apply("prefix_value"), Some(vec![]));
        assert_eq!(grok.apply("no_match"), None);
    }

    #[test]
    fn unknown_pattern() {
        assert_eq!(
            Grok::new("%{NOTFOUND}").unwrap_err(),
            GrokError::UnknownPattern {
                name: "NOTFOUND".into(),
                offset: 0
            }
        );
        let err = Grok::new("x %{WORD:a} %{_invalid_:x}").unwrap_err();
        assert_eq!(
            err,
            GrokError::UnknownPattern {
                name: "_invalid_".into(),
                offset: 12
            }
        );
        assert!(
            err.to_string()
                .contains("Unable to find pattern [_invalid_]")
                || err.to_string().contains("[_invalid_]")
        );
    }

    #[test]
    fn syslog5424_line() {
        let line = r#"<191>1 2009-06-30T18:30:00+02:00 paxton.local grokdebug 4123 - [id1 foo=\"bar\"][id2 baz=\"something\"] Hello, syslog."#;
        let row = run("%{SYSLOG5424LINE}", line).unwrap();
        assert_eq!(
            value(&row, "log.syslog.priority"),
            vec![GrokValue::Integer(191)]
        );
        assert_eq!(value(&row, "system.syslog.version"), vec![kw("1")]);
        assert_eq!(
            value(&row, "timestamp"),
            vec![kw("2009-06-30T18:30:00+02:00")]
        );
        assert_eq!(value(&row, "host.hostname"), vec![kw("paxton.local")]);
        assert_eq!(value(&row, "process.name"), vec![kw("grokdebug")]);
        assert_eq!(value(&row, "process.pid"), vec![GrokValue::Integer(4123)]);
        assert_eq!(value(&row, "event.code"), vec![]);
        assert_eq!(
            value(&row, "system.syslog.structured_data"),
            vec![kw(r#"[id1 foo=\"bar\"][id2 baz=\"something\"]"#)]
        );
        assert_eq!(value(&row, "message"), vec![kw("Hello, syslog.")]);
    }

    #[test]
    fn syslog_base() {
        let line = "Mar 16 00:01:25 evita postfix/smtpd[1713]: connect from camomile.cloud9.net[168.100.1.3]";
        let row = run("%{SYSLOGBASE} %{GREEDYDATA:message}", line).unwrap();
        assert_eq!(value(&row, "timestamp"), vec![kw("Mar 16 00:01:25")]);
        assert_eq!(value(&row, "host.hostname"), vec![kw("evita")]);
        assert_eq!(value(&row, "process.name"), vec![kw("postfix/smtpd")]);
        assert_eq!(value(&row, "process.pid"), vec![GrokValue::Integer(1713)]);
        assert_eq!(value(&row, "log.syslog.facility.code"), vec![]);
        assert_eq!(
            value(&row, "message"),
            vec![kw("connect from camomile.cloud9.net[168.100.1.3]")]
        );
    }

    #[test]
    fn syslogline_has_conflicting_timestamp_captures() {
        // SYSLOGBASE2 captures `timestamp` from SYSLOGTIMESTAMP and from
        // TIMESTAMP_ISO8601, which ES|QL rejects.
        assert_eq!(
            Grok::new("%{SYSLOGLINE}").unwrap_err(),
            GrokError::DuplicateAttribute {
                name: "timestamp".into()
            }
        );
    }

    #[test]
    fn unicode_syslog() {
        let pattern = concat!(
            r"<%{POSINT:syslog_pri}>%{SPACE}%{SYSLOGTIMESTAMP:syslog_timestamp} ",
            r"%{SYSLOGHOST:syslog_hostname} %{PROG:syslog_program}(:?)(?:\[%{GREEDYDATA:syslog_pid}\])?(:?) ",
            r"%{GREEDYDATA:syslog_message}"
        );
        let line = "<22>Jan  4 07:50:46 mailmaster postfix/policy-spf[9454]: : SPF permerror (Junk encountered in record 'v=spf1 mx a:mail.domain.no ip4:192.168.0.4 �all'): Envelope-from: email@domain.no";
        let row = run(pattern, line).unwrap();
        assert_eq!(value(&row, "syslog_pri"), vec![kw("22")]);
        assert_eq!(
            value(&row, "syslog_program"),
            vec![kw("postfix/policy-spf")]
        );
    }

    #[test]
    fn date_pattern_inside_named_group() {
        assert_eq!(
            single(
                "(?<timestamp>%{DATE_EU} %{TIME})",
                "fancy 12-12-12 12:12:12"
            )
            .as_deref(),
            Some("12-12-12 12:12:12")
        );
        assert_eq!(
            single("%{DATE_EU:stimestamp}", "11/01/01").as_deref(),
            Some("11/01/01")
        );
    }

    #[test]
    fn nil_coerced_values() {
        let grok = Grok::new("test (N/A|%{BASE10NUM:duration:float}ms)").unwrap();
        assert_eq!(
            grok.apply("test 28.4ms"),
            Some(vec![vec![GrokValue::Double(f64::from(28.4f32))]])
        );
        assert_eq!(grok.apply("test N/A"), Some(vec![vec![]]));
    }

    #[test]
    fn iso8601_timestamps() {
        let grok = Grok::new("^%{TIMESTAMP_ISO8601}$").unwrap();
        assert!(grok.columns().is_empty());
        for ok in [
            "2001-01-01T00:00:00",
            "1974-03-02T04:09:09",
            "2010-05-03T08:18:18+00:00",
            "2004-07-04T12:27:27-00:00",
            "2001-09-05T16:36:36+0000",
            "2001-11-06T20:45:45-0000",
            "2001-12-07T23:54:54Z",
            "2001-01-01T00:00:00.123456",
            "1974-03-02T04:09:09.123456",
            "2010-05-03T08:18:18.123456+00:00",
            "2004-07-04T12:27:27.123456-00:00",
            "2001-09-05T16:36:36.123456+0000",
            "2001-11-06T20:45:45.123456-0000",
            "2001-12-07T23:54:54.123456Z",
            "2001-12-07T23:54:60.123456Z",
            // ECS patterns permit single-digit hours.
            "2001-01-01T0:00:00",
        ] {
            assert!(grok.apply(ok).is_some(), "{ok}");
        }
        for bad in [
            "2001-13-01T00:00:00",
            "2001-00-01T00:00:00",
            "2001-01-00T00:00:00",
            "2001-01-32T00:00:00",
            "2001-01-aT00:00:00",
            "2001-01-1aT00:00:00",
            "2001-01-01Ta0:00:00",
            "2001-01-01T25:00:00",
            "2001-01-01T01:60:00",
            "2001-01-01T00:aa:00",
            "2001-01-01T00:00:aa",
            "2001-01-01T00:00:-1",
            "2001-01-01T00:00:61",
            "2001-01-01T00:00:00A",
            "2001-01-01T00:00:00+",
            "2001-01-01T00:00:00+25",
            "2001-01-01T00:00:00+2500",
            "2001-01-01T00:00:00+25:00",
            "2001-01-01T00:00:00-25",
            "2001-01-01T00:00:00-2500",
            "2001-01-01T00:00:00-00:61",
        ] {
            assert!(grok.apply(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn apache_log_from_grok_tests() {
        let line = concat!(
            r#"31.184.238.164 - - [24/Jul/2014:05:35:37 +0530] "GET /logs/access.log HTTP/1.0" 200 69849 "#,
            r#""http://8rursodiol.enjin.com" "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "#,
            r#"Chrome/30.0.1599.12785 YaBrowser/13.12.1599.12785 Safari/537.36" "www.dlwindianrailways.com""#
        );
        let row = run("%{COMBINEDAPACHELOG}", line).unwrap();
        assert_eq!(
            value(&row, "user_agent.original"),
            vec![kw("Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/30.0.1599.12785 YaBrowser/13.12.1599.12785 Safari/537.36")]
        );
        assert_eq!(value(&row, "user.name"), vec![]);
        assert_eq!(
            value(&row, "http.response.body.bytes"),
            vec![GrokValue::Long(69849)]
        );
        assert_eq!(value(&row, "source.address"), vec![kw("31.184.238.164")]);
        assert_eq!(value(&row, "http.version"), vec![kw("1.0")]);
        assert_eq!(value(&row, "apache.access.user.identity"), vec![]);
        assert_eq!(
            value(&row, "http.response.status_code"),
            vec![GrokValue::Integer(200)]
        );
        assert_eq!(
            value(&row, "http.request.referrer"),
            vec![kw("http://8rursodiol.enjin.com")]
        );
        assert_eq!(value(&row, "url.original"), vec![kw("/logs/access.log")]);
        assert_eq!(
            value(&row, "timestamp"),
            vec![kw("24/Jul/2014:05:35:37 +0530")]
        );
        assert_eq!(value(&row, "http.request.method"), vec![kw("GET")]);
    }

    #[test]
    fn numeric_captures() {
        let row = run(
            "%{NUMBER:bytes:float} %{NUMBER:id:long} %{NUMBER:rating:double}",
            "12009.34 20000000000 4820.092",
        )
        .unwrap();
        assert_eq!(
            value(&row, "bytes"),
            vec![GrokValue::Double(f64::from(12009.34f32))]
        );
        assert_eq!(value(&row, "id"), vec![GrokValue::Long(20_000_000_000)]);
        assert_eq!(value(&row, "rating"), vec![GrokValue::Double(4820.092)]);
        let grok = Grok::new("%{NUMBER:bytes:float} %{NUMBER:status} %{NUMBER}").unwrap();
        assert_eq!(
            grok.apply("12009.34 200 9032"),
            Some(vec![
                vec![GrokValue::Double(f64::from(12009.34f32))],
                vec![kw("200")]
            ])
        );
        let grok = Grok::new("%{NUMBER:f:not_a_valid_type}").unwrap();
        assert_eq!(grok.columns(), [("f".to_string(), GrokType::Keyword)]);
    }

    #[test]
    fn boolean_captures() {
        assert_eq!(
            run("%{WORD:name}=%{WORD:status:boolean}", "active=true"),
            Some(vec![
                ("name".into(), vec![kw("active")]),
                ("status".into(), vec![GrokValue::Boolean(true)])
            ])
        );
    }

    #[test]
    fn anchors_are_line_anchors() {
        assert_eq!(
            single("^%{WORD:w}$", "first\nsecond").as_deref(),
            Some("first")
        );
        assert_eq!(
            single("^%{WORD:w}$", "first line\nsecond").as_deref(),
            Some("second")
        );
        assert_eq!(
            single("%{GREEDYDATA:rest}", "a b\nc").as_deref(),
            Some("a b")
        );
        assert_eq!(
            single("(?m)(?<all>.*)", "a b\nc").as_deref(),
            Some("a b\nc")
        );
    }

    // --- Built-in patterns -----------------------------------------------------

    #[test]
    fn every_builtin_pattern_compiles() {
        for name in builtin_pattern_names() {
            let result = Grok::new(&format!("%{{{name}}}"));
            if name == "SYSLOGLINE" || name == "SYSLOGBASE2" {
                assert!(result.is_err(), "{name} should have duplicate timestamp");
            } else {
                assert!(result.is_ok(), "{name}: {:?}", result.err());
            }
        }
    }

    #[test]
    fn builtin_names_are_unique() {
        let mut names: Vec<&str> = builtin_pattern_names().collect();
        let total = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), total);
    }

    #[test]
    fn numbers() {
        assert_eq!(
            single("%{NUMBER:n}", "took -12.5ms").as_deref(),
            Some("-12.5")
        );
        assert_eq!(single("%{NUMBER:n}", "value .5").as_deref(), Some(".5"));
        assert_eq!(single("%{INT:n}", "x +42 y").as_deref(), Some("+42"));
        assert_eq!(single("%{POSINT:n}", "a 0 7").as_deref(), Some("7"));
        assert_eq!(single("%{NONNEGINT:n}", "a 0 7").as_deref(), Some("0"));
        assert_eq!(
            single("%{BASE16NUM:n}", "ptr 0x1F").as_deref(),
            Some("0x1F")
        );
        assert_eq!(
            single("%{BASE16NUM:n}", "addr 0x1F").as_deref(),
            Some("add")
        );
        assert_eq!(
            single("%{BASE16FLOAT:n}", "x 0x1F.8 ").as_deref(),
            Some("0x1F.8")
        );
        assert_eq!(single("%{NUMBER:n}", "pid123").as_deref(), Some("123"));
    }

    #[test]
    fn words_and_spaces() {
        assert_eq!(
            single("%{WORD:w}", "  hello_world!").as_deref(),
            Some("hello_world")
        );
        assert_eq!(
            single("%{NOTSPACE:w}", "  a/b:c  d").as_deref(),
            Some("a/b:c")
        );
        assert_eq!(single("a%{SPACE:s}b", "a   b").as_deref(), Some("   "));
        assert_eq!(single("<%{DATA:d}>", "<x><y>").as_deref(), Some("x"));
        assert_eq!(
            single("<%{GREEDYDATA:d}>", "<x><y>").as_deref(),
            Some("x><y")
        );
        assert_eq!(
            single("%{USERNAME:u}", "user j.doe-1_x").as_deref(),
            Some("user")
        );
        assert_eq!(
            single("%{USER:u}@", "j.doe-1_x@host").as_deref(),
            Some("j.doe-1_x")
        );
    }

    #[test]
    fn quoted_strings() {
        assert_eq!(
            single("%{QS:q}", r#"say "hello \"you\"" now"#).as_deref(),
            Some(r#""hello \"you\"""#)
        );
        assert_eq!(
            single("%{QUOTEDSTRING:q}", "it's 'single' here").as_deref(),
            Some("'s '")
        );
        assert_eq!(
            single("%{QUOTEDSTRING:q}", "x `back` y").as_deref(),
            Some("`back`")
        );
        assert_eq!(
            single("%{QUOTEDSTRING:q}", r#"empty "" string"#).as_deref(),
            Some(r#""""#)
        );
    }

    #[test]
    fn uuid_and_mac() {
        assert_eq!(
            single("%{UUID:u}", "id=123e4567-e89b-12d3-a456-426614174000;").as_deref(),
            Some("123e4567-e89b-12d3-a456-426614174000")
        );
        assert_eq!(
            single("%{MAC:m}", "mac 00:1A:2b:3C:4d:5E").as_deref(),
            Some("00:1A:2b:3C:4d:5E")
        );
        assert_eq!(
            single("%{MAC:m}", "mac 00-1A-2b-3C-4d-5E").as_deref(),
            Some("00-1A-2b-3C-4d-5E")
        );
        assert_eq!(
            single("%{MAC:m}", "mac 001a.2b3c.4d5e").as_deref(),
            Some("001a.2b3c.4d5e")
        );
    }

    #[test]
    fn ipv4_addresses() {
        assert_eq!(
            single("%{IPV4:ip}", "from 192.168.1.255:80").as_deref(),
            Some("192.168.1.255")
        );
        assert_eq!(
            single("%{IP:ip}$", "x 10.0.0.1").as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(single("%{IPV4:ip}", "1.2.3.256"), None);
        assert_eq!(single("%{IPV4:ip}", "1234.5.6.7"), None);
        assert_eq!(
            single("%{IPV4:ip}", "ip=0.0.0.0.").as_deref(),
            Some("0.0.0.0")
        );
    }

    #[test]
    fn ipv6_addresses() {
        for ip in [
            "::1",
            "::",
            "fe80::1ff:fe23:4567:890a",
            "2001:db8:85a3::8a2e:370:7334",
            "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
            "::ffff:192.0.2.128",
            "fe80::1%eth0",
        ] {
            assert_eq!(single("^%{IPV6:ip}$", ip).as_deref(), Some(ip), "{ip}");
            assert_eq!(single("^%{IP:ip}$", ip).as_deref(), Some(ip), "{ip}");
        }
        assert_eq!(single("^%{IPV6:ip}$", "1:2:3"), None);
    }

    #[test]
    fn hosts_and_ports() {
        assert_eq!(
            single("%{HOSTNAME:h}", "host www.example.com.").as_deref(),
            Some("host")
        );
        assert_eq!(
            single("@%{HOSTNAME:h}", "a@mail.example.org x").as_deref(),
            Some("mail.example.org")
        );
        assert_eq!(
            single("%{IPORHOST:h} ", "db-01.internal x").as_deref(),
            Some("db-01.internal")
        );
        let row = run("%{HOSTPORT:hp}", "connect 10.1.2.3:8443").unwrap();
        assert_eq!(value(&row, "hp"), vec![kw("10.1.2.3:8443")]);
        let row = run("%{IPORHOST:host}:%{POSINT:port:int}", "example.com:443").unwrap();
        assert_eq!(value(&row, "port"), vec![GrokValue::Integer(443)]);
    }

    #[test]
    fn emails() {
        assert_eq!(
            single(
                "%{EMAILADDRESS:e}",
                "mail to first.last+tag@sub.example.co.uk now"
            )
            .as_deref(),
            Some("first.last+tag@sub.example.co.uk")
        );
        assert_eq!(
            single("%{EMAILLOCALPART:l}@", "o'brien@x").as_deref(),
            Some("o'brien")
        );
    }

    #[test]
    fn paths() {
        assert_eq!(
            single("%{PATH:p}", "open /var/log/my-app_1/x.log,ok").as_deref(),
            Some("/var/log/my-app_1/x.log,ok")
        );
        assert_eq!(
            single("%{UNIXPATH:p}", "cd /home/josé/dir").as_deref(),
            Some("/home/josé/dir")
        );
        assert_eq!(
            single("%{WINPATH:p}", r"run C:\Windows\System32\cmd.exe").as_deref(),
            Some(r"C:\Windows\System32\cmd.exe")
        );
        assert_eq!(
            single("%{PATH:p}", r"\\server\share\file.txt").as_deref(),
            Some(r"\\server\share\file.txt")
        );
        assert_eq!(
            single("%{TTY:t}", "on /dev/pts/3").as_deref(),
            Some("/dev/pts/3")
        );
    }

    #[test]
    fn uris() {
        let uri = "https://user:pw@www.example.com:8080/a/b.php?x=1&y=[2]#frag";
        assert_eq!(single("%{URI:u}", uri).as_deref(), Some(uri));
        assert_eq!(single("%{URIPROTO:p}://", uri).as_deref(), Some("https"));
        assert_eq!(
            single("@%{URIHOST:h}/", uri).as_deref(),
            Some("www.example.com:8080")
        );
        assert_eq!(
            single("%{URIPATHPARAM:p}", "GET /a/b?c=d e").as_deref(),
            Some("/a/b?c=d")
        );
        assert_eq!(
            single("%{URIPATH:p}", "GET /a/b?c=d e").as_deref(),
            Some("/a/b")
        );
        assert_eq!(
            single("%{URIPARAM:p}", "/a?c=d&e=f g").as_deref(),
            Some("?c=d&e=f")
        );
        assert_eq!(
            single("%{URN:u}", "see urn:isbn:0451450523.").as_deref(),
            Some("urn:isbn:0451450523.")
        );
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(
            single("%{MONTH:m}", "on September 3").as_deref(),
            Some("September")
        );
        assert_eq!(single("%{MONTH:m}", "am 3. März").as_deref(), Some("März"));
        assert_eq!(single("%{MONTHNUM:m}/", "12/").as_deref(), Some("12"));
        assert_eq!(single("%{MONTHDAY:d}$", "31").as_deref(), Some("31"));
        assert_eq!(
            single("%{DAY:d}", "Wednesday, 1").as_deref(),
            Some("Wednesday")
        );
        assert_eq!(single("%{YEAR:y}", "in 2024").as_deref(), Some("2024"));
        assert_eq!(
            single("%{TIME:t}", "at 23:59:60.123").as_deref(),
            Some("23:59:60.123")
        );
        assert_eq!(
            single("%{TIME:t}", "at 10:20:30Z").as_deref(),
            Some("10:20:30")
        );
        assert_eq!(single("%{HOUR:h}:%{MINUTE}", "7:05").as_deref(), Some("7"));
        assert_eq!(single("%{SECOND:s}$", "1:2:07,5").as_deref(), Some("07,5"));
        assert_eq!(
            single("%{DATE_US:d}", "on 12/31/2024").as_deref(),
            Some("12/31/2024")
        );
        assert_eq!(
            single("%{DATE_EU:d}", "am 31.12.2024").as_deref(),
            Some("31.12.2024")
        );
        assert_eq!(
            single("%{DATESTAMP:d}", "x 12/31/24 23:59:59 y").as_deref(),
            Some("12/31/24 23:59:59")
        );
        assert_eq!(
            single("%{ISO8601_TIMEZONE:z}$", "+05:30").as_deref(),
            Some("+05:30")
        );
        assert_eq!(
            single("%{HTTPDATE:d}", "[10/Oct/2000:13:55:36 -0700]").as_deref(),
            Some("10/Oct/2000:13:55:36 -0700")
        );
        assert_eq!(
            single("%{SYSLOGTIMESTAMP:t}", "Jan  4 07:50:46 host").as_deref(),
            Some("Jan  4 07:50:46")
        );
        assert_eq!(
            single("%{DATESTAMP_RFC2822:d}", "Mon, 15 Aug 2005 15:52:01 +0000").as_deref(),
            Some("Mon, 15 Aug 2005 15:52:01 +0000")
        );
        assert_eq!(
            single("%{DATESTAMP_RFC822:d}", "Mon Aug 15 2005 15:52:01 UTC").as_deref(),
            Some("Mon Aug 15 2005 15:52:01 UTC")
        );
        assert_eq!(
            single("%{DATESTAMP_OTHER:d}", "Mon Aug 15 15:52:01 UTC 2005").as_deref(),
            Some("Mon Aug 15 15:52:01 UTC 2005")
        );
        assert_eq!(
            single("%{DATESTAMP_EVENTLOG:d}", "20240131235959").as_deref(),
            Some("20240131235959")
        );
    }

    #[test]
    fn syslog_parts() {
        let row = run("%{SYSLOGPROG}", "sshd[42]").unwrap();
        assert_eq!(value(&row, "process.name"), vec![kw("sshd")]);
        assert_eq!(value(&row, "process.pid"), vec![GrokValue::Integer(42)]);
        let row = run("%{SYSLOGFACILITY}", "<13.5>").unwrap();
        assert_eq!(
            value(&row, "log.syslog.facility.code"),
            vec![GrokValue::Integer(13)]
        );
        assert_eq!(
            value(&row, "log.syslog.priority"),
            vec![GrokValue::Integer(5)]
        );
        assert_eq!(
            single("%{SYSLOGHOST:h} ", "web-1 x").as_deref(),
            Some("web-1")
        );
        assert_eq!(single("%{PROG:p}", "CRON[1]").as_deref(), Some("CRON"));
    }

    #[test]
    fn cron_log() {
        let row = run(
            "%{CRONLOG}",
            "Jan  1 00:00:01 host CRON[123]: (root) CMD (run-parts /etc/cron.hourly)",
        )
        .unwrap();
        assert_eq!(value(&row, "user.name"), vec![kw("root")]);
        assert_eq!(value(&row, "system.cron.action"), vec![kw("CMD")]);
        assert_eq!(
            value(&row, "message"),
            vec![kw("run-parts /etc/cron.hourly")]
        );
    }

    #[test]
    fn log_levels() {
        for level in [
            "INFO",
            "Warning",
            "error",
            "CRITICAL",
            "emerg",
            "TRACE",
            "Information",
        ] {
            assert_eq!(
                single("%{LOGLEVEL:l}", &format!("[{level}]")).as_deref(),
                Some(level)
            );
        }
    }

    #[test]
    fn httpd_error_logs() {
        let row = run(
            "%{HTTPD_ERRORLOG}",
            "[Wed Oct 11 14:32:52 2000] [error] [client 127.0.0.1] client denied by server configuration",
        )
        .unwrap();
        assert_eq!(
            value(&row, "timestamp"),
            vec![kw("Wed Oct 11 14:32:52 2000")]
        );
        assert_eq!(value(&row, "log.level"), vec![kw("error")]);
        assert_eq!(value(&row, "source.address"), vec![kw("127.0.0.1")]);
        assert_eq!(
            value(&row, "message"),
            vec![kw("client denied by server configuration")]
        );
        let row = run(
            "%{HTTPD24_ERRORLOG}",
            "[Mon Dec 04 12:00:01 2023] [core:error] [pid 1234:tid 5678] [client 10.0.0.1:51234] AH00126: Invalid URI",
        )
        .unwrap();
        assert_eq!(value(&row, "apache.error.module"), vec![kw("core")]);
        assert_eq!(value(&row, "process.pid"), vec![GrokValue::Long(1234)]);
        assert_eq!(
            value(&row, "process.thread.id"),
            vec![GrokValue::Integer(5678)]
        );
        assert_eq!(value(&row, "source.port"), vec![GrokValue::Integer(51234)]);
        assert_eq!(value(&row, "error.code"), vec![kw("AH00126")]);
        assert_eq!(value(&row, "message"), vec![kw("Invalid URI")]);
    }

    #[test]
    fn java_stack_trace_part() {
        let row = run(
            "%{JAVASTACKTRACEPART}",
            "    at org.example.Foo.bar(Foo.java:42)",
        )
        .unwrap();
        assert_eq!(
            value(&row, "java.log.origin.class.name"),
            vec![kw("org.example.Foo")]
        );
        assert_eq!(value(&row, "log.origin.function"), vec![kw("bar")]);
        assert_eq!(value(&row, "log.origin.file.name"), vec![kw("Foo.java")]);
        assert_eq!(
            value(&row, "log.origin.file.line"),
            vec![GrokValue::Integer(42)]
        );
    }

    // --- Pattern syntax --------------------------------------------------------

    #[test]
    fn dotted_and_special_semantic_names() {
        let grok = Grok::new("%{IP:source.ip} %{WORD:@tag} %{WORD:[x][y]} %{WORD:a-b}").unwrap();
        let names: Vec<&str> = grok.columns().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["@tag", "[x][y]", "a-b", "source.ip"]);
    }

    #[test]
    fn type_names() {
        let grok = Grok::new(
            "%{INT:a:int} %{INT:b:long} %{NUMBER:c:float} %{NUMBER:d:double} %{WORD:e:boolean} %{WORD:f:string} %{WORD:g:integer}",
        )
        .unwrap();
        let types: Vec<GrokType> = grok.columns().iter().map(|(_, t)| *t).collect();
        assert_eq!(
            types,
            [
                GrokType::Integer,
                GrokType::Long,
                GrokType::Double,
                GrokType::Double,
                GrokType::Boolean,
                GrokType::Keyword,
                GrokType::Keyword
            ]
        );
        assert_eq!(
            grok.apply("1 9000000000 1.5 2.25 TRUE x y"),
            Some(vec![
                vec![GrokValue::Integer(1)],
                vec![GrokValue::Long(9_000_000_000)],
                vec![GrokValue::Double(1.5)],
                vec![GrokValue::Double(2.25)],
                vec![GrokValue::Boolean(true)],
                vec![kw("x")],
                vec![kw("y")]
            ])
        );
    }

    #[test]
    fn extra_colon_parts_mean_keyword() {
        let grok = Grok::new("%{INT:a:int:x}").unwrap();
        assert_eq!(grok.columns(), [("a".to_string(), GrokType::Keyword)]);
    }

    #[test]
    fn typed_raw_named_group() {
        let grok = Grok::new(r"(?<x:n:int>\d+)").unwrap();
        assert_eq!(grok.columns(), [("n".to_string(), GrokType::Integer)]);
        let grok = Grok::new(r"(?<n:int>\d+)").unwrap();
        assert_eq!(grok.columns(), [("int".to_string(), GrokType::Keyword)]);
        let grok = Grok::new(r"(?<x:n:int>\d+)").unwrap();
        assert_eq!(grok.apply("a 17"), Some(vec![vec![GrokValue::Integer(17)]]));
        assert_eq!(single("(?'q'[a-z]+)", "12 ab").as_deref(), Some("ab"));
    }

    #[test]
    fn conversion_failures() {
        let grok = Grok::new("%{WORD:n:int}").unwrap();
        assert_eq!(grok.apply("abc"), Some(vec![vec![]]));
        assert_eq!(
            grok.try_apply("abc"),
            Err(GrokError::Conversion {
                column: "n".into(),
                value: "abc".into(),
                target: GrokType::Integer
            })
        );
        assert_eq!(
            grok.try_apply("12"),
            Ok(Some(vec![vec![GrokValue::Integer(12)]]))
        );
        assert_eq!(grok.try_apply("!!"), Ok(None));
        let grok = Grok::new("%{NUMBER:n:int}").unwrap();
        assert_eq!(grok.apply("3.5"), Some(vec![vec![]]));
        assert_eq!(grok.apply("99999999999"), Some(vec![vec![]]));
        let grok = Grok::new("%{WORD:n:int} %{WORD:n:int}").unwrap();
        assert_eq!(grok.apply("x 5"), Some(vec![vec![GrokValue::Integer(5)]]));
        assert!(grok.try_apply("x 5").is_err());
    }

    #[test]
    fn boolean_conversion_never_fails() {
        let grok = Grok::new("%{WORD:b:boolean}").unwrap();
        assert_eq!(
            grok.try_apply("True"),
            Ok(Some(vec![vec![GrokValue::Boolean(true)]]))
        );
        assert_eq!(
            grok.try_apply("yes"),
            Ok(Some(vec![vec![GrokValue::Boolean(false)]]))
        );
    }

    #[test]
    fn java_number_parsing() {
        assert_eq!(java_double("1.5e3"), Some(1500.0));
        assert_eq!(java_double(" 2.5d "), Some(2.5));
        assert_eq!(java_double("-.5"), Some(-0.5));
        assert_eq!(java_double("1."), Some(1.0));
        assert_eq!(java_double("+7"), Some(7.0));
        assert_eq!(java_double("Infinity"), Some(f64::INFINITY));
        assert_eq!(java_double("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(java_double("NaN").is_some_and(f64::is_nan));
        assert_eq!(java_double("inf"), None);
        assert_eq!(java_double("nan"), None);
        assert_eq!(java_double("."), None);
        assert_eq!(java_double("1e"), None);
        assert_eq!(java_double("e5"), None);
        assert_eq!(java_double(""), None);
        assert_eq!(java_double("1,5"), None);
        assert_eq!(java_float("0.1"), Some(f64::from(0.1f32)));
        assert_eq!(Conversion::Int.convert("+12"), Some(GrokValue::Integer(12)));
        assert_eq!(Conversion::Int.convert("2147483648"), None);
        assert_eq!(
            Conversion::Long.convert("-9223372036854775808"),
            Some(GrokValue::Long(i64::MIN))
        );
        assert_eq!(Conversion::Int.convert(" 1"), None);
    }

    #[test]
    fn definitions_are_ignored() {
        assert_eq!(
            single("%{WORD:w=ignored}", "hello").as_deref(),
            Some("hello")
        );
    }

    #[test]
    fn invalid_references_stay_literal() {
        assert_eq!(
            single(r"%{ WORD}(?<x>\d)", "%{ WORD}7").as_deref(),
            Some("7")
        );
        assert_eq!(single(r"%\{x(?<y>\d)", "%{x5").as_deref(), Some("5"));
    }

    #[test]
    fn literal_braces_and_intervals() {
        assert_eq!(single(r"\{(?<k>\w+)\}", "{abc}").as_deref(), Some("abc"));
        assert_eq!(single(r"{(?<k>\w+)}", "{abc}").as_deref(), Some("abc"));
        assert_eq!(single(r"x{foo}(?<k>\d)", "x{foo}1").as_deref(), Some("1"));
        assert_eq!(single(r"(?<k>a{,2})b", "aaab").as_deref(), Some("aa"));
        assert_eq!(single(r"(?<k>\d{2,})", "a 12345").as_deref(), Some("12345"));
    }

    #[test]
    fn oniguruma_constructs_are_translated() {
        assert_eq!(single(r"(?<h>\h+)", "xyz 0aFg").as_deref(), Some("0aF"));
        assert_eq!(
            single(r"(?<h>[\h:]+)", "xyz ab:cd:ef").as_deref(),
            Some("ab:cd:ef")
        );
        assert_eq!(single(r"(?<a>(?>a+))b", "aab").as_deref(), Some("aa"));
        assert_eq!(single(r"(?<a>a++)", "aa").as_deref(), Some("aa"));
        assert_eq!(single(r"(?<a>\p{^L}+)", "ab12cd").as_deref(), Some("12"));
        assert_eq!(
            single(r"(?i)(?<a>hello)", "HeLLo").as_deref(),
            Some("HeLLo")
        );
        assert_eq!(single(r"(?<a>x(?#comment)y)", "xy").as_deref(), Some("xy"));
        assert_eq!(single(r"\<(?<a>\w+)\>", "<tag>").as_deref(), Some("tag"));
        assert_eq!(single(r"(?<a>\x41\x{42})", "xAB").as_deref(), Some("AB"));
        assert_eq!(single(r"(?<a>[a-c&&b-d]+)", "abcd").as_deref(), Some("bc"));
        assert_eq!(single(r"(?<a>[[:digit:]]+)", "ab12").as_deref(), Some("12"));
        assert_eq!(single(r"(?<a>[~&]+)", "x~&~").as_deref(), Some("~&~"));
        assert_eq!(
            single(r"\e(?<a>\[\d+m)", "\u{1b}[31m").as_deref(),
            Some("[31m")
        );
        assert_eq!(single(r"(?<a>\/\:\%)", "a/:%").as_deref(), Some("/:%"));
    }

    #[test]
    fn unsupported_syntax_is_reported_with_offset() {
        let cases = [
            (r"%{WORD:a}(?=x)", 9),
            (r"%{WORD:a} (?!x)", 10),
            (r"(?<=x)%{WORD:a}", 0),
            (r"(?<!x)%{WORD:a}", 0),
            (r"(a)\1", 3),
            (r"(?<n>a)\k<n>", 7),
            (r"a\Gb", 1),
            (r"ab\K", 2),
            (r"a\Z", 1),
            (r"(?~abc)", 0),
        ];
        for (pattern, offset) in cases {
            match Grok::new(pattern) {
                Err(GrokError::Syntax { offset: found, .. }) => {
                    assert_eq!(found, offset, "{pattern}")
                }
                other => panic!("{pattern}: {other:?}"),
            }
        }
        let message = Grok::new("%{WORD:a}(?=x)").unwrap_err().to_string();
        assert!(
            message.contains("offset 9") && message.contains("look-ahead"),
            "{message}"
        );
    }

    #[test]
    fn python_style_named_group_is_rejected() {
        let err = Grok::new("(?P<justification>.+)").unwrap_err();
        assert!(err.to_string().contains("undefined group option"), "{err}");
    }

    #[test]
    fn invalid_regex_is_reported() {
        assert!(matches!(Grok::new("(abc"), Err(GrokError::Regex { .. })));
        assert!(matches!(Grok::new("[abc"), Err(GrokError::Regex { .. })));
        assert!(matches!(
            Grok::new(r"abc\"),
            Err(GrokError::Syntax { offset: 3, .. })
        ));
    }

    #[test]
    fn duplicate_attributes_with_different_spelling_are_rejected() {
        for pattern in [
            "%{NUMBER:foo} %{WORD:foo}",
            "%{INT:foo:int} %{INT:foo}",
            r"%{WORD:foo} (?<foo>\w+)",
        ] {
            assert_eq!(
                Grok::new(pattern).unwrap_err(),
                GrokError::DuplicateAttribute { name: "foo".into() },
                "{pattern}"
            );
        }
        let grok = Grok::new(r"(?<foo>\w+) (?<foo>\w+)").unwrap();
        assert_eq!(grok.apply("a b"), Some(vec![vec![kw("a"), kw("b")]]));
        let grok = Grok::new("%{INT:n:int} %{INT:n:int}").unwrap();
        assert_eq!(grok.columns(), [("n".to_string(), GrokType::Integer)]);
        assert_eq!(
            grok.apply("1 2"),
            Some(vec![vec![GrokValue::Integer(1), GrokValue::Integer(2)]])
        );
    }

    #[test]
    fn empty_field_names_are_rejected() {
        assert_eq!(
            Grok::new("%{WORD::int}").unwrap_err(),
            GrokError::EmptyFieldName {
                capture: "WORD::int".into()
            }
        );
        assert!(matches!(Grok::new("(?<>x)"), Err(GrokError::Syntax { .. })));
    }

    #[test]
    fn nested_named_captures_inside_references_are_kept() {
        let row = run("%{SYSLOGPROG:prog}", "sshd[42]").unwrap();
        assert_eq!(value(&row, "prog"), vec![kw("sshd[42]")]);
        assert_eq!(value(&row, "process.name"), vec![kw("sshd")]);
    }

    #[test]
    fn columns_sort_like_java_strings() {
        let grok = Grok::new(r"(?<b>x)(?<a>y)(?<B>z)(?<_>w)").unwrap();
        let names: Vec<&str> = grok.columns().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["B", "_", "a", "b"]);
    }

    #[test]
    fn circular_references_are_detected() {
        let mut stack = vec!["A", "B"];
        let mut out = Expansion::default();
        // `A` is not a built-in pattern, so exercise the check through a
        // built-in chain instead: expanding WORD while WORD is on the stack.
        stack.push("WORD");
        let err = expand_into("%{WORD}", None, &mut stack, &mut out).unwrap_err();
        assert_eq!(
            err,
            GrokError::CircularReference {
                chain: "A=>B=>WORD=>WORD".into(),
                offset: 0
            }
        );
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            GrokError::DuplicateAttribute { name: "foo".into() }.to_string(),
            "invalid grok pattern: the attribute [foo] is defined multiple times with different types"
        );
        assert_eq!(GrokType::Integer.to_string(), "integer");
    }

    #[test]
    fn grok_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Grok>();
        check::<GrokError>();
        let grok = Grok::new("%{WORD:w}").unwrap();
        let copy = grok.clone();
        let handle = std::thread::spawn(move || copy.apply("hi"));
        assert_eq!(handle.join().ok().flatten(), Some(vec![vec![kw("hi")]]));
        assert_eq!(grok.pattern(), "%{WORD:w}");
    }
}
