//! What sesame released, indexed for the auditor's joins: every minted decision of the
//! assertion log by assertion ID and by RoleSessionName, with the tags, duration and
//! validity it granted. Built from log files (a database's chains are exported first).

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::audit::record::{sentinel_digest, SetRecord};
use crate::audit::search::scan;
use crate::audit::Kind;

/// A PrincipalTag value as the log keeps it: an open set's value, or a closed set's
/// sentinel as its digest (`sha256:<hex>`, by the set's status, not by the text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Released {
    Value(String),
    Sentinel { digest: String },
}

impl Released {
    /// Whether `seen` (CloudTrail's value) is what was released.
    pub fn matches(&self, seen: &str) -> bool {
        match self {
            Released::Value(v) => v == seen,
            Released::Sentinel { digest } => *digest == sentinel_digest(seen),
        }
    }
}

impl std::fmt::Display for Released {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Released::Value(v) => write!(f, "{v:?}"),
            Released::Sentinel { digest } => write!(f, "a sentinel ({digest})"),
        }
    }
}

/// One minted assertion as its decision record states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minted {
    pub assertion_id: String,
    pub replica: String,
    pub seq: u64,
    /// When the record was written (RFC 3339, as stored).
    pub time: String,
    pub user: String,
    pub instance: String,
    pub region: String,
    pub role_session_name: Option<String>,
    pub session_duration: Option<u32>,
    pub not_on_or_after: Option<DateTime<Utc>>,
    /// Every PrincipalTag released, sorted by name; `None` for records written before
    /// tags were recorded. (A vector: a map's node costs several times more per assertion.)
    pub tags: Option<Vec<(String, Released)>>,
    /// The decision's sets, when the index was read with them (`audit route` needs them;
    /// reconcile does not, and a month of assertions is kept in memory).
    pub sets: Vec<SetRecord>,
}

/// The minted decisions of one or more chains.
#[derive(Debug, Default)]
pub struct Index {
    by_assertion: HashMap<String, Minted>,
    by_session_name: HashMap<String, Vec<String>>,
    /// Records of a decision minted twice under one assertion ID (never expected).
    pub duplicates: Vec<String>,
    /// Partial last lines skipped (a writer cut off mid-record): file and bytes.
    pub torn: Vec<(PathBuf, usize)>,
}

impl Index {
    /// Reads `files` (one chain's, or several chains' one after another), keeping each
    /// decision's sets only `with_sets`.
    pub fn read(files: &[PathBuf], with_sets: bool) -> Result<Self, String> {
        let mut ix = Index::default();
        let torn = scan(files, |h| {
            let r = h.record;
            if r.kind != Kind::Decision {
                return;
            }
            let e = r.entry;
            let Some(id) = e.assertion_id else { return };
            let mut tags: Vec<(String, Released)> = e
                .sets
                .iter()
                .flat_map(|s| {
                    s.tags.iter().map(move |(k, v)| {
                        let r = if s.status == "open" {
                            Released::Value(v.clone())
                        } else {
                            Released::Sentinel { digest: v.clone() }
                        };
                        (k.clone(), r)
                    })
                })
                .collect();
            tags.sort_by(|a, b| a.0.cmp(&b.0));
            tags.dedup_by(|a, b| a.0 == b.0);
            tags.shrink_to_fit();
            let recorded = e.sets.iter().all(|s| !s.tags.is_empty());
            let m = Minted {
                assertion_id: id.clone(),
                replica: r.replica,
                seq: r.seq,
                time: e.time,
                user: e.user.unwrap_or_default(),
                instance: e.instance.unwrap_or_default(),
                region: e.region.unwrap_or_default(),
                role_session_name: e.role_session_name,
                session_duration: e.session_duration,
                not_on_or_after: e
                    .not_on_or_after
                    .as_deref()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc)),
                tags: recorded.then_some(tags),
                sets: if with_sets { e.sets } else { Vec::new() },
            };
            ix.insert(m);
        })?;
        ix.torn = torn;
        Ok(ix)
    }

    pub fn insert(&mut self, m: Minted) {
        if self.by_assertion.contains_key(&m.assertion_id) {
            self.duplicates.push(format!("{} (replica {} seq {})", m.assertion_id, m.replica, m.seq));
            return;
        }
        if let Some(n) = &m.role_session_name {
            self.by_session_name.entry(n.clone()).or_default().push(m.assertion_id.clone());
        }
        self.by_assertion.insert(m.assertion_id.clone(), m);
    }

    pub fn get(&self, assertion_id: &str) -> Option<&Minted> {
        self.by_assertion.get(assertion_id)
    }

    /// Every decision whose response carried this RoleSessionName (one, with per-decision
    /// names; possibly many with `aws.role_session_name = "user"`).
    pub fn by_session_name(&self, name: &str) -> Vec<&Minted> {
        self.by_session_name
            .get(name)
            .map(|ids| ids.iter().filter_map(|i| self.by_assertion.get(i)).collect())
            .unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.by_assertion.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_assertion.is_empty()
    }

    /// Every minted assertion, in the order it was minted (time, then replica and seq).
    pub fn in_order(&self) -> Vec<&Minted> {
        let mut v: Vec<&Minted> = self.by_assertion.values().collect();
        v.sort_by(|a, b| (&a.time, &a.replica, a.seq).cmp(&(&b.time, &b.replica, b.seq)));
        v
    }
}
