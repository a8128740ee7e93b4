//! Instance tags from a TOML file (`[[instance]] id, region, tags`), read and
//! validated when opened; a malformed file is an error that names the file and the entry.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::adapters::{read_toml, Inventory, KnownInstance, LookupError};
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
    tags: HashMap<String, String>,
}

/// Instance tags from a TOML file (`[[instance]] id, region, tags`).
#[derive(Debug)]
pub struct FileInventory {
    tags: HashMap<(String, String), HashMap<String, String>>,
}

impl FileInventory {
    pub fn open(path: &Path) -> Result<Self, LookupError> {
        let raw: RawInventory = read_toml(path, LookupError::Inventory)?;
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

    fn covering(&self, want: &[(&str, &str)]) -> Result<Vec<KnownInstance>, LookupError> {
        let mut v: Vec<KnownInstance> = self
            .tags
            .iter()
            .filter(|(_, tags)| want.iter().all(|(k, val)| tags.get(*k).is_some_and(|t| t == val)))
            .map(|((id, region), tags)| KnownInstance {
                id: id.clone(),
                region: region.clone(),
                account: None,
                tags: tags.clone(),
            })
            .collect();
        v.sort_by(|a, b| (&a.region, &a.id).cmp(&(&b.region, &b.id)));
        Ok(v)
    }
}
