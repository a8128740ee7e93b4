//! Prometheus metrics: requests by route and status, latency histograms, decisions by
//! outcome, and counters read from the directory and the audit log at scrape time.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteStatus {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Route {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub outcome: String,
}

fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 14))
}

#[derive(Clone, Debug)]
pub struct Metrics {
    pub requests: Family<RouteStatus, Counter>,
    pub latency: Family<Route, Histogram, fn() -> Histogram>,
    pub decisions: Family<Outcome, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency),
            decisions: Family::default(),
        }
    }
}

/// Sources read at scrape time.
pub struct Snapshot {
    pub directory_lookups: u64,
    pub directory_cache_hits: u64,
    pub audit_records: u64,
    pub audit_fsyncs: u64,
    pub audit_fsync_seconds: f64,
}

impl Metrics {
    /// The text exposition format.
    pub fn render(&self, s: &Snapshot) -> Result<String, std::fmt::Error> {
        let mut r = Registry::with_prefix("sesame");
        r.register("http_requests", "HTTP requests by route and status", self.requests.clone());
        r.register("http_request_duration_seconds", "HTTP request latency by route", self.latency.clone());
        r.register(
            "decisions",
            "Mint outcomes (minted, minted_some_closed, minted_all_closed, refused, failed)",
            self.decisions.clone(),
        );
        r.register("directory_lookups", "Entitlement lookups", ConstCounter::new(s.directory_lookups));
        r.register(
            "directory_cache_hits",
            "Entitlement lookups served from the cache",
            ConstCounter::new(s.directory_cache_hits),
        );
        r.register("audit_records", "Audit records made durable", ConstCounter::new(s.audit_records));
        r.register(
            "audit_fsyncs",
            "Audit fdatasync calls (one per group commit)",
            ConstCounter::new(s.audit_fsyncs),
        );
        r.register(
            "audit_fsync_seconds",
            "Time spent writing and syncing the audit log",
            ConstCounter::new(s.audit_fsync_seconds),
        );
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &r)?;
        Ok(out)
    }
}
