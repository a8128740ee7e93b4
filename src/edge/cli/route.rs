//! `sesame audit route --session-logs PATH… --out DIR`: Session Manager session logs
//! written per tenant, by following each session to the decision that allowed it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;

use super::chains::logs;
use super::common::Failure;
use crate::config::Config;
use crate::core::{InstanceId, Region};
use crate::edge::wiring;
use crate::forensics::minted::Index;
use crate::forensics::route::{Attributor, Lookup, Router};
use crate::forensics::session_logs;

#[derive(Debug, Args)]
pub struct RouteArgs {
    /// Session logs: S3 objects `<SessionId>.log`, CloudWatch Logs exports
    /// (`<task>/<SessionId>/000000.gz`), get/filter-log-events JSON, or streamed session
    /// events (JSON lines with sessionId). Files or folders; repeatable.
    #[arg(long = "session-logs", value_name = "PATH", num_args = 1.., required = true)]
    pub session_logs: Vec<PathBuf>,
    /// Where to write: `tenants/<tenant>/<SessionId>.log|.jsonl`, `unattributed/…` and
    /// `routing.jsonl` (one line per session: tenant, how, decision). Must be new or empty.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The EC2 tag key (a configured tag column) whose value names the tenant.
    #[arg(long, value_name = "KEY", default_value = "APP_ID")]
    pub tenant_tag: String,
    /// Do not consult the configured inventory when a decision had several open sets.
    #[arg(long)]
    pub no_inventory: bool,
    /// Assertion log files of one chain. Default: the configured log — this replica's
    /// files, or every replica's chain in PostgreSQL.
    #[arg(long = "log", value_name = "FILE")]
    pub log: Vec<PathBuf>,
}

pub fn run(cfg: &Config, a: RouteArgs) -> Result<(), Failure> {
    let spec = &cfg.policy.spec;
    let column = Attributor::column_of(spec, &a.tenant_tag).ok_or_else(|| {
        let keys: Vec<&str> = spec.columns().iter().map(|c| c.ec2_key.as_str()).collect();
        Failure::new(
            2,
            format!(
                "--tenant-tag: {:?} is not a configured tag column (the columns are {keys:?})",
                a.tenant_tag
            ),
        )
    })?;
    let inventory = if a.no_inventory {
        None
    } else {
        wiring::open_inventory(&cfg.inventory).map_err(|e| Failure::new(3, e))?
    };
    let lookup_fn = |instance: &str, region: &str| -> Result<_, String> {
        let Some(inv) = inventory.as_ref() else { return Ok(None) };
        let (Ok(i), Ok(r)) = (InstanceId::parse("target", instance), Region::parse("region", region)) else {
            return Ok(None);
        };
        inv.tags(&i, &r).map_err(|e| e.to_string())
    };
    let lookup: Option<&Lookup<'_>> = if inventory.is_some() { Some(&lookup_fn) } else { None };
    let logs = logs(cfg, a.log.clone())?;
    let index = Index::read(&logs.all_files(), true).map_err(|e| Failure::new(3, e))?;
    let attributor = Attributor { index: &index, spec, column, inventory: lookup };
    let mut router = Router::new(attributor, &a.out).map_err(|e| Failure::new(2, e))?;
    let files = session_logs::files(&a.session_logs).map_err(|e| Failure::new(2, e))?;
    if files.is_empty() {
        return Err(Failure::new(2, "--session-logs: no files found"));
    }
    for f in &files {
        session_logs::read_file(f, &mut |p| router.write(p)).map_err(|e| Failure::new(2, e))?;
    }
    let routes = router.finish().map_err(|e| Failure::new(3, e))?;
    let mut tenants: BTreeMap<&str, usize> = BTreeMap::new();
    let mut unattributed = Vec::new();
    for r in &routes {
        match &r.tenant {
            Some(t) => *tenants.entry(t.as_str()).or_default() += 1,
            None => unattributed.push(r),
        }
    }
    let mut out = String::new();
    for (t, n) in &tenants {
        out.push_str(&format!("tenant {t:?}: {n} session(s)\n"));
    }
    for r in &unattributed {
        out.push_str(&format!("unattributed {}: {}\n", r.session_id, r.how));
    }
    out.push_str(&format!(
        "route: files={} sessions={} tenants={} attributed={} unattributed={} out={}\n",
        files.len(),
        routes.len(),
        tenants.len(),
        routes.len() - unattributed.len(),
        unattributed.len(),
        a.out.display()
    ));
    super::common::emit(None, out.as_bytes())
}
