//! The session reaper: ends the Session Manager sessions a decision allowed when its
//! window ends, or when a grant it used is revoked or released. Its plan
//! (`core::reap`) is built only from the audit log, read through a
//! [`RecordFeed`], so a restart forgets nothing; its own records ("done") are in the
//! same log.
//!
//! One job, for one decision: list the principal's active sessions in the decision's
//! region (Owner = the assumed-role ARN of its RoleSessionName); if there are any,
//! record `sessions_reap_started` (durable before the first TerminateSession), end each,
//! and list again — TerminateSession reports success even for a session that is not
//! valid, so only a later list that no longer shows a session confirms it
//! (`session_terminated`). Errors are recorded (`session_terminate_failed`, with AWS's
//! code and message) and retried in rounds with backoff; a job still unfinished after
//! its rounds is retried at a later tick. An empty list ends the job:
//! `sessions_reaped`, with how many were confirmed ended.
//!
//! With a [`Notifier`], people are told (signed webhooks, `kind: notify` records):
//! `access_ending` a lead time before a window ends, `access_ended` when the job
//! starts, `sessions_terminated` when it ended sessions. A notice is recorded after the
//! receiver took it (`webhook_delivered`) or after its attempts failed
//! (`webhook_failed`, not retried); a crash between the two sends it again, so
//! receivers drop duplicates by the notice's `id`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::adapters::{Notice, Notifier, SessionError, SessionManager};
use crate::audit::record::{Entry, Kind, Record};
use crate::audit::tail::RecordFeed;
use crate::audit::{AuditError, AuditLog};
use crate::core::reap::{Ended, Job, Opened, Plan};
use crate::core::text::{clip, saml_time};
use crate::core::Region;
use crate::service::revoke_creds::{Pending, Revoker};

/// How the reaper works (from `[reaper]` and `aws.role_arn`).
#[derive(Debug, Clone)]
pub struct ReaperSettings {
    /// `arn:<partition>:sts::<account>:assumed-role/<role name>/`: + RoleSessionName = Owner.
    pub owner_prefix: String,
    /// Rounds of list → terminate → list per job and tick.
    pub rounds: u32,
    /// Wait after the first round's terminations; doubled each round, at most 30 s.
    pub round_wait: Duration,
    /// A job that did not finish waits this long before its next tick.
    pub retry_after: chrono::Duration,
    /// Decisions minted longer ago than this cannot have an open session: the role's
    /// longest credentials plus the account's longest Session Manager session.
    pub lookback: chrono::Duration,
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tick {
    pub records_read: usize,
    pub jobs_run: usize,
    pub jobs_done: usize,
    pub terminated: usize,
    pub failures: usize,
    pub planned: usize,
}

/// The decision a record opened, if it opened any set.
pub fn opened(r: &Record) -> Option<Opened> {
    let e = &r.entry;
    if r.kind != Kind::Decision || !matches!(e.outcome.as_deref(), Some("minted" | "minted_some_closed")) {
        return None;
    }
    let at = parse(&e.time)?;
    let open: Vec<_> = e.sets.iter().filter(|s| s.status == "open").collect();
    let fallback = e.session_duration.map(|d| at + chrono::Duration::seconds(i64::from(d)));
    let ends = open.iter().filter_map(|s| s.window_end.as_deref().and_then(parse)).min().or(fallback)?;
    let user = e.user.clone()?;
    Some(Opened {
        key: e.assertion_id.clone()?,
        session_name: e.role_session_name.clone().unwrap_or_else(|| user.clone()),
        user,
        region: e.region.clone()?,
        at,
        ends,
        entitlements: open.iter().map(|s| s.entitlement.clone()).collect(),
    })
}

fn parse(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&Utc))
}

/// Where notices go, and how long before an end people are warned.
pub struct Notices {
    pub to: Arc<dyn Notifier>,
    pub lead: chrono::Duration,
}

