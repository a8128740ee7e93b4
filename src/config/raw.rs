//! The configuration file as written (serde, unknown fields rejected). Every field's
//! default is documented in `policies/sesame.example.toml`; [`super::Config`] is the
//! validated form, and only it is used by the rest of the program.

use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    #[serde(default)]
    pub idp: RawIdp,
    #[serde(default)]
    pub aws: RawAws,
    #[serde(default)]
    pub keys: RawKeys,
    #[serde(default)]
    pub policies: RawPolicies,
    #[serde(default)]
    pub directory: RawDirectory,
    #[serde(default)]
    pub grants: RawGrants,
    #[serde(default)]
    pub inventory: RawInventory,
    #[serde(default)]
    pub audit: RawAudit,
    #[serde(default)]
    pub server: RawServer,
    pub database: Option<RawDatabase>,
    #[serde(default)]
    pub reaper: RawReaper,
    pub webhook: Option<RawWebhook>,
}

/// `[webhook]`: signed notices to the access manager or a chat bridge.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    pub url: Option<String>,
    pub secret_file: Option<String>,
    pub lead_seconds: Option<i64>,
    pub timeout_ms: Option<i64>,
    pub attempts: Option<i64>,
}

/// `[reaper]`: ending Session Manager sessions when their window ends.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawReaper {
    pub enabled: Option<bool>,
    pub interval_seconds: Option<i64>,
    pub rounds: Option<i64>,
    pub round_wait_ms: Option<i64>,
    pub retry_after_seconds: Option<i64>,
    pub max_session_hours: Option<i64>,
    pub timeout_ms: Option<i64>,
    pub sdk_attempts: Option<i64>,
    pub endpoint_url: Option<String>,
    pub iam_endpoint_url: Option<String>,
}

