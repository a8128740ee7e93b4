//! The embedded file directory: users and their groups from a TOML file
//! (`[[user]] name, groups, disabled`), read and validated when opened; a malformed
//! file is an error that names the file and the entry, never a silently empty source.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::adapters::{read_toml, Directory, LookupError, UserGroups};
use crate::core::{DirGroup, GroupName, UserName};

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
        let raw: RawDirectory = read_toml(path, LookupError::Directory)?;
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
