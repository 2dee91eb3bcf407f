//! Retry policy (bounded exponential backoff with jitter, `Retry-After`) and the client-side
//! limits (concurrency and request rate).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// A source of uniformly distributed numbers in `[0, 1)` for jitter. Inject a seeded one in tests.
pub trait JitterSource: Send + Sync + std::fmt::Debug {
    fn next_unit(&self) -> f64;
}

/// SplitMix64: small, seedable, good enough for spreading retries apart.
#[derive(Debug)]
pub struct SeededJitter {
    state: AtomicU64,
}

impl SeededJitter {
    pub fn new(seed: u64) -> Self {
        Self {
            state: AtomicU64::new(seed),
        }
    }

    /// Seeded from the clock and the process id (different processes spread differently).
    pub fn from_entropy() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Self::new(nanos ^ (u64::from(std::process::id()) << 32))
    }
}

impl JitterSource for SeededJitter {
    fn next_unit(&self) -> f64 {
        let mut z = self
            .state
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// When and how often to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included (1 = never retry).
    pub max_attempts: u32,
    /// Delay before the first retry; doubles each time up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// No retry starts once this much time has passed since the first attempt (and no wait is
    /// begun that would end after it).
    pub max_elapsed: Duration,
    /// A `Retry-After` longer than this is not honoured; the error is returned instead.
    pub max_retry_after: Duration,
    pub jitter: Arc<dyn JitterSource>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(120),
            max_retry_after: Duration::from_secs(120),
            jitter: Arc::new(SeededJitter::from_entropy()),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Backoff before retry number `retry` (1 = the first retry): the exponential step
    /// `base * 2^(retry-1)` capped at `max_delay`, then "equal jitter": half of it fixed, the
    /// other half random. Always within `[step/2, step]`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(31);
        let step = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        let half = step / 2;
        let r = self.jitter.next_unit().clamp(0.0, 1.0);
        half + (step - half).mul_f64(r)
    }

    /// The wait before retry `retry`, honouring a server `Retry-After`; `None` when the policy
    /// says to stop (attempts used up, time budget exceeded, or Retry-After too long).
    pub fn next_delay(
        &self,
        retry: u32,
        elapsed: Duration,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if retry >= self.max_attempts {
            return None;
        }
        let delay = match retry_after {
            Some(ra) if ra > self.max_retry_after => return None,
            // Honour the server's wish, plus a little jitter so a crowd does not return at once.
            Some(ra) => ra + self.backoff(1).min(Duration::from_millis(250)) / 2,
            None => self.backoff(retry),
        };
        if elapsed + delay > self.max_elapsed {
            return None;
        }
        Some(delay)
    }
}

/// Client-side pacing: at most `rate` request starts per second, evenly spaced.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// `per_second` must be positive and finite; anything else disables pacing (returns None).
    pub fn new(per_second: f64) -> Option<Self> {
        if !(per_second.is_finite() && per_second > 0.0) {
            return None;
        }
        Some(Self {
            interval: Duration::from_secs_f64(1.0 / per_second),
            next: Mutex::new(None),
        })
    }

    /// Wait for a start slot. Slots are claimed when taken, not reserved ahead, so a stalled
    /// process never releases a burst of overdue requests at once.
    pub async fn acquire(&self) {
        // Bounded by the number of concurrent waiters: each pass either claims a slot or
        // sleeps until the next one is free.
        loop {
            let wait_until = {
                let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                match *next {
                    Some(n) if n > now => n,
                    // Slightly late (timer granularity): keep the schedule so the rate does not
                    // drift down; late by more than a slot (idle or stalled): restart from now.
                    Some(n) if now - n < self.interval => {
                        *next = Some(n + self.interval);
                        return;
                    }
                    _ => {
                        *next = Some(now + self.interval);
                        return;
                    }
                }
            };
            tokio::time::sleep_until(wait_until).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(seed: u64) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            max_elapsed: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(30),
            jitter: Arc::new(SeededJitter::new(seed)),
        }
    }

    #[test]
    fn backoff_is_bounded_and_grows() {
        let p = policy(7);
        for retry in 1..=20u32 {
            let step = Duration::from_millis(100)
                .saturating_mul(1 << (retry - 1).min(31))
                .min(Duration::from_secs(2));
            for _ in 0..50 {
                let d = p.backoff(retry);
                assert!(
                    d >= step / 2 && d <= step,
                    "retry {retry}: {d:?} vs {step:?}"
                );
            }
        }
    }

    #[test]
    fn jitter_is_deterministic_per_seed_and_spread() {
        let a: Vec<Duration> = (0..10).map(|_| policy(1).backoff(3)).collect();
        assert!(
            a.windows(2).all(|w| w[0] == w[1]),
            "fresh policy, same seed"
        );
        let p = policy(1);
        let seq1: Vec<Duration> = (0..10).map(|_| p.backoff(3)).collect();
        let q = policy(1);
        let seq2: Vec<Duration> = (0..10).map(|_| q.backoff(3)).collect();
        assert_eq!(seq1, seq2);
        let distinct: std::collections::BTreeSet<_> = seq1.iter().collect();
        assert!(distinct.len() > 5, "jitter should vary: {seq1:?}");
        let u: Vec<f64> = (0..1000).map(|_| p.jitter.next_unit()).collect();
        assert!(u.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = u.iter().sum::<f64>() / u.len() as f64;
        assert!((0.4..0.6).contains(&mean), "mean {mean}");
    }

    #[test]
    fn stops_on_attempts_time_and_long_retry_after() {
        let p = policy(3);
        assert!(p.next_delay(1, Duration::ZERO, None).is_some());
        assert!(p.next_delay(6, Duration::ZERO, None).is_none(), "attempts");
        assert!(
            p.next_delay(1, Duration::from_secs(10), None).is_none(),
            "time budget"
        );
        let ra = p
            .next_delay(1, Duration::ZERO, Some(Duration::from_secs(3)))
            .unwrap();
        assert!(ra >= Duration::from_secs(3) && ra < Duration::from_secs(4));
        assert!(
            p.next_delay(1, Duration::ZERO, Some(Duration::from_secs(31)))
                .is_none()
        );
        assert!(
            RetryPolicy::none()
                .next_delay(1, Duration::ZERO, None)
                .is_none()
        );
    }

    #[test]
    fn rate_limiter_rejects_nonsense() {
        assert!(RateLimiter::new(0.0).is_none());
        assert!(RateLimiter::new(f64::NAN).is_none());
        assert!(RateLimiter::new(-3.0).is_none());
        assert!(RateLimiter::new(100.0).is_some());
    }

    /// Virtual clock (paused tokio time): 21 starts at 10/s span at least 2 virtual seconds.
    #[tokio::test(start_paused = true)]
    async fn rate_limiter_spaces_starts() {
        let rl = RateLimiter::new(10.0).unwrap();
        let t0 = Instant::now();
        for _ in 0..21 {
            rl.acquire().await;
        }
        let span = t0.elapsed();
        assert!(span >= Duration::from_secs(2), "{span:?}");
        assert!(span < Duration::from_millis(2100), "{span:?}");
    }
}
