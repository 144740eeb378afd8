//! Backoff for retryable failures: jittered exponential delays from a tiny PRNG
//! (`rand` is not a dependency; jitter needs spread, not cryptographic quality).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// First backoff delay.
pub const BASE: Duration = Duration::from_millis(100);
/// Longest backoff delay.
pub const CAP: Duration = Duration::from_secs(5);

/// A shared splitmix64 generator.
#[derive(Debug)]
pub struct Jitter {
    state: AtomicU64,
}

impl Jitter {
    pub fn new(seed: u64) -> Jitter {
        Jitter {
            state: AtomicU64::new(seed),
        }
    }

    /// Seeded from the clock and the process id, so parallel runs do not retry in step.
    pub fn from_entropy() -> Jitter {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Jitter::new(nanos ^ (u64::from(std::process::id()) << 32))
    }

    /// The next 64 random bits.
    pub fn next_u64(&self) -> u64 {
        let s = self
            .state
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform value in `[0, 1)`.
    pub fn unit(&self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Delay before retry number `attempt` (1 = the first retry): "equal jitter", half
/// of the exponential step fixed and half random, so a delay is never near zero
/// (a retry storm) and never above [`CAP`].
pub fn backoff(attempt: u32, jitter: &Jitter) -> Duration {
    let exp = attempt.saturating_sub(1).min(16);
    let step = BASE.saturating_mul(1u32 << exp).min(CAP);
    let half = step / 2;
    half + half.mul_f64(jitter.unit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_bounded() {
        let j = Jitter::new(7);
        for attempt in 1..40 {
            for _ in 0..50 {
                let d = backoff(attempt, &j);
                let step = BASE
                    .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
                    .min(CAP);
                assert!(d >= step / 2 && d <= step, "attempt {attempt}: {d:?}");
                assert!(d <= CAP);
            }
        }
        assert!(backoff(1, &j) <= Duration::from_millis(100));
        assert!(backoff(1, &j) >= Duration::from_millis(50));
        assert!(backoff(30, &j) >= Duration::from_millis(2500));
    }

    #[test]
    fn jitter_spreads() {
        let j = Jitter::new(1);
        let xs: Vec<f64> = (0..1000).map(|_| j.unit()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((0.4..0.6).contains(&mean), "{mean}");
        let j2 = Jitter::new(2);
        assert_ne!(j.next_u64(), j2.next_u64());
    }
}
