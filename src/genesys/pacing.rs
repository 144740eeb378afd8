//! Pacing under the per-token rate limit (SPEC 8.2).
//!
//! Every response carries `inin-ratelimit-count` (requests used in the current
//! window), `inin-ratelimit-allowed` and `inin-ratelimit-reset` (seconds until the
//! window resets). The pacer counts what it sends per window, sends freely while the
//! budget lasts and holds further requests until just after the reset, so a long run
//! uses the whole allowance without running into 429s. A 429 that shows the budget exhausted
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
    /// When the current window ends, once a response has told us.
    reset_at: Option<Instant>,
    /// Requests this client has scheduled in the current window.
    scheduled: u64,
    /// Requests the server has counted in the current window (others may share the token).
    counted: u64,
    /// The latest reserved send time: requests go in the order they asked.
    next_slot: Option<Instant>,
    /// No request before this (after a 429).
    blocked_until: Option<Instant>,
}

impl PaceState {
    /// Reserves the next request and returns when it may be sent: at once while the
    /// window's budget lasts (a finite run finishes soonest that way), else just after
    /// the window resets.
    pub fn reserve(&mut self, now: Instant) -> Instant {
        let mut at = now;
        for t in [self.blocked_until, self.next_slot].into_iter().flatten() {
            at = at.max(t);
        }
        if let (Some(allowed), Some(reset_at)) = (self.allowed, self.reset_at) {
            if at >= reset_at {
                self.roll(at);
            } else if self.scheduled.max(self.counted) >= allowed {
                at = reset_at + RESET_SLACK;
                self.roll(at);
            }
        }
        self.scheduled += 1;
        self.next_slot = Some(at);
        at
    }

    /// A new window starts at `at`: nothing used, end estimated until a response says.
    fn roll(&mut self, at: Instant) {
        self.scheduled = 0;
        self.counted = 0;
        self.reset_at = Some(at + WINDOW);
    }

    /// Records the rate headers of a response received at `now`.
    pub fn observe(&mut self, now: Instant, info: Option<RateInfo>) {
        let Some(info) = info else { return };
        self.allowed = Some(info.allowed.max(1));
        let implied = now + info.reset;
        match self.reset_at {
            Some(known) if implied + SAME_WINDOW < known => {
                // A late response from a window that has already ended.
            }
            Some(known) if implied <= known + SAME_WINDOW => {
                self.counted = self.counted.max(info.count);
                // Reset is rounded up to whole seconds: the earliest report is the best.
                self.reset_at = Some(known.min(implied));
            }
            Some(_) => {
                // A window newer than the one we assumed (a new token, or a server
                // whose window started later): the server's count is the truth.
                self.reset_at = Some(implied);
                self.counted = info.count;
                self.scheduled = info.count;
            }
            None => {
                // The first report: what we sent so far is in this window.
                self.reset_at = Some(implied);
                self.counted = info.count;
                self.scheduled = self.scheduled.max(info.count);
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
                self.counted = self.counted.max(allowed);
            }
        }
    }
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

    /// Waits for this request's turn.
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
    fn sends_freely_until_the_budget_is_spent_then_waits_for_the_reset() {
        let t0 = Instant::now();
        let mut s = PaceState::default();
        assert_eq!(s.reserve(t0), t0);
        s.observe(t0, info(1, 10, 30));
        // Nine more fit in this window, whatever their responses say yet.
        for _ in 0..9 {
            assert_eq!(s.reserve(t0), t0);
        }
        let next = s.reserve(t0);
        assert_eq!(next, t0 + Duration::from_secs(30) + RESET_SLACK);
        // The new window's budget is counted from there, in order.
        for _ in 0..9 {
            assert_eq!(s.reserve(t0), next);
        }
        assert!(s.reserve(t0) > next + Duration::from_secs(59));
    }

    #[test]
    fn requests_sent_before_the_first_report_count() {
        let t0 = Instant::now();
        let mut s = PaceState::default();
        for _ in 0..8 {
            assert_eq!(s.reserve(t0), t0);
        }
        // Only one of the eight has reached the server so far.
        s.observe(t0, info(1, 10, 60));
        assert_eq!(s.reserve(t0), t0);
        assert_eq!(s.reserve(t0), t0);
        assert!(s.reserve(t0) >= t0 + Duration::from_secs(60));
    }

    #[test]
    fn a_full_window_never_exceeds_the_limit() {
        // Simulate a server with a fixed 60 s window and 5 ms responses: the pacer must
        // never send more than `allowed` in a window and should use nearly all of it.
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
            if at.duration_since(window_start) >= WINDOW {
                window_start = at;
                count = 0;
            }
            count += 1;
            sent += 1;
            if count > allowed {
                over += 1;
            }
            now = at + Duration::from_millis(5);
            let left = WINDOW.saturating_sub(now.duration_since(window_start));
            let reset = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            s.observe(now, info(count, allowed, reset.max(1)));
        }
        assert_eq!(over, 0);
        // Five windows of 300 and the start of a sixth.
        assert!(sent >= 1500, "{sent}");
        assert!(sent <= 1800, "{sent}");
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
        assert_eq!(s.counted, 2);
    }
}
