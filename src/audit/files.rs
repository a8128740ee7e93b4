//! The audit log on disk: file names, directory sync, the single-writer lock, and
//! recovery of a torn last line after a crash. Used by the writer (`file.rs`) and by
//! `sesame audit` to list a replica's files.

use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::chain::hash_line;
use super::log::AuditError;
use super::record::Record;

/// The chain head found in a file: (seq, hash, time) of its last complete record.
pub(super) type ChainHead = (u64, String, String);
/// A torn partial record set aside: (file, bytes).
pub type Torn = (PathBuf, u64);

pub(super) fn io(what: &str, p: &Path, e: std::io::Error) -> AuditError {
    AuditError::Unavailable(format!("{what} {}: {e}", p.display()))
}

/// Log files of `replica` in `dir`, in chain order (names carry the first sequence number).
pub fn log_files(dir: &Path, replica: &str) -> Result<Vec<PathBuf>, AuditError> {
    let prefix = format!("{replica}-");
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| io("cannot list", dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".jsonl"))
        })
        .collect();
    v.sort();
    Ok(v)
}

/// The first sequence number a log file's name announces.
pub fn first_seq_in_name(p: &Path) -> Option<u64> {
    let name = p.file_name()?.to_str()?.strip_suffix(".jsonl")?;
    name.rsplit('-').next()?.parse().ok()
}

pub(super) fn file_name(replica: &str, first_seq: u64) -> String {
    format!("{replica}-{first_seq:012}.jsonl")
}

pub(super) fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io("cannot sync directory", dir, e))
}

pub(super) fn lock(dir: &Path, replica: &str, wait: Duration) -> Result<File, AuditError> {
    let path = dir.join(format!("{replica}.lock"));
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io("cannot open", &path, e))?;
    let step = Duration::from_millis(10);
    let mut waited = Duration::ZERO;
    loop {
        match f.try_lock() {
            Ok(()) => return Ok(f),
            Err(fs::TryLockError::WouldBlock) if waited < wait => {
                std::thread::sleep(step);
                waited += step;
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(AuditError::Unavailable(format!(
                    "audit log {} is in use by another sesame process (replica {replica})",
                    dir.display()
                )))
            }
            Err(fs::TryLockError::Error(e)) => return Err(io("cannot lock", &path, e)),
        }
    }
}

/// Reads the tail of a file: sets aside a torn line, returns the head it ends with.
pub(super) fn recover(path: &Path) -> Result<(Option<ChainHead>, Option<Torn>), AuditError> {
    let mut f =
        OpenOptions::new().read(true).write(true).open(path).map_err(|e| io("cannot open", path, e))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(|e| io("cannot read", path, e))?;
    let good = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut torn = None;
    if good < bytes.len() {
        let aside = PathBuf::from(format!("{}.torn-{good}", path.display()));
        let part = bytes.get(good..).unwrap_or_default();
        fs::write(&aside, part).map_err(|e| io("cannot write", &aside, e))?;
        File::open(&aside).and_then(|a| a.sync_all()).map_err(|e| io("cannot sync", &aside, e))?;
        f.set_len(good as u64).and_then(|()| f.sync_all()).map_err(|e| io("cannot truncate", path, e))?;
        torn = Some((aside, (bytes.len() - good) as u64));
    }
    let body = bytes.get(..good.saturating_sub(1)).unwrap_or_default();
    let last = match body.iter().rposition(|&b| b == b'\n') {
        Some(i) => body.get(i + 1..).unwrap_or_default(),
        None => body,
    };
    if last.is_empty() {
        return Ok((None, torn));
    }
    let rec: Record = serde_json::from_slice(last).map_err(|e| {
        AuditError::Damaged(format!(
            "{}: the last complete record does not parse ({e}); run `sesame audit verify`",
            path.display()
        ))
    })?;
    Ok((Some((rec.seq, hash_line(last), rec.entry.time)), torn))
}