/// `[database]`: the shared PostgreSQL of `grants.kind` / `audit.kind = "postgres"`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    pub host: Option<String>,
    pub port: Option<i64>,
    pub dbname: Option<String>,
    pub user: Option<String>,
    pub password_file: Option<String>,
    pub password_env: Option<String>,
    pub ca_file: Option<String>,
    pub connect_timeout_ms: Option<i64>,
    pub statement_timeout_ms: Option<i64>,
    pub pool_size: Option<i64>,
    pub pool_wait_ms: Option<i64>,
    pub migrate_on_start: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    /// Plain HTTP for health checks only; "off" disables it.
    pub management_listen: Option<String>,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    pub client_ca: Option<String>,
    /// Generate a development CA, server and client certificate into this directory
    /// when the files are missing (the embedded default).
    pub dev_tls_dir: Option<String>,
    pub request_timeout_ms: Option<i64>,
    pub shutdown_timeout_seconds: Option<i64>,
    pub max_body_bytes: Option<i64>,
    pub body_timeout_ms: Option<i64>,
    pub keep_alive_seconds: Option<i64>,
    pub max_connections_per_source: Option<i64>,
    pub workers: Option<i64>,
    #[serde(default)]
    pub client: Vec<RawClient>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClient {
    /// `cn:<common name>`, `dns:<SAN>`, `uri:<SAN>` or `email:<SAN>` of the client certificate.
    pub identity: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    /// `files` (the default) or `postgres`.
    pub kind: Option<String>,
    pub dir: Option<String>,
    pub replica: Option<String>,
    pub rotate_bytes: Option<i64>,
    pub checkpoint_every: Option<i64>,
    pub checkpoint_key: Option<String>,
    pub checkpoint_cert: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawIdp {
    pub entity_id: Option<String>,
    pub sso_url: Option<String>,
    pub name_id_format: Option<String>,
    pub assertion_lifetime_seconds: Option<i64>,
    pub sign_response: Option<bool>,
    pub metadata_valid_days: Option<i64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawAws {
    pub role_arn: Option<String>,
    pub provider_arn: Option<String>,
    pub acs_url: Option<String>,
    pub audience: Option<String>,
    pub role_max_session_seconds: Option<i64>,
    pub below_floor: Option<String>,
    pub revoke_credentials: Option<bool>,
    pub role_session_name: Option<String>,
    pub when_all_closed: Option<String>,
    pub console_url: Option<String>,
    pub encryption_cert: Option<String>,
    /// `[[aws.account]]`: more accounts than aws.role_arn's.
    #[serde(default)]
    pub account: Vec<super::accounts::RawAccount>,
    pub account_template: Option<super::accounts::RawTemplate>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawKeys {
    pub signing_key: Option<String>,
    pub signing_cert: Option<String>,
    #[serde(default)]
    pub publish_certs: Vec<String>,
    pub generate_if_missing: Option<bool>,
    pub signing_engine: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawPolicies {
    pub entitlements: Option<String>,
    pub schedules: Option<String>,
}

/// `[directory]`: `kind = "file"` (with `file`) or `kind = "ldap"` (with the rest).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawDirectory {
    pub kind: Option<String>,
    pub file: Option<String>,
    pub url: Option<String>,
    pub starttls: Option<bool>,
    pub allow_plaintext: Option<bool>,
    pub ca_file: Option<String>,
    pub bind_dn: Option<String>,
    pub bind_password_file: Option<String>,
    pub bind_password_env: Option<String>,
    pub user_base: Option<String>,
    pub user_filter: Option<String>,
    pub group_base: Option<String>,
    pub group_filter: Option<String>,
    pub groups: Option<String>,
    pub max_depth: Option<i64>,
    pub max_groups: Option<i64>,
    pub pool_size: Option<i64>,
    pub timeout_ms: Option<i64>,
    pub cache_ttl_seconds: Option<i64>,
}

/// `[grants]`: `kind = "sqlite"` (the embedded store) or `kind = "file"` (read-only).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawGrants {
    /// Longest firecall (break-glass) grant, seconds (default 3600).
    pub firecall_max_seconds: Option<i64>,
    pub kind: Option<String>,
    pub file: Option<String>,
    /// sqlite: a grants file imported once, when the database is created.
    pub seed: Option<String>,
    /// Longest window a new grant may have, seconds.
    pub max_seconds: Option<i64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub kind: Option<String>,
    pub file: Option<String>,
}

/// `[inventory]`: a source, and whether an instance it does not know is refused.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawInventory {
    pub kind: Option<String>,
    pub file: Option<String>,
    pub require_known_instance: Option<bool>,
    /// aws-config: the region asked, an aggregator, the stand-in's URL, cache and timeouts.
    pub region: Option<String>,
    pub aggregator: Option<String>,
    pub endpoint_url: Option<String>,
    pub cache_seconds: Option<i64>,
    pub timeout_ms: Option<i64>,
    pub attempts: Option<i64>,
}

/// `policies/entitlements.toml`: tag columns, the maximum number of sets, and the
/// group → tag-set mapping.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEntitlements {
    pub max_sets: Option<i64>,
    pub tags: Option<Vec<RawColumn>>,
    #[serde(default)]
    pub entitlement: Vec<RawEntitlement>,
    #[serde(default)]
    pub rule: Vec<RawRule>,
}

/// Entitlements derived from directory groups by pattern: tag values come from the
/// pattern's named captures, or from attributes of the group entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// "cn" (default) or "dn": what the pattern is matched against.
    #[serde(rename = "match")]
    pub field: Option<String>,
    pub pattern: String,
    /// EC2 tag key → attribute of the group entry. Without it, named captures are used.
    pub attributes: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default = "yes")]
    pub requires_grant: bool,
    pub schedule: Option<String>,
    /// Longest grant for what this rule matches, seconds; capped by grants.max_seconds.
    pub max_grant_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawColumn {
    pub ec2_key: String,
    pub principal: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEntitlement {
    pub group: String,
    pub values: toml::Table,
    #[serde(default = "yes")]
    pub requires_grant: bool,
    pub schedule: Option<String>,
    /// Longest grant for this entitlement, seconds; capped by grants.max_seconds.
    pub max_grant_seconds: Option<i64>,
    /// May a person open it for themselves in an incident (a firecall grant)?
    #[serde(default)]
    pub firecall: bool,
}

fn yes() -> bool {
    true
}

/// `policies/schedules.toml`: named recurring schedules.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedules {
    #[serde(default)]
    pub schedule: Vec<RawSchedule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    pub name: String,
    pub zone: String,
    pub rules: Vec<RawScheduleRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScheduleRule {
    pub days: String,
    pub from: String,
    pub to: String,
}
