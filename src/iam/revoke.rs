//! Revoking credentials already issued: the role's inline policy
//! [`REVOKE_POLICY`] denies everything to a person's sessions whose token was issued
//! before their revocation — one statement per person, `aws:SourceIdentity` = the person
//! and `DateLessThan aws:TokenIssueTime` = the revocation time (what IAM's "Revoke
//! active sessions" attaches, narrowed to one person). [`merge`] is pure: it adds
//! revocations (a later one for the same person moves the time forward), drops
//! statements older than the role's maximum session duration (no credential issued
//! before them is still valid), and keeps the document within the size budget. When
//! the statements would not fit, it collapses them into one Deny for every session
//! issued before the latest revocation: it revokes more than asked, never less.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::iam_size;
pub use super::REVOKE_POLICY;
use crate::core::text::saml_time;
/// IAM's limit for a role's inline policies together (characters, whitespace not counted).
pub const INLINE_LIMIT: usize = 10_240;
const ALL: &str = "RevokeAllBefore";

/// What a merge made of the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    /// The new document, or `None` when nothing is left (delete the policy).
    pub doc: Option<Value>,
    /// Statements dropped because their time is older than the maximum session.
    pub pruned: usize,
    /// The statements did not fit: one Deny for every session issued before the latest
    /// revocation took their place.
    pub collapsed: bool,
}

fn parse_time(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&Utc))
}

/// (person or `None` for the collapsed statement, time) of each statement sesame wrote.
fn entries(doc: &Value) -> Vec<(Option<String>, DateTime<Utc>)> {
    let mut out = Vec::new();
    for st in doc["Statement"].as_array().into_iter().flatten() {
        let Some(t) = st["Condition"]["DateLessThan"]["aws:TokenIssueTime"].as_str().and_then(parse_time)
        else {
            continue;
        };
        let who = st["Condition"]["StringEquals"]["aws:SourceIdentity"].as_str().map(str::to_owned);
        if who.is_none() && st["Sid"] != ALL {
            continue;
        }
        out.push((who, t));
    }
    out
}

fn statement(i: usize, who: Option<&str>, t: DateTime<Utc>) -> Value {
    let time = saml_time(t);
    match who {
        Some(u) => json!({
            "Sid": format!("RevokeSessions{i}"),
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceIdentity": u}, "DateLessThan": {"aws:TokenIssueTime": time}},
        }),
        None => json!({
            "Sid": ALL,
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": time}},
        }),
    }
}

fn document(list: &[(Option<String>, DateTime<Utc>)]) -> Value {
    let st: Vec<Value> =
        list.iter().enumerate().map(|(i, (w, t))| statement(i + 1, w.as_deref(), *t)).collect();
    json!({"Version": "2012-10-17", "Statement": st})
}

/// `existing` (the policy now, if any) with `add` (person, revocation time), pruned at
/// `now - keep`, within `budget` characters.
pub fn merge(
    existing: Option<&Value>,
    add: &[(String, DateTime<Utc>)],
    now: DateTime<Utc>,
    keep: Duration,
    budget: usize,
) -> Merged {
    let mut list = existing.map(entries).unwrap_or_default();
    for (u, t) in add {
        match list.iter_mut().find(|(w, _)| w.as_deref() == Some(u.as_str())) {
            Some(e) => e.1 = e.1.max(*t),
            None => list.push((Some(u.clone()), *t)),
        }
    }
    let before = list.len();
    let cutoff = now - keep;
    list.retain(|(_, t)| *t >= cutoff);
    let pruned = before - list.len();
    // One collapsed statement covers every person's earlier sessions.
    if let Some(all) = list.iter().filter(|(w, _)| w.is_none()).map(|(_, t)| *t).max() {
        list.retain(|(w, t)| w.is_none() || *t > all);
        list.retain(|(w, t)| w.is_some() || *t == all);
    }
    list.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    if list.is_empty() {
        return Merged { doc: None, pruned, collapsed: false };
    }
    let doc = document(&list);
    if iam_size(&doc) <= budget {
        return Merged { doc: Some(doc), pruned, collapsed: false };
    }
    let latest = list.iter().map(|(_, t)| *t).max().unwrap_or(now);
    Merged { doc: Some(document(&[(None, latest)])), pruned, collapsed: true }
}
