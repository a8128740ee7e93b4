//! The composition root shared by the CLI and the server: loads keys, opens the
//! configured adapters and the audit log, and assembles a [`Minter`]. Concrete
//! adapters are chosen here and nowhere else.

use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};

use crate::adapters::directory::file::FileDirectory;
use crate::adapters::directory::ldap::LdapDirectory;
use crate::adapters::grants::file::FileGrants;
use crate::adapters::grants::postgres::PgGrants;
use crate::adapters::grants::sqlite::SqliteGrants;
use crate::adapters::inventory::aws_config::ConfigInventory;
use crate::adapters::inventory::file::FileInventory;
use crate::adapters::{Directory, GrantError, GrantStore, Grants, Inventory, LookupError};
use crate::audit::file::{CheckpointKey, FileAudit, FileAuditConfig};
use crate::audit::files::log_files;
use crate::audit::postgres::PgAudit;
use crate::audit::search::count_kind;
use crate::audit::{AuditError, AuditLog};
use crate::config::{AuditSink, Config, Database, SigningEngine, Source};
use crate::core::text::{hex, saml_time};
use crate::db::{migrate, Db, DbError};
use crate::keys::{self, GenerateSpec, KeyError, SigningMaterial};
use crate::saml::dsig::{DsigKey, Engine};
use crate::saml::error::SignError;
use crate::saml::libxmlsec::Signer;
use crate::saml::response::ResponseParams;
use crate::service::grants::{self, Actor};
use crate::service::mint::{Minter, Signing};

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
    #[error("{0}")]
    Grant(#[from] GrantError),
    #[error("{0}")]
    Db(#[from] DbError),
    #[error("AWS: {0}")]
    Aws(String),
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
            SetupError::Grant(e) => e.code(),
            SetupError::Db(e) => e.code(),
            SetupError::Aws(_) => "aws_unavailable",
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
        Source::None | Source::Sqlite { .. } | Source::Postgres | Source::AwsConfig(_) => {
            Err(SetupError::Missing("directory"))
        }
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
            if !path.exists() {
                refuse_lost_store(config, path)?;
            }
            let (store, created) = SqliteGrants::open(path)?;
            let store = Arc::new(store);
            grants::recover(store.as_ref(), audit, now)?;
            if let (true, Some(seed)) = (created, seed) {
                import(config, store.as_ref(), audit, seed, "seed", now)?;
            }
            Ok((store.clone(), Some(store)))
        }
        Source::Postgres => {
            let store = Arc::new(PgGrants::new(database(config)?));
            Ok((store.clone(), Some(store)))
        }
        Source::None | Source::Ldap(_) | Source::AwsConfig(_) => Err(SetupError::Missing("grants")),
    }
}

/// A missing store is created (and seeded) only on a first run: when the audit log
/// records grant changes, a store existed, and a new one would undo its revocations.
fn refuse_lost_store(config: &Config, path: &std::path::Path) -> Result<(), SetupError> {
    let a = &config.audit;
    let files = if a.dir.exists() { log_files(&a.dir, &a.replica)? } else { Vec::new() };
    let recorded = count_kind(&files, "grant")? + count_kind(&files, "firecall")?;
    if recorded == 0 {
        return Ok(());
    }
    Err(SetupError::Grant(GrantError::Store(LookupError::Grants(format!(
        "{} does not exist, but the audit log in {} records {recorded} grant changes: the store that held them is \
         gone. Restore it from a backup (a new, empty store would undo its revocations), or create an empty \
         one deliberately with `sesame grants init --reason TEXT` (recorded)",
        path.display(),
        a.dir.display()
    )))))
}

