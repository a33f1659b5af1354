//! Value transformations of the Sigma modifiers `windash`, `base64`, `base64offset`, `wide`,
//! `utf16le`, `utf16be` and `utf16`.
//!
//! # `windash`
//!
//! Windows programs usually accept `-param` and `/param` alike, and command lines copied from
//! documents often contain typographic dashes. `windash` turns a value into the OR of every
//! spelling: each `-` or `/` that **starts a word** — it is not preceded by a letter, digit or
//! `_` and is followed by one (pySigma's regex `\B[-/]\b`, Unicode word characters) — is
//! replaced by each of `-`, `/`, `–` (U+2013 en dash), `—` (U+2014 em dash) and `―` (U+2015
//! horizontal bar), in that order. With several such positions all combinations are produced
//! (5ⁿ values including the original, the first position varying slowest, as in pySigma). A dash inside a word
//! (`param-1`) or at the end is kept as is, and only `-` and `/` in the rule are expanded (an en
//! dash written in the rule is not). The check looks at each stretch of literal text between
//! wildcards on its own, like pySigma: in `a*-x` the dash counts as a word start.
//!
//! More than [`WINDASH_MAX_POSITIONS`] positions would produce an unreasonable number of
//! values: [`windash`] then expands the first ones and replaces the others by the `?` wildcard
//! (which matches all five dashes, and more); [`try_windash`] reports an error instead.
//!
//! # `base64` and `base64offset`
//!
//! `base64` replaces the value by the standard Base64 encoding (with `=` padding) of its UTF-8
//! bytes, or of the UTF-16 bytes when `wide`/`utf16*` came first. The value must not contain
//! wildcards: write `|base64|contains`, not `|contains|base64`.
//!
//! `base64offset` is for finding a string *inside* a larger Base64 blob, where it may start at
//! any of three byte offsets. For offset `i` (0, 1, 2) the value is encoded behind `i` dummy
//! bytes; the first 0, 2 or 3 characters (which depend on the dummy bytes) and the last 0, 3 or
//! 2 characters (which depend on the unknown following byte, chosen by `(len + i) % 3`) are cut
//! off. `foobar` gives `Zm9vYmFy`, `Zvb2Jhc` and `mb29iYX`. The three values are OR-ed and meant
//! to be used with `contains`. A value of one byte has an empty middle variant; it is dropped
//! (an empty string under `contains` would match everything).
//!
//! # `wide` / `utf16le`, `utf16be`, `utf16`
//!
//! These change the character encoding of the value before a Base64 modifier: `wide` and
//! `utf16le` give UTF-16 little endian (`cmd` → `63 00 6d 00 64 00`), `utf16be` big endian
//! (`00 63 00 6d 00 64`) and `utf16` little endian behind the byte order mark `FF FE`. They are
//! meant to be followed by `base64` or `base64offset` ([`utf16`] gives the bytes). Used without
//! one, the value has to be matched as text: [`utf16_string`] turns the bytes into characters
//! the way pySigma's `wide` does, which only works when they form valid UTF-8 (in practice for
//! ASCII text; never with the byte order mark).

use crate::pattern::{is_word_char, Part, SigmaString, MAX_EXPANSIONS};
use base64::Engine as _;
use std::fmt;

/// The five characters a `windash` position expands to, in pySigma's order.
pub const WINDASH_CHARS: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// Most dash positions `windash` expands fully: 5⁶ = 15 625 values (within
/// [`MAX_EXPANSIONS`]).
pub const WINDASH_MAX_POSITIONS: usize = 6;

const _: () = assert!(5usize.pow(WINDASH_MAX_POSITIONS as u32) <= MAX_EXPANSIONS);

