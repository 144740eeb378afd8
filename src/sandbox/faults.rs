//! Fault injection (SPEC 9): each API request rolls seeded dice, before any state
//! changes, so a run with the same seed and the same request order fails the same way.

use std::sync::atomic::{AtomicU64, Ordering};

use super::ids::{mix64, unit_f64};

/// An injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After: 1`.
    TooManyRequests,
    /// 500.
    Internal,
    /// 503.
    Unavailable,
    /// Close the connection without a response, before doing anything.
    Drop,
    /// Do the request (a write is committed), then close the connection without a
    /// response: the ambiguous-POST case a client must survive without duplicates.
    DropAfterCommit,
}

/// The dice.
#[derive(Debug)]
pub struct Faults {
    rate: f64,
    seed: u64,
    rolls: AtomicU64,
}

impl Faults {
    pub fn new(rate: f64, seed: u64) -> Faults {
        Faults {
            rate,
            seed,
            rolls: AtomicU64::new(0),
        }
    }

    /// The fault for the next request, if any. The n-th roll depends only on the seed
    /// and n, so it is reproducible whatever happened in between.
    pub fn roll(&self) -> Option<Fault> {
        if self.rate <= 0.0 {
            return None;
        }
        let n = self.rolls.fetch_add(1, Ordering::Relaxed);
        let a = mix64(self.seed ^ mix64(n));
        if unit_f64(a) >= self.rate {
            return None;
        }
        // Shares: 30% 429, 20% 500, 20% 503, 15% drop, 15% drop after commit.
        Some(match mix64(a) % 100 {
            0..30 => Fault::TooManyRequests,
            30..50 => Fault::Internal,
            50..70 => Fault::Unavailable,
            70..85 => Fault::Drop,
            _ => Fault::DropAfterCommit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_faults() {
        let a = Faults::new(0.5, 42);
        let b = Faults::new(0.5, 42);
        let xs: Vec<_> = (0..200).map(|_| a.roll()).collect();
        let ys: Vec<_> = (0..200).map(|_| b.roll()).collect();
        assert_eq!(xs, ys);
        let faults = xs.iter().filter(|f| f.is_some()).count();
        assert!((60..140).contains(&faults), "{faults}");
        assert!(Faults::new(0.0, 1).roll().is_none());
        assert!((0..50).all(|_| Faults::new(1.0, 3).roll().is_some()));
    }
}
