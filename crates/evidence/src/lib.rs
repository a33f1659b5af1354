//! Signed, self-contained evidence reports: what was examined (each input's SHA-256), how
//! (the method and its parameters), what came of it (scores, p-values), the command that
//! reproduces it, the tool's version and the time, signed with Ed25519.
//!
//! A report is one JSON document:
//!
//! ```json
//! {"report": { "format": "modelward-evidence/1", "kind": "watermark-verify", ... },
//!  "signature": {"algorithm": "Ed25519", "public_key": "<64 hex>", "key_id": "<16 hex>",
//!                "value": "<128 hex>"}}
//! ```
//!
//! The signature is over the bytes of the `report` value exactly as they stand in the file
//! (no canonical form to agree on: the verifier reads them back raw). `public_key` makes the
//! report checkable alone; whether the key is *ours* is a separate question, answered by
//! pinning it ([`Verified::key_id`] against a known key).
//!
//! Signing keys are PKCS#8 documents in PEM (`-----BEGIN PRIVATE KEY-----`), as `modelward
//! evidence keygen` or `openssl genpkey -algorithm ed25519` write them.
//!
//! ```
//! use modelward_evidence::{generate_key_pem, Report, SigningKey, verify};
//! let key = SigningKey::from_pem(&generate_key_pem().unwrap()).unwrap();
//! let report = Report::new("watermark-verify", vec!["modelward".into()]);
//! let signed = report.sign(&key).unwrap();
//! let verified = verify(signed.as_bytes()).unwrap();
//! assert_eq!(verified.key_id, key.key_id());
//! assert_eq!(verified.report.kind, "watermark-verify");
//! ```

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};

use modelward_event::hash::hex;

/// The `format` of the reports this version writes and reads.
pub const FORMAT: &str = "modelward-evidence/1";
const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// What can go wrong making or checking a report.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("the signing key is not a PEM PKCS#8 Ed25519 private key ({0})")]
    Key(String),
    #[error("cannot generate a key: the system's random source failed")]
    Random,
    #[error("not an evidence report: {0}")]
    Format(String),
    #[error("the report's format is {0:?}, not {FORMAT}")]
    Version(String),
    #[error("unsupported signature algorithm {0:?} (Ed25519 only)")]
    Algorithm(String),
    #[error("the signature does not match the report: it was changed after signing, or signed by another key")]
    BadSignature,
    #[error("signed by key {found}, not the pinned key {expected}")]
    WrongKey { found: String, expected: String },
}

/// One input the result depends on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Input {
    /// What it is: `tokenizer`, `text`, `suspect`, `fingerprint-db`, ...
    pub role: String,
    /// Where it was read (a path, or `argument N` for text given on the command line).
    pub source: String,
    pub sha256: String,
    pub bytes: u64,
}

/// The report's body, the part that is signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub format: String,
    /// `watermark-verify` or `fingerprint-match`.
    pub kind: String,
    /// `modelward <version>`.
    pub tool: String,
    /// When it was made (RFC 3339, UTC).
    pub created: String,
    /// The command that reproduces it, one argument per element.
    pub command: Vec<String>,
    pub inputs: Vec<Input>,
    /// The method's name, its statistical test and its parameters.
    pub method: Value,
    /// Scores, p-values and verdicts.
    pub results: Value,
}

impl Report {
    /// An empty report of `kind` for `command`, made now by this version of modelward.
    pub fn new(kind: &str, command: Vec<String>) -> Report {
        Report {
            format: FORMAT.to_string(),
            kind: kind.to_string(),
            tool: format!("modelward {}", env!("CARGO_PKG_VERSION")),
            created: now_rfc3339(),
            command,
            inputs: Vec::new(),
            method: Value::Null,
            results: Value::Null,
        }
    }

    /// The signed document, pretty-printed, ending in a newline.
    pub fn sign(&self, key: &SigningKey) -> Result<String, EvidenceError> {
        let body =
            serde_json::to_string_pretty(self).map_err(|e| EvidenceError::Format(e.to_string()))?;
        let signature = key.pair.sign(body.as_bytes());
        let signature = Signature {
            algorithm: "Ed25519".to_string(),
            public_key: hex(key.pair.public_key().as_ref()),
            key_id: key.key_id(),
            value: hex(signature.as_ref()),
        };
        let signature = serde_json::to_string_pretty(&signature)
            .map_err(|e| EvidenceError::Format(e.to_string()))?;
        Ok(format!(
            "{{\"report\": {body},\n\"signature\": {signature}}}\n"
        ))
    }
}

fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Signature {
    algorithm: String,
    public_key: String,
    key_id: String,
    value: String,
}

#[derive(Deserialize)]
struct Document<'a> {
    #[serde(borrow)]
    report: &'a RawValue,
    signature: Signature,
}

/// An Ed25519 key that signs reports.
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

impl SigningKey {
    /// Reads a PEM `PRIVATE KEY` (PKCS#8 v1 as OpenSSL writes it, or v2).
    pub fn from_pem(pem: &str) -> Result<SigningKey, EvidenceError> {
        let start = pem
            .find(PEM_BEGIN)
            .ok_or_else(|| EvidenceError::Key(format!("no {PEM_BEGIN} line")))?;
        let rest = &pem[start + PEM_BEGIN.len()..];
        let end = rest
            .find(PEM_END)
            .ok_or_else(|| EvidenceError::Key(format!("no {PEM_END} line")))?;
        let b64: String = rest[..end].split_whitespace().collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| EvidenceError::Key(format!("base64: {e}")))?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map_err(|e| EvidenceError::Key(e.to_string()))?;
        Ok(SigningKey { pair })
    }

    /// The public key, hex.
    pub fn public_key_hex(&self) -> String {
        hex(self.pair.public_key().as_ref())
    }

    /// The key's short id: the first 8 bytes of the public key's SHA-256, hex.
    pub fn key_id(&self) -> String {
        key_id(self.pair.public_key().as_ref())
    }
}

fn key_id(public_key: &[u8]) -> String {
    hex(&Sha256::digest(public_key)[..8])
}

