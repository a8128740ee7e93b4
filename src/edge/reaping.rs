//! The session reaper wired to its parts: the Session Manager adapter, the record feed
//! of the configured audit sink (files of this replica, or every replica's chain in
//! PostgreSQL), its settings from `[reaper]` and `aws.role_arn`, and the background
//! thread of `sesame serve`. With PostgreSQL, only the replica holding the `reaper`
//! lease reaps (a lease lost stops it before its next job); with files, the one
//! process that writes the log.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

use super::clock;
use super::wiring::{self, SetupError};
use crate::adapters::notify::webhook::Webhook;
use crate::adapters::sessions::iam::IamPolicies;
use crate::adapters::sessions::ssm::{SsmSessions, SsmSettings};
use crate::adapters::SessionManager;
use crate::audit::pg_tail::PgTail;
use crate::audit::tail::{FileTail, RecordFeed};
use crate::audit::AuditLog;
use crate::config::{AuditSink, Config};
use crate::core::text::saml_time;
use crate::db::lease::Lease;
use crate::service::reaper::{Notices, Reaper, ReaperSettings};
use crate::service::revoke_creds::Revoker;

/// `arn:<p>:iam::<acct>:role/<path/>name` → `arn:<p>:sts::<acct>:assumed-role/<name>/`.
pub fn owner_prefix(role_arn: &str) -> String {
    let parts: Vec<&str> = role_arn.splitn(6, ':').collect();
    let (partition, account) =
        (parts.get(1).copied().unwrap_or("aws"), parts.get(4).copied().unwrap_or_default());
    let name = parts.get(5).and_then(|r| r.rsplit('/').next()).unwrap_or_default();
    format!("arn:{partition}:sts::{account}:assumed-role/{name}/")
}

/// How far back decisions can still have an open session.
pub fn lookback(cfg: &Config) -> chrono::Duration {
    chrono::Duration::seconds(i64::from(cfg.policy.role_max_session))
        + chrono::Duration::hours(cfg.reaper.max_session_hours)
}

pub fn settings(cfg: &Config) -> ReaperSettings {
    ReaperSettings {
        owner_prefix: owner_prefix(&cfg.aws.accounts.home.role_arn),
        rounds: cfg.reaper.rounds,
        round_wait: cfg.reaper.round_wait,
        retry_after: chrono::Duration::seconds(cfg.reaper.retry_after_seconds),
        lookback: lookback(cfg),
    }
}

pub fn sessions(cfg: &Config) -> Result<Arc<dyn SessionManager>, SetupError> {
    Ok(Arc::new(ssm(cfg)?))
}

fn ssm(cfg: &Config) -> Result<SsmSessions, SetupError> {
    let s = SsmSettings {
        timeout: cfg.reaper.timeout,
        attempts: cfg.reaper.sdk_attempts,
        initial_backoff: Duration::from_millis(200),
        endpoint_url: cfg.reaper.endpoint_url.clone(),
    };
    SsmSessions::new(&s).map_err(|e| SetupError::Aws(e.to_string()))
}

/// Session Manager, and with `aws.revoke_credentials` the role's policies in IAM, on
/// one SDK configuration.
pub fn aws(cfg: &Config) -> Result<(Arc<dyn SessionManager>, Option<Revoker>), SetupError> {
    let ssm = ssm(cfg)?;
    let revoker = if cfg.aws.revoke_credentials {
        let iam = IamPolicies::new(ssm.sdk(), cfg.reaper.iam_endpoint_url.as_deref())
            .map_err(|e| SetupError::Aws(e.to_string()))?;
        Some(Revoker {
            policies: Arc::new(iam),
            role: cfg.aws.accounts.home.role_arn.rsplit('/').next().unwrap_or_default().to_owned(),
            keep: chrono::Duration::seconds(i64::from(cfg.policy.role_max_session)),
        })
    } else {
        None
    };
    Ok((Arc::new(ssm), revoker))
}

