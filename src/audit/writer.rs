//! The writer thread behind [`super::file::FileAudit`]: it owns the live file, turns
//! batches of records into lines of the hash chain, signs checkpoints, writes and
//! `fdatasync`s each batch once (group commit), rotates, and stops for good when its
//! file is removed or replaced (`guard.rs`).

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use super::chain::CheckpointKey;
use super::chain::{Chain, GENESIS};
use super::files::{file_name, io, lock, log_files, recover, sync_dir, Torn};
use super::guard::{check_live, missing, read_head, write_head, Head, Health};
use super::log::{AuditError, Receipt};
use super::queue::QueueRx;
use super::record::{Entry, Kind};

/// Where and how the log is written.
pub struct FileAuditConfig {
    pub dir: PathBuf,
    pub replica: String,
    pub rotate_bytes: u64,
    pub checkpoint_every: u64,
    pub checkpoint_key: Option<CheckpointKey>,
    pub lock_wait: Duration,
    /// An operator's reason to go on although records the head file knows are gone
    /// (`sesame audit accept-loss`); recorded in the log. `None`: refuse.
    pub accept_loss: Option<String>,
    /// How long a batch may wait for records announced as coming ([`super::Coming`])
    /// before it is synced without them; [`FileAuditConfig::GATHER`] by default.
    pub gather: Duration,
}

impl FileAuditConfig {
    /// About two RSA-3072 signatures: long enough for a mint on the other core to
    /// finish, short beside the p50 latency of a loaded server (BENCHMARKS.md).
    pub const GATHER: Duration = Duration::from_millis(1);
}

/// Where the writer reports a record's fate: a thread waiting (`append`) or a future
/// (`submit`, awaited by an async handler without holding a thread).
pub(super) enum Reply {
    Wait(Sender<Result<Receipt, AuditError>>),
    Future(tokio::sync::oneshot::Sender<Result<Receipt, AuditError>>),
    /// Nobody waits (a record appended again after an unknown COMMIT).
    Ignore,
}

impl Reply {
    pub(super) fn send(self, r: Result<Receipt, AuditError>) {
        // A caller that went away (client disconnected) needs no answer; the record
        // was written (or failed) all the same.
        match self {
            Reply::Wait(s) => drop(s.send(r)),
            Reply::Future(s) => drop(s.send(r)),
            Reply::Ignore => {}
        }
    }
}

pub(super) enum Msg {
    Append(Box<Kind>, Box<Entry>, Reply),
    Close(Sender<Result<(), AuditError>>),
}

impl Msg {
    /// A close ends a gathering at once.
    pub(super) fn is_close(&self) -> bool {
        matches!(self, Msg::Close(_))
    }
}

/// What start-up found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    pub next_seq: u64,
    /// `(set-aside file, bytes)` when a torn partial record was found.
    pub torn: Option<Torn>,
    /// Records the head file knew that are gone, accepted by the operator: (the seq
    /// the files end at, the head, the reason).
    pub lost: Option<(u64, Head, String)>,
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

pub(super) struct Writer {
    pub(super) cfg: FileAuditConfig,
    file: File,
    path: PathBuf,
    len: u64,
    day: String,
    chain: Chain,
    pub(super) stats: Arc<Stats>,
    pub(super) health: Arc<Health>,
    /// Set for good when the live file vanished: every later batch fails with it.
    stopped: Option<AuditError>,
    /// The head file is rewritten after the next commit (a file's first records, a
    /// checkpoint).
    head_due: bool,
    /// Records announced as coming ([`super::Coming`]).
    pub(super) coming: Arc<AtomicUsize>,
    _lock: File,
}

/// Records in one write and `fdatasync` at most.
pub(super) const MAX_BATCH: usize = 4096;

type Batch = Vec<(Kind, Entry, Reply)>;

fn take(msgs: Vec<Msg>, batch: &mut Batch, close: &mut Option<Sender<Result<(), AuditError>>>) {
    for msg in msgs {
        match msg {
            Msg::Append(k, e, r) => batch.push((*k, *e, r)),
            Msg::Close(r) => *close = Some(r),
        }
    }
}