/// Creates an empty embedded store where none exists, deliberately (`sesame grants
/// init`): no seed is imported, and a `grant` record with the reason says so.
pub fn init_grants(
    config: &Config,
    audit: &dyn AuditLog,
    reason: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<std::path::PathBuf, SetupError> {
    let Source::Sqlite { path, .. } = &config.grants else {
        return Err(SetupError::Grant(GrantError::ReadOnly));
    };
    if path.exists() {
        return Err(SetupError::Grant(GrantError::Store(LookupError::Grants(format!(
            "{} exists already; init creates a store only where there is none",
            path.display()
        )))));
    }
    let entry = crate::audit::Entry {
        time: saml_time(now),
        outcome: Some("grant_store_created".into()),
        caller: Some(by.to_owned()),
        message: Some(format!("empty grants store {} created: {reason}", path.display())),
        ..crate::audit::Entry::default()
    };
    audit.append(crate::audit::Kind::Grant, entry)?;
    SqliteGrants::open(path)?;
    Ok(path.clone())
}

/// The grants for reading only (`sesame grants list`): no audit log, no lock, no
/// recovery; a missing store is an error.
/// The grants source for reading only, beside a running server (no recovery, no seed).
pub fn read_grants(config: &Config) -> Result<Arc<dyn Grants>, SetupError> {
    match &config.grants {
        Source::File(p) => Ok(Arc::new(FileGrants::open(p)?)),
        Source::Sqlite { path, .. } => Ok(Arc::new(SqliteGrants::open_read_only(path)?)),
        Source::Postgres => Ok(Arc::new(PgGrants::new(database(config)?))),
        Source::None | Source::Ldap(_) | Source::AwsConfig(_) => Err(SetupError::Missing("grants")),
    }
}

pub fn open_grants_read_only(config: &Config) -> Result<Arc<dyn GrantStore>, SetupError> {
    match &config.grants {
        Source::Sqlite { path, .. } => Ok(Arc::new(SqliteGrants::open_read_only(path)?)),
        Source::Postgres => Ok(Arc::new(PgGrants::new(database(config)?))),
        _ => Err(SetupError::Grant(GrantError::ReadOnly)),
    }
}

/// Imports a grants file into `store` (`sesame grants import`, and the seed of a new
/// embedded store), audited as by `by`.
pub fn import(
    config: &Config,
    store: &dyn GrantStore,
    audit: &dyn AuditLog,
    file: &std::path::Path,
    by: &str,
    now: DateTime<Utc>,
) -> Result<usize, SetupError> {
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| LookupError::Grants(format!("{name}: {e}")))?;
    let actor = Actor { caller: by, request_id: None, now, allow_past: true };
    Ok(grants::import(store, audit, &config.mapping, config.grants_max_seconds, (&name, &text), &actor)?)
}

