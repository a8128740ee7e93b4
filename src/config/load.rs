//! Loading: one TOML file (`--config FILE` or `SESAME_CONFIG`), or the embedded
//! default (`policies/sesame.toml`, compiled in). [`Config::load`] validates all of it,
//! including the entitlement mapping and schedules under `policies/`, and reports
//! every problem with its location, not only the first.
//!
//! Relative paths are resolved against the configuration file's directory; for the
//! embedded default, against the current directory.

use std::path::Path;

use super::model::{Audit, AuditSink, Aws, Config, Idp, Keys, SigningEngine, Source};
use super::problems::{ConfigError, Problems};
use super::raw::{Raw, RawEntitlements, RawSchedules, RawSource};
use super::{database, directory, inventory, policy, server};
use crate::core::decide::{BelowFloor, Policy, WhenAllClosed, AWS_MAX_SESSION, AWS_MIN_SESSION};
use crate::core::{NameIdFormat, SessionNaming};

/// The embedded default configuration (the demo).
pub const EMBEDDED_DEFAULT: &str = include_str!("../../policies/sesame.toml");

fn https_url(p: &mut Problems, at: &str, v: &str) {
    let ok = v.strip_prefix("https://").is_some_and(|rest| {
        !rest.is_empty() && !rest.starts_with('/') && !v.chars().any(|c| c.is_whitespace() || c.is_control())
    });
    if !ok {
        p.push(at, format!("must be an https:// URL without spaces (got {v:?})"));
    }
}

/// Seconds or days settings: `lo..=hi`, which fit a `u32`.
fn seconds(p: &mut Problems, at: &str, v: Option<i64>, default: u32, lo: u32, hi: u32) -> u32 {
    let n = p.number(at, v, i64::from(default), i64::from(lo), i64::from(hi));
    u32::try_from(n).unwrap_or(default)
}

fn required(p: &mut Problems, at: &str, v: Option<String>) -> String {
    p.required(at, v)
}

fn source(p: &mut Problems, at: &str, s: RawSource, base: &Path, optional: bool) -> Source {
    match (s.kind.as_deref(), s.file) {
        (Some("file"), Some(f)) => Source::File(base.join(f)),
        (Some("file"), None) => {
            p.push(format!("{at}.file"), "is required when kind = \"file\"");
            Source::None
        }
        (Some("none"), _) | (None, None) if optional => Source::None,
        (None, None) | (Some("none"), _) => {
            p.push(format!("{at}.kind"), "is required: \"file\" (LDAP arrives with the directory adapter)");
            Source::None
        }
        (None, Some(f)) => Source::File(base.join(f)),
        (Some(k), _) => {
            p.push(
                format!("{at}.kind"),
                format!(
                    "unknown kind {k:?}; expected \"file\"{}",
                    if optional { " or \"none\"" } else { "" }
                ),
            );
            Source::None
        }
    }
}

fn read_toml<T: serde::de::DeserializeOwned>(p: &mut Problems, path: &Path) -> Option<T> {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => {
            toml::from_str(&text).map_err(|e| p.push(name, e.to_string().trim().replace('\n', " "))).ok()
        }
        Err(e) => {
            p.push(name, format!("cannot read: {e}"));
            None
        }
    }
}

