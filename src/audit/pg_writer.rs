//! The writer task behind [`super::postgres::PgAudit`]: it holds one dedicated
//! connection with the replica's advisory lock (two processes with one replica name
//! cannot fork a chain), turns batches into lines of the hash chain (`chain.rs`, the
//! same bytes as the files), and commits each batch in one transaction with one
//! multi-row INSERT (group commit). A record's receipt is sent only after its COMMIT
//! returned. When a COMMIT's outcome is unknown (the connection broke), nothing is
//! released; after reconnecting, the chain head says whether the batch committed (only
//! this writer appends to the replica's chain), and if it did not, its records are
//! appended again — decisions keyed by their assertion ID, which the table keeps unique.
//! A grant change (an [`crate::db::Effect`]) runs under a savepoint in the same transaction: it and
//! its record commit together or not at all, and an unknown outcome is never re-applied.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedReceiver;
use tokio_postgres::{Client, Statement};

use super::chain::{hash_line, Chain, GENESIS};
use super::log::{AuditError, Receipt};
use super::pg_rows::{chain_row, checkpoint_row, run_effect, Item, Outcome, Rows, INSERT};
use super::record::{Entry, Kind, Record};
use super::writer::{Reply, Stats};
use crate::db::{Db, DbError};

/// What `/readyz` and the handle read.
#[derive(Debug, Default)]
pub struct PgHealth {
    pub connected: AtomicBool,
    pub error: Mutex<Option<String>>,
    pub stopped: AtomicBool,
}

impl PgHealth {
    fn set(&self, r: Result<(), &AuditError>) {
        self.connected.store(r.is_ok(), Ordering::Relaxed);
        if let Ok(mut g) = self.error.lock() {
            *g = r.err().map(ToString::to_string);
        }
    }
}

pub(super) enum Msg {
    Item(Box<Item>),
    Close(std::sync::mpsc::Sender<Result<(), AuditError>>),
}

/// The advisory-lock key of a replica's chain: the first 8 bytes of
/// SHA-256("sesame-audit-chain\n" + replica).
pub fn lock_key(replica: &str) -> i64 {
    crate::db::lease::advisory_key("sesame-audit-chain", replica)
}

fn db_err(e: DbError) -> AuditError {
    AuditError::Unavailable(e.to_string())
}

fn pg_err(e: &tokio_postgres::Error) -> AuditError {
    db_err(DbError::from_pg(e))
}

/// A batch whose COMMIT outcome is unknown: the head before it, the head it would have
/// made, and its records that may be appended again (not grant changes).
struct Unsure {
    before: (u64, String),
    after: (u64, String),
    records: Vec<(Kind, Entry)>,
}

pub(super) struct PgWriter {
    pub(super) db: Arc<Db>,
    pub(super) chain: Chain,
    client: Option<Client>,
    /// [`INSERT`], prepared on `client`.
    insert: Option<Statement>,
    unsure: Option<Unsure>,
    /// Records of a batch that did not commit, to go first in the next one.
    again: Vec<(Kind, Entry)>,
    pub(super) health: Arc<PgHealth>,
    pub(super) stats: Arc<Stats>,
    retry_at: Option<(Instant, AuditError)>,
    backoff: Duration,
    bound: Duration,
}

impl PgWriter {
    pub(super) fn new(db: Arc<Db>, chain: Chain) -> Self {
        let s = &db.settings;
        let bound = s.connect_timeout + s.statement_timeout;
        PgWriter {
            db,
            chain,
            client: None,
            insert: None,
            unsure: None,
            again: Vec::new(),
            health: Arc::default(),
            stats: Arc::default(),
            retry_at: None,
            backoff: Duration::from_millis(100),
            bound,
        }
    }

    /// Connects, takes the replica's lock, loads the head, and settles an unsure batch.
    pub(super) async fn connect(&mut self) -> Result<(), AuditError> {
        if self.client.as_ref().is_some_and(|c| !c.is_closed()) {
            return Ok(());
        }
        self.client = None;
        if let Some((at, e)) = &self.retry_at {
            if Instant::now() < *at {
                return Err(e.clone());
            }
        }
        let result = tokio::time::timeout(self.bound, self.open()).await.unwrap_or_else(|_| {
            Err(AuditError::Unavailable(format!(
                "database {}: no answer while connecting",
                self.db.describe()
            )))
        });
        match &result {
            Ok(()) => {
                self.retry_at = None;
                self.backoff = Duration::from_millis(100);
            }
            Err(e) => {
                self.client = None;
                self.retry_at = Some((Instant::now() + self.backoff, e.clone()));
                self.backoff = (self.backoff * 2).min(Duration::from_secs(2));
            }
        }
        self.health.set(result.as_ref().map(|_| ()));
        result
    }

