//! Lookups behind small traits (DESIGN steps 3-5): [`Directory`], [`Grants`] and
//! [`GrantStore`], [`Inventory`]. This file holds only the traits and their value
//! types, which the service layer uses; the implementations live one folder down:
//! `directory/` (LDAP/AD, the embedded file), `grants/` (SQLite, a read-only file),
//! `inventory/` (a file), `sessions/` (Session Manager through the AWS SDK), `notify/`
//! (signed webhooks). Every
//! lookup error means "fail closed": the caller mints nothing.

pub mod directory;
pub mod grants;
pub mod inventory;
pub mod notify;
pub mod sessions;

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::core::{DirGroup, Grant, GroupName, InstanceId, Interval, Region, UserName};
use crate::db::Effect;

/// An adapter could not answer. The message names the source and the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("directory unavailable: {0}")]
    Directory(String),
    #[error("grants store unavailable: {0}")]
    Grants(String),
    #[error("inventory unavailable: {0}")]
    Inventory(String),
    #[error("the directory has {count} accounts matching user {user:?}; refusing to guess")]
    AmbiguousUser { user: String, count: usize },
}

impl LookupError {
    pub fn code(&self) -> &'static str {
        match self {
            LookupError::Directory(_) => "directory_unavailable",
            LookupError::Grants(_) => "grants_unavailable",
            LookupError::Inventory(_) => "inventory_unavailable",
            LookupError::AmbiguousUser { .. } => "ambiguous_user",
        }
    }
}

/// What the directory knows about one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserGroups {
    Unknown,
    /// The account exists but is disabled: it holds no entitlement.
    Disabled,
    Member(Vec<DirGroup>),
}

/// Step 3: a user's group memberships.
pub trait Directory: Send + Sync {
    fn groups(&self, user: &UserName) -> Result<UserGroups, LookupError>;
    /// Answers from memory or a local file, never waiting on a network or another
    /// service: the HTTP edge may then mint on its async worker instead of handing the
    /// request to the blocking pool.
    fn local(&self) -> bool {
        false
    }
    /// For `/readyz`: can the source answer now?
    fn ready(&self) -> Result<(), LookupError> {
        Ok(())
    }
    /// For `/metrics`: (lookups, cache hits) so far.
    fn counters(&self) -> (u64, u64) {
        (0, 0)
    }
}

/// Step 4: approved one-off windows for a user (all of them; `decide` picks).
pub trait Grants: Send + Sync {
    fn grants(&self, user: &UserName, now: DateTime<Utc>) -> Result<Vec<Grant>, LookupError>;
    /// As [`Directory::local`].
    fn local(&self) -> bool {
        false
    }
    /// For `/readyz`: is the store open and answering?
    fn ready(&self) -> Result<(), LookupError> {
        Ok(())
    }
}

/// A grant to record: validated by `crate::service::grants` before it reaches a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGrant {
    pub user: UserName,
    pub group: GroupName,
    pub window: Interval,
    pub ticket: String,
    pub approver: String,
}

/// A recorded grant, revoked or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredGrant {
    pub id: i64,
    pub user: UserName,
    pub group: GroupName,
    pub window: Interval,
    pub ticket: String,
    pub approver: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

/// Why a grant change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("no grant with id {0}")]
    NotFound(i64),
    #[error("grant {0} is already revoked")]
    AlreadyRevoked(i64),
    #[error("this grants store is read-only (kind = \"file\"); use kind = \"sqlite\" to record grants")]
    ReadOnly,
    /// The change met a concurrent one (another replica changed the grant first).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Store(LookupError),
}

impl GrantError {
    pub fn code(&self) -> &'static str {
        match self {
            GrantError::Invalid { .. } => "bad_input",
            GrantError::NotFound(_) => "grant_not_found",
            GrantError::AlreadyRevoked(_) => "grant_already_revoked",
            GrantError::ReadOnly => "grants_read_only",
            GrantError::Conflict(_) => "grant_conflict",
            GrantError::Store(e) => e.code(),
        }
    }
}

/// Writes the durable audit record of a change to one grant. A store makes the
/// change effective only after this returned `Ok` — never before, never without it —
/// or, when it passes the change as an [`Effect`], the record and the change commit in
/// one transaction (the PostgreSQL store with the PostgreSQL audit log).
pub type Record<'a> = &'a mut dyn FnMut(&StoredGrant, Option<Effect>) -> Result<(), GrantError>;

