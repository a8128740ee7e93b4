//! Which Session Manager sessions must end, and when: the reaper's plan, derived only
//! from durable facts (decisions that opened a set, grants revoked or released, and
//! the reaper's own "done" records), so a restart rebuilt from the audit log plans
//! exactly what the crashed process would have.
//!
//! The rules:
//! - a decision that opened at least one set is due at the earliest end of its open
//!   windows (its credentials never outlive it; its sessions must not either);
//! - a grant revoked or released at T makes every earlier decision of that person with
//!   that entitlement open due at T (strict: a session cannot be traced to one set, so
//!   the person signs in again if another grant still covers them);
//! - a decision is planned until a done record names it; one minted longer ago than
//!   its credentials' longest life plus the longest Session Manager session
//!   (`forget_before`) cannot have an open session and is dropped.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

/// A decision that opened at least one set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The assertion ID: the key of everything about this decision.
    pub key: String,
    pub user: String,
    pub region: String,
    /// The RoleSessionName its response carried (sessions are `<name>-<hex>`).
    pub session_name: String,
    pub at: DateTime<Utc>,
    /// The earliest end of its open windows.
    pub ends: DateTime<Utc>,
    /// Entitlements (groups) of its open sets.
    pub entitlements: Vec<String>,
}

/// Why a job is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    WindowEnd,
    Revoked,
}

impl Why {
    pub fn code(self) -> &'static str {
        match self {
            Why::WindowEnd => "window_end",
            Why::Revoked => "revoked",
        }
    }
}

/// Sessions of one decision to end now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub key: String,
    pub user: String,
    pub region: String,
    pub session_name: String,
    pub entitlements: Vec<String>,
    pub due: DateTime<Utc>,
    pub why: Why,
}

/// An entitlement of a person ended early (grant revoked or released) at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub user: String,
    pub entitlement: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    opened: BTreeMap<String, Opened>,
    ended: Vec<Ended>,
    /// Decisions confirmed done, and when.
    done: HashMap<String, DateTime<Utc>>,
}

impl Plan {
    pub fn opened(&mut self, o: Opened) {
        if !self.done.contains_key(&o.key) {
            self.opened.insert(o.key.clone(), o);
        }
    }

    pub fn ended(&mut self, e: Ended) {
        self.ended.push(e);
    }

    /// A done record: this decision's sessions were confirmed ended at `at`.
    pub fn done(&mut self, key: &str, at: DateTime<Utc>) {
        self.opened.remove(key);
        self.done.insert(key.to_owned(), at);
    }

    /// When `o` is due, and why.
    pub fn due_at(&self, o: &Opened) -> (DateTime<Utc>, Why) {
        let revoked = self
            .ended
            .iter()
            .filter(|e| e.user == o.user && e.at >= o.at && o.entitlements.contains(&e.entitlement))
            .map(|e| e.at)
            .min();
        match revoked {
            Some(r) if r < o.ends => (r, Why::Revoked),
            _ => (o.ends, Why::WindowEnd),
        }
    }

    /// Every planned job due at `now`, earliest first.
    pub fn due(&self, now: DateTime<Utc>) -> Vec<Job> {
        self.jobs(|due| due <= now)
    }

    /// Jobs that become due after `now` and no later than `now + horizon` (for
    /// warnings ahead of the end).
    pub fn due_within(&self, now: DateTime<Utc>, horizon: chrono::Duration) -> Vec<Job> {
        self.jobs(|due| due > now && due <= now + horizon)
    }

    fn jobs(&self, when: impl Fn(DateTime<Utc>) -> bool) -> Vec<Job> {
        let mut jobs: Vec<Job> = self
            .opened
            .values()
            .filter_map(|o| {
                let (due, why) = self.due_at(o);
                when(due).then(|| Job {
                    key: o.key.clone(),
                    user: o.user.clone(),
                    region: o.region.clone(),
                    session_name: o.session_name.clone(),
                    entitlements: o.entitlements.clone(),
                    due,
                    why,
                })
            })
            .collect();
        jobs.sort_by(|a, b| (a.due, &a.key).cmp(&(b.due, &b.key)));
        jobs
    }

    /// Drops decisions minted before `cutoff` (no session of theirs can still be
    /// open), and revocations and done marks older than it (a decision done before
    /// the cutoff was minted before it too).
    pub fn forget_before(&mut self, cutoff: DateTime<Utc>) {
        self.opened.retain(|_, o| o.at >= cutoff);
        self.ended.retain(|e| e.at >= cutoff);
        self.done.retain(|_, at| *at >= cutoff);
    }

    pub fn planned(&self) -> usize {
        self.opened.len()
    }
}
