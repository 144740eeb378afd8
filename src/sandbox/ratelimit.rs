//! Per-token request limits (SPEC 8.2): a fixed window per token (60 s as on Genesys,
//! or `--rate-window`), starting at the token's first request after the last window
//! ended, reported in the `inin-ratelimit-*` headers of every API response.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The outcome of counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Requests counted in the current window, this one included.
    pub count: u64,
    pub allowed: u64,
    /// Whole seconds until the window resets (at least 1).
    pub reset_secs: u64,
    pub over: bool,
}

/// Windows per token.
#[derive(Debug)]
pub struct RateLimiter {
    allowed: u64,
    window: Duration,
    windows: HashMap<String, (Instant, u64)>,
}

impl RateLimiter {
    pub fn new(per_window: u32, window: Duration) -> RateLimiter {
        RateLimiter {
            allowed: u64::from(per_window),
            window,
            windows: HashMap::new(),
        }
    }

    /// Counts one request of `token`.
    pub fn hit(&mut self, token: &str) -> Verdict {
        let now = Instant::now();
        let window = self.window;
        if self.windows.len() > 10_000 {
            // Old tokens' windows are useless once expired; bound the map.
            self.windows
                .retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = self.windows.entry(token.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        let left = window.saturating_sub(now.duration_since(entry.0));
        let reset_secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        Verdict {
            count: entry.1,
            allowed: self.allowed,
            reset_secs: reset_secs.max(1),
            over: entry.1 > self.allowed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_past_the_limit_is_over() {
        let mut r = RateLimiter::new(2, Duration::from_secs(60));
        assert!(!r.hit("a").over);
        assert!(!r.hit("a").over);
        let v = r.hit("a");
        assert!(v.over);
        assert_eq!(v.count, 3);
        assert!(v.reset_secs >= 1 && v.reset_secs <= 60);
        assert!(!r.hit("b").over, "limits are per token");
    }
}
