//! `sesame sessions list|reap`: the session reaper for operators. `list` shows a
//! person's active Session Manager sessions, each with the decision that allowed it
//! (read-only: it runs beside a server). `reap` runs the reaper once: every job due
//! now, recorded like the server's (with audit files it needs the log's lock, so it
//! runs where no server writes that log; with PostgreSQL it needs the reaper lease,
//! which a running replica with `[reaper] enabled` holds).

use std::collections::BTreeMap;
use std::path::Path;

use clap::{Args, Subcommand};
use serde_json::json;

use super::common::{load_config, Failure};
use crate::config::AuditSink;
use crate::core::{Region, UserName};
use crate::db::lease::Lease;
use crate::edge::{clock, reaping, wiring};
use crate::service::reaper::opened;

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// A person's active sessions (ssm:DescribeSessions per decision sesame made for
    /// them, in its region), as JSON lines with the decision's assertion ID.
    List(ListArgs),
    /// Run the reaper once: end the sessions of every window that has ended or whose
    /// grant was revoked or released, confirm, and record each action.
    Reap,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long)]
    pub user: String,
}

pub fn run(config: Option<&Path>, cmd: SessionsCommand) -> Result<(), Failure> {
    let cfg = load_config(config)?;
    let now = clock::now();
    match cmd {
        SessionsCommand::List(a) => {
            let user = UserName::parse("--user", &a.user).map_err(|e| Failure::new(2, e))?;
            let mut feed = reaping::feed(&cfg, now).map_err(|e| Failure::new(3, e))?;
            let records = feed.next().map_err(|e| Failure::new(3, e))?;
            // (region, RoleSessionName) → the decision's assertion ID
            let mut principals = BTreeMap::new();
            for o in records.iter().filter_map(opened).filter(|o| o.user == user.as_str()) {
                principals.insert((o.region.clone(), o.session_name.clone()), o.key);
            }
            let sessions = reaping::sessions(&cfg).map_err(|e| Failure::new(3, e))?;
            let prefix = reaping::owner_prefix(&cfg.aws.accounts.home.role_arn);
            for ((region, name), key) in principals {
                let r = Region::parse("region", &region).map_err(|e| Failure::new(3, e))?;
                let owner = format!("{prefix}{name}");
                for s in sessions.active(&r, &owner).map_err(|e| Failure::new(3, format!("{region}: {e}")))? {
                    let line = json!({"session_id": s.id, "target": s.target, "owner": s.owner,
                                      "region": region, "assertion_id": key});
                    println!("{line}");
                }
            }
            Ok(())
        }
        SessionsCommand::Reap => {
            let _lease = if cfg.audit.sink == AuditSink::Postgres {
                let db = wiring::database(&cfg).map_err(|e| Failure::new(3, e))?;
                let lease = Lease::try_acquire(&db, "reaper").map_err(|e| Failure::new(3, e))?;
                Some(lease.ok_or_else(|| {
                    Failure::new(1, "a replica holds the reaper lease: it reaps; nothing to do here")
                })?)
            } else {
                None
            };
            let (material, _) = wiring::load_keys(&cfg, now).map_err(|e| Failure::new(3, e))?;
            let audit = wiring::open_audit(&cfg, &material, now).map_err(|e| Failure::new(3, e))?;
            let feed = reaping::feed(&cfg, now).map_err(|e| Failure::new(3, e))?;
            let mut reaper = reaping::reaper(&cfg, audit.clone(), feed).map_err(|e| Failure::new(3, e))?;
            let t = reaper.tick(&clock::now).map_err(|e| Failure::new(3, e))?;
            let _ = audit.close();
            println!(
                "{}",
                json!({"records_read": t.records_read, "jobs_run": t.jobs_run, "jobs_done": t.jobs_done,
                       "terminated": t.terminated, "failures": t.failures, "planned": t.planned})
            );
            if t.jobs_run > t.jobs_done {
                return Err(Failure::new(3, "some sessions could not be confirmed ended; see the audit log"));
            }
            Ok(())
        }
    }
}
