//! Request counters per route template, read by tests and benchmarks through
//! `GET /__sandbox/stats` to assert how many requests a command made.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// Counters since start or the last reset.
#[derive(Debug, Default)]
pub struct Stats {
    total: u64,
    routes: BTreeMap<String, u64>,
    statuses: BTreeMap<String, u64>,
}

impl Stats {
    /// Counts a request to `route` (`METHOD /template`).
    pub fn request(&mut self, route: &str) {
        self.total += 1;
        *self.routes.entry(route.to_string()).or_default() += 1;
    }

    /// Counts an outcome: a status code, or `dropped` for a closed connection.
    pub fn outcome(&mut self, status: &str) {
        *self.statuses.entry(status.to_string()).or_default() += 1;
    }

    pub fn reset(&mut self) {
        *self = Stats::default();
    }

    /// The JSON of `GET /__sandbox/stats` (keys sorted: BTreeMap).
    pub fn to_json(&self) -> Value {
        json!({"total": self.total, "routes": self.routes, "statuses": self.statuses})
    }
}