impl Writer {
    pub(super) fn open(mut cfg: FileAuditConfig) -> Result<(Self, Recovery), AuditError> {
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
        let mut lost = None;
        if let Some(head) = read_head(&cfg.dir, &cfg.replica)? {
            let behind = head.seq > seq || (head.seq == seq && head.hash != prev);
            match (&cfg.accept_loss, behind) {
                (None, true) => return Err(missing(&cfg.dir, &cfg.replica, &head, seq)),
                (Some(reason), true) => lost = Some((seq, head, reason.clone())),
                _ => {}
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
        let recovery = Recovery { next_seq: seq + 1, torn, lost };
        let day = last_time.get(..10).unwrap_or_default().to_owned();
        let stats = Arc::new(Stats::default());
        let health = Arc::new(Health::default());
        health.set_live(&path);
        let chain = Chain {
            replica: cfg.replica.clone(),
            seq,
            prev,
            last_time,
            since_checkpoint: 0,
            checkpoint_every: cfg.checkpoint_every,
            key: cfg.checkpoint_key.take(),
        };
        let w = Writer {
            cfg,
            file,
            path,
            len,
            day,
            chain,
            stats,
            health,
            stopped: None,
            head_due: len == 0,
            coming: Arc::new(AtomicUsize::new(0)),
            _lock: lock,
        };
        Ok((w, recovery))
    }

    /// Serializes one record onto `buf` and advances the chain.
    fn push(&mut self, buf: &mut Vec<u8>, kind: Kind, entry: Entry) -> Result<Receipt, AuditError> {
        let (line, receipt) = self.chain.push(kind, entry)?;
        buf.extend_from_slice(&line);
        buf.push(b'\n');
        Ok(receipt)
    }

    fn checkpoint(&mut self, buf: &mut Vec<u8>) -> Result<(), AuditError> {
        if let Some(line) = self.chain.checkpoint()? {
            buf.extend_from_slice(&line);
            buf.push(b'\n');
            self.head_due = true;
        }
        Ok(())
    }

    /// Writes and syncs `buf`; on failure cuts the file back and rewinds the chain.
    fn commit(&mut self, buf: &[u8], saved: (u64, String)) -> Result<(), AuditError> {
        let result = self.write_synced(buf, saved);
        self.health.wrote(result.as_ref().map(|_| ()));
        result
    }

    /// Stops for good: the live file is not the one this writer holds.
    fn stop(&mut self, e: AuditError, saved: (u64, String)) -> AuditError {
        self.chain.restore(saved);
        self.health.stop(&e);
        self.stopped = Some(e.clone());
        e
    }

    fn write_synced(&mut self, buf: &[u8], saved: (u64, String)) -> Result<(), AuditError> {
        if let Some(e) = &self.stopped {
            return Err(e.clone());
        }
        if let Err(e) = check_live(&self.file, &self.path) {
            return Err(self.stop(e, saved));
        }
        let started = std::time::Instant::now();
        let res = self.file.write_all(buf).and_then(|()| self.file.sync_data());
        if res.is_ok() {
            // Removed while we wrote: these records are in no file anyone can read.
            if let Err(e) = check_live(&self.file, &self.path) {
                return Err(self.stop(e, saved));
            }
        }
        match res {
            Ok(()) => {
                self.len += buf.len() as u64;
                let lines = buf.iter().filter(|&&b| b == b'\n').count() as u64;
                self.stats.records.fetch_add(lines, Ordering::Relaxed);
                self.stats.syncs.fetch_add(1, Ordering::Relaxed);
                let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                self.stats.sync_nanos.fetch_add(nanos, Ordering::Relaxed);
                if std::mem::take(&mut self.head_due) {
                    self.write_head()?;
                }
                Ok(())
            }
            Err(e) => {
                self.chain.restore(saved);
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
        let saved = self.chain.saved();
        self.checkpoint(&mut buf)?;
        if !buf.is_empty() {
            self.commit(&buf, saved)?;
        }
        let path = self.cfg.dir.join(file_name(&self.cfg.replica, self.chain.seq + 1));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| io("cannot create", &path, e))?;
        sync_dir(&self.cfg.dir)?;
        self.health.set_live(&path);
        (self.file, self.path, self.len, self.head_due) = (file, path, 0, true);
        Ok(())
    }

    /// Records the chain head in `<replica>.head` (the records are durable already).
    fn write_head(&self) -> Result<(), AuditError> {
        let file = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        write_head(
            &self.cfg.dir,
            &self.cfg.replica,
            &Head { seq: self.chain.seq, hash: self.chain.prev.clone(), file },
        )
    }

    fn batch(&mut self, batch: Vec<(Kind, Entry, Reply)>) {
        if let Some(e) = &self.stopped {
            batch.into_iter().for_each(|(_, _, r)| r.send(Err(e.clone())));
            return;
        }
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
        let saved = self.chain.saved();
        for (kind, entry, reply) in batch {
            let day = entry.time.get(..10).unwrap_or_default().to_owned();
            if self.day.is_empty() || (self.len == 0 && buf.is_empty()) {
                self.day = day;
            }
            let receipt = self.push(&mut buf, kind, entry);
            replies.push((reply, receipt));
        }
        if self.chain.checkpoint_due() {
            if let Err(e) = self.checkpoint(&mut buf) {
                replies.into_iter().for_each(|(r, _)| r.send(Err(e.clone())));
                self.chain.restore(saved);
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

    pub(super) fn run(mut self, rx: QueueRx<Msg>) {
        while let Some(msgs) = rx.recv() {
            let mut batch = Vec::new();
            let mut close = None;
            take(msgs, &mut batch, &mut close);
            // Group commit: records being minted now join this batch if they come
            // within `gather`; with none announced, the batch is synced at once. The
            // queue wakes this thread once nothing more is announced, not per record.
            let deadline = Instant::now() + self.cfg.gather;
            while close.is_none()
                && !batch.is_empty()
                && batch.len() < MAX_BATCH
                && self.coming.load(Ordering::Acquire) > 0
                && Instant::now() < deadline
            {
                take(rx.gather(deadline), &mut batch, &mut close);
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
        if let Some(e) = &self.stopped {
            return Err(e.clone());
        }
        if self.chain.since_checkpoint > 0 && self.chain.key.is_some() {
            let mut buf = Vec::new();
            let saved = self.chain.saved();
            self.checkpoint(&mut buf)?;
            self.commit(&buf, saved)?;
        }
        if self.chain.seq > 0 {
            self.write_head()?;
        }
        Ok(())
    }
}
