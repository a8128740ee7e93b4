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

use std::collections::{BTreeMap, HashSet};

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
    done: HashSet<String>,
}

impl Plan {
    pub fn opened(&mut self, o: Opened) {
        if !self.done.contains(&o.key) {
            self.opened.insert(o.key.clone(), o);
        }
    }

    pub fn ended(&mut self, e: Ended) {
        self.ended.push(e);
    }

    /// A done record: this decision's sessions were confirmed ended.
    pub fn done(&mut self, key: &str) {
        self.opened.remove(key);
        self.done.insert(key.to_owned());
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

    /// The next instant something becomes due (for the serve loop's sleep).
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.opened.values().map(|o| self.due_at(o).0).min()
    }

    /// Drops decisions minted before `cutoff` (no session of theirs can still be
    /// open) and revocations older than it.
    pub fn forget_before(&mut self, cutoff: DateTime<Utc>) {
        self.opened.retain(|_, o| o.at >= cutoff);
        self.ended.retain(|e| e.at >= cutoff);
    }

    pub fn planned(&self) -> usize {
        self.opened.len()
    }

    /// Planned decisions of one person (for `sesame sessions list`).
    pub fn of_user<'a>(&'a self, user: &'a str) -> impl Iterator<Item = &'a Opened> + 'a {
        self.opened.values().filter(move |o| o.user == user)
    }
}
