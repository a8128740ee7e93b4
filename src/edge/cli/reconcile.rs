//! `sesame audit reconcile --cloudtrail PATH…`: what AWS accepted against what sesame
//! released. Prints alerts, each minted assertion used or unused, and a summary line;
//! exits 1 when there is an alert.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::chains::logs;
use super::common::{Failure, Output};
use crate::config::Config;
use crate::core::text::saml_time;
use crate::forensics::cloudtrail::{self, Stats};
use crate::forensics::minted::Index;
use crate::forensics::reconcile::{Reconciler, Report};

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// CloudTrail as AWS delivers it: log files or folders in S3's layout
    /// (`AWSLogs/<account>/CloudTrail/<region>/…`, `.json.gz` or `.json`; digests are
    /// counted, not read), or the JSON of `aws cloudtrail lookup-events`. Repeatable.
    #[arg(long = "cloudtrail", value_name = "PATH", num_args = 1.., required = true)]
    pub cloudtrail: Vec<PathBuf>,
    /// A SAML provider ARN whose sign-ins to reconcile; repeatable. Default: every served
    /// account's (aws.provider_arn, [[aws.account]], and the template's in any account).
    #[arg(long, value_name = "ARN")]
    pub provider: Vec<String>,
    /// Assertion log files of one chain. Default: the configured log — this replica's
    /// files, or every replica's chain in PostgreSQL. Run `sesame audit verify` first:
    /// this reads, not verifies.
    #[arg(long = "log", value_name = "FILE")]
    pub log: Vec<PathBuf>,
    /// List only minted assertions minted at or after this instant (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub since: Option<String>,
    /// List only minted assertions minted before this instant (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub until: Option<String>,
    /// Print alerts and the summary only, not every minted assertion.
    #[arg(long)]
    pub alerts_only: bool,
    /// A table for people, or JSON lines (`type`: alert, assertion, refused, summary).
    #[arg(long, value_enum, default_value_t = Output::Table)]
    pub format: Output,
}