/// Errors of the encoding modifiers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodingError {
    /// The value to encode contains `*` or `?` wildcards.
    #[error(
        "cannot encode '{value}': it contains wildcards; an encoding modifier needs a plain \
         value, so put contains/startswith/endswith after it (or escape them as \\* and \\?)"
    )]
    Wildcards { value: String },
    /// The value to encode contains an unresolved placeholder.
    #[error("cannot encode '{value}': placeholder %{name}% is not resolved")]
    Placeholder { value: String, name: String },
    /// The UTF-16 form of the value cannot be represented as text (see [`utf16_string`]).
    #[error(
        "'{value}' cannot be matched as {kind} text (only ASCII values can; pySigma: \"Wide \
         modifier only allowed for ascii strings\"); follow {kind} with base64 or base64offset"
    )]
    NotRepresentable { value: String, kind: Utf16 },
    /// `windash` would produce too many variants.
    #[error(
        "windash on '{value}' has {positions} dash positions, which would give 5^{positions} \
         values; at most {max} positions are supported"
    )]
    TooManyVariants {
        value: String,
        positions: usize,
        max: usize,
    },
}

/// UTF-16 flavours of the `wide`/`utf16*` modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Utf16 {
    /// `wide`, `utf16le`: little endian, no byte order mark.
    Le,
    /// `utf16be`: big endian, no byte order mark.
    Be,
    /// `utf16`: byte order mark `FF FE`, then little endian.
    WithBom,
}

impl fmt::Display for Utf16 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Utf16::Le => "utf16le",
            Utf16::Be => "utf16be",
            Utf16::WithBom => "utf16",
        })
    }
}

/// Pieces of a string during windash expansion.
enum Piece {
    Fixed(Part),
    Dash,
}

/// Splits literal parts at word-start dashes (`\B[-/]\b` on each literal part).
fn windash_pieces(s: &SigmaString) -> Vec<Piece> {
    let mut pieces = Vec::new();
    for part in &s.parts {
        let Part::Lit(text) = part else {
            pieces.push(Piece::Fixed(part.clone()));
            continue;
        };
        let chars: Vec<char> = text.chars().collect();
        let mut acc = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let prev_word = i > 0 && chars.get(i - 1).is_some_and(|&p| is_word_char(p));
            let next_word = chars.get(i + 1).is_some_and(|&n| is_word_char(n));
            if (c == '-' || c == '/') && !prev_word && next_word {
                if !acc.is_empty() {
                    pieces.push(Piece::Fixed(Part::Lit(std::mem::take(&mut acc))));
                }
                pieces.push(Piece::Dash);
            } else {
                acc.push(c);
            }
        }
        if !acc.is_empty() {
            pieces.push(Piece::Fixed(Part::Lit(acc)));
        }
    }
    pieces
}

/// Number of dash positions `windash` would expand in `s`.
pub fn windash_positions(s: &SigmaString) -> usize {
    windash_pieces(s)
        .iter()
        .filter(|p| matches!(p, Piece::Dash))
        .count()
}

/// The `windash` modifier: all spellings of the word-start dashes (see the module
/// documentation), the original among them. Positions after the first [`WINDASH_MAX_POSITIONS`]
/// become the `?` wildcard.
pub fn windash(s: &SigmaString) -> Vec<SigmaString> {
    let mut variants: Vec<Vec<Part>> = vec![Vec::new()];
    let mut seen = 0usize;
    for piece in windash_pieces(s) {
        match piece {
            Piece::Fixed(part) => {
                for v in &mut variants {
                    v.push(part.clone());
                }
            }
            Piece::Dash => {
                seen += 1;
                if seen > WINDASH_MAX_POSITIONS {
                    for v in &mut variants {
                        v.push(Part::AnyChar);
                    }
                } else {
                    let mut next = Vec::with_capacity(variants.len() * WINDASH_CHARS.len());
                    for v in &variants {
                        for dash in WINDASH_CHARS {
                            let mut nv = v.clone();
                            nv.push(Part::Lit(dash.to_string()));
                            next.push(nv);
                        }
                    }
                    variants = next;
                }
            }
        }
    }
    variants.into_iter().map(SigmaString::from_parts).collect()
}

