//! Read-only grants from a TOML file (`[[grant]] user, group, start, end, ticket,
//! approver`), read and validated when opened; a malformed file is an error that names
//! the file and the entry.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::adapters::{read_toml, Grants, LookupError};
use crate::core::text::instant;
use crate::core::{Grant, GroupName, Interval, UserName};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrants {
    #[serde(default)]
    grant: Vec<RawGrant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrant {
    user: String,
    group: String,
    start: String,
    end: String,
    ticket: String,
    approver: String,
}

/// Approved windows from a TOML file (`[[grant]] user, group, start, end, ticket, approver`).
#[derive(Debug)]
pub struct FileGrants {
    by_user: HashMap<String, Vec<Grant>>,
}

impl FileGrants {
    pub fn open(path: &Path) -> Result<Self, LookupError> {
        let raw: RawGrants = read_toml(path, LookupError::Grants)?;
        let mut by_user: HashMap<String, Vec<Grant>> = HashMap::new();
        for (i, g) in raw.grant.into_iter().enumerate() {
            let bad = |m: String| LookupError::Grants(format!("{}: grant[{i}]: {m}", path.display()));
            let user = UserName::parse("user", &g.user).map_err(|e| bad(e.to_string()))?;
            let group = GroupName::parse("group", &g.group).map_err(|e| bad(e.to_string()))?;
            let start = instant("start", &g.start).map_err(|e| bad(e.to_string()))?;
            let end = instant("end", &g.end).map_err(|e| bad(e.to_string()))?;
            let window = Interval::new(start, end).ok_or_else(|| bad("end: must be after start".into()))?;
            if g.ticket.trim().is_empty() || g.approver.trim().is_empty() {
                return Err(bad("ticket and approver are required".into()));
            }
            by_user.entry(user.as_str().to_owned()).or_default().push(Grant {
                group,
                window,
                ticket: g.ticket,
            });
        }
        Ok(Self { by_user })
    }
}

impl Grants for FileGrants {
    fn local(&self) -> bool {
        true
    }

    fn grants(&self, user: &UserName, _now: DateTime<Utc>) -> Result<Vec<Grant>, LookupError> {
        Ok(self.by_user.get(user.as_str()).cloned().unwrap_or_default())
    }
}