pub struct Reaper {
    sessions: Arc<dyn SessionManager>,
    audit: Arc<dyn AuditLog>,
    feed: Box<dyn RecordFeed>,
    plan: Plan,
    s: ReaperSettings,
    /// Jobs that did not finish: not before this instant.
    later: HashMap<String, DateTime<Utc>>,
    notices: Option<Notices>,
    /// (subject, event) already delivered or given up on (from the log).
    notified: HashMap<(String, String), DateTime<Utc>>,
    /// Firecalls opened (and when), to announce.
    firecalls: Vec<(Notice, DateTime<Utc>)>,
    revoker: Option<Revoker>,
    /// Revocations whose Deny on the role is not yet in place (from the log).
    creds: Vec<Pending>,
    creds_done: HashMap<String, DateTime<Utc>>,
    creds_next: Option<DateTime<Utc>>,
    last_prune: Option<DateTime<Utc>>,
}

impl Reaper {
    pub fn new(
        sessions: Arc<dyn SessionManager>,
        audit: Arc<dyn AuditLog>,
        feed: Box<dyn RecordFeed>,
        s: ReaperSettings,
    ) -> Self {
        Self {
            sessions,
            audit,
            feed,
            plan: Plan::default(),
            s,
            later: HashMap::new(),
            notices: None,
            notified: HashMap::new(),
            firecalls: Vec::new(),
            revoker: None,
            creds: Vec::new(),
            creds_done: HashMap::new(),
            creds_next: None,
            last_prune: None,
        }
    }

    /// Also denies revoked people's issued credentials on the role.
    pub fn with_revoker(mut self, r: Revoker) -> Self {
        self.revoker = Some(r);
        self
    }

    /// The Deny for pending revocations, and a prune every ten minutes.
    fn revoke_credentials(&mut self, now: DateTime<Utc>) -> Result<(), AuditError> {
        let Some(r) = &self.revoker else { return Ok(()) };
        if !self.creds.is_empty() && self.creds_next.is_none_or(|n| n <= now) {
            let done = r.apply(self.audit.as_ref(), &self.creds, now)?;
            self.creds.retain(|p| !done.contains(&p.key));
            self.creds_done.extend(done.into_iter().map(|k| (k, now)));
            self.creds_next = (!self.creds.is_empty()).then(|| now + self.s.retry_after);
        }
        if self.last_prune.is_none_or(|l| now - l >= chrono::Duration::minutes(10)) {
            if let Err(e) = r.prune(now) {
                tracing::warn!(error = %e, "reaper: could not prune the revocation policy; retried later");
            }
            self.last_prune = Some(now);
        }
        Ok(())
    }

    /// Sends notices through `n` as well.
    pub fn with_notices(mut self, n: Notices) -> Self {
        self.notices = Some(n);
        self
    }