pub fn run(cfg: &Config, a: ReconcileArgs) -> Result<(), Failure> {
    let since = a
        .since
        .as_deref()
        .map(|s| crate::core::text::instant("--since", s))
        .transpose()
        .map_err(|e| Failure::new(2, e))?;
    let until = a
        .until
        .as_deref()
        .map(|s| crate::core::text::instant("--until", s))
        .transpose()
        .map_err(|e| Failure::new(2, e))?;
    // By default every served account's provider (and the template's, in any account).
    let accounts = &cfg.aws.accounts;
    let (providers, template) = if a.provider.is_empty() {
        (accounts.listed.values().map(|p| p.provider_arn.clone()).collect(), accounts.template.clone())
    } else {
        (a.provider.clone(), None)
    };
    for p in &providers {
        if !p.starts_with("arn:aws") || !p.contains(":saml-provider/") {
            return Err(Failure::new(2, format!("--provider: {p:?} is not a SAML provider ARN (arn:aws:iam::<account>:saml-provider/<name>)")));
        }
    }
    let logs = logs(cfg, a.log.clone())?;
    let index = Index::read(&logs.all_files(), false).map_err(|e| Failure::new(3, e))?;
    for (file, bytes) in &index.torn {
        eprintln!("note: skipped a partial last record ({bytes} bytes) in {}", file.display());
    }
    for d in &index.duplicates {
        eprintln!("note: assertion {d} appears in more than one decision record; the first is used");
    }
    let mut stats = Stats::default();
    let files = cloudtrail::files(&a.cloudtrail, &mut stats).map_err(|e| Failure::new(2, e))?;
    for f in &stats.other_files {
        eprintln!("note: not read (not .json or .json.gz): {}", f.display());
    }
    if files.is_empty() {
        return Err(Failure::new(2, "--cloudtrail: no .json or .json.gz files found"));
    }
    let mut rec = Reconciler::new(&index, providers).with_template(template);
    for f in &files {
        let events = cloudtrail::read_file(f, &mut |s| rec.observe(s)).map_err(|e| Failure::new(2, e))?;
        stats.files += 1;
        stats.events += events;
    }
    let report = rec.finish();
    let in_range = |t: &str| {
        let t = chrono::DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&chrono::Utc));
        since.is_none_or(|s| t.is_some_and(|t| t >= s)) && until.is_none_or(|u| t.is_some_and(|t| t < u))
    };
    let listed: Vec<_> = index.in_order().into_iter().filter(|m| in_range(&m.time)).collect();
    let used = listed.iter().filter(|m| report.used.contains_key(&m.assertion_id)).count();
    let summary = summary(&report, &stats, listed.len(), used);
    let mut out = String::new();
    match a.format {
        Output::Json => {
            for al in &report.alerts {
                push_json(&mut out, json!({"type": "alert", "alert": al}));
            }
            for (id, seen, code) in &report.refused {
                push_json(
                    &mut out,
                    json!({"type": "refused", "assertion_id": id, "error_code": code, "seen": seen}),
                );
            }
            if !a.alerts_only {
                for m in &listed {
                    let seen = report.used.get(&m.assertion_id);
                    push_json(
                        &mut out,
                        json!({"type": "assertion", "assertion_id": m.assertion_id, "user": m.user,
                        "minted": m.time, "replica": m.replica, "seq": m.seq, "used": seen.is_some(), "seen": seen}),
                    );
                }
            }
            push_json(&mut out, summary.1);
        }
        Output::Table => {
            for al in &report.alerts {
                let s = &al.seen;
                out.push_str(&format!(
                    "ALERT {} assertion={} user={} at={} from={} account={} key={} event={} ({})\n      {}\n",
                    al.kind.as_str(),
                    al.assertion_id.as_deref().unwrap_or("-"),
                    al.user.as_deref().unwrap_or("-"),
                    saml_time(s.time),
                    s.source_ip.as_deref().unwrap_or("-"),
                    s.account.as_deref().unwrap_or("-"),
                    s.access_key_id.as_deref().unwrap_or("-"),
                    s.event_id,
                    s.origin,
                    al.detail
                ));
            }
            for (id, s, code) in &report.refused {
                out.push_str(&format!(
                    "refused by AWS ({code}): assertion={} at={} from={} ({})\n",
                    id.as_deref().unwrap_or("-"),
                    saml_time(s.time),
                    s.source_ip.as_deref().unwrap_or("-"),
                    s.origin
                ));
            }
            if !a.alerts_only && !listed.is_empty() {
                out.push_str(&format!(
                    "{:<34} {:<20} {:<20} {:<6} {:<20} {:<15} {:<12} {}\n",
                    "ASSERTION", "USER", "MINTED", "USED", "WHEN", "SOURCE IP", "ACCOUNT", "ACCESS KEY"
                ));
                for m in &listed {
                    let s = report.used.get(&m.assertion_id);
                    out.push_str(&format!(
                        "{:<34} {:<20} {:<20} {:<6} {:<20} {:<15} {:<12} {}\n",
                        m.assertion_id,
                        m.user,
                        m.time,
                        if s.is_some() { "used" } else { "unused" },
                        s.map_or("-".into(), |s| saml_time(s.time)),
                        s.and_then(|s| s.source_ip.as_deref()).unwrap_or("-"),
                        s.and_then(|s| s.account.as_deref()).unwrap_or("-"),
                        s.and_then(|s| s.access_key_id.as_deref()).unwrap_or("-")
                    ));
                }
            }
            out.push_str(&summary.0);
            out.push('\n');
        }
    }
    super::common::emit(None, out.as_bytes())?;
    if report.alerts.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(1, format!("{} alert(s): see above", report.alerts.len())))
    }
}

fn push_json(out: &mut String, v: serde_json::Value) {
    out.push_str(&v.to_string());
    out.push('\n');
}

/// The summary as one `key=value` line (for alerting pipelines) and as JSON.
fn summary(r: &Report, s: &Stats, minted: usize, used: usize) -> (String, serde_json::Value) {
    let c = &r.counts;
    let kinds = r.by_kind();
    let mut line = format!(
        "reconcile: status={} alerts={} files={} events={} sign_ins={} accepted={} refused={} other_provider={} duplicate_events={} minted={} used={} unused={} digest_files={} other_files={}",
        if r.alerts.is_empty() { "ok" } else { "alert" },
        r.alerts.len(), s.files, s.events, c.sign_ins, c.accepted, c.refused, c.other_provider, c.duplicate_events,
        minted, used, minted.saturating_sub(used), s.digest_files, s.other_files.len()
    );
    let mut by = serde_json::Map::new();
    for (k, n) in &kinds {
        line.push_str(&format!(" {}={n}", k.as_str()));
        by.insert(k.as_str().into(), json!(n));
    }
    let v = json!({"type": "summary", "status": if r.alerts.is_empty() { "ok" } else { "alert" },
        "alerts": r.alerts.len(), "by_kind": by, "files": s.files, "events": s.events, "counts": c,
        "minted": minted, "used": used, "unused": minted.saturating_sub(used),
        "digest_files": s.digest_files, "other_files": s.other_files.len()});
    (line, v)
}
