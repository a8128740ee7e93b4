//! Lookups behind small traits (DESIGN steps 3-5): directory, grants, inventory.
//!
//! Each trait has an embedded file implementation here; the real network sources
//! (LDAP/AD, a SQL grants store) implement the same traits. Every error means
//! "fail closed": the caller mints nothing.

pub mod file;
pub mod ldap;
pub mod ldap_filter;

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::core::{Grant, InstanceId, Region, UserName};

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

/// One group the user belongs to (directly or through nesting).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirGroup {
    /// The DN as the server wrote it (empty for the file directory).
    pub dn: String,
    /// The group's name: its `cn` (or the first RDN's value).
    pub name: String,
    /// Attributes read from the group entry for mapping rules (lower-case names).
    pub attrs: HashMap<String, Vec<String>>,
}

impl DirGroup {
    pub fn named(name: &str) -> Self {
        Self { name: name.to_owned(), ..Self::default() }
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
}

/// Step 4: approved one-off windows for a user (all of them; `decide` picks).
pub trait Grants: Send + Sync {
    fn grants(&self, user: &UserName, now: DateTime<Utc>) -> Result<Vec<Grant>, LookupError>;
}

/// Step 5 (optional): an instance's EC2 tags, when known.
pub trait Inventory: Send + Sync {
    fn tags(
        &self,
        instance: &InstanceId,
        region: &Region,
    ) -> Result<Option<HashMap<String, String>>, LookupError>;
}
