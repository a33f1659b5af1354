//! Python pickles (protocol 2–5, which start with `\x80` and the protocol byte), and
//! `torch.save`'s legacy format: the magic number `0x1950a86a20f9469cfc6c` pickled with
//! protocol 2 (`\x80\x02\x8a\x0a` + its 10 little-endian bytes + `.`), then the protocol
//! version, system info and the model pickle.
//!
//! Loading a pickle runs code: every pickle is flagged. The opcodes of the first MiB are walked
//! (bounded) to check the bytes really are a pickle and to list the Python globals it imports
//! (`GLOBAL`, `STACK_GLOBAL`); imports that can run commands or load code (`os.system`,
//! `builtins.eval`, `subprocess.*`, …) are reported as dangerous.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use super::{Format, Identified};

/// The warning every pickle-based artifact carries.
pub const WARNING: &str =
    "pickle: loading this file runs code it contains; load only trusted files (or convert to safetensors)";

/// torch's legacy magic number, pickled with protocol 2.
pub const TORCH_LEGACY_MAGIC: [u8; 15] = [
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, b'.',
];

/// The most opcodes walked.
const MAX_OPS: usize = 1 << 20;

pub fn matches(prefix: &[u8]) -> bool {
    prefix.len() >= 4 && prefix[0] == 0x80 && (2..=5).contains(&prefix[1])
}

/// What walking a pickle's opcodes found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Opcodes walked.
    pub ops: usize,
    /// Offset just past the STOP opcode, when reached.
    pub end: Option<usize>,
    /// Whether an unknown opcode or a malformed argument was met.
    pub invalid: bool,
    /// `module.name` of every global imported.
    pub imports: BTreeSet<String>,
}

fn arg_len(op: u8) -> Option<usize> {
    Some(match op {
        b'J' | b'j' | b'r' | 0x84 => 4,
        b'K' | b'h' | b'q' | 0x80 | 0x82 => 1,
        b'M' | 0x83 => 2,
        b'G' | 0x95 => 8,
        _ => return None,
    })
}