/// Recording and revoking approved windows (the approval system's side).
///
/// Every change is recorded before it takes effect: `add` stores the grant as
/// *pending* (not yet effective), calls `record`, and only then makes it effective; a
/// failed record undoes the pending row. `revoke` marks the revocation, calls
/// `record`, and only then ends the grant. A crash between the steps leaves a
/// half-done change that [`GrantStore::recover`] settles at the next start.
pub trait GrantStore: Grants {
    fn add(
        &self,
        g: NewGrant,
        now: DateTime<Utc>,
        by: &str,
        record: Record<'_>,
    ) -> Result<StoredGrant, GrantError>;
    /// All grants (of one user), revoked and expired ones included, oldest first; a
    /// pending add is not listed (it does not exist yet).
    fn list(&self, user: Option<&UserName>) -> Result<Vec<StoredGrant>, LookupError>;
    fn revoke(
        &self,
        id: i64,
        now: DateTime<Utc>,
        by: &str,
        record: Record<'_>,
    ) -> Result<StoredGrant, GrantError>;
    /// Settles what a crash left half-done, each after its record: an add whose record
    /// may or may not be durable is abandoned (it never took effect; `abandoned` records
    /// that), a revocation that was asked for is completed (`revoked` records it).
    /// Returns how many changes it settled.
    fn recover(
        &self,
        now: DateTime<Utc>,
        abandoned: Record<'_>,
        revoked: Record<'_>,
    ) -> Result<usize, GrantError>;
}

/// Step 5 (optional): an instance's EC2 tags, when known.
pub trait Inventory: Send + Sync {
    fn tags(
        &self,
        instance: &InstanceId,
        region: &Region,
    ) -> Result<Option<HashMap<String, String>>, LookupError>;
    /// Every instance whose tags carry all of `want` (EC2 key, value), in (region, ID)
    /// order: the instances one tag set covers.
    fn covering(&self, want: &[(&str, &str)]) -> Result<Vec<KnownInstance>, LookupError>;
    /// The instance with its tags and, when the inventory knows it, its account (AWS
    /// Config does; a file does not) — one lookup for a mint.
    fn instance(&self, instance: &InstanceId, region: &Region) -> Result<Option<KnownInstance>, LookupError> {
        Ok(self.tags(instance, region)?.map(|tags| KnownInstance {
            id: instance.as_str().to_owned(),
            region: region.as_str().to_owned(),
            account: None,
            tags,
        }))
    }
    /// As [`Directory::local`].
    fn local(&self) -> bool {
        false
    }
}

/// An instance the inventory knows, with its EC2 tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownInstance {
    pub id: String,
    pub region: String,
    /// The instance's account, when the inventory knows it (AWS Config does).
    pub account: Option<String>,
    pub tags: HashMap<String, String>,
}

/// Reads and parses a TOML data file; `wrap` names the source in the error.
pub fn read_toml<T: serde::de::DeserializeOwned>(
    path: &Path,
    wrap: fn(String) -> LookupError,
) -> Result<T, LookupError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| wrap(format!("{}: cannot read: {e}", path.display())))?;
    toml::from_str(&text)
        .map_err(|e| wrap(format!("{}: {}", path.display(), e.to_string().trim().replace('\n', " "))))
}

/// One open Session Manager session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveSession {
    pub id: String,
    pub target: String,
    pub owner: String,
}

/// AWS did not do what was asked: the service's error code (`ThrottlingException`, …)
/// or the transport's, and its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SessionError {
    pub code: String,
    pub message: String,
}

/// Session Manager, for the reaper: list a principal's active sessions in a region,
/// end one. (TerminateSession answers success even for a session that is not valid:
/// callers confirm by listing again.)
pub trait SessionManager: Send + Sync {
    fn active(&self, region: &Region, owner: &str) -> Result<Vec<ActiveSession>, SessionError>;
    fn terminate(&self, region: &Region, session_id: &str) -> Result<(), SessionError>;
}

/// Something for people to know about their access (a signed webhook's body).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Notice {
    /// Unique per decision and event: receivers drop duplicates by it.
    pub id: String,
    /// `access_ending`, `access_ended`, `sessions_terminated`, `firecall_opened`.
    pub event: String,
    pub user: String,
    pub region: String,
    pub entitlements: Vec<String>,
    /// The end of the access (RFC 3339).
    pub ends: String,
    /// `window_end`, `revoked`, or the firecall's reason.
    pub reason: String,
    /// The decision (assertion ID) or grant it concerns.
    pub subject: String,
    /// Sessions ended, for `sessions_terminated`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions: Option<u64>,
    /// When sesame sent it (RFC 3339).
    pub time: String,
}

/// The receiver did not take a notice: HTTP status or transport error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotifyError(pub String);

/// Delivers notices (with its own retries); `Ok` once the receiver answered 2xx.
pub trait Notifier: Send + Sync {
    fn send(&self, n: &Notice, now: DateTime<Utc>) -> Result<(), NotifyError>;
}

/// A role's inline policies in IAM, for revoking issued credentials.
pub trait RolePolicies: Send + Sync {
    /// The policy document (decoded JSON text), or `None` when the role has no such policy.
    fn get(&self, role: &str, name: &str) -> Result<Option<String>, SessionError>;
    fn put(&self, role: &str, name: &str, document: &str) -> Result<(), SessionError>;
    fn delete(&self, role: &str, name: &str) -> Result<(), SessionError>;
}
