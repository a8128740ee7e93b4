//! The composition root shared by the CLI (and later the server): loads keys, opens
//! the configured adapters and assembles a [`Minter`]. Concrete adapters are chosen
//! here and nowhere else.

use std::path::Path;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};

use crate::adapters::file::{FileDirectory, FileGrants, FileInventory};
use crate::adapters::{Directory, Grants, Inventory, LookupError};
use crate::config::{Config, Source};
use crate::keys::{self, GenerateSpec, KeyError, SigningMaterial};
use crate::mint::Minter;
use crate::saml::metadata::{build_metadata, MetadataParams};
use crate::saml::{SignError, Signer};

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{0}")]
    Key(#[from] KeyError),
    #[error("{0}")]
    Lookup(#[from] LookupError),
    #[error("{0}")]
    Sign(#[from] SignError),
    #[error("{0} is not configured")]
    Missing(&'static str),
    #[error("cannot build the metadata document")]
    Metadata,
}

impl SetupError {
    pub fn code(&self) -> &'static str {
        match self {
            SetupError::Key(e) => e.code(),
            SetupError::Lookup(e) => e.code(),
            SetupError::Sign(e) => e.code(),
            SetupError::Missing(_) => "config_invalid",
            SetupError::Metadata => "metadata_failed",
        }
    }
}

/// Loads the signing key and certificate; with `keys.generate_if_missing` (the embedded
/// default) a missing pair is generated first as a development key. Returns whether
/// a key was generated.
pub fn load_keys(config: &Config, now: DateTime<Utc>) -> Result<(SigningMaterial, bool), SetupError> {
    let k = &config.keys;
    let mut generated = false;
    if k.generate_if_missing && !k.signing_key.exists() && !k.signing_cert.exists() {
        let spec = GenerateSpec {
            bits: 2048,
            key_path: k.signing_key.clone(),
            cert_path: k.signing_cert.clone(),
            common_name: "sesame development signing key (not for production)".into(),
            days: 365,
            force: false,
        };
        keys::generate(&spec, now - Duration::minutes(5))?;
        generated = true;
    }
    Ok((keys::load(&k.signing_key, &k.signing_cert)?, generated))
}

fn open_directory(s: &Source) -> Result<Box<dyn Directory>, SetupError> {
    match s {
        Source::File(p) => Ok(Box::new(FileDirectory::open(p)?)),
        Source::None => Err(SetupError::Missing("directory")),
    }
}

fn open_grants(s: &Source) -> Result<Box<dyn Grants>, SetupError> {
    match s {
        Source::File(p) => Ok(Box::new(FileGrants::open(p)?)),
        Source::None => Err(SetupError::Missing("grants")),
    }
}

fn open_inventory(s: &Source) -> Result<Option<Box<dyn Inventory>>, SetupError> {
    match s {
        Source::File(p) => Ok(Some(Box::new(FileInventory::open(p)?))),
        Source::None => Ok(None),
    }
}

/// Assembles a minter: parses the key into libxmlsec1 once and opens every adapter.
pub fn minter(config: &Config, material: &SigningMaterial) -> Result<Minter, SetupError> {
    Ok(Minter {
        params: Minter::params(config, &material.cert_der),
        policy: config.policy.clone(),
        mapping: config.mapping.clone(),
        console_url: config.aws.console_url.clone(),
        signer: Signer::new(&material.key_pem)?,
        directory: open_directory(&config.directory)?,
        grants: open_grants(&config.grants)?,
        inventory: open_inventory(&config.inventory)?,
    })
}

fn b64(der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// The IdP metadata document: the signing certificate first, then `keys.publish_certs`.
pub fn metadata(
    config: &Config,
    material: &SigningMaterial,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, SetupError> {
    let mut certs_b64 = vec![b64(&material.cert_der)];
    for path in &config.keys.publish_certs {
        let der = keys::load_cert(path)?.to_der().map_err(KeyError::from)?;
        let s = b64(&der);
        if !certs_b64.contains(&s) {
            certs_b64.push(s);
        }
    }
    let params = MetadataParams {
        entity_id: config.idp.entity_id.clone(),
        sso_url: config.idp.sso_url.clone(),
        certs_b64,
        valid_until: now + Duration::days(i64::from(config.idp.metadata_valid_days)),
        name_id_format: config.idp.name_id_format.clone(),
    };
    build_metadata(&params).ok_or(SetupError::Metadata)
}

/// True when `path` exists; used by `check` to report missing files by name.
pub fn exists(path: &Path) -> bool {
    path.exists()
}
