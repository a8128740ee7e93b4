//! Recording approved windows: validation, the store, and an audit record for every
//! change (added, revoked, refused, abandoned). Shared by `sesame grants` and
//! `POST/DELETE /v1/grants`. A change takes effect only after its record is durable
//! (the store calls back into [`add`]'s and [`revoke`]'s record function first); a
//! crash between the two is settled by [`recover`] at the next start.
//!
//! Refused with a clear error: unknown users' syntax, entitlement groups the mapping
//! does not know, inverted or empty windows, windows already over, and windows longer
//! than `grants.max_seconds` or the entitlement's `max_grant_seconds`. Grants stack: one
//! that overlaps or abuts another of the same user and entitlement is accepted, and
//! access is their union (`core::window::merge`).

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::adapters::{GrantError, GrantStore, LookupError, NewGrant, StoredGrant};
use crate::audit::log::{AuditError, AuditLog};
use crate::audit::record::{Entry, GrantRecord, Kind};
use crate::core::mapping::Mapping;
use crate::core::text::{clip, saml_time};
use crate::core::{GroupName, Interval, UserName};
use crate::db::Effect;

/// The approver of every firecall grant (`firecall.rs`); refused for ordinary grants.
pub const FIRECALL_APPROVER: &str = "firecall";

/// A grant as the API and the import file state it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    pub user: String,
    /// The entitlement group (as in the mapping, or a name a rule matches).
    pub group: String,
    /// RFC 3339; default: now.
    pub start: Option<String>,
    /// RFC 3339; give `end` or `duration_seconds`, not both.
    pub end: Option<String>,
    pub duration_seconds: Option<i64>,
    pub ticket: String,
    pub approver: String,
}

/// Who asked and how to stamp the record.
#[derive(Debug, Clone)]
pub struct Actor<'a> {
    pub caller: &'a str,
    pub request_id: Option<&'a str>,
    pub now: DateTime<Utc>,
    /// Imports of history may record windows that are already over.
    pub allow_past: bool,
}

pub(super) fn invalid(field: &'static str, message: impl Into<String>) -> GrantError {
    GrantError::Invalid { field, message: message.into() }
}

fn instant(field: &'static str, s: &str) -> Result<DateTime<Utc>, GrantError> {
    crate::core::text::instant(field, s).map_err(|e| invalid(field, e.rule))
}

pub(super) fn text(field: &'static str, s: &str) -> Result<String, GrantError> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > 128 || t.chars().any(char::is_control) {
        return Err(invalid(field, "must be 1-128 characters with no control characters"));
    }
    Ok(t.to_owned())
}

/// Checks a request against the mapping and limits; no I/O.
pub fn validate(
    r: &GrantRequest,
    mapping: &Mapping,
    max_seconds: i64,
    now: DateTime<Utc>,
    allow_past: bool,
) -> Result<NewGrant, GrantError> {
    let user = UserName::parse("user", &r.user).map_err(|e| invalid("user", e.rule))?;
    let group = GroupName::parse("group", &r.group).map_err(|e| invalid("group", e.rule))?;
    if !mapping.knows(&group) {
        return Err(invalid(
            "group",
            format!("{:?} is not an entitlement group in the mapping", group.as_str()),
        ));
    }
    let start = match &r.start {
        Some(s) => instant("start", s)?,
        None => now,
    };
    let end = match (&r.end, r.duration_seconds) {
        (Some(e), None) => instant("end", e)?,
        (None, Some(d)) if (1..=max_seconds).contains(&d) => Duration::try_seconds(d)
            .and_then(|d| start.checked_add_signed(d))
            .ok_or_else(|| invalid("duration_seconds", "is too large"))?,
        (None, Some(d)) if d > max_seconds => {
            return Err(invalid(
                "duration_seconds",
                format!("{d} s is longer than the maximum of {max_seconds} s (grants.max_seconds)"),
            ))
        }
        (None, Some(_)) => return Err(invalid("duration_seconds", "must be positive")),
        (Some(_), Some(_)) => return Err(invalid("end", "give end or duration_seconds, not both")),
        (None, None) => return Err(invalid("end", "is required (or duration_seconds)")),
    };
    let window = Interval::new(start, end)
        .ok_or_else(|| invalid("end", "must be after start (the window is inverted or empty)"))?;
    if end <= now && !allow_past {
        return Err(invalid("end", "is in the past: the window is already over"));
    }
    let len = (end - start).num_seconds();
    if let Some(cap) = mapping.max_grant_seconds(&group).filter(|&c| c < max_seconds && len > c) {
        return Err(invalid(
            "end",
            format!(
                "the window lasts {len} s, longer than the maximum of {cap} s for {} (max_grant_seconds)",
                group.as_str()
            ),
        ));
    }
    if len > max_seconds {
        return Err(invalid(
            "end",
            format!(
                "the window lasts {len} s, longer than the maximum of {max_seconds} s (grants.max_seconds)"
            ),
        ));
    }
    let approver = text("approver", &r.approver)?;
    if approver == FIRECALL_APPROVER {
        return Err(invalid("approver", "\"firecall\" is reserved for firecall grants (POST /v1/firecalls)"));
    }
    Ok(NewGrant { user, group, window, ticket: text("ticket", &r.ticket)?, approver })
}

