//! `sesame access --user U`: the launcher's view from the command line — the person's
//! entitlements, each open or closed now (until when, or from when, in UTC and the
//! schedule's zone) and the instances it covers with their console links. Reads the
//! configured sources only (it runs beside a server); mints and records nothing.

use std::path::Path;

use clap::Args;

use super::common::{instant, load_config, Failure, Output};
use crate::core::SetStatus;
use crate::edge::render::{access_json, AccessPage};
use crate::edge::wiring;
use crate::service::access::{access, Sources};

#[derive(Debug, Args)]
pub struct AccessArgs {
    /// The person, as the directory names them.
    #[arg(long)]
    pub user: String,
    /// The instant to evaluate (RFC 3339, UTC). Default: now.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    /// A table for people, or the JSON of GET /v1/access (every entitlement, one page).
    #[arg(long, value_enum, default_value_t = Output::Table)]
    pub format: Output,
}

pub fn run(config: Option<&Path>, a: AccessArgs) -> Result<(), Failure> {
    let cfg = load_config(config)?;
    let now = instant(a.at.as_deref())?;
    let directory = wiring::directory(&cfg.directory).map_err(|e| Failure::new(3, e))?;
    let grants = wiring::read_grants(&cfg).map_err(|e| Failure::new(3, e))?;
    let inventory = wiring::open_inventory(&cfg.inventory).map_err(|e| Failure::new(3, e))?;
    let sources = Sources {
        directory: directory.as_ref(),
        mapping: &cfg.mapping,
        grants: grants.as_ref(),
        inventory: inventory.as_deref(),
        policy: &cfg.policy,
        accounts: &cfg.aws.accounts,
    };
    let (entries, with_inventory) = access(&sources, &a.user, now).map_err(|e| {
        let code = if e.outcome() == "refused" { 1 } else { 3 };
        Failure::new(
            if matches!(e, crate::service::mint::MintError::Input(_)) { 2 } else { code },
            e.to_string(),
        )
    })?;
    let out = match a.format {
        Output::Json => {
            let page = AccessPage {
                user: &a.user,
                at: now,
                console_url: &cfg.aws.console_url,
                inventory: with_inventory,
                entries: &entries,
                next_page: None,
            };
            format!("{}\n", access_json(&page))
        }
        Output::Table => {
            let mut t = String::new();
            for e in &entries {
                let tags: Vec<String> = e.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let when = match &e.status {
                    SetStatus::Open { window } => format!(
                        "open until {} ({})",
                        crate::core::text::saml_time(window.end),
                        window.end.with_timezone(&e.zone).format("%Y-%m-%d %H:%M %Z")
                    ),
                    SetStatus::Closed { next_open: Some(t), reason } => format!(
                        "closed ({}), opens {} ({} {})",
                        reason.code(),
                        crate::core::text::saml_time(*t),
                        t.with_timezone(&e.zone).format("%Y-%m-%d %H:%M %Z"),
                        e.zone.name()
                    ),
                    SetStatus::Closed { next_open: None, reason } => {
                        format!("closed ({}), no opening within a year", reason.code())
                    }
                };
                t.push_str(&format!("{} [{}]: {when}\n", e.entitlement, tags.join(" ")));
                for i in &e.instances {
                    let name = i.tags.get("Name").map_or("-", String::as_str);
                    t.push_str(&format!(
                        "  {} {} {} {name} {}\n",
                        i.account.as_deref().unwrap_or("-"),
                        i.region,
                        i.id,
                        crate::core::text::console_link(&cfg.aws.console_url, &i.id, &i.region)
                    ));
                }
            }
            if !with_inventory {
                t.push_str("(no inventory configured: which instances each set covers is not known)\n");
            }
            t.push_str(&format!(
                "access: user={} entitlements={} at={}\n",
                a.user,
                entries.len(),
                crate::core::text::saml_time(now)
            ));
            t
        }
    };
    super::common::emit(None, out.as_bytes())
}
