//! The launcher's view: a person's entitlements, each open or closed now (until when,
//! or from when) and the instances its tag set covers — what the access manager's
//! portal shows before the person picks an instance. Reads the same sources as a mint
//! and decides each entitlement the way `decide` decides a set; mints and records nothing.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::mint::{MintError, Minter};
use crate::adapters::{Directory, Grants, Inventory, KnownInstance, UserGroups};
use crate::core::accounts::Accounts;
use crate::core::decide::status_of;
use crate::core::mapping::Mapping;
use crate::core::{Policy, SetStatus, UserName};

/// What the view reads: a running minter's sources, or the CLI's, opened read-only.
pub struct Sources<'a> {
    pub directory: &'a dyn Directory,
    pub mapping: &'a Mapping,
    pub grants: &'a dyn Grants,
    pub inventory: Option<&'a dyn Inventory>,
    pub policy: &'a Policy,
    pub accounts: &'a Accounts,
}

impl<'a> Sources<'a> {
    pub fn of(m: &'a Minter) -> Self {
        Sources {
            directory: m.directory.as_ref(),
            mapping: &m.mapping,
            grants: m.grants.as_ref(),
            inventory: m.inventory.as_deref(),
            policy: &m.policy,
            accounts: &m.accounts,
        }
    }
}

/// One entitlement as the launcher shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub entitlement: String,
    /// (EC2 tag key, value) per column of the tag set.
    pub tags: Vec<(String, String)>,
    pub status: SetStatus,
    /// The zone of the entitlement's schedule (UTC without one).
    pub zone: Tz,
    /// The covered instances in accounts sesame serves; an instance the inventory
    /// places in no account is in the home account.
    pub instances: Vec<KnownInstance>,
    /// Covered instances left out: their accounts are not served, so a mint refuses them.
    pub unserved: usize,
}

/// The person's entitlements at `now`, in group order, and whether an inventory is
/// configured (without one, which instances a set covers is unknown: none are listed).
pub fn access(m: &Sources<'_>, user: &str, now: DateTime<Utc>) -> Result<(Vec<Entry>, bool), MintError> {
    let user = UserName::parse("user", user)?;
    let groups = match m.directory.groups(&user)? {
        UserGroups::Unknown => return Err(MintError::UnknownUser(user.as_str().to_owned())),
        UserGroups::Disabled => Vec::new(),
        UserGroups::Member(g) => g,
    };
    let (mut entitlements, _problems) = m.mapping.map(&groups);
    entitlements.sort_by(|a, b| (a.group.fold(), a.group.as_str()).cmp(&(b.group.fold(), b.group.as_str())));
    entitlements.dedup_by(|a, b| a.group == b.group);
    let grants = m.grants.grants(&user, now)?;
    let columns = m.policy.spec.columns();
    let mut out = Vec::with_capacity(entitlements.len());
    for e in &entitlements {
        let tags: Vec<(String, String)> = columns
            .iter()
            .zip(&e.values)
            .map(|(c, v)| (c.ec2_key.as_str().to_owned(), v.as_str().to_owned()))
            .collect();
        let mut instances = match m.inventory {
            Some(inv) => {
                let want: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                inv.covering(&want)?
            }
            None => Vec::new(),
        };
        let found = instances.len();
        for i in &mut instances {
            i.account.get_or_insert_with(|| m.accounts.home.account.clone());
        }
        instances.retain(|i| i.account.as_deref().is_some_and(|a| m.accounts.pair(a).is_some()));
        let unserved = found - instances.len();
        out.push(Entry {
            entitlement: e.group.as_str().to_owned(),
            tags,
            status: status_of(now, e, &grants, m.policy),
            zone: e.access.schedule().map_or(chrono_tz::UTC, |s| s.zone),
            instances,
            unserved,
        });
    }
    Ok((out, m.inventory.is_some()))
}