pub(super) fn record(g: &StoredGrant) -> GrantRecord {
    GrantRecord {
        id: Some(g.id),
        entitlement: g.group.as_str().to_owned(),
        start: Some(saml_time(g.window.start)),
        end: Some(saml_time(g.window.end)),
        ticket: Some(g.ticket.clone()),
        approver: Some(g.approver.clone()),
    }
}

pub(super) fn entry(a: &Actor<'_>, outcome: &str, user: &str) -> Entry {
    Entry {
        time: saml_time(a.now),
        outcome: Some(outcome.to_owned()),
        caller: Some(clip(a.caller, 256)),
        request_id: a.request_id.map(|r| clip(r, 128)),
        user: Some(clip(user, 128)),
        ..Entry::default()
    }
}

/// The audit record of a change, appended durably — with the change itself when the
/// store passes it as an effect (one transaction); a failure is the store's error.
fn durably(audit: &dyn AuditLog, e: Entry, effect: Option<Effect>) -> Result<(), GrantError> {
    durably_as(audit, Kind::Grant, e, effect)
}

/// As [`durably`], for a record of another kind (a firecall's).
pub(super) fn durably_as(
    audit: &dyn AuditLog,
    kind: Kind,
    e: Entry,
    effect: Option<Effect>,
) -> Result<(), GrantError> {
    let r = match effect {
        None => audit.append(kind, e),
        Some(fx) => audit.append_with(kind, e, fx),
    };
    r.map(drop).map_err(|e| match e {
        AuditError::Refused(m) => GrantError::Conflict(m),
        e => GrantError::Store(LookupError::Grants(e.to_string())),
    })
}

/// Validates and records a new grant: its audit record is durable before the grant
/// takes effect. A refusal is audited too.
pub fn add(
    store: &dyn GrantStore,
    audit: &dyn AuditLog,
    mapping: &Mapping,
    max_seconds: i64,
    r: &GrantRequest,
    a: &Actor<'_>,
) -> Result<StoredGrant, GrantError> {
    let mut write = |g: &StoredGrant, fx| {
        durably(audit, Entry { grant: Some(record(g)), ..entry(a, "grant_added", g.user.as_str()) }, fx)
    };
    let result = validate(r, mapping, max_seconds, a.now, a.allow_past)
        .and_then(|g| store.add(g, a.now, a.caller, &mut write));
    if let Err(err) = &result {
        let e = Entry {
            code: Some(err.code().to_owned()),
            message: Some(clip(&err.to_string(), 512)),
            grant: Some(GrantRecord {
                id: None,
                entitlement: clip(&r.group, 256),
                start: r.start.as_deref().map(|s| clip(s, 40)),
                end: r.end.as_deref().map(|s| clip(s, 40)),
                ticket: Some(clip(&r.ticket, 128)),
                approver: Some(clip(&r.approver, 128)),
            }),
            ..entry(a, "grant_refused", &r.user)
        };
        let _ = audit.append(Kind::Grant, e);
    }
    result
}