impl Config {
    /// Loads `path`, or the embedded default when `None`.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
                    source_name: path.display().to_string(),
                    problems: Problems(vec![(path.display().to_string(), format!("cannot read: {e}"))]),
                })?;
                let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
                Self::from_toml(&text, &path.display().to_string(), &base)
            }
            None => Self::from_toml(EMBEDDED_DEFAULT, "embedded default", Path::new("")),
        }
    }

    /// Parses and validates configuration text; relative paths resolve against `base`.
    pub fn from_toml(text: &str, source_name: &str, base: &Path) -> Result<Self, ConfigError> {
        let fail = |problems| ConfigError { source_name: source_name.to_owned(), problems };
        let raw: Raw = toml::from_str(text).map_err(|e| {
            fail(Problems(vec![(source_name.to_owned(), e.to_string().trim().replace('\n', " "))]))
        })?;
        let mut p = Problems::default();

        let entity_id = required(&mut p, "idp.entity_id", raw.idp.entity_id);
        if entity_id.chars().count() > 1024 || entity_id.chars().any(char::is_whitespace) {
            p.push("idp.entity_id", "must be at most 1024 characters with no spaces");
        }
        let sso_url = required(&mut p, "idp.sso_url", raw.idp.sso_url);
        https_url(&mut p, "idp.sso_url", &sso_url);
        let name_id_format = match raw.idp.name_id_format.as_deref().unwrap_or("persistent") {
            "persistent" => NameIdFormat::Persistent,
            "transient" => NameIdFormat::Transient,
            u if u.starts_with("urn:oasis:names:tc:SAML:") => NameIdFormat::Other(u.to_owned()),
            other => {
                p.push("idp.name_id_format", format!("must be \"persistent\", \"transient\" or a full urn:oasis:names:tc:SAML: format URI (got {other:?})"));
                NameIdFormat::Persistent
            }
        };
        let assertion_lifetime = seconds(
            &mut p,
            "idp.assertion_lifetime_seconds",
            raw.idp.assertion_lifetime_seconds,
            300,
            30,
            3600,
        );
        let metadata_valid_days =
            seconds(&mut p, "idp.metadata_valid_days", raw.idp.metadata_valid_days, 365, 1, 3650);

        let accounts = super::accounts::accounts(
            &mut p,
            raw.aws.role_arn,
            raw.aws.provider_arn,
            raw.aws.account,
            raw.aws.account_template,
        );
        let acs_url = raw.aws.acs_url.unwrap_or_else(|| "https://signin.aws.amazon.com/saml".into());
        https_url(&mut p, "aws.acs_url", &acs_url);
        let audience = raw.aws.audience.unwrap_or_else(|| "urn:amazon:webservices".into());
        if !["urn:amazon:webservices", "https://signin.aws.amazon.com/saml"].contains(&audience.as_str()) {
            p.push("aws.audience", format!("must be \"urn:amazon:webservices\" or \"https://signin.aws.amazon.com/saml\" (got {audience:?})"));
        }
        let encryption_cert = raw.aws.encryption_cert.map(|c| base.join(c));
        if let Some(c) = &encryption_cert {
            if !c.exists() {
                p.push("aws.encryption_cert", format!("{} does not exist", c.display()));
            }
            let acs_ok = acs_url
                .strip_prefix("https://")
                .and_then(|r| r.split_once("/saml/acs/"))
                .is_some_and(|(host, id)| {
                    host.ends_with("signin.aws.amazon.com")
                        && !id.is_empty()
                        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                });
            if !acs_ok {
                p.push("aws.acs_url", "with aws.encryption_cert the ACS URL must be the provider's https://signin.aws.amazon.com/saml/acs/<IdP-ID>");
            }
        }
        let console_url = raw.aws.console_url.unwrap_or_else(|| "https://console.aws.amazon.com".into());
        https_url(&mut p, "aws.console_url", &console_url);
        let role_max_session = seconds(
            &mut p,
            "aws.role_max_session_seconds",
            raw.aws.role_max_session_seconds,
            3600,
            AWS_MIN_SESSION,
            AWS_MAX_SESSION,
        );
        let below_floor = match raw.aws.below_floor.as_deref().unwrap_or("invalidate") {
            "invalidate" => BelowFloor::Invalidate,
            "allow_floor" => BelowFloor::AllowFloor,
            other => {
                p.push(
                    "aws.below_floor",
                    format!("must be \"invalidate\" or \"allow_floor\" (got {other:?})"),
                );
                BelowFloor::Invalidate
            }
        };
        let when_all_closed = match raw.aws.when_all_closed.as_deref().unwrap_or("sentinels") {
            "sentinels" => WhenAllClosed::Sentinels,
            "refuse" => WhenAllClosed::Refuse,
            other => {
                p.push(
                    "aws.when_all_closed",
                    format!("must be \"sentinels\" (sign in with every tag unmatchable) or \"refuse\" (no sign-in) (got {other:?})"),
                );
                WhenAllClosed::Sentinels
            }
        };
        let session_naming = match raw.aws.role_session_name.as_deref().unwrap_or("per_decision") {
            "per_decision" => SessionNaming::PerDecision,
            "user" => SessionNaming::User,
            other => {
                p.push(
                    "aws.role_session_name",
                    format!("must be \"per_decision\" (<user>.<12 hex of the assertion ID>) or \"user\" (got {other:?})"),
                );
                SessionNaming::PerDecision
            }
        };

        let keys = Keys {
            signing_key: base.join(required(&mut p, "keys.signing_key", raw.keys.signing_key)),
            signing_cert: base.join(required(&mut p, "keys.signing_cert", raw.keys.signing_cert)),
            publish_certs: raw.keys.publish_certs.iter().map(|c| base.join(c)).collect(),
            generate_if_missing: raw.keys.generate_if_missing.unwrap_or(false),
            signing_engine: match raw.keys.signing_engine.as_deref() {
                None | Some("auto") => SigningEngine::Auto,
                Some("aws-lc") => SigningEngine::AwsLc,
                Some("openssl") => SigningEngine::OpenSsl,
                Some(other) => {
                    p.push(
                        "keys.signing_engine",
                        format!("must be \"auto\", \"aws-lc\" or \"openssl\" (got {other:?})"),
                    );
                    SigningEngine::Auto
                }
            },
        };

        let ent_file =
            base.join(raw.policies.entitlements.unwrap_or_else(|| "policies/entitlements.toml".into()));
        let sched_file =
            base.join(raw.policies.schedules.unwrap_or_else(|| "policies/schedules.toml".into()));
        let schedules = read_toml::<RawSchedules>(&mut p, &sched_file)
            .map(|r| policy::schedules(&sched_file.display().to_string(), r, &mut p))
            .unwrap_or_default();
        let mapping = read_toml::<RawEntitlements>(&mut p, &ent_file)
            .and_then(|r| policy::mapping(&ent_file.display().to_string(), r, &schedules, &mut p));

        let mut directory = directory::directory(&mut p, raw.directory, base);
        if let (Source::Ldap(l), Some(m)) = (&mut directory, &mapping) {
            l.group_attributes = m.group_attributes();
        }
        let grants = match (raw.grants.kind.as_deref(), raw.grants.file) {
            (Some("sqlite"), Some(f)) => {
                Source::Sqlite { path: base.join(f), seed: raw.grants.seed.as_ref().map(|s| base.join(s)) }
            }
            (Some("file"), Some(f)) => Source::File(base.join(f)),
            (Some("postgres"), None) => Source::Postgres,
            (Some("postgres"), Some(_)) => {
                p.push(
                    "grants.file",
                    "does not apply to kind = \"postgres\" (the [database] holds the grants)",
                );
                Source::Postgres
            }
            (Some("sqlite" | "file"), None) => {
                p.push("grants.file", "is required: the database (sqlite) or the grants file (file)");
                Source::None
            }
            (other, _) => {
                p.push(
                    "grants.kind",
                    format!("must be \"sqlite\", \"file\" or \"postgres\" (got {other:?})"),
                );
                Source::None
            }
        };
        if raw.grants.seed.is_some() && !matches!(grants, Source::Sqlite { .. }) {
            p.push("grants.seed", "applies to kind = \"sqlite\" only");
        }
        let firecall_max =
            p.number("grants.firecall_max_seconds", raw.grants.firecall_max_seconds, 3600, 60, 86_400);
        let max = raw.grants.max_seconds.unwrap_or(7 * 86_400);
        if !(900..=10 * 366 * 86_400).contains(&max) {
            p.push("grants.max_seconds", format!("must be between 900 and 316224000 (got {max})"));
        }
        let inv = raw.inventory;
        let inventory = if inv.kind.as_deref() == Some("aws-config") {
            inventory::aws_config_source(&mut p, &inv)
        } else {
            for (k, set) in [
                ("region", inv.region.is_some()),
                ("aggregator", inv.aggregator.is_some()),
                ("endpoint_url", inv.endpoint_url.is_some()),
                ("cache_seconds", inv.cache_seconds.is_some()),
                ("timeout_ms", inv.timeout_ms.is_some()),
                ("attempts", inv.attempts.is_some()),
            ] {
                if set {
                    p.push(format!("inventory.{k}"), "applies only to kind = \"aws-config\"");
                }
            }
            source(&mut p, "inventory", RawSource { kind: inv.kind, file: inv.file }, base, true)
        };
        // Default on with AWS Config (the inventory of record), off with a file.
        let aws_inventory = matches!(inventory, Source::AwsConfig(_));
        let require_known_instance = inv.require_known_instance.unwrap_or(aws_inventory);
        if require_known_instance && inventory == Source::None {
            p.push(
                "inventory.require_known_instance",
                "needs an inventory (inventory.kind = \"file\" or \"aws-config\"): without one no instance is known",
            );
        }

        let server = server::server(&mut p, raw.server, base);
        let replica = raw.audit.replica.unwrap_or_else(|| "local".into());
        let replica_ok = (1..=64).contains(&replica.len())
            && replica.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
            && !replica.starts_with('.');
        if !replica_ok {
            p.push("audit.replica", format!("must be 1-64 characters of A-Z a-z 0-9 _ . (no '-', which separates the sequence number in file names; got {replica:?})"));
        }
        let rotate = raw.audit.rotate_bytes.unwrap_or(64 << 20);
        let rotate_bytes = match u64::try_from(rotate) {
            Ok(n) if n >= 4096 => n,
            _ => {
                p.push("audit.rotate_bytes", format!("must be at least 4096 (got {rotate})"));
                64 << 20
            }
        };
        let every = raw.audit.checkpoint_every.unwrap_or(1000);
        let checkpoint_every = match u64::try_from(every) {
            Ok(n) if (1..=1_000_000).contains(&n) => n,
            _ => {
                p.push(
                    "audit.checkpoint_every",
                    format!("must be between 1 and 1000000 records (got {every})"),
                );
                1000
            }
        };
        let sink = match raw.audit.kind.as_deref().unwrap_or("files") {
            "files" => AuditSink::Files,
            "postgres" => AuditSink::Postgres,
            other => {
                p.push("audit.kind", format!("must be \"files\" or \"postgres\" (got {other:?})"));
                AuditSink::Files
            }
        };
        if matches!(grants, Source::Postgres) && sink != AuditSink::Postgres {
            p.push("grants.kind", "\"postgres\" needs audit.kind = \"postgres\": a grant change and its audit record commit in one transaction");
        }
        let uses_db = matches!(grants, Source::Postgres) || sink == AuditSink::Postgres;
        let reaper = super::reaper::reaper(&mut p, raw.reaper);
        let webhook = raw.webhook.and_then(|w| super::reaper::webhook(&mut p, w, base));
        let revoke_credentials = raw.aws.revoke_credentials.unwrap_or(false);
        // The reaper ends sessions in the home account only (its SDK credentials are
        // one account's): with more accounts, sessions elsewhere would outlive their
        // window, which DESIGN does not allow. Fail closed until it reaches them all.
        if reaper.enabled && accounts.many() {
            p.push("reaper.enabled", "the reaper ends sessions in aws.role_arn's account only: with [[aws.account]] entries or [aws.account_template], sessions in the other accounts would outlive their window; run one deployment per account with the reaper, or none");
        }
        if revoke_credentials && !reaper.enabled {
            p.push("aws.revoke_credentials", "needs reaper.enabled = true: the reaper writes the Deny");
        }
        if webhook.is_some() && !reaper.enabled {
            p.push("webhook", "needs reaper.enabled = true: the reaper sends the notices");
        }
        let database = match (raw.database, uses_db) {
            (Some(d), true) => Some(database::database(&mut p, d, base)),
            (None, true) => {
                p.push("database", "is required: grants.kind or audit.kind is \"postgres\"");
                None
            }
            (Some(_), false) => {
                p.push(
                    "database",
                    "is set but nothing uses it: set grants.kind and audit.kind = \"postgres\"",
                );
                None
            }
            (None, false) => None,
        };
        let audit = Audit {
            sink,
            dir: base.join(raw.audit.dir.unwrap_or_else(|| "var/audit".into())),
            replica,
            rotate_bytes,
            checkpoint_every,
            checkpoint_key: raw
                .audit
                .checkpoint_key
                .map_or_else(|| keys.signing_key.clone(), |k| base.join(k)),
            checkpoint_cert: raw
                .audit
                .checkpoint_cert
                .map_or_else(|| keys.signing_cert.clone(), |c| base.join(c)),
        };

        match mapping {
            Some(mapping) if p.0.is_empty() => Ok(Config {
                source_name: source_name.to_owned(),
                idp: Idp {
                    entity_id,
                    sso_url,
                    name_id_format,
                    assertion_lifetime,
                    sign_response: raw.idp.sign_response.unwrap_or(false),
                    metadata_valid_days,
                },
                aws: Aws {
                    accounts,
                    acs_url,
                    audience,
                    console_url,
                    encryption_cert,
                    session_naming,
                    revoke_credentials,
                },
                keys,
                policy: Policy {
                    spec: mapping.spec.clone(),
                    role_max_session,
                    below_floor,
                    assertion_lifetime,
                    require_known_instance,
                    when_all_closed,
                },
                mapping,
                directory,
                grants,
                inventory,
                audit,
                database,
                grants_max_seconds: max,
                firecall_max_seconds: firecall_max,
                server,
                reaper,
                webhook,
            }),
            _ => Err(fail(p)),
        }
    }
}
