//! Pacing under the per-token rate limit (SPEC 8.2).
//!
//! Every response carries `inin-ratelimit-count` (requests used in the current
//! window), `inin-ratelimit-allowed` and `inin-ratelimit-reset` (seconds until the
//! window resets). The server's headers are the only source of window boundaries: no
//! window length is assumed. The pacer sends freely while the budget of the window it
//! knows lasts, then holds further requests until that window's end, when a new
//! window (an "epoch") begins whose end only a response sent in it can tell.
//!
//! Each request carries a [`Ticket`] naming the epoch it was sent in, so a response
//! that arrives after its window ended is recognised by the request it answers and
//! cannot corrupt the new window's count. A 429's `Retry-After` holds every request.
//! Header values are capped and all instant arithmetic is checked: no header a server
//! sends can panic the client.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use tokio::sync::Notify;

/// Past a window's reported end, wait this much more before its new budget is used.
/// A reset rounded up to whole seconds (as Genesys and the sandbox send it) already
/// lies at or after the true end; this covers the server's own clock granularity.
const RESET_SLACK: Duration = Duration::from_millis(20);
/// A current-epoch report of a window ending this much later than the known end means
/// the server already began a later window.
const NEW_WINDOW_MARGIN: Duration = Duration::from_millis(1500);
/// No header value is believed past this: a day for durations, 2^32 for counts.
const MAX_HEADER_SECS: u64 = 86_400;
const MAX_HEADER_COUNT: u64 = 1 << 32;
/// How long a request waits for a report before looking again (when the budget is
/// spent and the window's end is still unknown).
const REPORT_WAIT: Duration = Duration::from_secs(1);

/// The `inin-ratelimit-*` headers of one response, capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RateInfo {
    pub count: u64,
    pub allowed: u64,
    pub reset: Duration,
}

fn header_u64(h: &HeaderMap, name: &str, cap: u64) -> Option<u64> {
    let v = h.get(name)?.to_str().ok()?.trim();
    // Tolerate "12.0" as well as "12"; `as` saturates, and the cap bounds the rest.
    let n = v.parse::<u64>().ok().or_else(|| {
        v.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f.ceil() as u64)
    })?;
    Some(n.min(cap))
}

/// The rate-limit headers, when `allowed` and `reset` are both present.
pub fn rate_info(h: &HeaderMap) -> Option<RateInfo> {
    let allowed = header_u64(h, "inin-ratelimit-allowed", MAX_HEADER_COUNT)?;
    let reset = header_u64(h, "inin-ratelimit-reset", MAX_HEADER_SECS)?;
    Some(RateInfo {
        count: header_u64(h, "inin-ratelimit-count", MAX_HEADER_COUNT).unwrap_or(0),
        allowed,
        reset: Duration::from_secs(reset),
    })
}

/// `Retry-After` in seconds (the form Genesys sends), at most a day; an HTTP date is
/// not used by Genesys and is ignored.
pub fn retry_after(h: &HeaderMap) -> Option<Duration> {
    header_u64(h, "retry-after", MAX_HEADER_SECS).map(Duration::from_secs)
}

/// `at + d`, or `at` plus a day when that overflows (it cannot on any real clock).
fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .or_else(|| at.checked_add(Duration::from_secs(MAX_HEADER_SECS)))
        .unwrap_or(at)
}

/// Which window (epoch) a request was sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ticket {
    epoch: u64,
}

/// The answer to a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// Send at this instant.
    At(Instant, Ticket),
    /// The budget is spent and only a response still in flight can say when the
    /// window ends: wait for a report, then ask again.
    AwaitReport,
}

/// The pacing arithmetic, on explicit instants so it can be tested without sleeping.
#[derive(Debug, Default)]
pub struct PaceState {
    /// Limit per window, once a response has told us.
    allowed: Option<u64>,
    /// The current window; requests carry it in their ticket.
    epoch: u64,
    /// No request of this epoch before this instant (the end of the previous window).
    epoch_start: Option<Instant>,
    /// The earliest end of this window that a response sent in it implied.
    end: Option<Instant>,
    /// Requests sent in this epoch.
    sent: u64,
    /// The highest count the server reported for this epoch (others may share the token).
    counted: u64,
    /// Requests of this epoch not answered yet.
    in_flight: u64,
    /// No request before this (a 429's `Retry-After`).
    blocked_until: Option<Instant>,
}

