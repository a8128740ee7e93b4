//! The assertion log in PostgreSQL (`audit.kind = "postgres"`): the handle of one
//! replica's chain in the shared `audit_records` table. Same records, same hashes as
//! the files (docs/audit-format.md); the writer task (`pg_writer.rs`) does group commit
//! and recovery. [`export`] writes a replica's chain as log files that `sesame audit
//! verify` and the documented offline tools check, and that is how `verify`, `search`
//! and `show` read the database.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Mutex};

use futures_util::TryStreamExt;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use super::chain::{Chain, CheckpointKey, GENESIS};
use super::log::{AuditError, AuditLog, Receipt, Submitted};
use super::pg_rows::Item;
use super::pg_writer::{Msg, PgHealth, PgWriter};
use super::record::{Entry, Kind};
use super::writer::{Reply, Stats};
use crate::db::{Db, DbError, Effect};

/// Handle to one replica's writer task.
pub struct PgAudit {
    tx: Mutex<Option<UnboundedSender<Msg>>>,
    health: Arc<PgHealth>,
    stats: Arc<Stats>,
    replica: String,
}

impl PgAudit {
    /// Connects, takes the replica's advisory lock (refusing when another process holds
    /// it), loads the chain head, and starts the writer on the database runtime.
    pub fn open(
        db: Arc<Db>,
        replica: &str,
        checkpoint_every: u64,
        key: Option<CheckpointKey>,
    ) -> Result<Self, AuditError> {
        let chain = Chain {
            replica: replica.to_owned(),
            seq: 0,
            prev: GENESIS.to_owned(),
            last_time: String::new(),
            since_checkpoint: 0,
            checkpoint_every,
            key,
        };
        let mut writer = PgWriter::new(db.clone(), chain);
        let writer = db
            .block(async move { writer.connect().await.map(|()| writer) })
            .map_err(|e| AuditError::Unavailable(e.to_string()))??;
        let handle = db.handle().map_err(|e| AuditError::Unavailable(e.to_string()))?;
        let (health, stats) = (writer.health.clone(), writer.stats.clone());
        let (tx, rx) = unbounded_channel();
        handle.spawn(writer.run(rx));
        Ok(PgAudit { tx: Mutex::new(Some(tx)), health, stats, replica: replica.to_owned() })
    }

    fn send(&self, item: Item) -> Result<(), AuditError> {
        let guard = self.tx.lock().map_err(|_| AuditError::stopped())?;
        let tx = guard.as_ref().ok_or_else(AuditError::stopped)?;
        tx.send(Msg::Item(Box::new(item))).map_err(|_| AuditError::stopped())
    }

    fn wait(&self, kind: Kind, entry: Entry, effect: Option<Effect>) -> Result<Receipt, AuditError> {
        let (rtx, rrx) = mpsc::channel();
        self.send(Item { kind, entry, effect, reply: Reply::Wait(rtx) })?;
        rrx.recv().map_err(|_| AuditError::stopped())?
    }

    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// Batches committed so far (one transaction each).
    pub fn batches(&self) -> u64 {
        self.stats.syncs.load(Ordering::Relaxed)
    }
}

impl AuditLog for PgAudit {
    fn append(&self, kind: Kind, entry: Entry) -> Result<Receipt, AuditError> {
        self.wait(kind, entry, None)
    }

    fn submit(&self, kind: Kind, entry: Entry) -> Submitted {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if let Err(e) = self.send(Item { kind, entry, effect: None, reply: Reply::Future(tx) }) {
            let (etx, erx) = tokio::sync::oneshot::channel();
            let _ = etx.send(Err(e));
            return erx;
        }
        rx
    }

    fn append_with(&self, kind: Kind, entry: Entry, effect: Effect) -> Result<Receipt, AuditError> {
        self.wait(kind, entry, Some(effect))
    }