/// Revokes a grant: its audit record is durable before the grant ends (effective for
/// the next request). A refusal is audited too.
pub fn revoke(
    store: &dyn GrantStore,
    audit: &dyn AuditLog,
    id: i64,
    a: &Actor<'_>,
) -> Result<StoredGrant, GrantError> {
    end(store, audit, id, a, "grant_revoked", "grant_revoke_refused")
}

/// Ends a grant early because the person (or the access manager for them) is done
/// with it: as a revocation in the store, recorded as `grant_released`. The session
/// reaper treats both alike.
pub fn release(
    store: &dyn GrantStore,
    audit: &dyn AuditLog,
    id: i64,
    a: &Actor<'_>,
) -> Result<StoredGrant, GrantError> {
    end(store, audit, id, a, "grant_released", "grant_release_refused")
}

fn end(
    store: &dyn GrantStore,
    audit: &dyn AuditLog,
    id: i64,
    a: &Actor<'_>,
    outcome: &str,
    refused: &str,
) -> Result<StoredGrant, GrantError> {
    let mut write = |g: &StoredGrant, fx| {
        durably(audit, Entry { grant: Some(record(g)), ..entry(a, outcome, g.user.as_str()) }, fx)
    };
    let result = store.revoke(id, a.now, a.caller, &mut write);
    if let Err(err) = &result {
        let e = Entry {
            code: Some(err.code().to_owned()),
            message: Some(clip(&err.to_string(), 512)),
            ..entry(a, refused, "")
        };
        let _ = audit.append(Kind::Grant, e);
    }
    result
}

/// Settles the grant changes a crash left half-done (see
/// [`GrantStore::recover`]), each with its record: `grant_abandoned` for an add that
/// never took effect, `grant_revoked` for a revocation completed now. Returns how
/// many were settled.
pub fn recover(
    store: &dyn GrantStore,
    audit: &dyn AuditLog,
    now: DateTime<Utc>,
) -> Result<usize, GrantError> {
    let a = Actor { caller: "recovery", request_id: None, now, allow_past: true };
    let note = |what: &str| Some(what.to_owned());
    let mut abandoned = |g: &StoredGrant, fx| {
        durably(
            audit,
            Entry {
                grant: Some(record(g)),
                message: note("the process stopped while recording this grant; it never took effect"),
                ..entry(&a, "grant_abandoned", g.user.as_str())
            },
            fx,
        )
    };
    let mut revoked = |g: &StoredGrant, fx| {
        let by = g.revoked_by.as_deref().unwrap_or("unknown");
        durably(
            audit,
            Entry {
                grant: Some(record(g)),
                message: Some(clip(
                    &format!("revocation asked by {by} completed after the process stopped"),
                    512,
                )),
                ..entry(&a, "grant_revoked", g.user.as_str())
            },
            fx,
        )
    };
    store.recover(now, &mut abandoned, &mut revoked)
}

/// Imports a grants file's text (`[[grant]] user, group, start, end, ticket,
/// approver`): each grant validated, recorded and audited as by `a` (an import of
/// history sets `allow_past`). `name` labels errors.
pub fn import(
    store: &dyn GrantStore,
    audit: &dyn AuditLog,
    mapping: &Mapping,
    max_seconds: i64,
    (name, text): (&str, &str),
    a: &Actor<'_>,
) -> Result<usize, GrantError> {
    #[derive(Deserialize)]
    struct File {
        #[serde(default)]
        grant: Vec<GrantRequest>,
    }
    let parsed: File = toml::from_str(text)
        .map_err(|e| GrantError::Store(LookupError::Grants(format!("{name}: {}", e.to_string().trim()))))?;
    for (i, g) in parsed.grant.iter().enumerate() {
        add(store, audit, mapping, max_seconds, g, a)
            .map_err(|e| GrantError::Store(LookupError::Grants(format!("{name}: grant[{i}]: {e}"))))?;
    }
    Ok(parsed.grant.len())
}
