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
//! - one process per log directory and replica (an exclusive lock file).

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};

use super::chain::{checkpoint_message, hash_line, GENESIS};
use super::files::{file_name, io, lock, log_files, recover, sync_dir, Torn};
use super::log::{AuditError, AuditLog, Receipt, Submitted};
use super::record::{Entry, Kind, Record, FORMAT_VERSION};

/// Signs checkpoints: a private key and the id (hex SHA-256 of its certificate's DER).
pub struct CheckpointKey {
    pub key: PKey<Private>,
    pub key_id: String,
}

/// Where and how the log is written.
pub struct FileAuditConfig {
    pub dir: PathBuf,
    pub replica: String,
    pub rotate_bytes: u64,
    pub checkpoint_every: u64,
    pub checkpoint_key: Option<CheckpointKey>,
    pub lock_wait: Duration,
}

/// Where the writer reports a record's fate: a thread waiting (`append`) or a future
/// (`submit`, awaited by an async handler without holding a thread).
enum Reply {
    Wait(Sender<Result<Receipt, AuditError>>),
    Future(tokio::sync::oneshot::Sender<Result<Receipt, AuditError>>),
}

impl Reply {
    fn send(self, r: Result<Receipt, AuditError>) {
        // A caller that went away (client disconnected) needs no answer; the record
        // was written (or failed) all the same.
        match self {
            Reply::Wait(s) => drop(s.send(r)),
            Reply::Future(s) => drop(s.send(r)),
        }
    }
}

enum Msg {
    Append(Box<Kind>, Box<Entry>, Reply),
    Close(Sender<Result<(), AuditError>>),
}

/// What start-up found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    pub next_seq: u64,
    /// `(set-aside file, bytes)` when a torn partial record was found.
    pub torn: Option<Torn>,
}

/// Counters for metrics and the group-commit test.
#[derive(Debug, Default)]
pub struct Stats {
    /// Records made durable.
    pub records: AtomicU64,
    /// `fdatasync` calls (one per committed batch).
    pub syncs: AtomicU64,
    /// Nanoseconds spent in write + `fdatasync`.
    pub sync_nanos: AtomicU64,
}

/// Handle to the writer thread.
pub struct FileAudit {
    stats: Arc<Stats>,
    tx: Mutex<Option<Sender<Msg>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    recovery: Recovery,
}

struct Writer {
    cfg: FileAuditConfig,
    file: File,
    path: PathBuf,
    len: u64,
    day: String,
    seq: u64,
    prev: String,
    since_checkpoint: u64,
    last_time: String,
    stats: Arc<Stats>,
    _lock: File,
}

impl Writer {
    fn open(cfg: FileAuditConfig) -> Result<(Self, Recovery), AuditError> {
        fs::create_dir_all(&cfg.dir).map_err(|e| io("cannot create", &cfg.dir, e))?;
        let lock = lock(&cfg.dir, &cfg.replica, cfg.lock_wait)?;
        let files = log_files(&cfg.dir, &cfg.replica)?;
        let (mut seq, mut prev, mut last_time, mut torn) = (0u64, GENESIS.to_owned(), String::new(), None);
        // The newest non-empty file holds the chain head.
        for p in files.iter().rev() {
            let (head, t) = recover(p)?;
            torn = torn.or(t);
            if let Some((s, h, t)) = head {
                (seq, prev, last_time) = (s, h, t);
                break;
            }
        }
        let path = match files.last() {
            Some(p) => p.clone(),
            None => cfg.dir.join(file_name(&cfg.replica, seq + 1)),
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| io("cannot open", &path, e))?;
        sync_dir(&cfg.dir)?;
        let len = file.metadata().map_err(|e| io("cannot stat", &path, e))?.len();
        let recovery = Recovery { next_seq: seq + 1, torn };
        let day = last_time.get(..10).unwrap_or_default().to_owned();
        let stats = Arc::new(Stats::default());
        let w = Writer {
            cfg,
            file,
            path,
            len,
            day,
            seq,
            prev,
            since_checkpoint: 0,
            last_time,
            stats,
            _lock: lock,
        };
        Ok((w, recovery))
    }

    /// Serializes one record onto `buf` and advances the chain.
    fn push(&mut self, buf: &mut Vec<u8>, kind: Kind, entry: Entry) -> Result<Receipt, AuditError> {
        let rec = Record {
            v: FORMAT_VERSION,
            seq: self.seq + 1,
            prev: self.prev.clone(),
            replica: self.cfg.replica.clone(),
            kind,
            entry,
        };
        let line = serde_json::to_vec(&rec)
            .map_err(|e| AuditError::Unavailable(format!("cannot encode record: {e}")))?;
        self.seq += 1;
        self.prev = hash_line(&line);
        self.last_time.clone_from(&rec.entry.time);
        buf.extend_from_slice(&line);
        buf.push(b'\n');
        Ok(Receipt::new(self.seq, self.prev.clone()))
    }

