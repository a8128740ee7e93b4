//! The composition root shared by the CLI (and later the server): loads keys, opens
//! the configured adapters and assembles a [`Minter`]. Concrete adapters are chosen
//! here and nowhere else.

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};

use crate::adapters::file::{FileDirectory, FileGrants, FileInventory};
use crate::adapters::ldap::LdapDirectory;
use crate::adapters::sqlite::SqliteGrants;
use crate::adapters::{Directory, GrantStore, Grants, Inventory, LookupError};
use crate::audit::chain::hex;
use crate::audit::file::{CheckpointKey, FileAudit, FileAuditConfig};
use crate::audit::{AuditError, AuditLog};
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
    #[error("{0}")]
    Audit(#[from] AuditError),
}

impl SetupError {
    pub fn code(&self) -> &'static str {
        match self {
            SetupError::Key(e) => e.code(),
            SetupError::Lookup(e) => e.code(),
            SetupError::Sign(e) => e.code(),
            SetupError::Missing(_) => "config_invalid",
            SetupError::Metadata => "metadata_failed",
            SetupError::Audit(e) => e.code(),
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

pub fn directory(s: &Source) -> Result<Box<dyn Directory>, SetupError> {
    match s {
        Source::File(p) => Ok(Box::new(FileDirectory::open(p)?)),
        Source::Ldap(l) => Ok(Box::new(LdapDirectory::new((**l).clone())?)),
        Source::None | Source::Sqlite { .. } => Err(SetupError::Missing("directory")),
    }
}

/// Readable grants and, for the embedded store, the same source as a writable store.
pub type GrantSources = (Arc<dyn Grants>, Option<Arc<dyn GrantStore>>);

/// Opens the grants source; a new SQLite store imports `grants.seed` (audited as
/// `seed`, past windows allowed since they are history).
pub fn open_grants(
    config: &Config,
    audit: &dyn AuditLog,
    now: DateTime<Utc>,
) -> Result<GrantSources, SetupError> {
    match &config.grants {
        Source::File(p) => Ok((Arc::new(FileGrants::open(p)?), None)),
        Source::Sqlite { path, seed } => {
            let (store, created) = SqliteGrants::open(path)?;
            let store = Arc::new(store);
            if let (true, Some(seed)) = (created, seed) {
                import(config, store.as_ref(), audit, seed, "seed", now)?;
            }
            Ok((store.clone(), Some(store)))
        }
        Source::None | Source::Ldap(_) => Err(SetupError::Missing("grants")),
    }
}

/// Imports a grants file (`[[grant]] user, group, start, end, ticket, approver`).
pub fn import(
    config: &Config,
    store: &dyn GrantStore,
    audit: &dyn AuditLog,
    file: &Path,
    by: &str,
    now: DateTime<Utc>,
) -> Result<usize, SetupError> {
    #[derive(serde::Deserialize)]
    struct File {
        #[serde(default)]
        grant: Vec<crate::grants::GrantRequest>,
    }
    let text =
        std::fs::read_to_string(file).map_err(|e| LookupError::Grants(format!("{}: {e}", file.display())))?;
    let parsed: File = toml::from_str(&text)
        .map_err(|e| LookupError::Grants(format!("{}: {}", file.display(), e.to_string().trim())))?;
    let actor = crate::grants::Actor { caller: by, request_id: None, now, allow_past: true };
    for (i, g) in parsed.grant.iter().enumerate() {
        crate::grants::add(store, audit, &config.mapping, config.grants_max_seconds, g, &actor)
            .map_err(|e| LookupError::Grants(format!("{}: grant[{i}]: {e}", file.display())))?;
    }
    Ok(parsed.grant.len())
}

fn open_inventory(s: &Source) -> Result<Option<Box<dyn Inventory>>, SetupError> {
    match s {
        Source::File(p) => Ok(Some(Box::new(FileInventory::open(p)?))),
        Source::None | Source::Ldap(_) | Source::Sqlite { .. } => Ok(None),
    }
}

/// The checkpoint key: the signing key unless `audit.checkpoint_key` names another.
fn checkpoint_key(config: &Config, material: &SigningMaterial) -> Result<CheckpointKey, SetupError> {
    let a = &config.audit;
    if a.checkpoint_key == config.keys.signing_key && a.checkpoint_cert == config.keys.signing_cert {
        return Ok(CheckpointKey {
            key: material.key.clone(),
            key_id: hex(&openssl::sha::sha256(&material.cert_der)),
        });
    }
    let m = keys::load(&a.checkpoint_key, &a.checkpoint_cert)?;
    Ok(CheckpointKey { key: m.key, key_id: hex(&openssl::sha::sha256(&m.cert_der)) })
}

/// Opens the audit log (recovering a torn tail); `now` stamps a recovery record.
pub fn open_audit(
    config: &Config,
    material: &SigningMaterial,
    now: DateTime<Utc>,
) -> Result<FileAudit, SetupError> {
    let a = &config.audit;
    let cfg = FileAuditConfig {
        dir: a.dir.clone(),
        replica: a.replica.clone(),
        rotate_bytes: a.rotate_bytes,
        checkpoint_every: a.checkpoint_every,
        checkpoint_key: Some(checkpoint_key(config, material)?),
        lock_wait: std::time::Duration::from_secs(10),
    };
    Ok(FileAudit::open(cfg, &crate::saml::saml_time(now))?)
}

/// The signing state for `material`: the key parsed once (OpenSSL, and libxmlsec1).
pub fn signing(config: &Config, material: &SigningMaterial) -> Result<crate::mint::Signing, SetupError> {
    let mut params = Minter::params(config, &material.cert_der);
    if let Some(path) = &config.aws.encryption_cert {
        params.encrypt_to = Some(keys::load_cert(path)?.to_pem().map_err(KeyError::from)?);
    }
    let key = crate::saml::DsigKey::new(material.key.clone())?;
    Ok(crate::mint::Signing { params, key, signer: Signer::new(&material.key_pem)? })
}

/// Assembles a minter: parses the key once and opens every adapter.
pub fn minter(
    config: &Config,
    material: &SigningMaterial,
    audit: Arc<dyn AuditLog>,
) -> Result<Minter, SetupError> {
    let (grants, grant_store) = open_grants(config, audit.as_ref(), crate::clock::now())?;
    Ok(Minter {
        signing: std::sync::RwLock::new(Arc::new(signing(config, material)?)),
        policy: config.policy.clone(),
        mapping: config.mapping.clone(),
        console_url: config.aws.console_url.clone(),
        directory: directory(&config.directory)?,
        grants,
        grant_store,
        inventory: open_inventory(&config.inventory)?,
        audit,
        wall_clock: crate::clock::now,
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
    let slots = crate::rotation::Slots::of(&config.keys.signing_key, &config.keys.signing_cert);
    for path in slots.published().iter().chain(&config.keys.publish_certs) {
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

/// Every certificate that may have signed a response or a checkpoint, by key id.
pub fn known_certs(config: &Config) -> Result<Vec<(String, openssl::x509::X509)>, SetupError> {
    let mut paths = vec![config.keys.signing_cert.clone(), config.audit.checkpoint_cert.clone()];
    paths.extend(config.keys.publish_certs.iter().cloned());
    let slots = crate::rotation::Slots::of(&config.keys.signing_key, &config.keys.signing_cert);
    paths.extend(slots.published());
    paths.extend(slots.retired());
    let mut out: Vec<(String, openssl::x509::X509)> = Vec::new();
    for p in paths {
        if !p.exists() {
            continue;
        }
        let cert = keys::load_cert(&p)?;
        let id = hex(&openssl::sha::sha256(&cert.to_der().map_err(KeyError::from)?));
        if !out.iter().any(|(k, _)| *k == id) {
            out.push((id, cert));
        }
    }
    Ok(out)
}

/// Opens every data source once, as `check` does, without minting.
pub fn check_sources(config: &Config) -> Result<(), SetupError> {
    if let Source::File(_) = &config.directory {
        directory(&config.directory)?;
    }
    if let Source::File(p) = &config.grants {
        FileGrants::open(p)?;
    }
    open_inventory(&config.inventory)?;
    let dir = &config.audit.dir;
    std::fs::create_dir_all(dir)
        .and_then(|()| tempfile::NamedTempFile::new_in(dir).map(drop))
        .map_err(|e| AuditError::Unavailable(format!("{} is not writable: {e}", dir.display())))?;
    Ok(())
}

/// True when `path` exists; used by `check` to report missing files by name.
pub fn exists(path: &Path) -> bool {
    path.exists()
}