/// Like [`windash`], but fails instead of approximating when there are more than
/// [`WINDASH_MAX_POSITIONS`] positions.
pub fn try_windash(s: &SigmaString) -> Result<Vec<SigmaString>, EncodingError> {
    let positions = windash_positions(s);
    if positions > WINDASH_MAX_POSITIONS {
        return Err(EncodingError::TooManyVariants {
            value: s.to_string(),
            positions,
            max: WINDASH_MAX_POSITIONS,
        });
    }
    Ok(windash(s))
}

/// Encodes text as UTF-16 bytes.
pub fn utf16(s: &str, kind: Utf16) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 2 + 2);
    if kind == Utf16::WithBom {
        out.extend_from_slice(&[0xFF, 0xFE]);
    }
    for unit in s.encode_utf16() {
        let bytes = match kind {
            Utf16::Le | Utf16::WithBom => unit.to_le_bytes(),
            Utf16::Be => unit.to_be_bytes(),
        };
        out.extend_from_slice(&bytes);
    }
    out
}

/// The `wide`/`utf16le`/`utf16be` modifiers applied to a value that is matched as text
/// (pySigma's `wide`): every literal part is encoded and its bytes read back as UTF-8, so `cmd`
/// becomes `c\0m\0d\0`; wildcards and placeholders are kept. Fails when the bytes are not valid
/// UTF-8 (any non-ASCII character in practice) and always for [`Utf16::WithBom`] (the byte order
/// mark is not UTF-8).
pub fn utf16_string(s: &SigmaString, kind: Utf16) -> Result<SigmaString, EncodingError> {
    let not_representable = || EncodingError::NotRepresentable {
        value: s.to_string(),
        kind,
    };
    if kind == Utf16::WithBom {
        return Err(not_representable());
    }
    let mut parts = Vec::with_capacity(s.parts.len());
    for part in &s.parts {
        match part {
            Part::Lit(text) => {
                let text = String::from_utf8(utf16(text, kind)).map_err(|_| not_representable())?;
                parts.push(Part::Lit(text));
            }
            other => parts.push(other.clone()),
        }
    }
    Ok(SigmaString::from_parts(parts))
}