    /// One notice about a decision, once: delivered or failed, then recorded.
    fn notify(
        &mut self,
        job: &Job,
        event: &str,
        sessions: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<(), AuditError> {
        let notice = Notice {
            id: format!("{}.{event}", job.key),
            event: event.to_owned(),
            user: job.user.clone(),
            region: job.region.clone(),
            entitlements: job.entitlements.clone(),
            ends: saml_time(job.due),
            reason: job.why.code().to_owned(),
            subject: job.key.clone(),
            sessions,
            time: saml_time(now),
        };
        self.deliver(notice, now)
    }

    /// Sends `notice` unless its (subject, event) was handled before; then records it.
    fn deliver(&mut self, mut notice: Notice, now: DateTime<Utc>) -> Result<(), AuditError> {
        let Some(n) = &self.notices else { return Ok(()) };
        let key = (notice.subject.clone(), notice.event.clone());
        if self.notified.contains_key(&key) {
            return Ok(());
        }
        notice.time = saml_time(now);
        let result = n.to.send(&notice, now);
        let e = Entry {
            time: saml_time(now),
            outcome: Some(if result.is_ok() { "webhook_delivered" } else { "webhook_failed" }.to_owned()),
            code: Some(notice.event.clone()),
            message: result.err().map(|e| clip(&e.to_string(), 512)),
            user: Some(notice.user.clone()),
            decision: Some(notice.subject.clone()),
            count: notice.sessions,
            ..Entry::default()
        };
        self.audit.append(Kind::Notify, e)?;
        self.notified.insert(key, now);
        Ok(())
    }

    fn absorb(&mut self, r: &Record) {
        if let Some(o) = opened(r) {
            self.plan.opened(o);
            return;
        }
        let e = &r.entry;
        match (&r.kind, e.outcome.as_deref()) {
            (Kind::Grant, Some("grant_revoked" | "grant_released")) => {
                if let (Some(user), Some(g), Some(at)) = (&e.user, &e.grant, parse(&e.time)) {
                    self.plan.ended(Ended { user: user.clone(), entitlement: g.entitlement.clone(), at });
                    let key = format!("grant:{}:{}", g.id.unwrap_or(0), e.time);
                    if !self.creds_done.contains_key(&key) && !self.creds.iter().any(|p| p.key == key) {
                        self.creds.push(Pending { key, user: user.clone(), at });
                    }
                }
            }
            (Kind::Session, Some("credentials_revoked")) => {
                if let (Some(d), Some(at)) = (&e.decision, parse(&e.time)) {
                    self.creds.retain(|p| &p.key != d);
                    self.creds_done.insert(d.clone(), at);
                }
            }
            (Kind::Session, Some("sessions_reaped")) => {
                if let (Some(d), Some(at)) = (&e.decision, parse(&e.time)) {
                    self.plan.done(d, at);
                    self.later.remove(d);
                }
            }
            (Kind::Firecall, Some("firecall_opened")) => {
                if let (Some(user), Some(g), Some(at)) = (&e.user, &e.grant, parse(&e.time)) {
                    let id = g.id.map_or_else(|| "?".to_owned(), |i| i.to_string());
                    self.firecalls.push((
                        Notice {
                            id: format!("grant:{id}.firecall_opened"),
                            event: "firecall_opened".into(),
                            user: user.clone(),
                            region: String::new(),
                            entitlements: vec![g.entitlement.clone()],
                            ends: g.end.clone().unwrap_or_default(),
                            reason: e.message.clone().unwrap_or_default(),
                            subject: format!("grant:{id}"),
                            sessions: None,
                            time: String::new(),
                        },
                        at,
                    ));
                }
            }
            (Kind::Notify, Some(_)) => {
                if let (Some(d), Some(event), Some(at)) = (&e.decision, &e.code, parse(&e.time)) {
                    self.notified.insert((d.clone(), event.clone()), at);
                }
            }
            _ => {}
        }
    }

    /// Reads what the log gained, then runs every job due at `now()`.
    pub fn tick(&mut self, now: &dyn Fn() -> DateTime<Utc>) -> Result<Tick, AuditError> {
        let records = self.feed.next()?;
        let mut t = Tick { records_read: records.len(), ..Tick::default() };
        for r in &records {
            self.absorb(r);
        }
        let at = now();
        let cutoff = at - self.s.lookback;
        self.plan.forget_before(cutoff);
        self.notified.retain(|_, t| *t >= cutoff);
        self.creds_done.retain(|_, t| *t >= cutoff);
        self.firecalls.retain(|(_, t)| *t >= cutoff);
        self.revoke_credentials(now())?;
        for (f, _) in std::mem::take(&mut self.firecalls) {
            self.deliver(f, now())?;
        }
        if let Some(lead) = self.notices.as_ref().map(|n| n.lead) {
            for job in self.plan.due_within(at, lead) {
                if job.why == crate::core::reap::Why::WindowEnd {
                    self.notify(&job, "access_ending", None, now())?;
                }
            }
        }
        for job in self.plan.due(at) {
            if self.later.get(&job.key).is_some_and(|l| *l > at) {
                continue;
            }
            t.jobs_run += 1;
            self.notify(&job, "access_ended", None, now())?;
            let (done, terminated, failures) = self.run(&job, now)?;
            if done && terminated > 0 {
                self.notify(&job, "sessions_terminated", Some(terminated as u64), now())?;
            }
            t.terminated += terminated;
            t.failures += failures;
            if done {
                t.jobs_done += 1;
                self.plan.done(&job.key, now());
                self.later.remove(&job.key);
            } else {
                self.later.insert(job.key.clone(), now() + self.s.retry_after);
            }
        }
        t.planned = self.plan.planned();
        Ok(t)
    }

    fn record(
        &self,
        job: &Job,
        now: DateTime<Utc>,
        outcome: &str,
        f: impl FnOnce(&mut Entry),
    ) -> Result<(), AuditError> {
        let mut e = Entry {
            time: saml_time(now),
            outcome: Some(outcome.to_owned()),
            code: Some(job.why.code().to_owned()),
            user: Some(job.user.clone()),
            region: Some(job.region.clone()),
            role_session_name: Some(job.session_name.clone()),
            decision: Some(job.key.clone()),
            ..Entry::default()
        };
        f(&mut e);
        self.audit.append(Kind::Session, e).map(drop)
    }

    fn failed(
        &self,
        job: &Job,
        now: DateTime<Utc>,
        id: Option<&str>,
        err: &SessionError,
    ) -> Result<(), AuditError> {
        self.record(job, now, "session_terminate_failed", |e| {
            e.session_id = id.map(str::to_owned);
            e.message = Some(clip(&err.to_string(), 512));
        })
    }

    /// One job: (done, sessions confirmed ended, failures recorded).
    fn run(&self, job: &Job, now: &dyn Fn() -> DateTime<Utc>) -> Result<(bool, usize, usize), AuditError> {
        let owner = format!("{}{}", self.s.owner_prefix, job.session_name);
        let Ok(region) = Region::parse("region", &job.region) else {
            let err = SessionError {
                code: "bad_region".into(),
                message: format!("{:?} is not a region", job.region),
            };
            self.failed(job, now(), None, &err)?;
            return Ok((false, 0, 1));
        };
        let (mut terminated, mut failures) = (0, 0);
        let mut sent: HashSet<String> = HashSet::new();
        let mut started = false;
        let mut wait = self.s.round_wait;
        for round in 0..=self.s.rounds {
            let list = match self.sessions.active(&region, &owner) {
                Ok(l) => l,
                Err(err) => {
                    self.failed(job, now(), None, &err)?;
                    failures += 1;
                    if round < self.s.rounds {
                        std::thread::sleep(wait);
                        wait = (wait * 2).min(Duration::from_secs(30));
                    }
                    continue;
                }
            };
            // Only this principal's sessions, whatever the filter returned.
            let live: HashSet<String> =
                list.iter().filter(|s| s.owner == owner).map(|s| s.id.clone()).collect();
            for id in sent.iter().filter(|id| !live.contains(*id)) {
                self.record(job, now(), "session_terminated", |e| e.session_id = Some(id.clone()))?;
                terminated += 1;
            }
            sent.retain(|id| live.contains(id));
            if live.is_empty() {
                self.record(job, now(), "sessions_reaped", |e| e.count = Some(terminated as u64))?;
                return Ok((true, terminated, failures));
            }
            if round == self.s.rounds {
                break;
            }
            if !started {
                let n = live.len() as u64;
                self.record(job, now(), "sessions_reap_started", |e| e.count = Some(n))?;
                started = true;
            }
            let mut ids: Vec<&String> = live.iter().collect();
            ids.sort();
            for id in ids {
                match self.sessions.terminate(&region, id) {
                    Ok(()) => {
                        sent.insert(id.clone());
                    }
                    Err(err) => {
                        self.failed(job, now(), Some(id), &err)?;
                        failures += 1;
                    }
                }
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_secs(30));
        }
        let err = SessionError {
            code: "still_active".into(),
            message: format!(
                "sessions of {owner} still active after {} rounds; retried later",
                self.s.rounds
            ),
        };
        self.failed(job, now(), None, &err)?;
        Ok((false, terminated, failures + 1))
    }
}
