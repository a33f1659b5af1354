//! Token buckets per limited target: `rate` a minute (requests, or tokens), a burst of at
//! most `rate`, refilled continuously. Requests are taken one at a time before they go
//! upstream; tokens are known only from the answer's `usage`, so a request is admitted while
//! its bucket is not in debt and its tokens are charged when it ends (a bucket may go into
//! debt by one large answer, and the next requests wait until it is paid back). Buckets idle
//! for ten minutes are forgotten, so memory follows the targets that are limited and active.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets idle this long are dropped (a full bucket again when the target returns).
const IDLE: Duration = Duration::from_secs(600);

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    rate: u64,
    at: Instant,
}

impl Bucket {
    fn per_second(&self) -> f64 {
        self.rate.max(1) as f64 / 60.0
    }

    /// The time until the bucket holds `need`.
    fn wait(&self, need: f64) -> Duration {
        Duration::from_secs_f64(((need - self.tokens) / self.per_second()).max(0.0))
    }
}

/// The buckets of every limited target.
#[derive(Debug, Default)]
pub struct Limiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    /// Runs `f` on `target`'s bucket of `rate` a minute, refilled up to `now`.
    fn with<R>(
        &self,
        target: &str,
        rate: u64,
        now: Instant,
        f: impl FnOnce(&mut Bucket) -> R,
    ) -> R {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 10_000 {
            buckets.retain(|_, b| now.saturating_duration_since(b.at) < IDLE);
        }
        let b = buckets.entry(target.to_string()).or_insert(Bucket {
            tokens: rate as f64,
            rate,
            at: now,
        });
        if b.rate != rate {
            // The limit changed: the new rate, at most its burst.
            b.rate = rate;
            b.tokens = b.tokens.min(rate as f64);
        }
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * b.per_second()).min(rate as f64);
        b.at = now;
        f(b)
    }

    /// Takes one request from `target`'s bucket of `rate` a minute at `now`; `Err(wait)` when
    /// the bucket is empty, with the time until a request is allowed again. A rate of 0
    /// allows nothing.
    pub fn take(&self, target: &str, rate: u64, now: Instant) -> Result<(), Duration> {
        if rate == 0 {
            return Err(Duration::from_secs(60));
        }
        self.with(target, rate, now, |b| {
            if b.tokens >= 1.0 {
                b.tokens -= 1.0;
                Ok(())
            } else {
                Err(b.wait(1.0))
            }
        })
    }

    /// Whether `target`'s bucket of `rate` tokens a minute admits a request now (it is not in
    /// debt); `Err(wait)` until it is.
    pub fn admit(&self, target: &str, rate: u64, now: Instant) -> Result<(), Duration> {
        if rate == 0 {
            return Err(Duration::from_secs(60));
        }
        self.with(target, rate, now, |b| {
            if b.tokens > 0.0 {
                Ok(())
            } else {
                Err(b.wait(f64::MIN_POSITIVE).max(Duration::from_millis(1)))
            }
        })
    }

    /// Charges `n` tokens to `target`'s bucket of `rate` a minute (into debt, at most one
    /// minute's worth).
    pub fn charge(&self, target: &str, rate: u64, n: u64, now: Instant) {
        self.with(target, rate, now, |b| {
            b.tokens = (b.tokens - n as f64).max(-(rate as f64));
        });
    }
}

/// Requests a minute per target, estimated over a sliding minute (this minute's count and the
/// last one's, weighted by how much of it the window still covers). Targets idle for two
/// minutes are forgotten.
#[derive(Debug, Default)]
pub struct Volume {
    counts: Mutex<HashMap<String, (u64, u64, u64)>>,
}

impl Volume {
    /// Counts a request of `target` at `now_ms` and returns its rate, requests a minute.
    pub fn count(&self, target: &str, now_ms: i64) -> f64 {
        let minute = (now_ms.max(0) / 60_000) as u64;
        let into = (now_ms.max(0) % 60_000) as f64 / 60_000.0;
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.len() > 10_000 {
            counts.retain(|_, (m, _, _)| *m + 2 > minute);
        }
        let (m, previous, current) = counts.entry(target.to_string()).or_insert((minute, 0, 0));
        if *m != minute {
            *previous = if *m + 1 == minute { *current } else { 0 };
            *current = 0;
            *m = minute;
        }
        *current += 1;
        *previous as f64 * (1.0 - into) + *current as f64
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
        assert!(l.take("r", 0, t1).is_err());
    }

    #[test]
    fn volume_is_a_sliding_minute() {
        let v = Volume::default();
        let t0 = 600_000; // the start of a minute
        for i in 0..120 {
            v.count("p", t0 + i * 500);
        }
        // Half into the next minute: half the last minute's 120, and this one.
        assert_eq!(v.count("p", t0 + 90_000), 61.0);
        assert_eq!(v.count("q", t0), 1.0);
        // Two minutes idle: back to one.
        assert_eq!(v.count("p", t0 + 240_000), 1.0);
    }

    #[test]
    fn tokens_are_charged_after_and_a_debt_is_waited_out() {
        let l = Limiter::default();
        let t0 = Instant::now();
        // 600 tokens a minute = 10 a second; one answer of 650 tokens puts it 50 in debt.
        assert!(l.admit("p", 600, t0).is_ok());
        l.charge("p", 600, 650, t0);
        let wait = l.admit("p", 600, t0).unwrap_err();
        assert!((4..=6).contains(&wait.as_secs()), "{wait:?}");
        assert!(l.admit("p", 600, t0 + Duration::from_secs(6)).is_ok());
        // A debt is at most one minute's worth.
        l.charge("q", 60, 1_000_000, t0);
        assert!(l.admit("q", 60, t0 + Duration::from_secs(61)).is_ok());
    }
}