pub fn open_inventory(s: &Source) -> Result<Option<Box<dyn Inventory>>, SetupError> {
    match s {
        Source::File(p) => Ok(Some(Box::new(FileInventory::open(p)?))),
        Source::AwsConfig(c) => Ok(Some(Box::new(ConfigInventory::new(c)?))),
        Source::None | Source::Ldap(_) | Source::Sqlite { .. } | Source::Postgres => Ok(None),
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

/// Opened databases, one per settings: the audit log and the grants of a process share
/// one runtime and pool.
static DATABASES: std::sync::Mutex<Vec<(Database, std::sync::Weak<Db>)>> = std::sync::Mutex::new(Vec::new());

/// The configured database (opened once per process and settings), its schema checked
/// the first time: current, or migrated with `database.migrate_on_start`; a database
/// that is behind, ahead or altered is refused.
pub fn database(config: &Config) -> Result<Arc<Db>, SetupError> {
    let settings = config.database.as_ref().ok_or(SetupError::Missing("database"))?;
    let mut open = DATABASES.lock().map_err(|_| SetupError::Missing("database"))?;
    open.retain(|(_, w)| w.strong_count() > 0);
    if let Some(db) = open.iter().find(|(s, _)| s == settings).and_then(|(_, w)| w.upgrade()) {
        return Ok(db);
    }
    let db = Db::open(settings)?;
    schema(&db, settings.migrate_on_start)?;
    tracing::info!(database = %db.describe(), "database schema current");
    open.push((settings.clone(), Arc::downgrade(&db)));
    Ok(db)
}

/// Applies pending migrations (`migrate`) or checks that none are pending; returns the
/// versions applied.
pub fn schema(db: &Arc<Db>, migrate: bool) -> Result<Vec<i32>, SetupError> {
    let d = db.clone();
    let (applied, status) = db.run(async move {
        let mut c = deadpool_postgres::Object::take(d.client().await?);
        let applied = if migrate { migrate::migrate(&mut c).await? } else { Vec::new() };
        Ok((applied, migrate::status(&*c).await?))
    })?;
    match status.problem() {
        Some(p) => Err(SetupError::Db(DbError::new("schema", format!("{}: {p}", db.describe())))),
        None => Ok(applied),
    }
}

/// Opens the audit log (recovering a torn tail); `now` stamps a recovery record.
/// Refuses a log whose files end before its head file says they did.
pub fn open_audit(
    config: &Config,
    material: &SigningMaterial,
    now: DateTime<Utc>,
) -> Result<Arc<dyn AuditLog>, SetupError> {
    if config.audit.sink == AuditSink::Postgres {
        let a = &config.audit;
        let key = checkpoint_key(config, material)?;
        let log = PgAudit::open(database(config)?, &a.replica, a.checkpoint_every, Some(key))?;
        return Ok(Arc::new(log));
    }
    let log = open_audit_accepting(config, material, now, None)?;
    if let Some((aside, bytes)) = &log.recovery().torn {
        tracing::warn!(bytes, aside = %aside.display(), "audit: set aside a torn partial record");
    }
    Ok(Arc::new(log))
}

/// As [`open_audit`]; with `accept_loss` (an operator's reason) a log whose head file
/// knows records that are gone opens anyway, and a `recovery` record says so.
pub fn open_audit_accepting(
    config: &Config,
    material: &SigningMaterial,
    now: DateTime<Utc>,
    accept_loss: Option<String>,
) -> Result<FileAudit, SetupError> {
    let a = &config.audit;
    if a.sink != AuditSink::Files {
        return Err(SetupError::Audit(AuditError::Unavailable(
            "this command works on audit files (audit.kind = \"files\"); the PostgreSQL log is append-only"
                .into(),
        )));
    }
    let cfg = FileAuditConfig {
        dir: a.dir.clone(),
        replica: a.replica.clone(),
        rotate_bytes: a.rotate_bytes,
        checkpoint_every: a.checkpoint_every,
        checkpoint_key: Some(checkpoint_key(config, material)?),
        lock_wait: std::time::Duration::from_secs(10),
        accept_loss,
        gather: FileAuditConfig::GATHER,
    };
    Ok(FileAudit::open(cfg, &saml_time(now))?)
}

/// Response parameters derived from configuration and the signing certificate.
pub fn params(config: &Config, cert_der: &[u8]) -> ResponseParams {
    ResponseParams {
        issuer: config.idp.entity_id.clone(),
        acs_url: config.aws.acs_url.clone(),
        audience: config.aws.audience.clone(),
        name_id_format: config.idp.name_id_format.clone(),
        cert_b64: base64::engine::general_purpose::STANDARD.encode(cert_der),
        sign_response: config.idp.sign_response,
        encrypt_to: None,
        session_naming: config.aws.session_naming,
    }
}

/// The signing state for `material`: the key parsed once (AWS-LC signs, libxmlsec1 encrypts).
pub fn signing(config: &Config, material: &SigningMaterial) -> Result<Signing, SetupError> {
    let mut params = params(config, &material.cert_der);
    if let Some(path) = &config.aws.encryption_cert {
        params.encrypt_to = Some(keys::load_cert(path)?.to_pem().map_err(KeyError::from)?);
    }
    let engine = match config.keys.signing_engine {
        SigningEngine::Auto => None,
        SigningEngine::AwsLc => Some(Engine::AwsLc),
        SigningEngine::OpenSsl => Some(Engine::OpenSsl),
    };
    let key = DsigKey::new(&material.key, engine)?;
    match key.measured() {
        Some(m) => tracing::info!(
            engine = key.engine().name(),
            aws_lc_us = m.aws_lc_us,
            openssl_us = m.openssl_us,
            "signing engine: the faster on this CPU for this key"
        ),
        None => tracing::info!(engine = key.engine().name(), "signing engine: as keys.signing_engine says"),
    }
    Ok(Signing { params, key, signer: Signer::new(&material.key_pem)? })
}

/// Assembles a minter: parses the key once and opens every adapter.
pub fn minter(
    config: &Config,
    material: &SigningMaterial,
    audit: Arc<dyn AuditLog>,
) -> Result<Minter, SetupError> {
    let (grants, grant_store) = open_grants(config, audit.as_ref(), super::clock::now())?;
    Ok(Minter {
        signing: std::sync::RwLock::new(Arc::new(signing(config, material)?)),
        policy: config.policy.clone(),
        mapping: config.mapping.clone(),
        console_url: config.aws.console_url.clone(),
        accounts: config.aws.accounts.clone(),
        directory: directory(&config.directory)?,
        grants,
        grant_store,
        inventory: open_inventory(&config.inventory)?,
        audit,
        wall_clock: super::clock::now,
    })
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
    if config.database.is_some() {
        // Unreachable, refused, or a schema behind, ahead or altered: each is a problem.
        database(config)?.ping()?;
    }
    if config.audit.sink == AuditSink::Postgres {
        return Ok(());
    }
    let dir = &config.audit.dir;
    std::fs::create_dir_all(dir)
        .and_then(|()| tempfile::NamedTempFile::new_in(dir).map(drop))
        .map_err(|e| AuditError::Unavailable(format!("{} is not writable: {e}", dir.display())))?;
    Ok(())
}