/// Standard Base64 (RFC 4648 alphabet, with `=` padding).
pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The `base64offset` modifier: the three offset encodings of `bytes` (pySigma's algorithm,
/// see the module documentation), empty ones dropped.
pub fn base64offset(bytes: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    // How many trailing characters to cut, indexed by (len + i) % 3.
    const CUT_END: [usize; 3] = [0, 3, 2];
    let mut out = Vec::with_capacity(3);
    for (i, &start) in START.iter().enumerate() {
        let mut shifted = vec![b' '; i];
        shifted.extend_from_slice(bytes);
        let encoded = base64(&shifted);
        let end = encoded.len().saturating_sub(CUT_END[(bytes.len() + i) % 3]);
        // Base64 output is ASCII, so any index is a character boundary.
        if let Some(variant) = encoded.get(start..end) {
            if !variant.is_empty() {
                out.push(variant.to_owned());
            }
        }
    }
    out
}

/// The UTF-8 bytes of a value that is to be encoded; fails if it contains wildcards or
/// placeholders.
pub fn encode_value(s: &SigmaString) -> Result<Vec<u8>, EncodingError> {
    if let Some(name) = s.placeholders().first() {
        return Err(EncodingError::Placeholder {
            value: s.to_string(),
            name: (*name).to_owned(),
        });
    }
    s.plain()
        .map(String::into_bytes)
        .ok_or_else(|| EncodingError::Wildcards {
            value: s.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(v: &[SigmaString]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn windash_spec_examples() {
        let v = windash(&SigmaString::parse("-param-1 -param2"));
        assert_eq!(v.len(), 25);
        let t = texts(&v);
        let mut distinct = t.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 25);
        // pySigma order: the original first, the first position varying slowest.
        assert_eq!(t[0], "-param-1 -param2");
        assert_eq!(t[1], "-param-1 /param2");
        assert_eq!(t[2], "-param-1 \u{2013}param2");
        assert_eq!(t[5], "/param-1 -param2");
        assert_eq!(t[24], "\u{2015}param-1 \u{2015}param2");
        assert!(t.contains(&"/param-1 \u{2013}param2".to_string()));
        assert!(t.contains(&"\u{2014}param-1 /param2".to_string()));
        // The dash inside `param-1` is never touched.
        assert!(t.iter().all(|s| s.contains("param-1")));

        let five = |s: &str| texts(&windash(&SigmaString::parse(s)));
        assert_eq!(
            five(" -enc"),
            vec![
                " -enc",
                " /enc",
                " \u{2013}enc",
                " \u{2014}enc",
                " \u{2015}enc"
            ]
        );
        assert_eq!(five("a-b"), vec!["a-b"]);
        assert_eq!(
            five("--foo"),
            vec![
                "--foo",
                "-/foo",
                "-\u{2013}foo",
                "-\u{2014}foo",
                "-\u{2015}foo"
            ]
        );
        // The five characters always come in the same order, so a `/` in the rule is the
        // second variant.
        assert_eq!(
            five("cmd /c"),
            vec![
                "cmd -c",
                "cmd /c",
                "cmd \u{2013}c",
                "cmd \u{2014}c",
                "cmd \u{2015}c"
            ]
        );
    }

    #[test]
    fn windash_edge_cases() {
        let count = |s: &str| windash(&SigmaString::parse(s)).len();
        assert_eq!(count(""), 1);
        assert_eq!(count("-"), 1); // not followed by a word character
        assert_eq!(count("a -"), 1);
        assert_eq!(count("-a"), 5);
        assert_eq!(count("/a /b"), 25);
        assert_eq!(count("x/y"), 1); // inside a word
        assert_eq!(count("\u{2013}a"), 1); // only - and / in the rule are expanded
        assert_eq!(count("-_x"), 5); // `_` is a word character
        assert_eq!(count("-éx"), 5); // Unicode word characters
        assert_eq!(count(" -\u{00e9}"), 5);
        assert_eq!(windash_positions(&SigmaString::parse("-a -b /c")), 3);
        // Wildcards are kept; each literal part is examined on its own (as pySigma does).
        let v = windash(&SigmaString::parse("*-enc*"));
        assert_eq!(v.len(), 5);
        assert_eq!(v[1], SigmaString::parse("*/enc*"));
        assert_eq!(count("a*-enc"), 5);
        assert_eq!(count("a?-enc"), 5);
        // Variants are normalised (literals merged).
        assert_eq!(v[0].parts.len(), 3);
    }

    #[test]
    fn windash_limit() {
        let s = SigmaString::parse("-a -b -c -d -e -f -g -h");
        assert_eq!(windash_positions(&s), 8);
        let err = try_windash(&s).unwrap_err();
        assert!(matches!(
            err,
            EncodingError::TooManyVariants {
                positions: 8,
                max: WINDASH_MAX_POSITIONS,
                ..
            }
        ));
        let v = windash(&s);
        assert_eq!(v.len(), 5usize.pow(WINDASH_MAX_POSITIONS as u32));
        assert_eq!(v[0], SigmaString::parse("-a -b -c -d -e -f ?g ?h"));
        assert_eq!(try_windash(&SigmaString::parse("-a")).unwrap().len(), 5);
    }

    #[test]
    fn base64offset_spec_examples() {
        let b = |s: &str| base64offset(s.as_bytes());
        assert_eq!(b("foobar"), vec!["Zm9vYmFy", "Zvb2Jhc", "mb29iYX"]);
        assert_eq!(b("cmd"), vec!["Y21k", "NtZ", "jbW"]);
        assert_eq!(b("ping"), vec!["cGluZ", "Bpbm", "waW5n"]);
        assert_eq!(b("abc"), vec!["YWJj", "FiY", "hYm"]);
        // One byte: the empty middle variant is dropped.
        assert_eq!(b("a"), vec!["Y", "h"]);
        assert_eq!(b(""), Vec::<String>::new());
        let wide = utf16("cmd", Utf16::Le);
        assert_eq!(base64offset(&wide), vec!["YwBtAGQA", "MAbQBkA", "jAG0AZA"]);
    }

    /// Every variant appears in the Base64 of the value behind 0, 1 or 2 arbitrary bytes.
    #[test]
    fn base64offset_variants_occur_in_real_encodings() {
        let value = b"powershell -enc";
        for prefix in [&b""[..], b"x", b"xy", b"xyz", b"\x00\xff"] {
            for suffix in [&b""[..], b"a", b"ab", b"abc"] {
                let mut data = prefix.to_vec();
                data.extend_from_slice(value);
                data.extend_from_slice(suffix);
                let encoded = base64(&data);
                let variants = base64offset(value);
                let offset = prefix.len() % 3;
                assert!(
                    encoded.contains(&variants[offset]),
                    "{prefix:?}+value+{suffix:?}: {encoded} lacks {}",
                    variants[offset]
                );
            }
        }
    }

    #[test]
    fn base64_plain() {
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b""), "");
        assert_eq!(base64(&utf16("cmd", Utf16::Le)), "YwBtAGQA");
        assert_eq!(base64(&[0xFB, 0xFF]), "+/8=");
    }

    #[test]
    fn utf16_bytes() {
        assert_eq!(utf16("cmd", Utf16::Le), vec![0x63, 0, 0x6d, 0, 0x64, 0]);
        assert_eq!(utf16("cmd", Utf16::Be), vec![0, 0x63, 0, 0x6d, 0, 0x64]);
        assert_eq!(
            utf16("cmd", Utf16::WithBom),
            vec![0xFF, 0xFE, 0x63, 0, 0x6d, 0, 0x64, 0]
        );
        assert_eq!(utf16("é", Utf16::Le), vec![0xE9, 0]);
        assert_eq!(utf16("😀", Utf16::Le), vec![0x3D, 0xD8, 0x00, 0xDE]);
        assert_eq!(utf16("", Utf16::WithBom), vec![0xFF, 0xFE]);
        assert_eq!(Utf16::Le.to_string(), "utf16le");
        assert_eq!(Utf16::WithBom.to_string(), "utf16");
    }

    #[test]
    fn utf16_as_text() {
        let s = utf16_string(&SigmaString::parse("c*d"), Utf16::Le).unwrap();
        assert_eq!(
            s.parts,
            vec![
                Part::Lit("c\0".into()),
                Part::AnyRun,
                Part::Lit("d\0".into())
            ]
        );
        let s = utf16_string(&SigmaString::parse("cmd"), Utf16::Be).unwrap();
        assert_eq!(s.plain().as_deref(), Some("\0c\0m\0d"));
        assert!(matches!(
            utf16_string(&SigmaString::parse("é"), Utf16::Le),
            Err(EncodingError::NotRepresentable {
                kind: Utf16::Le,
                ..
            })
        ));
        assert!(utf16_string(&SigmaString::parse("cmd"), Utf16::WithBom).is_err());
        // The text form has the same bytes as the byte form.
        let s = utf16_string(&SigmaString::parse("cmd"), Utf16::Le).unwrap();
        assert_eq!(encode_value(&s).unwrap(), utf16("cmd", Utf16::Le));
    }

    #[test]
    fn encode_value_checks() {
        assert_eq!(
            encode_value(&SigmaString::parse("é\\*")).unwrap(),
            vec![0xC3, 0xA9, b'*']
        );
        let err = encode_value(&SigmaString::parse("a*")).unwrap_err();
        assert_eq!(err, EncodingError::Wildcards { value: "a*".into() });
        assert!(err.to_string().contains("wildcards"));
        assert!(encode_value(&SigmaString::parse("a?")).is_err());
        let err = encode_value(&SigmaString::parse("%x%").expand_placeholders()).unwrap_err();
        assert_eq!(
            err,
            EncodingError::Placeholder {
                value: "%x%".into(),
                name: "x".into()
            }
        );
    }
}
