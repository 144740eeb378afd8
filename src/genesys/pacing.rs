//! Pacing under the per-token rate limit (SPEC 8.2).
//!
//! Every response carries `inin-ratelimit-count` (requests used in the current
//! window), `inin-ratelimit-allowed` and `inin-ratelimit-reset` (seconds until the
//! window resets). The pacer spreads the remaining budget evenly over the time left,
//! so a long run uses the whole allowance without running into 429s, and an idle
//! window's unused budget is spent faster. A 429 that shows the budget exhausted
//! blocks every request until `Retry-After`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;

/// Length of a window when the server has not told us yet (SPEC: per minute).
const WINDOW: Duration = Duration::from_secs(60);
/// Headers report whole seconds; wait this much past a computed reset.
const RESET_SLACK: Duration = Duration::from_millis(250);
/// Header resets closer than this to the known one belong to the same window.
const SAME_WINDOW: Duration = Duration::from_millis(1500);

/// The `inin-ratelimit-*` headers of one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateInfo {
    pub count: u64,
    pub allowed: u64,
    pub reset: Duration,
}

fn header_u64(h: &HeaderMap, name: &str) -> Option<u64> {
    let v = h.get(name)?.to_str().ok()?.trim();
    // Tolerate "12.0" as well as "12".
    v.parse::<u64>().ok().or_else(|| {
        v.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f.ceil() as u64)
    })
}

/// The rate-limit headers, when `allowed` and `reset` are both present.
pub fn rate_info(h: &HeaderMap) -> Option<RateInfo> {
    let allowed = header_u64(h, "inin-ratelimit-allowed")?;
    let reset = header_u64(h, "inin-ratelimit-reset")?;
    Some(RateInfo {
        count: header_u64(h, "inin-ratelimit-count").unwrap_or(0),
        allowed,
        reset: Duration::from_secs(reset),
    })
}

/// `Retry-After` in seconds (the form Genesys sends); an HTTP date is not used by
/// Genesys and is ignored.
pub fn retry_after(h: &HeaderMap) -> Option<Duration> {
    header_u64(h, "retry-after").map(Duration::from_secs)
}

/// The pacing arithmetic, on explicit instants so it can be tested without sleeping.
#[derive(Debug, Default)]
pub struct PaceState {
    /// Limit per window, once a response has told us.
    allowed: Option<u64>,
    /// Requests the server has counted in the current window.
    count: u64,
    /// When the current window ends.
    reset_at: Option<Instant>,
    /// Requests sent whose response has not been observed yet.
    unseen: u64,
    /// Earliest time the next request may go.
    next_slot: Option<Instant>,
    /// No request before this (after a 429).
    blocked_until: Option<Instant>,
}

impl PaceState {
    /// Reserves the next request and returns when it may be sent.
    pub fn reserve(&mut self, now: Instant) -> Instant {
        let mut at = now;
        for t in [self.blocked_until, self.next_slot].into_iter().flatten() {
            at = at.max(t);
        }
        let mut spacing = Duration::ZERO;
        if let (Some(allowed), Some(reset_at)) = (self.allowed, self.reset_at) {
            if at >= reset_at {
                self.roll(at);
            }
            let reset_at = self.reset_at.unwrap_or(at + WINDOW);
            let remaining = allowed.saturating_sub(self.count + self.unseen);
            if remaining == 0 {
                // Budget spent: the next request goes in the next window.
                at = at.max(reset_at + RESET_SLACK);
                self.roll(at);
                let reset_at = self.reset_at.unwrap_or(at + WINDOW);
                spacing = spread(
                    reset_at.saturating_duration_since(at),
                    allowed.saturating_sub(self.unseen),
                );
            } else {
                spacing = spread(reset_at.saturating_duration_since(at), remaining);
            }
        }
        self.next_slot = Some(at + spacing);
        self.unseen += 1;
        at
    }

    /// A new window starts at `at`: nothing counted, end estimated.
    fn roll(&mut self, at: Instant) {
        self.count = 0;
        self.reset_at = Some(at + WINDOW);
    }

    /// Records the outcome of a reserved request: its rate headers, if any.
    pub fn observe(&mut self, now: Instant, info: Option<RateInfo>) {
        self.unseen = self.unseen.saturating_sub(1);
        let Some(info) = info else { return };
        self.allowed = Some(info.allowed.max(1));
        let implied = now + info.reset;
        match self.reset_at {
            Some(known) if implied + SAME_WINDOW < known => {
                // A late response from a window that has already ended.
            }
            Some(known) if implied <= known + SAME_WINDOW => {
                self.count = self.count.max(info.count);
                // Reset is rounded up to whole seconds: the earliest report is the best.
                self.reset_at = Some(known.min(implied));
            }
            _ => {
                self.count = info.count;
                self.reset_at = Some(implied);
            }
        }
    }

    /// A 429: when the budget is spent (or the server did not say), hold every
    /// request until `wait` has passed.
    pub fn rate_limited(&mut self, now: Instant, wait: Duration, info: Option<RateInfo>) {
        let exhausted = info.is_none_or(|i| i.count >= i.allowed);
        if exhausted {
            let until = now + wait;
            self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
            if let Some(allowed) = self.allowed {
                self.count = self.count.max(allowed);
            }
        }
    }
}

/// Even spacing of `remaining` requests over `left`.
fn spread(left: Duration, remaining: u64) -> Duration {
    if remaining == 0 {
        return left;
    }
    let n = u32::try_from(remaining).unwrap_or(u32::MAX);
    left / n
}