    fn close(&self) -> Result<(), AuditError> {
        let Some(tx) = self.tx.lock().ok().and_then(|mut g| g.take()) else { return Ok(()) };
        let (dtx, drx) = mpsc::channel();
        if tx.send(Msg::Close(dtx)).is_err() {
            return Ok(());
        }
        drx.recv().unwrap_or(Ok(()))
    }

    fn ready(&self) -> Result<(), AuditError> {
        if self.health.stopped.load(Ordering::Relaxed) || self.tx.lock().map(|g| g.is_none()).unwrap_or(true)
        {
            return Err(AuditError::stopped());
        }
        if self.health.connected.load(Ordering::Relaxed) {
            return Ok(());
        }
        let why = self.health.error.lock().ok().and_then(|g| g.clone());
        Err(AuditError::Unavailable(why.unwrap_or_else(|| "not connected to the database".into())))
    }

    fn counters(&self) -> (u64, u64, f64) {
        let s = &self.stats;
        (
            s.records.load(Ordering::Relaxed),
            s.syncs.load(Ordering::Relaxed),
            s.sync_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        )
    }
}

impl Drop for PgAudit {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// The replicas that have a chain in the database.
pub fn replicas(db: &Arc<Db>) -> Result<Vec<String>, DbError> {
    let d = db.clone();
    db.run(async move {
        let c = d.client().await?;
        let rows = c
            .query("SELECT DISTINCT replica FROM audit_records ORDER BY replica", &[])
            .await
            .map_err(|e| DbError::from_pg(&e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    })
}

/// Writes `replica`'s chain into `dir` as log files (`<replica>-<first seq>.jsonl`, a
/// new file every `rotate_bytes`), streaming; returns the files and the record count.
pub fn export(
    db: &Arc<Db>,
    replica: &str,
    dir: &Path,
    rotate_bytes: u64,
) -> Result<(Vec<PathBuf>, u64), DbError> {
    std::fs::create_dir_all(dir).map_err(|e| DbError::new("error", format!("{}: {e}", dir.display())))?;
    let (d, replica, dir) = (db.clone(), replica.to_owned(), dir.to_path_buf());
    db.run_within(std::time::Duration::from_secs(6 * 3600), async move {
        // Detached from the pool: this connection's statement timeout is lifted.
        let c = deadpool_postgres::Object::take(d.client().await?);
        c.batch_execute("SET statement_timeout = 0").await.map_err(|e| DbError::from_pg(&e))?;
        let rows = c
            .query_raw("SELECT seq, line FROM audit_records WHERE replica = $1 ORDER BY seq", [&replica])
            .await
            .map_err(|e| DbError::from_pg(&e))?;
        futures_util::pin_mut!(rows);
        let io = |p: &Path, e: std::io::Error| DbError::new("error", format!("{}: {e}", p.display()));
        let (mut files, mut count, mut len) = (Vec::new(), 0u64, 0u64);
        let mut out: Option<(PathBuf, std::io::BufWriter<std::fs::File>)> = None;
        while let Some(row) = rows.try_next().await.map_err(|e| DbError::from_pg(&e))? {
            let seq: i64 = row.get(0);
            let line: &str = row.get(1);
            if out.is_none() || len >= rotate_bytes {
                if let Some((p, mut w)) = out.take() {
                    w.flush().map_err(|e| io(&p, e))?;
                }
                let p = dir.join(format!("{replica}-{seq:012}.jsonl"));
                let f = std::fs::File::create(&p).map_err(|e| io(&p, e))?;
                files.push(p.clone());
                out = Some((p, std::io::BufWriter::new(f)));
                len = 0;
            }
            if let Some((p, w)) = out.as_mut() {
                w.write_all(line.as_bytes()).and_then(|()| w.write_all(b"\n")).map_err(|e| io(p, e))?;
            }
            len += line.len() as u64 + 1;
            count += 1;
        }
        if let Some((p, mut w)) = out.take() {
            w.flush().and_then(|()| w.get_ref().sync_all()).map_err(|e| io(&p, e))?;
        }
        Ok((files, count))
    })
}
