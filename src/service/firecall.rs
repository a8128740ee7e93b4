//! Firecall (break-glass) grants: production is down and the approval chain is slower
//! than the incident. The person (through the access manager) opens a grant for
//! themselves with a mandatory reason and incident ticket, for an entitlement
//! configured `firecall = true`, for at most `grants.firecall_max_seconds` (default one
//! hour), starting now. It is a grant like any other for minting (and the reaper ends
//! its sessions hard at its end), its approver is the reserved `firecall`, its records
//! are their own kind (`firecall`: `firecall_opened`, `firecall_refused`,
//! `firecall_reviewed`), the reaper's webhook announces it, and it stays "review
//! pending" (`sesame audit search --review-pending`) until an approver records a review
//! (`sesame grants review ID`, `POST /v1/firecalls/{id}/review`).

use chrono::Duration;
use serde::Deserialize;

use super::grants::{durably_as, entry, invalid, record, text, Actor};
use crate::adapters::{GrantError, GrantStore, NewGrant, StoredGrant};
use crate::audit::{AuditLog, Entry, Kind};
use crate::core::mapping::Mapping;
use crate::core::text::clip;
use crate::core::{GroupName, Interval, UserName};

pub use super::grants::FIRECALL_APPROVER;

/// A firecall as the access manager sends it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirecallRequest {
    pub user: String,
    pub group: String,
    /// Why (1-512 characters): kept in the record the reviewer reads.
    pub reason: String,
    /// The incident ticket.
    pub ticket: String,
    /// Default and maximum: `grants.firecall_max_seconds`.
    pub duration_seconds: Option<i64>,
}

fn reason(s: &str) -> Result<String, GrantError> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > 512 || t.chars().any(char::is_control) {
        return Err(invalid("reason", "is required: 1-512 characters with no control characters"));
    }
    Ok(t.to_owned())
}

/// Checks a firecall against the mapping and the cap; no I/O.
pub fn validate(
    r: &FirecallRequest,
    mapping: &Mapping,
    max_seconds: i64,
    a: &Actor<'_>,
) -> Result<NewGrant, GrantError> {
    let user = UserName::parse("user", &r.user).map_err(|e| invalid("user", e.rule))?;
    let group = GroupName::parse("group", &r.group).map_err(|e| invalid("group", e.rule))?;
    if !mapping.firecall_eligible(&group) {
        return Err(invalid(
            "group",
            format!("{:?} is not open to firecalls (its entitlement needs firecall = true)", group.as_str()),
        ));
    }
    reason(&r.reason)?;
    let d = r.duration_seconds.unwrap_or(max_seconds);
    if !(1..=max_seconds).contains(&d) {
        return Err(invalid(
            "duration_seconds",
            format!(
                "must be between 1 and {max_seconds} s for a firecall (grants.firecall_max_seconds; got {d})"
            ),
        ));
    }
    let end = Duration::try_seconds(d)
        .and_then(|d| a.now.checked_add_signed(d))
        .ok_or_else(|| invalid("duration_seconds", "is too large"))?;
    let window = Interval::new(a.now, end).ok_or_else(|| invalid("duration_seconds", "must be positive"))?;
    Ok(NewGrant {
        user,
        group,
        window,
        ticket: text("ticket", &r.ticket)?,
        approver: FIRECALL_APPROVER.into(),
    })
}

/// Opens a firecall: its `firecall_opened` record (with the reason) is durable before
/// the grant takes effect. A refusal is recorded too.
pub fn open(
    store: &dyn GrantStore,
    audit: &dyn AuditLog,
    mapping: &Mapping,
    max_seconds: i64,
    r: &FirecallRequest,
    a: &Actor<'_>,
) -> Result<StoredGrant, GrantError> {
    let why = clip(r.reason.trim(), 512);
    let mut write = |g: &StoredGrant, fx| {
        let e = Entry {
            grant: Some(record(g)),
            message: Some(why.clone()),
            ..entry(a, "firecall_opened", g.user.as_str())
        };
        durably_as(audit, Kind::Firecall, e, fx)
    };
    let result = validate(r, mapping, max_seconds, a).and_then(|g| store.add(g, a.now, a.caller, &mut write));
    if let Err(err) = &result {
        let e = Entry {
            code: Some(err.code().to_owned()),
            message: Some(clip(&err.to_string(), 512)),
            ..entry(a, "firecall_refused", &r.user)
        };
        let _ = audit.append(Kind::Firecall, e);
    }
    result
}

/// Records an approver's review of firecall `id` (`note`: what they found). Refused for
/// a grant that is not a firecall; a second review is recorded too.
pub fn review(
    store: &dyn GrantStore,
    audit: &dyn AuditLog,
    id: i64,
    note: &str,
    a: &Actor<'_>,
) -> Result<StoredGrant, GrantError> {
    let note = reason(note)
        .map_err(|_| invalid("note", "is required: 1-512 characters with no control characters"))?;
    let g = store
        .list(None)
        .map_err(GrantError::Store)?
        .into_iter()
        .find(|g| g.id == id)
        .ok_or(GrantError::NotFound(id))?;
    if g.approver != FIRECALL_APPROVER {
        return Err(invalid("id", format!("grant {id} is not a firecall (approved by {:?})", g.approver)));
    }
    let e = Entry {
        grant: Some(record(&g)),
        message: Some(note),
        ..entry(a, "firecall_reviewed", g.user.as_str())
    };
    durably_as(audit, Kind::Firecall, e, None)?;
    Ok(g)
}