/// Walks one pickle from `start`; stops at STOP, at the end of `data`, or at a bad opcode.
pub fn walk(data: &[u8], start: usize) -> Scan {
    let mut s = Scan::default();
    let mut pos = start;
    let mut recent: Vec<String> = Vec::new();
    let mut memo: HashMap<u64, String> = HashMap::new();
    let mut memo_next = 0u64;
    let mut last_string: Option<String> = None;
    let u32_at = |p: usize| -> Option<u64> {
        data.get(p..p + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64)
    };
    let u64_at = |p: usize| -> Option<u64> {
        data.get(p..p + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    };
    let line = |p: usize| -> Option<(&[u8], usize)> {
        let rest = data.get(p..)?;
        let n = memchr_nl(&rest[..rest.len().min(4096)])?;
        Some((&rest[..n], p + n + 1))
    };
    while s.ops < MAX_OPS {
        let Some(&op) = data.get(pos) else {
            return s;
        };
        s.ops += 1;
        pos += 1;
        let mut pushed: Option<String> = None;
        // memo stores leave the stack as it is
        let mut keep = false;
        let next: Option<usize> = match op {
            b'.' => {
                s.end = Some(pos);
                return s;
            }
            // no argument
            b'(' | b'0' | b'1' | b'2' | b'N' | b'Q' | b'R' | b'a' | b'b' | b'd' | b'}' | b'e'
            | b'l' | b']' | b'o' | b's' | b't' | b')' | b'u' | 0x81 | 0x85 | 0x86 | 0x87 | 0x88
            | 0x89 | 0x8f | 0x90 | 0x91 | 0x92 | 0x97 | 0x98 => Some(pos),
            b'h' | b'j' => {
                let idx = if op == b'h' {
                    data.get(pos).map(|&b| b as u64)
                } else {
                    u32_at(pos)
                };
                if let Some(v) = idx.and_then(|i| memo.get(&i)) {
                    pushed = Some(v.clone());
                }
                idx.map(|_| pos + if op == b'h' { 1 } else { 4 })
            }
            b'q' | b'r' => {
                let idx = if op == b'q' {
                    data.get(pos).map(|&b| b as u64)
                } else {
                    u32_at(pos)
                };
                if let (Some(i), Some(v)) = (idx, &last_string) {
                    if memo.len() < 4096 {
                        memo.insert(i, v.clone());
                    }
                }
                keep = true;
                idx.map(|_| pos + if op == b'q' { 1 } else { 4 })
            }
            0x94 => {
                if let Some(v) = &last_string {
                    if memo.len() < 4096 {
                        memo.insert(memo_next, v.clone());
                    }
                }
                memo_next += 1;
                keep = true;
                Some(pos)
            }
            0x93 => {
                if recent.len() >= 2 {
                    let name = recent.pop().unwrap_or_default();
                    let module = recent.pop().unwrap_or_default();
                    if s.imports.len() < 256 {
                        s.imports.insert(format!("{module}.{name}"));
                    }
                }
                Some(pos)
            }
            op if arg_len(op).is_some() => arg_len(op).map(|n| pos + n),
            // newline-terminated arguments
            b'F' | b'I' | b'L' | b'P' | b'g' | b'p' => line(pos).map(|(_, p)| p),
            b'S' | b'V' => line(pos).map(|(text, p)| {
                pushed = Some(String::from_utf8_lossy(text).trim_matches('\'').to_string());
                p
            }),
            b'c' | b'i' => line(pos).and_then(|(module, p)| {
                line(p).map(|(name, p2)| {
                    if s.imports.len() < 256 {
                        s.imports.insert(format!(
                            "{}.{}",
                            String::from_utf8_lossy(module),
                            String::from_utf8_lossy(name)
                        ));
                    }
                    p2
                })
            }),
            // length-prefixed arguments
            b'U' | b'C' | 0x8a | 0x8c => data.get(pos).map(|&n| {
                let body = pos + 1;
                if op == 0x8c {
                    pushed = data
                        .get(body..body + n as usize)
                        .map(|b| String::from_utf8_lossy(b).into_owned());
                }
                body + n as usize
            }),
            b'T' | b'X' | b'B' | 0x8b => u32_at(pos).map(|n| {
                let body = pos + 4;
                if op == b'X' && n <= 4096 {
                    pushed = data
                        .get(body..body + n as usize)
                        .map(|b| String::from_utf8_lossy(b).into_owned());
                }
                body.saturating_add(n as usize)
            }),
            0x8d | 0x8e | 0x96 => u64_at(pos)
                .map(|n| (pos + 8).saturating_add(usize::try_from(n).unwrap_or(usize::MAX))),
            _ => None,
        };
        let Some(next) = next else {
            // an argument running past the data is a truncated prefix, not a bad opcode
            if is_opcode(op) {
                return s;
            }
            s.invalid = true;
            return s;
        };
        if let Some(p) = &pushed {
            recent.push(p.clone());
            if recent.len() > 2 {
                recent.remove(0);
            }
        }
        if !keep {
            last_string = pushed;
        }
        pos = next;
    }
    s
}

fn is_opcode(op: u8) -> bool {
    b"(.012FIJKLMNPQRSTUVXabcdeghijlopqrstu}])GBC".contains(&op) || (0x80..=0x98).contains(&op)
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// Imports that run commands, evaluate code or reach the network when unpickled.
pub fn is_dangerous(import: &str) -> bool {
    const MODULES: [&str; 24] = [
        "os",
        "nt",
        "posix",
        "subprocess",
        "sys",
        "socket",
        "shutil",
        "runpy",
        "pty",
        "webbrowser",
        "commands",
        "pickle",
        "_pickle",
        "bdb",
        "pdb",
        "asyncio",
        "ctypes",
        "importlib",
        "code",
        "marshal",
        "multiprocessing",
        "signal",
        "urllib",
        "requests",
    ];
    const BUILTINS: [&str; 11] = [
        "eval",
        "exec",
        "execfile",
        "compile",
        "open",
        "getattr",
        "apply",
        "__import__",
        "breakpoint",
        "input",
        "setattr",
    ];
    let (module, name) = import.rsplit_once('.').unwrap_or(("", import));
    let top = module.split('.').next().unwrap_or("");
    MODULES.contains(&top)
        || top == "http"
        || top == "aiohttp"
        || ((module == "builtins" || module == "__builtin__") && BUILTINS.contains(&name))
        || (module == "operator" && (name == "attrgetter" || name == "methodcaller"))
        || module.starts_with("torch.hub")
}

/// Adds `imports` and `dangerous_imports` to the metadata, and the warnings.
pub fn describe(scans: &[Scan], m: &mut Map<String, Value>, warnings: &mut Vec<String>) {
    let imports: BTreeSet<&String> = scans.iter().flat_map(|s| &s.imports).collect();
    let dangerous: Vec<&String> = imports
        .iter()
        .copied()
        .filter(|i| is_dangerous(i))
        .collect();
    m.insert(
        "imports".into(),
        imports
            .iter()
            .take(64)
            .map(|s| Value::from(s.as_str()))
            .collect(),
    );
    warnings.push(WARNING.into());
    if !dangerous.is_empty() {
        m.insert(
            "dangerous_imports".into(),
            dangerous.iter().map(|s| Value::from(s.as_str())).collect(),
        );
        warnings.push(format!(
            "pickle imports {}: loading it can run commands",
            dangerous
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
}

/// Identifies a pickle from the first bytes of a file of `size` bytes.
pub fn read(prefix: &[u8], size: u64) -> Option<Identified> {
    let legacy = prefix.starts_with(&TORCH_LEGACY_MAGIC);
    let mut scans = Vec::new();
    let mut pos = 0;
    while scans.len() < 4 && pos < prefix.len() && matches(&prefix[pos..]) {
        let s = walk(prefix, pos);
        let end = s.end;
        let invalid = s.invalid;
        scans.push(s);
        match end {
            Some(e) if !invalid => pos = e,
            _ => break,
        }
    }
    let first = scans.first()?;
    let complete = first.end.is_some() && !first.invalid;
    let plausible_prefix =
        !first.invalid && first.ops >= 16 && size > prefix.len() as u64 && first.end.is_none();
    if !legacy && !complete && !plausible_prefix {
        return None;
    }
    let mut m = Map::new();
    m.insert("protocol".into(), prefix[1].into());
    let format = if legacy {
        // the second pickle is the protocol version, BININT2 1001 in every torch release
        if let Some(v) = prefix.get(15..21) {
            if v[..3] == [0x80, 0x02, b'M'] {
                m.insert(
                    "legacy_protocol_version".into(),
                    u16::from_le_bytes([v[3], v[4]]).into(),
                );
            }
        }
        Format::PytorchLegacy
    } else {
        Format::Pickle
    };
    let mut found = Identified::new(format, m);
    describe(&scans, &mut found.metadata, &mut found.warnings);
    Some(found)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_pickle() {
        let b = crate::samples::pickle_ordered_dict();
        assert!(matches(&b));
        let found = read(&b, b.len() as u64).unwrap();
        assert_eq!(found.format, Format::Pickle);
        assert_eq!(
            found.metadata["imports"],
            json!(["collections.OrderedDict"])
        );
        assert_eq!(found.warnings, vec![WARNING.to_string()]);
    }

    #[test]
    fn dangerous_imports_are_flagged() {
        let b = crate::samples::pickle_malicious();
        let found = read(&b, b.len() as u64).unwrap();
        assert_eq!(found.metadata["dangerous_imports"], json!(["posix.system"]));
        assert!(
            found.warnings[1].contains("posix.system"),
            "{:?}",
            found.warnings
        );
    }

    #[test]
    fn torch_legacy_magic() {
        let b = crate::samples::torch_legacy();
        let found = read(&b, b.len() as u64).unwrap();
        assert_eq!(found.format, Format::PytorchLegacy);
        assert_eq!(found.metadata["legacy_protocol_version"], json!(1001));
        assert_eq!(
            found.metadata["imports"],
            json!(["collections.OrderedDict"])
        );
    }

    #[test]
    fn two_bytes_of_protocol_are_not_enough() {
        assert!(read(b"\x80\x02\xff\xff\xff", 5).is_none());
        assert!(read(b"\x80\x03garbage bytes here", 100).is_none());
    }
}
