//! Proof of work (PB-53 2.2 #2): a hashcash-style price on each request of a caller under the
//! `proof_of_work` measure, so that a high-volume extraction costs compute.
//!
//! A request without a valid solution gets 428 `proof_of_work_required` with a challenge in the
//! `x-modelward-pow-challenge` header:
//!
//! ```text
//! v1.<expires, ms>.<difficulty bits>.<key id>.<tag>
//! ```
//!
//! where the tag is HMAC-SHA-256 (a key derived from the gateway's secret) of the rest, so a challenge
//! cannot be forged or carried to another key. The caller finds a nonce (any text of at most
//! 64 characters) such that SHA-256 of `<challenge>:<nonce>` begins with at least `difficulty`
//! zero bits, and sends the request again with `x-modelward-pow: <challenge>:<nonce>`
//! (`modelward pow solve CHALLENGE` prints that header's value). A solution is good for one
//! request, until the challenge expires (60 s); 20 bits, PB-53's default, is about a million
//! hashes. Challenges survive a restart, and gateways sharing a secret accept each other's,
//! when the secret is kept (`secret_env`, or the one kept in the database); a gateway with
//! neither makes a new secret at each start.

use std::collections::HashMap;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// How long a challenge can be solved and used.
pub const VALID_MS: i64 = 60_000;
/// The request header carrying a solution.
pub const SOLUTION_HEADER: &str = "x-modelward-pow";
/// The response header carrying a challenge.
pub const CHALLENGE_HEADER: &str = "x-modelward-pow-challenge";
/// The most difficulty a challenge asks (a measure asking more gets this).
pub const MAX_BITS: u32 = 32;
/// Requests a minute past which each doubling of a caller's rate adds a bit (a measure's
/// `volume_step`, by default).
pub const VOLUME_STEP: u32 = 60;

/// The difficulty asked of a caller sending `rate` requests a minute under a measure of
/// `base` bits: one more bit for each doubling of the rate past `step` (60 a minute and 20
/// bits: 20 bits at 60 a minute, 21 at 120, 26 at 3,840), at most [`MAX_BITS`]. A high-volume
/// extraction pays more per request the faster it goes.
pub fn difficulty(base: u32, rate: f64, step: u32) -> u32 {
    let step = f64::from(step.max(1));
    let extra = if rate >= 2.0 * step {
        (rate / step).log2().floor() as u32
    } else {
        0
    };
    base.saturating_add(extra).min(MAX_BITS)
}

/// Issues and checks challenges.
pub struct ProofOfWork {
    secret: [u8; 32],
    /// Solutions used, with when their challenge expires (each is good once).
    used: Mutex<HashMap<String, i64>>,
}

/// Why a solution was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejected {
    Malformed,
    Forged,
    Expired,
    OtherKey,
    TooEasy,
    WrongNonce,
    Reused,
}

impl ProofOfWork {
    pub fn with_secret(secret: [u8; 32]) -> ProofOfWork {
        ProofOfWork {
            secret,
            used: Mutex::new(HashMap::new()),
        }
    }

    fn tag(&self, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("any key length");
        mac.update(body.as_bytes());
        modelward_event::hash::hex(&mac.finalize().into_bytes()[..16])
    }

    /// A challenge for `key_id` of `bits` difficulty, valid from `now` (ms).
    pub fn challenge(&self, key_id: &str, bits: u32, now: i64) -> String {
        let body = format!("v1.{}.{}.{key_id}", now + VALID_MS, bits.min(MAX_BITS));
        format!("{body}.{}", self.tag(&body))
    }

