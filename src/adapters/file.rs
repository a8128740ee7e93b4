//! The embedded file adapters: directory, grants and inventory read from TOML files.
//!
//! Files are read and validated when the adapter is opened; a malformed file is an
//! error that names the file and the entry, never a silently empty source.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{DirGroup, Directory, Grants, Inventory, LookupError, UserGroups};
use crate::core::{Grant, GroupName, InstanceId, Interval, Region, UserName};

fn read<T: serde::de::DeserializeOwned>(
    path: &Path,
    wrap: fn(String) -> LookupError,
) -> Result<T, LookupError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| wrap(format!("{}: cannot read: {e}", path.display())))?;
    toml::from_str(&text)
        .map_err(|e| wrap(format!("{}: {}", path.display(), e.to_string().trim().replace('\n', " "))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDirectory {
    #[serde(default)]
    user: Vec<RawUser>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    name: String,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    disabled: bool,
}

/// Users and their groups from a TOML file (`[[user]] name, groups, disabled`).
#[derive(Debug)]
pub struct FileDirectory {
    users: HashMap<String, UserGroups>,
}

impl FileDirectory {
    pub fn open(path: &Path) -> Result<Self, LookupError> {
        let raw: RawDirectory = read(path, LookupError::Directory)?;
        let mut users = HashMap::new();
        for (i, u) in raw.user.into_iter().enumerate() {
            let bad = |m: String| LookupError::Directory(format!("{}: user[{i}]: {m}", path.display()));
            let name = UserName::parse("name", &u.name).map_err(|e| bad(e.to_string()))?;
            let groups = u
                .groups
                .iter()
                .map(|g| GroupName::parse("groups", g))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(e.to_string()))?;
            let groups = groups.iter().map(|g| DirGroup::named(g.as_str())).collect();
            let entry = if u.disabled { UserGroups::Disabled } else { UserGroups::Member(groups) };
            if users.insert(name.as_str().to_owned(), entry).is_some() {
                return Err(bad(format!("user {:?} is listed twice", u.name)));
            }
        }
        Ok(Self { users })
    }
}

impl Directory for FileDirectory {
    fn local(&self) -> bool {
        true
    }

    fn groups(&self, user: &UserName) -> Result<UserGroups, LookupError> {
        Ok(self.users.get(user.as_str()).cloned().unwrap_or(UserGroups::Unknown))
    }
}

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

fn instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

impl FileGrants {
    pub fn open(path: &Path) -> Result<Self, LookupError> {
        let raw: RawGrants = read(path, LookupError::Grants)?;
        let mut by_user: HashMap<String, Vec<Grant>> = HashMap::new();
        for (i, g) in raw.grant.into_iter().enumerate() {
            let bad = |m: String| LookupError::Grants(format!("{}: grant[{i}]: {m}", path.display()));
            let user = UserName::parse("user", &g.user).map_err(|e| bad(e.to_string()))?;
            let group = GroupName::parse("group", &g.group).map_err(|e| bad(e.to_string()))?;
            let start = instant(&g.start)
                .ok_or_else(|| bad(format!("start: must be an RFC 3339 instant (got {:?})", g.start)))?;
            let end = instant(&g.end)
                .ok_or_else(|| bad(format!("end: must be an RFC 3339 instant (got {:?})", g.end)))?;
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInventory {
    #[serde(default)]
    instance: Vec<RawInstance>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstance {
    id: String,
    region: String,
    tags: HashMap<String, String>,
}

/// Instance tags from a TOML file (`[[instance]] id, region, tags`).
#[derive(Debug)]
pub struct FileInventory {
    tags: HashMap<(String, String), HashMap<String, String>>,
}

impl FileInventory {
    pub fn open(path: &Path) -> Result<Self, LookupError> {
        let raw: RawInventory = read(path, LookupError::Inventory)?;
        let mut tags = HashMap::new();
        for (i, r) in raw.instance.into_iter().enumerate() {
            let bad = |m: String| LookupError::Inventory(format!("{}: instance[{i}]: {m}", path.display()));
            let id = InstanceId::parse("id", &r.id).map_err(|e| bad(e.to_string()))?;
            let region = Region::parse("region", &r.region).map_err(|e| bad(e.to_string()))?;
            tags.insert((id.as_str().to_owned(), region.as_str().to_owned()), r.tags);
        }
        Ok(Self { tags })
    }
}

impl Inventory for FileInventory {
    fn local(&self) -> bool {
        true
    }

    fn tags(
        &self,
        instance: &InstanceId,
        region: &Region,
    ) -> Result<Option<HashMap<String, String>>, LookupError> {
        Ok(self.tags.get(&(instance.as_str().to_owned(), region.as_str().to_owned())).cloned())
    }
}