/// The DER of a PKCS#8 v1 Ed25519 private key (RFC 8410) up to its 32-byte seed.
const PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// A new Ed25519 key as a PEM PKCS#8 v1 document (RFC 8410), the form OpenSSL reads and
/// writes (ring generates v2, with the public key, which OpenSSL 3 does not read: the seed is
/// taken from it).
pub fn generate_key_pem() -> Result<String, EvidenceError> {
    let v2 =
        Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| EvidenceError::Random)?;
    // v2: 30 53 02 01 01 30 05 06 03 2b 65 70 04 22 04 20 <seed 32> a1 23 03 21 00 <public 32>
    let seed = v2
        .as_ref()
        .get(16..48)
        .ok_or_else(|| EvidenceError::Key("unexpected PKCS#8 from ring".into()))?;
    let mut der = PKCS8_V1_PREFIX.to_vec();
    der.extend_from_slice(seed);
    let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
        .map_err(|e| EvidenceError::Key(e.to_string()))?;
    let check =
        Ed25519KeyPair::from_pkcs8(v2.as_ref()).map_err(|e| EvidenceError::Key(e.to_string()))?;
    if pair.public_key().as_ref() != check.public_key().as_ref() {
        return Err(EvidenceError::Key(
            "the seed read back gives another key".into(),
        ));
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
    let mut pem = format!("{PEM_BEGIN}\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str(PEM_END);
    pem.push('\n');
    Ok(pem)
}

/// A report whose signature checked.
#[derive(Debug, Clone)]
pub struct Verified {
    pub report: Report,
    pub public_key: String,
    pub key_id: String,
}

/// Checks a signed report: its shape, its format version and its signature over the report's
/// bytes with the public key it carries.
pub fn verify(document: &[u8]) -> Result<Verified, EvidenceError> {
    let doc: Document =
        serde_json::from_slice(document).map_err(|e| EvidenceError::Format(e.to_string()))?;
    if doc.signature.algorithm != "Ed25519" {
        return Err(EvidenceError::Algorithm(doc.signature.algorithm));
    }
    let public_key = unhex(&doc.signature.public_key)
        .filter(|k| k.len() == 32)
        .ok_or_else(|| EvidenceError::Format("public_key is not 64 hex digits".into()))?;
    let value = unhex(&doc.signature.value)
        .filter(|v| v.len() == 64)
        .ok_or_else(|| EvidenceError::Format("signature value is not 128 hex digits".into()))?;
    UnparsedPublicKey::new(&ED25519, &public_key)
        .verify(doc.report.get().as_bytes(), &value)
        .map_err(|_| EvidenceError::BadSignature)?;
    let report: Report = serde_json::from_str(doc.report.get())
        .map_err(|e| EvidenceError::Format(format!("report: {e}")))?;
    if report.format != FORMAT {
        return Err(EvidenceError::Version(report.format));
    }
    Ok(Verified {
        report,
        key_id: key_id(&public_key),
        public_key: hex(&public_key),
    })
}

/// [`verify`], and the signer must be `pinned` (a key id or a public key, hex).
pub fn verify_pinned(document: &[u8], pinned: &str) -> Result<Verified, EvidenceError> {
    let verified = verify(document)?;
    let pinned = pinned.trim().to_ascii_lowercase();
    if pinned != verified.key_id && pinned != verified.public_key {
        return Err(EvidenceError::WrongKey {
            found: verified.key_id,
            expected: pinned,
        });
    }
    Ok(verified)
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed() -> (SigningKey, String) {
        let key = SigningKey::from_pem(&generate_key_pem().unwrap()).unwrap();
        let mut report = Report::new("fingerprint-match", vec!["modelward".into(), "x".into()]);
        report.inputs.push(Input {
            role: "suspect".into(),
            source: "model.gguf".into(),
            sha256: "00".repeat(32),
            bytes: 3,
        });
        report.results = serde_json::json!({"p_value": 1e-12});
        let doc = report.sign(&key).unwrap();
        (key, doc)
    }

    #[test]
    fn a_signed_report_verifies_and_reads_back() {
        let (key, doc) = signed();
        let v = verify(doc.as_bytes()).unwrap();
        assert_eq!(v.public_key, key.public_key_hex());
        assert_eq!(v.report.inputs[0].source, "model.gguf");
        assert_eq!(v.report.results["p_value"], 1e-12);
        verify_pinned(doc.as_bytes(), &key.key_id()).unwrap();
        verify_pinned(doc.as_bytes(), &key.public_key_hex()).unwrap();
    }

    #[test]
    fn any_change_to_the_report_is_refused() {
        let (_, doc) = signed();
        let changed = doc.replace("1e-12", "1e-13");
        assert_ne!(changed, doc);
        assert!(matches!(
            verify(changed.as_bytes()),
            Err(EvidenceError::BadSignature)
        ));
        // Even whitespace: the bytes are what was signed.
        let spaced = doc.replacen("\"kind\"", " \"kind\"", 1);
        assert!(matches!(
            verify(spaced.as_bytes()),
            Err(EvidenceError::BadSignature)
        ));
    }

    #[test]
    fn another_key_is_not_the_pinned_one() {
        let (_, doc) = signed();
        let other = SigningKey::from_pem(&generate_key_pem().unwrap()).unwrap();
        assert!(matches!(
            verify_pinned(doc.as_bytes(), &other.key_id()),
            Err(EvidenceError::WrongKey { .. })
        ));
        // A report re-signed by another key with its own public key still verifies alone:
        // pinning is what tells it apart.
        let v = verify(doc.as_bytes()).unwrap();
        let resigned = v.report.sign(&other).unwrap();
        assert_eq!(verify(resigned.as_bytes()).unwrap().key_id, other.key_id());
    }

    #[test]
    fn generated_keys_are_pkcs8_v1_as_openssl_reads_them() {
        let pem = generate_key_pem().unwrap();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(der.len(), 48);
        assert_eq!(der[..16], PKCS8_V1_PREFIX);
        // OpenSSL's own (`openssl genpkey -algorithm ed25519`) is read too.
        let openssl = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIKmXQgw1ElGROjt0QHVjGcFMSlxU+jPN7RTk9YwUZSdH\n-----END PRIVATE KEY-----\n";
        SigningKey::from_pem(openssl).unwrap();
    }

    #[test]
    fn bad_documents_and_keys_are_errors() {
        assert!(matches!(verify(b"{}"), Err(EvidenceError::Format(_))));
        assert!(matches!(verify(b"\xff"), Err(EvidenceError::Format(_))));
        assert!(matches!(
            SigningKey::from_pem("hello"),
            Err(EvidenceError::Key(_))
        ));
        let not_ed25519 = format!("{PEM_BEGIN}\nAAAA\n{PEM_END}\n");
        assert!(matches!(
            SigningKey::from_pem(&not_ed25519),
            Err(EvidenceError::Key(_))
        ));
    }
}