impl PaceState {
    /// Reserves the next request: at once while the window's budget lasts (a finite
    /// run finishes soonest that way), else at the window's end.
    pub fn reserve(&mut self, now: Instant) -> Turn {
        let mut at = now;
        for t in [self.blocked_until, self.epoch_start].into_iter().flatten() {
            at = at.max(t);
        }
        if let Some(end) = self.end
            && at >= later(end, RESET_SLACK)
        {
            self.roll(at);
        }
        if let Some(allowed) = self.allowed
            && self.sent.max(self.counted) >= allowed
        {
            match self.end {
                Some(end) => {
                    at = at.max(later(end, RESET_SLACK));
                    self.roll(at);
                }
                None if self.in_flight > 0 => return Turn::AwaitReport,
                // Nothing in flight can tell us: one request asks the server.
                None => {}
            }
        }
        self.sent = self.sent.saturating_add(1);
        self.in_flight = self.in_flight.saturating_add(1);
        Turn::At(at, Ticket { epoch: self.epoch })
    }

    /// A new window starts at `at`: nothing used, its end unknown until a response says.
    fn roll(&mut self, at: Instant) {
        self.epoch = self.epoch.wrapping_add(1);
        self.epoch_start = Some(at);
        self.end = None;
        self.sent = 0;
        self.counted = 0;
        self.in_flight = 0;
    }

    /// Records the answer to the request of `ticket`, received at `now`: its rate
    /// headers, or `None` when it had none or no response came at all.
    pub fn observe(&mut self, now: Instant, ticket: Ticket, info: Option<RateInfo>) {
        let current = ticket.epoch == self.epoch;
        if current {
            self.in_flight = self.in_flight.saturating_sub(1);
        }
        let Some(info) = info else { return };
        self.allowed = Some(info.allowed.max(1));
        if !current {
            // It answers a request of a window that has ended: its count and reset
            // describe that window, not this one.
            return;
        }
        let implied = later(now, info.reset);
        match self.end {
            Some(known) if implied > later(known, NEW_WINDOW_MARGIN) => {
                // The server already began a later window than the one this epoch
                // assumed: its count is the truth, and requests still in flight
                // may land in it too.
                let in_flight = self.in_flight;
                self.roll(now);
                self.end = Some(implied);
                self.counted = info.count;
                self.sent = info.count.saturating_add(in_flight);
            }
            Some(known) => {
                // Resets are rounded up, so the earliest implied end is the best.
                self.end = Some(known.min(implied));
                self.counted = self.counted.max(info.count);
            }
            None => {
                self.end = Some(implied);
                self.counted = self.counted.max(info.count);
            }
        }
    }

    /// A 429 answering `ticket`: `Retry-After` holds every request; when the server
    /// says the budget is spent (or does not say), this window's budget is spent.
    pub fn rate_limited(
        &mut self,
        now: Instant,
        ticket: Ticket,
        wait: Duration,
        info: Option<RateInfo>,
    ) {
        let until = later(now, wait.min(Duration::from_secs(MAX_HEADER_SECS)));
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
        let exhausted = info.is_none_or(|i| i.count >= i.allowed);
        if exhausted && ticket.epoch == self.epoch {
            self.counted = self.counted.max(self.allowed.unwrap_or(1));
        }
    }
}

/// The shared pacer of one client.
#[derive(Debug, Default)]
pub struct Pacer {
    state: Mutex<PaceState>,
    reports: Notify,
}

