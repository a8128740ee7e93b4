//! `sesame grants add|list|revoke|release|firecall|review|import|init`: the approval system's operations on
//! the embedded grants store, each audited like its API twin. `list` only reads: it
//! takes no lock and runs beside a server.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};

use super::common::{load_config, Failure};
use crate::adapters::{GrantError, GrantStore};
use crate::audit::AuditLog;
use crate::config::Config;
use crate::core::UserName;
use crate::edge::{clock, render, wiring};
use crate::service::grants::{self, Actor, GrantRequest};

#[derive(Debug, Subcommand)]
pub enum GrantsCommand {
    /// Record an approved window for a user and an entitlement group.
    Add(AddArgs),
    /// List grants (all, or one user's), revoked and expired ones included, as JSON lines.
    List(ListArgs),
    /// Revoke a grant; effective for the next request (the reaper then ends the sessions
    /// it allowed).
    Revoke(RevokeArgs),
    /// End a grant early because the person is done (recorded as released; the reaper
    /// ends its sessions as for a revocation).
    Release(RevokeArgs),
    /// Open a firecall (break-glass) grant for a person in an incident: an entitlement
    /// with `firecall = true`, a reason and a ticket, from now, at most
    /// `grants.firecall_max_seconds`. Review pending until `grants review`.
    Firecall(FirecallArgs),
    /// Record an approver's review of a firecall grant.
    Review(ReviewArgs),
    /// Import grants from a TOML file ([[grant]] user, group, start, end, ticket, approver).
    Import(ImportArgs),
    /// Create an empty grants store where none exists, deliberately (recorded; no seed).
    /// Only for a store that is lost for good: sesame refuses to make one silently.
    Init(InitArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Why a new store is made (1-512 characters); kept in the audit record.
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    #[arg(long)]
    pub user: String,
    /// The entitlement group (as named in the mapping).
    #[arg(long)]
    pub group: String,
    /// Window start (RFC 3339). Default: now.
    #[arg(long, value_name = "RFC3339")]
    pub start: Option<String>,
    /// Window end (RFC 3339); or give --duration.
    #[arg(long, value_name = "RFC3339", conflicts_with = "duration")]
    pub end: Option<String>,
    /// Window length in seconds from the start.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<i64>,
    /// Change or incident ticket that approved the window.
    #[arg(long)]
    pub ticket: String,
    /// Who approved it.
    #[arg(long)]
    pub approver: String,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long)]
    pub user: Option<String>,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The grant's id (from `add` or `list`).
    pub id: i64,
}

#[derive(Debug, Args)]
pub struct FirecallArgs {
    #[arg(long)]
    pub user: String,
    #[arg(long)]
    pub group: String,
    /// Why (1-512 characters).
    #[arg(long)]
    pub reason: String,
    /// The incident ticket.
    #[arg(long)]
    pub ticket: String,
    /// Seconds (default and maximum: grants.firecall_max_seconds).
    #[arg(long)]
    pub duration: Option<i64>,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// The firecall grant's id.
    pub id: i64,
    /// What the review found (1-512 characters).
    #[arg(long)]
    pub note: String,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    pub file: PathBuf,
}

fn code(e: &GrantError) -> u8 {
    match e {
        GrantError::Store(_) => 3,
        _ => 2,
    }
}

type Opened = (Arc<dyn GrantStore>, Arc<dyn AuditLog>);

fn open(cfg: &Config) -> Result<Opened, Failure> {
    let (material, _) = wiring::load_keys(cfg, clock::now()).map_err(|e| Failure::new(3, e))?;
    let audit: Arc<dyn AuditLog> =
        wiring::open_audit(cfg, &material, clock::now()).map_err(|e| Failure::new(3, e))?;
    let (_, store) =
        wiring::open_grants(cfg, audit.as_ref(), clock::now()).map_err(|e| Failure::new(3, e))?;
    let store = store.ok_or_else(|| Failure::new(2, GrantError::ReadOnly))?;
    Ok((store, audit))
}

fn caller() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()))
}