    async fn open(&mut self) -> Result<(), AuditError> {
        let client = self.db.dedicated().await.map_err(db_err)?;
        let replica = self.chain.replica.clone();
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&lock_key(&replica)])
            .await
            .map_err(|e| pg_err(&e))?
            .get(0);
        if !got {
            return Err(AuditError::Unavailable(format!(
                "another process writes the audit chain of replica {replica:?} (its advisory lock is held): \
                 every replica needs its own audit.replica"
            )));
        }
        let row = client
            .query_opt(
                "SELECT seq, line FROM audit_records WHERE replica = $1 ORDER BY seq DESC LIMIT 1",
                &[&replica],
            )
            .await
            .map_err(|e| pg_err(&e))?;
        let (seq, prev, time) = match row {
            None => (0, GENESIS.to_owned(), String::new()),
            Some(r) => {
                let seq: i64 = r.get(0);
                let line: String = r.get(1);
                let rec: Record = serde_json::from_str(&line).map_err(|e| {
                    AuditError::Damaged(format!("replica {replica:?} record {seq} does not parse: {e}"))
                })?;
                (rec.seq, hash_line(line.as_bytes()), rec.entry.time)
            }
        };
        (self.chain.seq, self.chain.prev, self.chain.last_time) = (seq, prev, time);
        self.insert = None;
        self.client = Some(client);
        if let Some(u) = self.unsure.take() {
            let head = self.chain.saved();
            if head == u.after {
                tracing::info!(replica, seq = head.0, "the batch whose COMMIT was unknown committed");
            } else if head == u.before {
                tracing::warn!(
                    replica,
                    records = u.records.len(),
                    "the batch whose COMMIT was unknown did not commit: appending its records again"
                );
                self.again = u.records;
            } else {
                return Err(AuditError::Damaged(format!(
                    "replica {replica:?}: the chain head moved to {} while this writer held its lock",
                    head.0
                )));
            }
        }
        Ok(())
    }

    /// One transaction: effects under savepoints, one INSERT, COMMIT; then replies.
    pub(super) async fn batch(&mut self, mut items: Vec<Item>) {
        if let Err(e) = self.connect().await {
            items.into_iter().for_each(|i| i.reply.send(Err(e.clone())));
            return;
        }
        let retried = self.again.len();
        if retried > 0 {
            let again = std::mem::take(&mut self.again);
            let mut first: Vec<Item> = again
                .into_iter()
                .map(|(kind, entry)| Item { kind, entry, effect: None, reply: Reply::Ignore })
                .collect();
            first.append(&mut items);
            items = first;
        }
        let before = self.chain.saved();
        let mut done: Vec<(Reply, Result<Receipt, AuditError>)> = Vec::with_capacity(items.len());
        let mut rows = Rows::default();
        let mut again: Vec<(Kind, Entry)> = Vec::new();
        let outcome =
            tokio::time::timeout(self.bound, self.transact(items, &mut done, &mut rows, &mut again))
                .await
                .unwrap_or(Err(Outcome::Unknown(AuditError::Unavailable(format!(
                    "database {}: no answer within {} ms",
                    self.db.describe(),
                    self.bound.as_millis()
                )))));
        match outcome {
            Ok(()) => {
                self.stats.records.fetch_add(rows.len() as u64, Ordering::Relaxed);
                self.stats.syncs.fetch_add(1, Ordering::Relaxed);
                self.health.set(Ok(()));
                done.into_iter().for_each(|(r, res)| r.send(res));
            }
            Err(o) => {
                let after = self.chain.saved();
                self.chain.restore(before.clone());
                let e = match o {
                    Outcome::Failed(e) => {
                        // Records appended again wait for the next batch; callers were told.
                        again.truncate(retried);
                        self.again = again;
                        e
                    }
                    Outcome::Unknown(e) => {
                        self.client = None;
                        self.unsure = Some(Unsure { before, after, records: again });
                        e
                    }
                };
                if self.client.as_ref().is_some_and(Client::is_closed) {
                    self.client = None;
                }
                self.health.set(Err(&e));
                for (r, res) in done {
                    // A refused effect stays refused; every record fails with the batch.
                    r.send(match res {
                        Err(AuditError::Refused(m)) => Err(AuditError::Refused(m)),
                        _ => Err(e.clone()),
                    });
                }
            }
        }
    }

    async fn transact(
        &mut self,
        items: Vec<Item>,
        done: &mut Vec<(Reply, Result<Receipt, AuditError>)>,
        rows: &mut Rows,
        again: &mut Vec<(Kind, Entry)>,
    ) -> Result<(), Outcome> {
        let started = Instant::now();
        let client = self.client.as_mut().ok_or_else(|| Outcome::Failed(AuditError::stopped()))?;
        let insert = match &self.insert {
            Some(st) => st.clone(),
            None => {
                let st = client.prepare(INSERT).await.map_err(|e| Outcome::Failed(pg_err(&e)))?;
                self.insert = Some(st.clone());
                st
            }
        };
        let failed = |e: tokio_postgres::Error| Outcome::Failed(pg_err(&e));
        // Only a plain ERROR is a rollback; a broken connection, or a FATAL (the session
        // ended while committing), leaves the outcome unknown, and the next connection
        // reads the head to learn which it was.
        let unsure = |e: tokio_postgres::Error| match e.as_db_error() {
            Some(d) if d.severity() == "ERROR" => Outcome::Failed(pg_err(&e)),
            _ => Outcome::Unknown(pg_err(&e)),
        };
        if items.iter().all(|i| i.effect.is_none()) {
            // Records only: one INSERT is its own transaction (one round trip).
            for item in items {
                again.push((item.kind.clone(), item.entry.clone()));
                chain_row(&mut self.chain, item, done, rows)?;
            }
            checkpoint_row(&mut self.chain, rows)?;
            if !rows.is_empty() {
                rows.insert(&*client, &insert, &self.chain.replica).await.map_err(unsure)?;
            }
        } else {
            let mut tx = client.transaction().await.map_err(failed)?;
            for item in items {
                if let Some(fx) = &item.effect {
                    match run_effect(&mut tx, fx).await {
                        Ok(true) => {}
                        Ok(false) => {
                            done.push((item.reply, Err(AuditError::Refused(fx.refused.clone()))));
                            continue;
                        }
                        Err(e) => return Err(Outcome::Failed(pg_err(&e))),
                    }
                } else {
                    again.push((item.kind.clone(), item.entry.clone()));
                }
                chain_row(&mut self.chain, item, done, rows)?;
            }
            checkpoint_row(&mut self.chain, rows)?;
            if !rows.is_empty() {
                rows.insert(&tx, &insert, &self.chain.replica).await.map_err(failed)?;
            }
            tx.commit().await.map_err(unsure)?;
        }
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.stats.sync_nanos.fetch_add(nanos, Ordering::Relaxed);
        Ok(())
    }

    /// A final checkpoint so the tail is sealed.
    pub(super) async fn seal(&mut self) -> Result<(), AuditError> {
        if self.chain.since_checkpoint == 0 || self.chain.key.is_none() {
            return Ok(());
        }
        self.chain.since_checkpoint = self.chain.checkpoint_every;
        self.batch(Vec::new()).await;
        match self.chain.since_checkpoint {
            0 => Ok(()),
            _ => Err(self
                .health
                .error
                .lock()
                .ok()
                .and_then(|g| g.clone())
                .map_or_else(AuditError::stopped, AuditError::Unavailable)),
        }
    }

    /// Keeps the connection honest while idle, so `/readyz` tells the truth and a
    /// returning database is noticed before the next request.
    async fn heartbeat(&mut self) {
        if let Some(c) = &self.client {
            let ok = tokio::time::timeout(self.bound, c.simple_query("SELECT 1")).await;
            if !matches!(ok, Ok(Ok(_))) {
                self.client = None;
            }
        }
        if self.connect().await.is_ok() && !self.again.is_empty() {
            self.batch(Vec::new()).await;
        }
    }

    pub(super) async fn run(mut self, mut rx: UnboundedReceiver<Msg>) {
        loop {
            let msg = match tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(_) => {
                    self.heartbeat().await;
                    continue;
                }
            };
            let mut items = Vec::new();
            let mut close = None;
            match msg {
                Msg::Item(i) => items.push(*i),
                Msg::Close(r) => close = Some(r),
            }
            while close.is_none() && items.len() < 4096 {
                match rx.try_recv() {
                    Ok(Msg::Item(i)) => items.push(*i),
                    Ok(Msg::Close(r)) => close = Some(r),
                    Err(_) => break,
                }
            }
            if !items.is_empty() {
                self.batch(items).await;
            }
            if let Some(done) = close {
                let _ = done.send(self.seal().await);
                break;
            }
        }
        self.health.stopped.store(true, Ordering::Relaxed);
        self.health.connected.store(false, Ordering::Relaxed);
    }
}
