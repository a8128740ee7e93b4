//! Revoking credentials already issued, for the reaper (`aws.revoke_credentials`): a
//! revocation or release of a person's grant puts an inline Deny on the role for
//! their sessions whose token was issued before it (`iam::revoke` makes the document;
//! IAM applies policy changes within minutes, not at once — the session reaper ends
//! open shells meanwhile). Pending work comes from the log (grant records without a
//! later `credentials_revoked`); every step is recorded:
//! `credentials_revoke_started` before the PutRolePolicy, then `credentials_revoked`
//! or `credentials_revoke_failed` (AWS's error; retried). Statements older than the
//! role's maximum session duration are pruned; when the role's inline limit is
//! reached, the statements collapse into one Deny for every session issued before the
//! latest revocation (`collapsed` in the record).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::adapters::{RolePolicies, SessionError};
use crate::audit::{AuditError, AuditLog, Entry, Kind};
use crate::core::text::{clip, saml_time};
use crate::iam::revoke::{merge, INLINE_LIMIT, REVOKE_POLICY};

/// Where the Deny goes and how long its statements matter.
pub struct Revoker {
    pub policies: Arc<dyn RolePolicies>,
    /// The role's name (the last part of `aws.role_arn`).
    pub role: String,
    /// The role's maximum session duration: older statements can go.
    pub keep: chrono::Duration,
}

/// A revocation whose Deny is not yet in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// `grant:<id>:<time>`: what the `credentials_revoked` record names.
    pub key: String,
    pub user: String,
    pub at: DateTime<Utc>,
}

fn record(
    audit: &dyn AuditLog,
    p: &Pending,
    now: DateTime<Utc>,
    outcome: &str,
    message: String,
) -> Result<(), AuditError> {
    let e = Entry {
        time: saml_time(now),
        outcome: Some(outcome.to_owned()),
        code: Some("revoked".into()),
        user: Some(p.user.clone()),
        decision: Some(p.key.clone()),
        message: Some(clip(&message, 512)),
        ..Entry::default()
    };
    audit.append(Kind::Session, e).map(drop)
}

impl Revoker {
    fn write(
        &self,
        add: &[(String, DateTime<Utc>)],
        now: DateTime<Utc>,
        budget: usize,
    ) -> Result<bool, SessionError> {
        let existing = self.policies.get(&self.role, REVOKE_POLICY)?;
        let current = match existing.as_deref().map(serde_json::from_str::<serde_json::Value>) {
            Some(Ok(v)) => Some(v),
            Some(Err(e)) => {
                return Err(SessionError {
                    code: "bad_policy".into(),
                    message: format!("{REVOKE_POLICY}: {e}"),
                })
            }
            None => None,
        };
        let m = merge(current.as_ref(), add, now, self.keep, budget);
        if m.doc == current {
            return Ok(m.collapsed);
        }
        match &m.doc {
            Some(d) => self.policies.put(&self.role, REVOKE_POLICY, &d.to_string())?,
            None if existing.is_some() => self.policies.delete(&self.role, REVOKE_POLICY)?,
            None => {}
        }
        Ok(m.collapsed)
    }

    /// Puts the Deny for every pending revocation; returns the keys now in place.
    pub fn apply(
        &self,
        audit: &dyn AuditLog,
        pending: &[Pending],
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, AuditError> {
        let live: Vec<&Pending> = pending.iter().filter(|p| p.at >= now - self.keep).collect();
        for p in &live {
            record(
                audit,
                p,
                now,
                "credentials_revoke_started",
                format!(
                    "Deny on role {} for aws:SourceIdentity {:?}, tokens issued before {}",
                    self.role,
                    p.user,
                    saml_time(p.at)
                ),
            )?;
        }
        let add: Vec<(String, DateTime<Utc>)> = live.iter().map(|p| (p.user.clone(), p.at)).collect();
        let mut result = self.write(&add, now, INLINE_LIMIT);
        // Other inline policies share IAM's limit: collapse and try once more.
        if matches!(&result, Err(e) if e.code == "LimitExceeded") {
            result = self.write(&add, now, 0);
        }
        let mut done: Vec<String> =
            pending.iter().filter(|p| p.at < now - self.keep).map(|p| p.key.clone()).collect();
        for p in &live {
            match &result {
                Ok(collapsed) => {
                    let how = if *collapsed {
                        "collapsed: every session issued before the latest revocation is denied (the inline limit was reached)"
                    } else {
                        "one statement for this person"
                    };
                    record(
                        audit,
                        p,
                        now,
                        "credentials_revoked",
                        format!("{REVOKE_POLICY} on role {}: {how}", self.role),
                    )?;
                    done.push(p.key.clone());
                }
                Err(e) => record(audit, p, now, "credentials_revoke_failed", e.to_string())?,
            }
        }
        Ok(done)
    }

    /// Drops statements older than the maximum session (nothing to add).
    pub fn prune(&self, now: DateTime<Utc>) -> Result<(), SessionError> {
        self.write(&[], now, INLINE_LIMIT).map(drop)
    }
}
