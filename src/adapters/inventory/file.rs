//! Instance tags from a TOML file (`[[instance]] id, region, account?, tags`), read and
//! validated when opened; a malformed file is an error that names the file and the entry.
//! An instance without `account` is in the home account (aws.role_arn's).

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::adapters::{read_toml, Inventory, KnownInstance, LookupError};
use crate::core::accounts::{is_account_id, ACCOUNT_ID_RULE};
use crate::core::{InstanceId, Region};

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
    account: Option<String>,
    tags: HashMap<String, String>,
}

#[derive(Debug)]
struct Known {
    account: Option<String>,
    tags: HashMap<String, String>,
}

/// Instance tags from a TOML file (`[[instance]] id, region, tags`).
#[derive(Debug)]
pub struct FileInventory {
    tags: HashMap<(String, String), Known>,
}

impl FileInventory {
    pub fn open(path: &Path) -> Result<Self, LookupError> {
        let raw: RawInventory = read_toml(path, LookupError::Inventory)?;
        let mut tags = HashMap::new();
        for (i, r) in raw.instance.into_iter().enumerate() {
            let bad = |m: String| LookupError::Inventory(format!("{}: instance[{i}]: {m}", path.display()));
            let id = InstanceId::parse("id", &r.id).map_err(|e| bad(e.to_string()))?;
            let region = Region::parse("region", &r.region).map_err(|e| bad(e.to_string()))?;
            if let Some(a) = r.account.as_deref().filter(|a| !is_account_id(a)) {
                return Err(bad(format!("account: {ACCOUNT_ID_RULE} (got {a:?})")));
            }
            tags.insert(
                (id.as_str().to_owned(), region.as_str().to_owned()),
                Known { account: r.account, tags: r.tags },
            );
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
        Ok(self.instance(instance, region)?.map(|k| k.tags))
    }

    fn instance(&self, instance: &InstanceId, region: &Region) -> Result<Option<KnownInstance>, LookupError> {
        let key = (instance.as_str().to_owned(), region.as_str().to_owned());
        Ok(self.tags.get(&key).map(|k| KnownInstance {
            id: key.0.clone(),
            region: key.1.clone(),
            account: k.account.clone(),
            tags: k.tags.clone(),
        }))
    }

    fn covering(&self, want: &[(&str, &str)]) -> Result<Vec<KnownInstance>, LookupError> {
        let mut v: Vec<KnownInstance> = self
            .tags
            .iter()
            .filter(|(_, k)| want.iter().all(|(key, val)| k.tags.get(*key).is_some_and(|t| t == val)))
            .map(|((id, region), k)| KnownInstance {
                id: id.clone(),
                region: region.clone(),
                account: k.account.clone(),
                tags: k.tags.clone(),
            })
            .collect();
        v.sort_by(|a, b| (&a.region, &a.id).cmp(&(&b.region, &b.id)));
        Ok(v)
    }
}
