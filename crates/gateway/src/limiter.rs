//! Token buckets per rate-limited target: `rate` requests a minute, a burst of at most `rate`,
//! refilled continuously. Buckets idle for ten minutes are forgotten, so memory follows the
//! targets that are limited and active.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets idle this long are dropped (a full bucket again when the target returns).
const IDLE: Duration = Duration::from_secs(600);

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    rate: u32,
    at: Instant,
}

/// The buckets of every rate-limited target.
#[derive(Debug, Default)]
pub struct Limiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    /// Takes one request from `target`'s bucket of `rate` a minute at `now`; `Err(wait)` when
    /// the bucket is empty, with the time until a request is allowed again.
    pub fn take(&self, target: &str, rate: u32, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 10_000 {
            buckets.retain(|_, b| now.duration_since(b.at) < IDLE);
        }
        let per_second = f64::from(rate.max(1)) / 60.0;
        let b = buckets.entry(target.to_string()).or_insert(Bucket {
            tokens: f64::from(rate),
            rate,
            at: now,
        });
        if b.rate != rate {
            // The measure changed: the new rate, at most its burst.
            b.rate = rate;
            b.tokens = b.tokens.min(f64::from(rate));
        }
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * per_second).min(f64::from(rate));
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_the_rate_then_one_per_interval() {
        let l = Limiter::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.take("p", 3, t0).is_ok());
        }
        let wait = l.take("p", 3, t0).unwrap_err();
        assert!((19..=20).contains(&wait.as_secs()), "{wait:?}");
        // 20 s later one more request is allowed, not two.
        let t1 = t0 + Duration::from_secs(20);
        assert!(l.take("p", 3, t1).is_ok());
        assert!(l.take("p", 3, t1).is_err());
        // Another target has its own bucket.
        assert!(l.take("q", 3, t1).is_ok());
    }
}