/// The shared pacer of one client.
#[derive(Debug, Default)]
pub struct Pacer {
    state: Mutex<PaceState>,
}

impl Pacer {
    fn with<R>(&self, f: impl FnOnce(&mut PaceState) -> R) -> R {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// Waits for this request's turn. Every call must be followed by exactly one
    /// [`Pacer::observe`].
    pub async fn wait_turn(&self) {
        let at = self.with(|s| s.reserve(Instant::now()));
        tokio::time::sleep_until(at.into()).await;
    }

    /// Records a response's rate headers (`None` for no response at all).
    pub fn observe(&self, info: Option<RateInfo>) {
        self.with(|s| s.observe(Instant::now(), info));
    }

    /// Records a 429.
    pub fn rate_limited(&self, wait: Duration, info: Option<RateInfo>) {
        self.with(|s| s.rate_limited(Instant::now(), wait, info));
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn parses_rate_headers() {
        let h = headers(&[
            ("inin-ratelimit-count", "12"),
            ("inin-ratelimit-allowed", "300"),
            ("inin-ratelimit-reset", "41"),
            ("retry-after", "3"),
        ]);
        assert_eq!(
            rate_info(&h),
            Some(RateInfo {
                count: 12,
                allowed: 300,
                reset: Duration::from_secs(41)
            })
        );
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        assert_eq!(rate_info(&headers(&[("inin-ratelimit-count", "1")])), None);
        assert_eq!(
            retry_after(&headers(&[(
                "retry-after",
                "Wed, 21 Oct 2015 07:28:00 GMT"
            )])),
            None
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "1.5")])),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            rate_info(&headers(&[
                ("inin-ratelimit-allowed", "x"),
                ("inin-ratelimit-reset", "1")
            ])),
            None
        );
    }

    fn info(count: u64, allowed: u64, reset: u64) -> Option<RateInfo> {
        Some(RateInfo {
            count,
            allowed,
            reset: Duration::from_secs(reset),
        })
    }

    #[test]
    fn unknown_limit_means_no_waiting() {
        let mut s = PaceState::default();
        let t0 = Instant::now();
        for _ in 0..10 {
            assert_eq!(s.reserve(t0), t0);
            s.observe(t0, None);
        }
    }

    #[test]
    fn spreads_the_budget_over_the_window() {
        let mut s = PaceState::default();
        let t0 = Instant::now();
        assert_eq!(s.reserve(t0), t0);
        s.observe(t0, info(1, 300, 60));
        // 299 left over 60 s: about 200 ms apart.
        let a = s.reserve(t0);
        let b = s.reserve(t0);
        assert_eq!(a, t0);
        let gap = b - a;
        assert!(
            gap >= Duration::from_millis(195) && gap <= Duration::from_millis(205),
            "{gap:?}"
        );
    }

    #[test]
    fn a_full_window_never_exceeds_the_limit() {
        // Simulate a server with a fixed 60 s window and instant responses: the pacer
        // must never send more than `allowed` in a window and should use most of it.
        let allowed = 300u64;
        let t0 = Instant::now();
        let mut s = PaceState::default();
        let mut window_start = t0;
        let mut count = 0u64;
        let mut over = 0;
        let mut sent = 0u64;
        let mut now = t0;
        while now < t0 + Duration::from_secs(300) {
            let at = s.reserve(now);
            now = at;
            if now.duration_since(window_start) >= WINDOW {
                window_start = now;
                count = 0;
            }
            count += 1;
            sent += 1;
            if count > allowed {
                over += 1;
            }
            let left = WINDOW.saturating_sub(now.duration_since(window_start));
            let reset = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            s.observe(now, info(count, allowed, reset.max(1)));
        }
        assert_eq!(over, 0);
        // 5 minutes at 300/min is 1500; the slack after each reset costs a little.
        assert!(sent >= 1350, "{sent}");
    }

    #[test]
    fn an_idle_window_is_spent_faster() {
        let mut s = PaceState::default();
        let t0 = Instant::now();
        s.reserve(t0);
        s.observe(t0, info(1, 300, 10)); // 299 left, 10 s to go
        let a = s.reserve(t0);
        let b = s.reserve(t0);
        assert!(b - a < Duration::from_millis(40), "{:?}", b - a);
    }

    #[test]
    fn exhausted_budget_waits_for_the_reset() {
        let mut s = PaceState::default();
        let t0 = Instant::now();
        s.reserve(t0);
        s.observe(t0, info(300, 300, 5));
        let at = s.reserve(t0);
        assert!(at >= t0 + Duration::from_secs(5), "{:?}", at - t0);
        assert!(at <= t0 + Duration::from_secs(6));
    }

    #[test]
    fn a_429_blocks_everyone_only_when_the_budget_is_spent() {
        let t0 = Instant::now();
        let mut s = PaceState::default();
        s.rate_limited(t0, Duration::from_secs(3), info(301, 300, 20));
        assert!(s.reserve(t0) >= t0 + Duration::from_secs(3));

        let mut s = PaceState::default();
        // An injected 429 with budget left does not stall the other requests.
        s.rate_limited(t0, Duration::from_secs(1), info(5, 300, 50));
        assert_eq!(s.reserve(t0), t0);
    }

    #[test]
    fn late_responses_from_an_old_window_are_ignored() {
        let t0 = Instant::now();
        let mut s = PaceState::default();
        s.reserve(t0);
        s.observe(t0, info(2, 300, 60));
        s.reserve(t0);
        // A response reporting a window ending in 1 s is older than the known one.
        s.observe(t0, info(299, 300, 1));
        assert_eq!(s.count, 2);
    }
}
