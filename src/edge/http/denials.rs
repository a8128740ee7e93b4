//! Turned-away callers, audited without letting them fill the disk: a denial (no
//! client certificate, no role for the route, a certificate the handshake rejected) is
//! counted in memory per source and reason, off the handshake path and without a
//! write of its own, and every [`FLUSH`] one `access` record per (source, reason)
//! carries the count, the first and last time and a sample message. The map is
//! bounded ([`MAX_KEYS`]; past it, sources share one `other` entry), and a source
//! denied more than [`PER_SOURCE`] times in one interval is answered 429 at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::audit::{AuditLog, Entry, Kind};
use crate::core::text::{clip, saml_time};

/// How often counted denials become records.
pub const FLUSH: Duration = Duration::from_secs(10);
/// Distinct (source, reason) pairs kept per interval.
pub const MAX_KEYS: usize = 1024;
/// Denials one source may have per interval before it is answered 429 without more work.
pub const PER_SOURCE: u64 = 100;

#[derive(Debug, Clone)]
struct Count {
    count: u64,
    first: String,
    last: String,
    caller: String,
    request_id: Option<String>,
    message: String,
}

/// The counts of the current interval.
#[derive(Debug, Default)]
pub struct Denials {
    counts: Mutex<HashMap<(String, &'static str), Count>>,
    per_source: Mutex<HashMap<String, u64>>,
}

/// One denial as it happens.
#[derive(Debug, Clone)]
pub struct Denial<'a> {
    /// The source address, or `tls-handshake` when the handshake rejected the caller.
    pub source: &'a str,
    pub code: &'static str,
    pub caller: &'a str,
    pub request_id: Option<String>,
    pub message: String,
    pub time: chrono::DateTime<chrono::Utc>,
}

impl Denials {
    /// Counts a denial; returns whether its source is over [`PER_SOURCE`] this interval.
    pub fn note(&self, d: Denial<'_>) -> bool {
        let time = saml_time(d.time);
        let over = self.per_source.lock().is_ok_and(|mut m| {
            let mut source = clip(d.source, 64);
            if !m.contains_key(&source) && m.len() >= MAX_KEYS {
                source = "other".to_owned();
            }
            let n = m.entry(source).or_insert(0);
            *n += 1;
            *n > PER_SOURCE
        });
        if let Ok(mut m) = self.counts.lock() {
            let mut key = (clip(d.source, 64), d.code);
            if !m.contains_key(&key) && m.len() >= MAX_KEYS {
                key = ("other".to_owned(), d.code);
            }
            let c = m.entry(key).or_insert_with(|| Count {
                count: 0,
                first: time.clone(),
                last: time.clone(),
                caller: clip(d.caller, 256),
                request_id: d.request_id.clone(),
                message: clip(&d.message, 400),
            });
            c.count += 1;
            c.last = time;
        }
        over
    }

    /// The records of the interval so far, and a fresh interval.
    fn drain(&self) -> Vec<Entry> {
        if let Ok(mut m) = self.per_source.lock() {
            m.clear();
        }
        let taken = self.counts.lock().map(|mut m| std::mem::take(&mut *m)).unwrap_or_default();
        let mut out: Vec<Entry> = taken
            .into_iter()
            .map(|((source, code), c)| Entry {
                time: c.last.clone(),
                outcome: Some("denied".into()),
                code: Some(code.into()),
                caller: Some(c.caller),
                request_id: c.request_id,
                message: Some(clip(
                    &format!("{} (first at {}): {}", plural(c.count), c.first, c.message),
                    512,
                )),
                source: Some(source),
                count: Some(c.count),
                ..Entry::default()
            })
            .collect();
        out.sort_by(|a, b| a.time.cmp(&b.time));
        out
    }

    /// Writes the interval's records (group commit) and waits for them.
    pub async fn flush(&self, audit: &dyn AuditLog) {
        let pending: Vec<_> = self.drain().into_iter().map(|e| audit.submit(Kind::Access, e)).collect();
        for p in pending {
            if let Err(e) = crate::audit::durable(p).await {
                tracing::error!(error = %e, "cannot record denied callers");
            }
        }
    }

    /// As [`Denials::flush`], on this thread (at shutdown).
    pub fn flush_now(&self, audit: &dyn AuditLog) {
        for e in self.drain() {
            if let Err(e) = audit.append(Kind::Access, e) {
                tracing::error!(error = %e, "cannot record denied callers");
            }
        }
    }
}

fn plural(n: u64) -> String {
    if n == 1 {
        "1 request".into()
    } else {
        format!("{n} requests")
    }
}
