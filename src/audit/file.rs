//! The append-only audit file: one writer thread per log, group commit, rotation,
//! crash recovery.
//!
//! Invariants:
//! - [`FileAudit::append`] returns only after the record's bytes are on disk
//!   (`fdatasync`); records of concurrent callers share one `fdatasync` (group commit);
//! - a write or sync failure is returned to every caller of that batch, the file is
//!   cut back to its last good length, and nothing is acknowledged that is not durable;
//! - at start-up a torn partial line (crash mid-write) is moved to `<file>.torn-<offset>`,
//!   the file is cut to its last complete record and a `recovery` record says so;
//! - one process per log directory and replica (an exclusive lock file);
//! - the writer holds the file it writes to that name (`guard.rs`): if the live file
//!   is removed or replaced it stops, and a start that finds fewer records than the
//!   head file says refuses to begin a new chain.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::guard::Health;
use super::log::{AuditError, AuditLog, Coming, Receipt, Submitted};
use super::queue::{queue, QueueTx};
use super::record::{Entry, Kind};
pub use super::writer::{CheckpointKey, FileAuditConfig, Recovery, Stats};
use super::writer::{Msg, Reply, Writer, MAX_BATCH};

/// Handle to the writer thread.
pub struct FileAudit {
    stats: Arc<Stats>,
    health: Arc<Health>,
    dir: PathBuf,
    tx: Mutex<Option<QueueTx<Msg>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    recovery: Recovery,
    /// Records announced ([`Coming`]) and not yet submitted; the writer gathers them.
    coming: Arc<AtomicUsize>,
}

impl FileAudit {
    /// Opens (or creates) the log, recovers a torn tail, and starts the writer thread.
    /// `recovery_time` stamps the `recovery` record written when a torn tail was found.
    pub fn open(cfg: FileAuditConfig, recovery_time: &str) -> Result<Self, AuditError> {
        let (writer, recovery) = Writer::open(cfg)?;
        let stats = writer.stats.clone();
        let health = writer.health.clone();
        let dir = writer.cfg.dir.clone();
        let coming = writer.coming.clone();
        let (tx, rx) = queue(coming.clone(), MAX_BATCH, Msg::is_close);
        let thread = std::thread::Builder::new()
            .name("sesame-audit".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| AuditError::Unavailable(format!("cannot start the audit writer: {e}")))?;
        let audit = FileAudit {
            stats,
            health,
            dir,
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            recovery,
            coming,
        };
        if let Some((aside, bytes)) = &audit.recovery.torn {
            let entry = Entry {
                time: recovery_time.to_owned(),
                message: Some(format!(
                    "set aside a torn partial record of {bytes} bytes in {}",
                    aside.display()
                )),
                ..Entry::default()
            };
            audit.append(Kind::Recovery, entry)?;
        }
        if let Some((found, head, reason)) = &audit.recovery.lost {
            let entry = Entry {
                time: recovery_time.to_owned(),
                code: Some("records_lost".into()),
                message: Some(format!(
                    "records {}..={} (last in {}) are missing; the operator accepted the loss: {reason}",
                    found + 1,
                    head.seq,
                    head.file
                )),
                ..Entry::default()
            };
            audit.append(Kind::Recovery, entry)?;
        }
        Ok(audit)
    }

    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    fn send(&self, kind: Kind, entry: Entry, reply: Reply) -> Result<(), AuditError> {
        let guard = self.tx.lock().map_err(|_| AuditError::stopped())?;
        let tx = guard.as_ref().ok_or_else(AuditError::stopped)?;
        tx.send(Msg::Append(Box::new(kind), Box::new(entry), reply)).map_err(|_| AuditError::stopped())
    }

    /// Seals the log with a checkpoint and stops the writer.
    pub fn close(&self) -> Result<(), AuditError> {
        let tx = self.tx.lock().ok().and_then(|mut g| g.take());
        let result = match tx {
            Some(tx) => {
                let (dtx, drx) = mpsc::channel();
                let _ = tx.send(Msg::Close(dtx));
                drx.recv().unwrap_or(Ok(()))
            }
            None => Ok(()),
        };
        if let Some(t) = self.thread.lock().ok().and_then(|mut g| g.take()) {
            let _ = t.join();
        }
        result
    }
}

impl AuditLog for FileAudit {
    fn close(&self) -> Result<(), AuditError> {
        FileAudit::close(self)
    }

    fn append(&self, kind: Kind, entry: Entry) -> Result<Receipt, AuditError> {
        let (rtx, rrx) = mpsc::channel();
        self.send(kind, entry, Reply::Wait(rtx))?;
        rrx.recv().map_err(|_| AuditError::stopped())?
    }

    fn submit(&self, kind: Kind, entry: Entry) -> Submitted {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (etx, erx) = tokio::sync::oneshot::channel();
        if let Err(e) = self.send(kind, entry, Reply::Future(tx)) {
            let _ = etx.send(Err(e));
            return erx;
        }
        rx
    }

    fn coming(&self) -> Coming {
        let tx = self.tx.lock().ok().and_then(|g| g.clone());
        Coming::new(
            self.coming.clone(),
            Box::new(move || {
                if let Some(tx) = tx {
                    tx.poke();
                }
            }),
        )
    }

    fn ready(&self) -> Result<(), AuditError> {
        let running = self.tx.lock().map(|g| g.is_some()).unwrap_or(false)
            && self.thread.lock().map(|g| g.as_ref().is_some_and(|t| !t.is_finished())).unwrap_or(false);
        if !running {
            return Err(AuditError::stopped());
        }
        self.health.check(&self.dir)
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

impl Drop for FileAudit {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
