//! STIX identifiers: `type--UUID`, deterministic so that the same incident exports to the
//! same bundle.
//!
//! - SCOs: UUIDv5 (RFC 4122 §4.3, SHA-1) in the STIX namespace over the canonical JSON
//!   (RFC 8785) of the object's ID contributing properties, as STIX 2.1 §2.9 requires, so
//!   that any producer gives the same address the same id.
//! - SDOs, SROs and the bundle: STIX asks for UUIDv4; ours are the first 16 bytes of a SHA-256
//!   of the incident id and the object's content with the version (4) and variant (RFC 4122)
//!   bits set: indistinguishable from random ones, and stable across exports.

use sha1::{Digest as _, Sha1};
use sha2::Sha256;

/// The namespace of STIX 2.1 deterministic identifiers.
pub const STIX_NAMESPACE: [u8; 16] = [
    0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42, 0x46, 0x6c, 0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7,
];

/// A UUID in its 8-4-4-4-12 lowercase hex form.
pub fn format_uuid(b: &[u8; 16]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// UUIDv5 of `name` in `namespace`.
pub fn uuid5(namespace: &[u8; 16], name: &[u8]) -> [u8; 16] {
    let mut h = Sha1::new();
    h.update(namespace);
    h.update(name);
    let digest = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    set_bits(&mut b, 5);
    b
}

/// A version-4-shaped UUID from the SHA-256 of `parts` (each followed by a NUL byte, so
/// that `["ab", "c"]` and `["a", "bc"]` differ).
pub fn hashed_v4(parts: &[&str]) -> [u8; 16] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    set_bits(&mut b, 4);
    b
}

fn set_bits(b: &mut [u8; 16], version: u8) {
    b[6] = (b[6] & 0x0f) | (version << 4);
    b[8] = (b[8] & 0x3f) | 0x80;
}

/// The id of an SCO of `kind` with the ID contributing string properties `props`.
pub fn sco_id(kind: &str, props: &[(&str, &str)]) -> String {
    let name = canonical_json(props);
    format!(
        "{kind}--{}",
        format_uuid(&uuid5(&STIX_NAMESPACE, name.as_bytes()))
    )
}

/// The id of an SDO or SRO of `kind` from the incident id and what the object is.
pub fn sdo_id(kind: &str, parts: &[&str]) -> String {
    let mut all = vec![kind];
    all.extend_from_slice(parts);
    format!("{kind}--{}", format_uuid(&hashed_v4(&all)))
}

/// RFC 8785 canonical JSON of an object of string properties: keys sorted, no whitespace,
/// strings escaped as JSON requires and nothing more (serde_json's string escaping is the
/// canonical one: `\"`, `\\`, `\b\f\n\r\t`, other control characters as `\u00xx`).
pub fn canonical_json(props: &[(&str, &str)]) -> String {
    let mut sorted: Vec<&(&str, &str)> = props.iter().collect();
    // The keys are ASCII property names: byte order is UTF-16 code unit order.
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    let body: Vec<String> = sorted
        .iter()
        .map(|(k, v)| format!("{}:{}", quote(k), quote(v)))
        .collect();
    format!("{{{}}}", body.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4122's DNS namespace.
    const DNS: [u8; 16] = [
        0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30,
        0xc8,
    ];

    #[test]
    fn uuid5_matches_known_vectors() {
        assert_eq!(
            format_uuid(&uuid5(&DNS, b"www.example.com")),
            "2ed6657d-e927-568b-95e1-2665a8aea6a2"
        );
        // Python's documentation example: uuid.uuid5(uuid.NAMESPACE_DNS, 'python.org').
        assert_eq!(
            format_uuid(&uuid5(&DNS, b"python.org")),
            "886313e1-3b8a-5372-9b90-0c9aee199e5d"
        );
        assert_eq!(
            format_uuid(&STIX_NAMESPACE),
            "00abedb4-aa42-466c-9c01-fed23315a9b7"
        );
    }

    #[test]
    fn sco_ids_follow_stix_deterministic_identifiers() {
        // uuid.uuid5(UUID('00abedb4-…'), '{"value":"198.51.100.3"}') with Python's uuid.
        assert_eq!(
            sco_id("ipv4-addr", &[("value", "198.51.100.3")]),
            "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"
        );
        assert_eq!(
            canonical_json(&[("user_id", "a\"b\\c\n"), ("account_type", "x")]),
            r#"{"account_type":"x","user_id":"a\"b\\c\n"}"#
        );
        assert_eq!(
            canonical_json(&[("name", "é\u{1}")]),
            "{\"name\":\"é\\u0001\"}"
        );
    }

    #[test]
    fn hashed_ids_are_stable_version_4_and_separate_parts() {
        let a = format_uuid(&hashed_v4(&["INC-1", "ip", "203.0.113.66"]));
        assert_eq!(a, format_uuid(&hashed_v4(&["INC-1", "ip", "203.0.113.66"])));
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(hashed_v4(&["ab", "c"]), hashed_v4(&["a", "bc"]));
    }
}