/// The webhook of `[webhook]`, if configured.
pub fn notices(cfg: &Config) -> Result<Option<Notices>, SetupError> {
    let Some(w) = &cfg.webhook else { return Ok(None) };
    let hook = Webhook::new(&w.url, w.secret.clone(), w.timeout, w.attempts)
        .map_err(|e| SetupError::Aws(e.to_string()))?;
    Ok(Some(Notices { to: Arc::new(hook), lead: chrono::Duration::seconds(w.lead_seconds) }))
}

/// A reaper on `feed`, with the notices of `[webhook]` and, with
/// `aws.revoke_credentials`, the Deny on issued credentials.
pub fn reaper(
    cfg: &Config,
    audit: Arc<dyn AuditLog>,
    feed: Box<dyn RecordFeed>,
) -> Result<Reaper, SetupError> {
    let (sessions, revoker) = aws(cfg)?;
    let mut r = Reaper::new(sessions, audit, feed, settings(cfg));
    if let Some(n) = notices(cfg)? {
        r = r.with_notices(n);
    }
    if let Some(v) = revoker {
        r = r.with_revoker(v);
    }
    Ok(r)
}

/// The log's records since `now - lookback`, then as they are appended.
pub fn feed(cfg: &Config, now: DateTime<Utc>) -> Result<Box<dyn RecordFeed>, SetupError> {
    let cutoff = now - lookback(cfg);
    match cfg.audit.sink {
        AuditSink::Postgres => Ok(Box::new(PgTail::new(wiring::database(cfg)?, saml_time(cutoff)))),
        AuditSink::Files => {
            let secs = u64::try_from(cutoff.timestamp()).unwrap_or(0);
            let since = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
            Ok(Box::new(FileTail::new(&cfg.audit.dir, &cfg.audit.replica, since)))
        }
    }
}

/// The reaper of `sesame serve`: a thread that ticks every `reaper.interval_seconds`
/// until `stop` is set.
pub fn spawn(
    cfg: Config,
    audit: Arc<dyn AuditLog>,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, SetupError> {
    std::thread::Builder::new()
        .name("sesame-reaper".into())
        .spawn(move || run(&cfg, &audit, &stop))
        .map_err(|e| SetupError::Aws(format!("cannot start the reaper thread: {e}")))
}

fn pause(stop: &AtomicBool, d: Duration) {
    let mut left = d;
    while !left.is_zero() && !stop.load(Ordering::Relaxed) {
        let step = left.min(Duration::from_millis(100));
        std::thread::sleep(step);
        left = left.saturating_sub(step);
    }
}

fn run(cfg: &Config, audit: &Arc<dyn AuditLog>, stop: &AtomicBool) {
    let shared = cfg.audit.sink == AuditSink::Postgres;
    let mut lease: Option<Lease> = None;
    let mut reaper: Option<Reaper> = None;
    while !stop.load(Ordering::Relaxed) {
        if shared {
            if lease.as_ref().is_some_and(|l| !l.held()) {
                tracing::warn!("reaper: lease lost; another replica may reap now");
                (lease, reaper) = (None, None);
            }
            if lease.is_none() {
                match wiring::database(cfg)
                    .map_err(|e| e.to_string())
                    .and_then(|db| Lease::try_acquire(&db, "reaper").map_err(|e| e.to_string()))
                {
                    Ok(Some(l)) => {
                        tracing::info!("reaper: this replica holds the reaper lease");
                        lease = Some(l);
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "reaper: cannot reach the lease"),
                }
            }
            if lease.is_none() {
                pause(stop, cfg.reaper.interval);
                continue;
            }
        }
        if reaper.is_none() {
            match feed(cfg, clock::now()).and_then(|f| self::reaper(cfg, audit.clone(), f)) {
                Ok(r) => reaper = Some(r),
                Err(e) => tracing::warn!(error = %e, "reaper: cannot start"),
            }
        }
        if let Some(r) = reaper.as_mut() {
            match r.tick(&clock::now) {
                Ok(t) if t.jobs_run > 0 => tracing::info!(?t, "reaper: tick"),
                Ok(_) => {}
                Err(e) => {
                    // The feed or the log failed: start again from durable state.
                    tracing::warn!(error = %e, "reaper: tick failed; rebuilding from the audit log");
                    reaper = None;
                }
            }
        }
        pause(stop, cfg.reaper.interval);
    }
}