    /// Checks a solution header for `key_id` needing `bits`, at `now`; a good one is spent.
    pub fn check(&self, solution: &str, key_id: &str, bits: u32, now: i64) -> Result<(), Rejected> {
        let (challenge, nonce) = solution.rsplit_once(':').ok_or(Rejected::Malformed)?;
        if nonce.is_empty() || nonce.len() > 64 {
            return Err(Rejected::Malformed);
        }
        let (body, tag) = challenge.rsplit_once('.').ok_or(Rejected::Malformed)?;
        let mut parts = body.splitn(4, '.');
        let (Some("v1"), Some(expires), Some(difficulty), Some(key)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Rejected::Malformed);
        };
        let expires: i64 = expires.parse().map_err(|_| Rejected::Malformed)?;
        let difficulty: u32 = difficulty.parse().map_err(|_| Rejected::Malformed)?;
        // Compared whole: the tag's own bytes decide nothing before the end.
        let want = self.tag(body);
        if want.len() != tag.len()
            || want
                .bytes()
                .zip(tag.bytes())
                .fold(0, |d, (a, b)| d | (a ^ b))
                != 0
        {
            return Err(Rejected::Forged);
        }
        if expires < now {
            return Err(Rejected::Expired);
        }
        if key != key_id {
            return Err(Rejected::OtherKey);
        }
        if difficulty < bits.min(MAX_BITS) {
            return Err(Rejected::TooEasy);
        }
        if leading_zero_bits(&Sha256::digest(solution.as_bytes())) < difficulty {
            return Err(Rejected::WrongNonce);
        }
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        if used.len() > 100_000 {
            used.retain(|_, exp| *exp >= now);
        }
        if used.insert(solution.to_string(), expires).is_some() {
            return Err(Rejected::Reused);
        }
        Ok(())
    }
}

fn leading_zero_bits(hash: &[u8]) -> u32 {
    let mut n = 0;
    for b in hash {
        if *b == 0 {
            n += 8;
        } else {
            return n + b.leading_zeros();
        }
    }
    n
}

/// Finds a nonce for a challenge (what a client does); returns the solution header's value.
/// `None` when the challenge cannot be read.
pub fn solve(challenge: &str) -> Option<String> {
    let body = challenge.rsplit_once('.')?.0;
    let bits: u32 = body.split('.').nth(2)?.parse().ok()?;
    if bits > MAX_BITS {
        return None;
    }
    (0u64..).find_map(|nonce| {
        let solution = format!("{challenge}:{nonce:x}");
        (leading_zero_bits(&Sha256::digest(solution.as_bytes())) >= bits).then_some(solution)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_solved_challenge_is_good_once_for_its_key_until_it_expires() {
        let pow = ProofOfWork::with_secret([7; 32]);
        let c = pow.challenge("key-1", 8, 1_000);
        let s = solve(&c).unwrap();
        assert_eq!(pow.check(&s, "key-2", 8, 1_001), Err(Rejected::OtherKey));
        assert_eq!(pow.check(&s, "key-1", 12, 1_001), Err(Rejected::TooEasy));
        assert_eq!(
            pow.check(&s, "key-1", 8, 1_000 + VALID_MS + 1),
            Err(Rejected::Expired)
        );
        assert_eq!(pow.check(&s, "key-1", 8, 1_001), Ok(()));
        assert_eq!(pow.check(&s, "key-1", 8, 1_002), Err(Rejected::Reused));
        // Another process's challenge, a changed difficulty, a wrong nonce.
        let other = ProofOfWork::with_secret([8; 32]);
        assert_eq!(other.check(&s, "key-1", 8, 1_001), Err(Rejected::Forged));
        let easier = s.replacen(".8.", ".0.", 1);
        assert_eq!(pow.check(&easier, "key-1", 0, 1_001), Err(Rejected::Forged));
        let c2 = pow.challenge("key-1", 16, 1_000);
        let bad = format!("{c2}:0");
        let verdict = pow.check(&bad, "key-1", 16, 1_001);
        assert!(verdict == Err(Rejected::WrongNonce) || verdict.is_ok());
        assert_eq!(
            pow.check("nonsense", "key-1", 8, 0),
            Err(Rejected::Malformed)
        );
        assert_eq!(leading_zero_bits(&[0, 0x10]), 11);
        // Difficulty rises a bit per doubling of the rate past the step.
        assert_eq!(difficulty(20, 0.0, 60), 20);
        assert_eq!(difficulty(20, 119.0, 60), 20);
        assert_eq!(difficulty(20, 120.0, 60), 21);
        assert_eq!(difficulty(20, 3840.0, 60), 26);
        assert_eq!(difficulty(30, 1e9, 60), MAX_BITS);
    }
}