impl Pacer {
    fn with<R>(&self, f: impl FnOnce(&mut PaceState) -> R) -> R {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// Waits for this request's turn; the ticket goes back with its answer. A turn
    /// further away than `max_wait` (a server reporting a window that ends tomorrow)
    /// is not waited for: the wait is returned as the error.
    pub async fn wait_turn(&self, max_wait: Duration) -> Result<Ticket, Duration> {
        loop {
            let report = self.reports.notified();
            tokio::pin!(report);
            report.as_mut().enable();
            let now = Instant::now();
            match self.with(|s| s.reserve(now)) {
                Turn::At(at, ticket) => {
                    let wait = at.saturating_duration_since(now);
                    if wait > max_wait {
                        self.observe(ticket, None);
                        return Err(wait);
                    }
                    tokio::time::sleep_until(at.into()).await;
                    return Ok(ticket);
                }
                Turn::AwaitReport => {
                    let _ = tokio::time::timeout(REPORT_WAIT, report).await;
                }
            }
        }
    }

    /// Records the answer to a request: its rate headers, or `None` for none at all.
    pub fn observe(&self, ticket: Ticket, info: Option<RateInfo>) {
        self.with(|s| s.observe(Instant::now(), ticket, info));
        self.reports.notify_waiters();
    }

    /// Records a 429.
    pub fn rate_limited(&self, ticket: Ticket, wait: Duration, info: Option<RateInfo>) {
        self.with(|s| s.rate_limited(Instant::now(), ticket, wait, info));
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

    fn at(turn: Turn) -> (Instant, Ticket) {
        match turn {
            Turn::At(at, t) => (at, t),
            Turn::AwaitReport => panic!("expected a send time, got AwaitReport"),
        }
    }

    #[test]
    fn hostile_header_values_are_capped_not_panics() {
        for v in [
            "1e20",
            "18446744073709551615",
            "99999999999999999999999",
            "1e308",
        ] {
            let h = headers(&[
                ("inin-ratelimit-count", v),
                ("inin-ratelimit-allowed", v),
                ("inin-ratelimit-reset", v),
                ("retry-after", v),
            ]);
            let i = rate_info(&h).expect("parsed and capped");
            assert_eq!(i.reset, Duration::from_secs(MAX_HEADER_SECS));
            assert_eq!(i.allowed, MAX_HEADER_COUNT);
            assert_eq!(retry_after(&h), Some(Duration::from_secs(MAX_HEADER_SECS)));
            let mut s = PaceState::default();
            let t0 = Instant::now();
            let (_, t) = at(s.reserve(t0));
            s.observe(t0, t, Some(i));
            s.rate_limited(t0, t, Duration::MAX, Some(i));
            let _ = s.reserve(t0);
        }
        for v in ["-1", "NaN", "inf", "", "0x10"] {
            assert_eq!(retry_after(&headers(&[("retry-after", v)])), None, "{v}");
        }
    }

    #[test]
    fn unknown_limit_means_no_waiting() {
        let mut s = PaceState::default();
        let t0 = Instant::now();
        for _ in 0..10 {
            let (when, t) = at(s.reserve(t0));
            assert_eq!(when, t0);
            s.observe(t0, t, None);
        }
    }

    #[test]
    fn sends_freely_until_the_budget_is_spent_then_waits_for_the_reported_end() {
        let t0 = Instant::now();
        let mut s = PaceState::default();
        let (_, first) = at(s.reserve(t0));
        s.observe(t0, first, info(1, 10, 7));
        for _ in 0..9 {
            assert_eq!(at(s.reserve(t0)).0, t0);
        }
        // The window the server reported ends in 7 s: that, not an assumed length.
        let (next, ticket) = at(s.reserve(t0));
        assert_eq!(next, t0 + Duration::from_secs(7) + RESET_SLACK);
        for _ in 0..9 {
            assert_eq!(at(s.reserve(t0)).0, next);
        }
        // The new window's end is unknown until one of its responses says so.
        assert_eq!(s.reserve(t0), Turn::AwaitReport);
        s.observe(next, ticket, info(10, 10, 7));
        assert_eq!(
            at(s.reserve(t0)).0,
            next + Duration::from_secs(7) + RESET_SLACK
        );
    }

    #[test]
    fn with_nothing_in_flight_one_request_asks_the_server() {
        let t0 = Instant::now();
        let mut s = PaceState::default();
        let (_, t) = at(s.reserve(t0));
        s.observe(t0, t, info(1, 1, 2));
        let (next, t) = at(s.reserve(t0));
        // The answer was lost: nothing in flight can report the new window's end.
        s.observe(next, t, None);
        let (probe, _) = at(s.reserve(next));
        assert_eq!(probe, next);
    }

    #[test]
    fn a_late_response_is_recognised_by_the_request_it_answers() {
        let t0 = Instant::now();
        let mut s = PaceState::default();
        let (_, old) = at(s.reserve(t0));
        s.observe(t0, old, info(1, 2, 1));
        let (_, old2) = at(s.reserve(t0));
        // The window ended; a request of the new one is answered first.
        let (t1, new) = at(s.reserve(t0));
        assert!(t1 > t0);
        s.observe(t1, new, info(1, 2, 1));
        // The old request's answer arrives late, reporting its own (full) window.
        s.observe(t1, old2, info(2, 2, 1));
        assert_eq!(
            s.counted, 1,
            "the late answer must not spend the new budget"
        );
        assert_eq!(at(s.reserve(t1)).0, t1);
    }

    #[test]
    fn retry_after_blocks_everyone_and_a_spent_budget_waits_for_the_window() {
        let t0 = Instant::now();
        let mut s = PaceState::default();
        let (_, t) = at(s.reserve(t0));
        s.observe(t0, t, info(5, 300, 50));
        // An injected 429 with budget left still blocks for its Retry-After...
        s.rate_limited(t0, t, Duration::from_secs(1), info(5, 300, 50));
        assert_eq!(at(s.reserve(t0)).0, t0 + Duration::from_secs(1));
        // ...but does not spend the window.
        assert_eq!(s.counted, 5);
        let (_, t) = at(s.reserve(t0));
        s.observe(t0, t, info(301, 300, 20));
        s.rate_limited(t0, t, Duration::from_secs(3), info(301, 300, 20));
        assert!(at(s.reserve(t0)).0 >= t0 + Duration::from_secs(20));
    }

    /// A simulated Genesys org: `allowed` requests per `window`, resets reported rounded
    /// up to whole seconds (at least 1). `anchored` windows start at the first request
    /// after the last one ended (as the sandbox's do); otherwise they lie on a fixed
    /// grid offset by `phase`.
    struct Server {
        window: Duration,
        allowed: u64,
        anchored: bool,
        win_start: Instant,
        count: u64,
        accepted: u64,
        over: u64,
    }

    impl Server {
        fn hit(&mut self, t: Instant) -> (RateInfo, bool) {
            if t.duration_since(self.win_start) >= self.window {
                self.win_start = if self.anchored {
                    t
                } else {
                    let n = t.duration_since(self.win_start).as_nanos() / self.window.as_nanos();
                    self.win_start + self.window * (n as u32)
                };
                self.count = 0;
            }
            self.count += 1;
            let over = self.count > self.allowed;
            if over {
                self.over += 1;
            } else {
                self.accepted += 1;
            }
            let left = self.window.saturating_sub(t.duration_since(self.win_start));
            let reset = (left.as_secs() + u64::from(left.subsec_nanos() > 0)).max(1);
            (info(self.count, self.allowed, reset).unwrap(), over)
        }
    }

    /// Runs `workers` concurrent requesters with `latency` round trips against a
    /// server for `span`, in simulated time; returns the server.
    fn simulate(
        window: Duration,
        allowed: u64,
        anchored: bool,
        phase: Duration,
        workers: usize,
        span: Duration,
    ) -> Server {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        #[derive(PartialEq, Eq, PartialOrd, Ord)]
        enum Ev {
            Ready(usize),
            Answer(usize, u64, RateInfo, bool),
        }
        let latency = Duration::from_millis(8);
        let t0 = Instant::now() + Duration::from_secs(1000);
        let mut server = Server {
            window,
            allowed,
            anchored,
            win_start: t0 - phase,
            count: 0,
            accepted: 0,
            over: 0,
        };
        let mut pacer = PaceState::default();
        let mut q = BinaryHeap::new();
        let mut seq = 0u64;
        for w in 0..workers {
            q.push(Reverse((t0, seq, Ev::Ready(w))));
            seq += 1;
        }
        let mut waiting: Vec<usize> = Vec::new();
        while let Some(Reverse((now, _, ev))) = q.pop() {
            if now > t0 + span {
                break;
            }
            match ev {
                Ev::Ready(w) => match pacer.reserve(now) {
                    Turn::At(send, ticket) => {
                        let (i, over) = server.hit(send + latency / 2);
                        q.push(Reverse((
                            send + latency,
                            seq,
                            Ev::Answer(w, ticket.epoch, i, over),
                        )));
                        seq += 1;
                    }
                    Turn::AwaitReport => waiting.push(w),
                },
                Ev::Answer(w, epoch, i, over) => {
                    let ticket = Ticket { epoch };
                    pacer.observe(now, ticket, Some(i));
                    if over {
                        pacer.rate_limited(now, ticket, i.reset, Some(i));
                    }
                    for w in waiting.drain(..).chain([w]) {
                        q.push(Reverse((now, seq, Ev::Ready(w))));
                        seq += 1;
                    }
                }
            }
        }
        server
    }

    #[test]
    fn windows_of_any_length_are_never_over_sent_and_at_least_90_percent_used() {
        for (secs, allowed) in [(1u64, 30u64), (5, 30), (60, 300), (90, 300)] {
            let window = Duration::from_secs(secs);
            let span = window * 10;
            for (anchored, phase_ms) in [(true, 0u64), (false, 0), (false, 370), (false, 999)] {
                for workers in [1, 4, 16] {
                    let s = simulate(
                        window,
                        allowed,
                        anchored,
                        Duration::from_millis(phase_ms),
                        workers,
                        span,
                    );
                    let label = format!(
                        "{secs} s window, {allowed} allowed, anchored {anchored}, phase {phase_ms} ms, {workers} workers"
                    );
                    assert_eq!(s.over, 0, "over-sent: {label}");
                    let possible = allowed * 10;
                    assert!(
                        s.accepted * 10 >= possible * 9,
                        "used {} of {possible}: {label}",
                        s.accepted
                    );
                }
            }
        }
    }
}