pub fn run(config: Option<&Path>, cmd: GrantsCommand) -> Result<(), Failure> {
    let cfg = load_config(config)?;
    let now = clock::now();
    let who = caller();
    // Reading needs neither the audit log nor its lock: it works beside a running server.
    if let GrantsCommand::List(a) = &cmd {
        let store = wiring::open_grants_read_only(&cfg).map_err(|e| Failure::new(3, e))?;
        let user = a
            .user
            .as_deref()
            .map(|u| UserName::parse("--user", u))
            .transpose()
            .map_err(|e| Failure::new(2, e))?;
        for g in store.list(user.as_ref()).map_err(|e| Failure::new(3, e))? {
            println!("{}", render::grant_json(&g, now));
        }
        return Ok(());
    }
    if let GrantsCommand::Init(a) = &cmd {
        let reason = a.reason.trim();
        if reason.is_empty() || reason.chars().count() > 512 || reason.chars().any(char::is_control) {
            return Err(Failure::new(2, "--reason: must be 1-512 characters with no control characters"));
        }
        let (material, _) = wiring::load_keys(&cfg, now).map_err(|e| Failure::new(3, e))?;
        let audit = wiring::open_audit(&cfg, &material, now).map_err(|e| Failure::new(3, e))?;
        let path =
            wiring::init_grants(&cfg, audit.as_ref(), reason, &who, now).map_err(|e| Failure::new(3, e))?;
        println!("created an empty grants store at {}", path.display());
        return audit.close().map_err(|e| Failure::new(3, e));
    }
    let (store, audit) = open(&cfg)?;
    let actor = Actor { caller: &who, request_id: None, now, allow_past: false };
    match cmd {
        GrantsCommand::Add(a) => {
            let req = GrantRequest {
                user: a.user,
                group: a.group,
                start: a.start,
                end: a.end,
                duration_seconds: a.duration,
                ticket: a.ticket,
                approver: a.approver,
            };
            let g = grants::add(
                store.as_ref(),
                audit.as_ref(),
                &cfg.mapping,
                cfg.grants_max_seconds,
                &req,
                &actor,
            )
            .map_err(|e| Failure::new(code(&e), format!("{e} [{}]", e.code())))?;
            println!("{}", render::grant_json(&g, now));
        }
        GrantsCommand::List(_) | GrantsCommand::Init(_) => {}
        GrantsCommand::Revoke(a) => {
            let g = grants::revoke(store.as_ref(), audit.as_ref(), a.id, &actor)
                .map_err(|e| Failure::new(code(&e), format!("{e} [{}]", e.code())))?;
            println!("{}", render::grant_json(&g, now));
        }
        GrantsCommand::Firecall(a) => {
            let req = crate::service::firecall::FirecallRequest {
                user: a.user,
                group: a.group,
                reason: a.reason,
                ticket: a.ticket,
                duration_seconds: a.duration,
            };
            let g = crate::service::firecall::open(
                store.as_ref(),
                audit.as_ref(),
                &cfg.mapping,
                cfg.firecall_max_seconds,
                &req,
                &actor,
            )
            .map_err(|e| Failure::new(code(&e), format!("{e} [{}]", e.code())))?;
            println!("{}", render::grant_json(&g, now));
        }
        GrantsCommand::Review(a) => {
            let g = crate::service::firecall::review(store.as_ref(), audit.as_ref(), a.id, &a.note, &actor)
                .map_err(|e| Failure::new(code(&e), format!("{e} [{}]", e.code())))?;
            println!("{}", render::grant_json(&g, now));
        }
        GrantsCommand::Release(a) => {
            let g = grants::release(store.as_ref(), audit.as_ref(), a.id, &actor)
                .map_err(|e| Failure::new(code(&e), format!("{e} [{}]", e.code())))?;
            println!("{}", render::grant_json(&g, now));
        }
        GrantsCommand::Import(a) => {
            let n = wiring::import(&cfg, store.as_ref(), audit.as_ref(), &a.file, &who, now)
                .map_err(|e| Failure::new(2, e))?;
            println!("imported {n} grants from {}", a.file.display());
        }
    }
    Ok(())
}
