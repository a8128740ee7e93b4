//! The validated configuration, as the rest of sesame reads it. Only
//! [`Config::load`](super::load) makes one; every field has passed its rule.

use std::path::PathBuf;
use std::time::Duration;

use super::server::Server;
use crate::core::decide::Policy;
use crate::core::{Mapping, NameIdFormat};

#[derive(Debug, Clone, PartialEq)]
pub struct Idp {
    pub entity_id: String,
    pub sso_url: String,
    pub name_id_format: NameIdFormat,
    pub assertion_lifetime: u32,
    pub sign_response: bool,
    pub metadata_valid_days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aws {
    /// Every account served: `accounts.home` is aws.role_arn / aws.provider_arn.
    pub accounts: crate::core::accounts::Accounts,
    pub acs_url: String,
    pub audience: String,
    pub console_url: String,
    /// The IAM SAML provider's encryption certificate: assertions are encrypted to it.
    pub encryption_cert: Option<PathBuf>,
    /// `aws.role_session_name`: per decision (default) or the user name.
    pub session_naming: crate::core::SessionNaming,
    /// `aws.revoke_credentials`: on revocation, deny the person's credentials issued
    /// before it (an inline policy on the role; the reaper writes it).
    pub revoke_credentials: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    pub signing_key: PathBuf,
    pub signing_cert: PathBuf,
    pub publish_certs: Vec<PathBuf>,
    pub generate_if_missing: bool,
    pub signing_engine: SigningEngine,
}

/// `keys.signing_engine`: which implementation performs the RSA operation. Both give
/// the same bytes; `auto` (the default) times both on the key at start and keeps the
/// faster, which depends on the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigningEngine {
    #[default]
    Auto,
    AwsLc,
    OpenSsl,
}

/// Where the assertion log is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditSink {
    /// Local files under `dir` (the embedded default).
    Files,
    /// The `[database]`'s `audit_records` table, one chain per replica.
    Postgres,
}

/// The assertion log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    pub sink: AuditSink,
    pub dir: PathBuf,
    pub replica: String,
    pub rotate_bytes: u64,
    pub checkpoint_every: u64,
    /// Signs checkpoints; default: the SAML signing key and certificate.
    pub checkpoint_key: PathBuf,
    pub checkpoint_cert: PathBuf,
}

/// Where a lookup's data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    None,
    File(PathBuf),
    /// LDAP / Active Directory (directory only).
    Ldap(Box<LdapConfig>),
    /// The embedded SQLite grants store, with a file imported when it is created.
    Sqlite {
        path: PathBuf,
        seed: Option<PathBuf>,
    },
    /// The `[database]`'s `grants` table (grants only).
    Postgres,
    /// AWS Config's SelectResourceConfig / SelectAggregateResourceConfig (inventory only).
    AwsConfig(Box<AwsConfigSource>),
}

/// `[inventory] kind = "aws-config"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfigSource {
    /// The region whose Config (or aggregator) is asked.
    pub region: String,
    /// A configuration aggregator: every account and region it collects.
    pub aggregator: Option<String>,
    /// For the tests' loopback stand-in only.
    pub endpoint_url: Option<String>,
    /// How long an answer is reused (0: never).
    pub cache_seconds: u64,
    pub timeout_ms: u64,
    pub attempts: u32,
}

/// Validated `[database]` settings (see `policies/sesame.example.toml`).
#[derive(Clone, PartialEq, Eq)]
pub struct Database {
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub user: String,
    pub password: String,
    pub ca_file: PathBuf,
    pub connect_timeout: Duration,
    pub statement_timeout: Duration,
    pub pool_size: usize,
    pub pool_wait: Duration,
    /// `serve` applies pending migrations at start (otherwise it refuses to start on a
    /// database that is behind).
    pub migrate_on_start: bool,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("dbname", &self.dbname)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The validated configuration. Only [`Config::load`] makes one.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub source_name: String,
    pub idp: Idp,
    pub aws: Aws,
    pub keys: Keys,
    pub policy: Policy,
    pub mapping: Mapping,
    pub directory: Source,
    pub grants: Source,
    pub inventory: Source,
    pub audit: Audit,
    /// The shared PostgreSQL, when grants or audit use it.
    pub database: Option<Database>,
    /// Longest window a new grant may have, seconds.
    pub grants_max_seconds: i64,
    /// Longest firecall (break-glass) grant, seconds.
    pub firecall_max_seconds: i64,
    pub server: Server,
    pub reaper: Reaper,
    pub webhook: Option<Webhook>,
}

/// `[webhook]`: where notices go and how they are signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub url: String,
    /// The HMAC key, from a private file (never in the config text).
    pub secret: Vec<u8>,
    pub lead_seconds: i64,
    pub timeout: std::time::Duration,
    pub attempts: u32,
}

/// `[reaper]`: the session reaper (off unless enabled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaper {
    pub enabled: bool,
    pub interval: std::time::Duration,
    pub rounds: u32,
    pub round_wait: std::time::Duration,
    pub retry_after_seconds: i64,
    /// The account's Session Manager maximum session duration (hours, 1-24).
    pub max_session_hours: i64,
    pub timeout: std::time::Duration,
    pub sdk_attempts: u32,
    /// The tests' loopback stand-in; never set in production.
    pub endpoint_url: Option<String>,
    /// The tests' IAM stand-in.
    pub iam_endpoint_url: Option<String>,
}

/// How group memberships are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupMode {
    /// In-chain on Active Directory, walk elsewhere (decided from the rootDSE).
    Auto,
    /// `member:1.2.840.113556.1.4.1941:=` — Active Directory only.
    InChain,
    /// Breadth-first over `member`, bounded by `max_depth`, cycle-safe.
    Walk,
    /// The user's `memberOf` values only (no nesting).
    MemberOf,
}

/// Validated LDAP settings (see `policies/sesame.example.toml`).
#[derive(Clone, PartialEq, Eq)]
pub struct LdapConfig {
    pub url: String,
    pub starttls: bool,
    pub ca_file: Option<PathBuf>,
    pub bind_dn: String,
    pub bind_password: String,
    pub user_base: String,
    /// A filter with exactly one `{user}`.
    pub user_filter: String,
    pub group_base: String,
    pub group_filter: String,
    pub groups: GroupMode,
    pub max_depth: usize,
    pub max_groups: usize,
    pub pool_size: usize,
    pub timeout: Duration,
    pub cache_ttl: Duration,
    /// Attributes read from group entries for mapping rules.
    pub group_attributes: Vec<String>,
}

impl std::fmt::Debug for LdapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapConfig")
            .field("url", &self.url)
            .field("bind_dn", &self.bind_dn)
            .field("bind_password", &"<redacted>")
            .finish_non_exhaustive()
    }
}