    fn checkpoint(&mut self, buf: &mut Vec<u8>) -> Result<(), AuditError> {
        let Some(key) = &self.cfg.checkpoint_key else { return Ok(()) };
        let msg = checkpoint_message(&self.cfg.replica, self.seq + 1, &self.prev);
        let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), &key.key)
            .map_err(|e| AuditError::Unavailable(format!("checkpoint signing: {e}")))?;
        let sig = signer
            .update(msg.as_bytes())
            .and_then(|()| signer.sign_to_vec())
            .map_err(|e| AuditError::Unavailable(format!("checkpoint signing: {e}")))?;
        let entry = Entry {
            time: self.last_time.clone(),
            signature: Some(base64::engine::general_purpose::STANDARD.encode(sig)),
            key_id: Some(key.key_id.clone()),
            ..Entry::default()
        };
        self.push(buf, Kind::Checkpoint, entry)?;
        self.since_checkpoint = 0;
        Ok(())
    }

    /// Writes and syncs `buf`; on failure cuts the file back and rewinds the chain.
    fn commit(&mut self, buf: &[u8], saved: (u64, String)) -> Result<(), AuditError> {
        let started = std::time::Instant::now();
        let res = self.file.write_all(buf).and_then(|()| self.file.sync_data());
        match res {
            Ok(()) => {
                self.len += buf.len() as u64;
                let lines = buf.iter().filter(|&&b| b == b'\n').count() as u64;
                self.stats.records.fetch_add(lines, Ordering::Relaxed);
                self.stats.syncs.fetch_add(1, Ordering::Relaxed);
                let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                self.stats.sync_nanos.fetch_add(nanos, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                (self.seq, self.prev) = saved;
                let _ = self.file.set_len(self.len).and_then(|()| self.file.sync_all());
                let _ = self.file.seek(SeekFrom::End(0));
                Err(io("cannot write", &self.path, e))
            }
        }
    }

    fn rotate_if_needed(&mut self, next_day: &str) -> Result<(), AuditError> {
        let by_size = self.len >= self.cfg.rotate_bytes;
        let by_day = !self.day.is_empty() && !next_day.is_empty() && next_day != self.day && self.len > 0;
        if !(by_size || by_day) {
            return Ok(());
        }
        let mut buf = Vec::new();
        let saved = (self.seq, self.prev.clone());
        self.checkpoint(&mut buf)?;
        if !buf.is_empty() {
            self.commit(&buf, saved)?;
        }
        let path = self.cfg.dir.join(file_name(&self.cfg.replica, self.seq + 1));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| io("cannot create", &path, e))?;
        sync_dir(&self.cfg.dir)?;
        (self.file, self.path, self.len) = (file, path, 0);
        Ok(())
    }

    fn batch(&mut self, batch: Vec<(Kind, Entry, Reply)>) {
        let mut buf = Vec::with_capacity(batch.len() * 700);
        let mut replies = Vec::with_capacity(batch.len());
        let first_day = batch
            .first()
            .map(|(_, e, _)| e.time.get(..10).unwrap_or_default().to_owned())
            .unwrap_or_default();
        if let Err(e) = self.rotate_if_needed(&first_day) {
            for (_, _, r) in batch {
                r.send(Err(e.clone()));
            }
            return;
        }
        let saved = (self.seq, self.prev.clone());
        for (kind, entry, reply) in batch {
            let day = entry.time.get(..10).unwrap_or_default().to_owned();
            if self.day.is_empty() || (self.len == 0 && buf.is_empty()) {
                self.day = day;
            }
            let receipt = self.push(&mut buf, kind, entry);
            self.since_checkpoint += 1;
            replies.push((reply, receipt));
        }
        if self.since_checkpoint >= self.cfg.checkpoint_every {
            if let Err(e) = self.checkpoint(&mut buf) {
                replies.into_iter().for_each(|(r, _)| r.send(Err(e.clone())));
                (self.seq, self.prev) = saved;
                return;
            }
        }
        let result = self.commit(&buf, saved);
        for (reply, receipt) in replies {
            reply.send(match &result {
                Ok(()) => receipt,
                Err(e) => Err(e.clone()),
            });
        }
    }

    fn run(mut self, rx: Receiver<Msg>) {
        while let Ok(msg) = rx.recv() {
            let mut batch = Vec::new();
            let mut close = None;
            match msg {
                Msg::Append(k, e, r) => batch.push((*k, *e, r)),
                Msg::Close(r) => close = Some(r),
            }
            while close.is_none() && batch.len() < 4096 {
                match rx.try_recv() {
                    Ok(Msg::Append(k, e, r)) => batch.push((*k, *e, r)),
                    Ok(Msg::Close(r)) => close = Some(r),
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                self.batch(batch);
            }
            if let Some(done) = close {
                let _ = done.send(self.seal());
                return;
            }
        }
        let _ = self.seal();
    }

    /// A final checkpoint so the tail is sealed.
    fn seal(&mut self) -> Result<(), AuditError> {
        if self.since_checkpoint == 0 || self.cfg.checkpoint_key.is_none() {
            return Ok(());
        }
        let mut buf = Vec::new();
        let saved = (self.seq, self.prev.clone());
        self.checkpoint(&mut buf)?;
        self.commit(&buf, saved)
    }
}

impl FileAudit {
    /// Opens (or creates) the log, recovers a torn tail, and starts the writer thread.
    /// `recovery_time` stamps the `recovery` record written when a torn tail was found.
    pub fn open(cfg: FileAuditConfig, recovery_time: &str) -> Result<Self, AuditError> {
        let (writer, recovery) = Writer::open(cfg)?;
        let stats = writer.stats.clone();
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("sesame-audit".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| AuditError::Unavailable(format!("cannot start the audit writer: {e}")))?;
        let audit = FileAudit { stats, tx: Mutex::new(Some(tx)), thread: Mutex::new(Some(thread)), recovery };
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

    fn ready(&self) -> Result<(), AuditError> {
        let running = self.tx.lock().map(|g| g.is_some()).unwrap_or(false)
            && self.thread.lock().map(|g| g.as_ref().is_some_and(|t| !t.is_finished())).unwrap_or(false);
        if running {
            Ok(())
        } else {
            Err(AuditError::stopped())
        }
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
