//! What keeps the file writer honest about its files:
//!
//! - the live file's identity: before and after every write the writer checks that the
//!   path still names the file it holds open (not removed, not replaced); if not it
//!   stops for good — nothing more is acknowledged;
//! - the head file `<replica>.head`: the chain head (seq, hash, file) written when a
//!   file gets its first records, at every checkpoint and at clean shutdown, so a start
//!   that finds fewer records than the head says refuses to begin a new chain unless an
//!   operator accepts the loss (`sesame audit accept-loss`), which is recorded;
//! - [`Health`]: what `/readyz` reads — a stop, the last write's failure, free space and
//!   whether the live file can be written at all (an immutable file, a read-only mount).

use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::files::{io, sync_dir};
use super::log::AuditError;

/// Below this much free space on the log's file system the log reports not ready: a
/// batch of records must still fit.
pub const MIN_FREE_BYTES: u64 = 256 * 1024;

/// The chain head as last written to `<replica>.head`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub seq: u64,
    /// Hex SHA-256 of the record at `seq`.
    pub hash: String,
    /// The log file that holds it.
    pub file: String,
}

pub fn head_path(dir: &Path, replica: &str) -> PathBuf {
    dir.join(format!("{replica}.head"))
}

/// Reads the head file, if there is one.
pub fn read_head(dir: &Path, replica: &str) -> Result<Option<Head>, AuditError> {
    let path = head_path(dir, replica);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| AuditError::Damaged(format!("{}: not a head file ({e})", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("cannot read", &path, e)),
    }
}

/// Replaces the head file atomically (write, sync, rename, sync the directory).
pub fn write_head(dir: &Path, replica: &str, head: &Head) -> Result<(), AuditError> {
    let path = head_path(dir, replica);
    let tmp = dir.join(format!("{replica}.head.tmp"));
    let bytes = serde_json::to_vec(head).map_err(|e| AuditError::Unavailable(e.to_string()))?;
    fs::write(&tmp, bytes).map_err(|e| io("cannot write", &tmp, e))?;
    File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| io("cannot sync", &tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| io("cannot rename", &tmp, e))?;
    sync_dir(dir)
}

/// The refusal when the files end before the head file says the chain did.
pub fn missing(dir: &Path, replica: &str, head: &Head, found: u64) -> AuditError {
    AuditError::Damaged(format!(
        "the audit log of replica {replica} in {} ends at seq {found}, but its head file says the chain reached \
         seq {} (in {}): records were removed. Restore them; `sesame audit verify` shows what is there. To go on \
         without them, run `sesame audit accept-loss --reason TEXT` (recorded in the log)",
        dir.display(),
        head.seq,
        head.file
    ))
}

/// Fails unless `path` still names the file `open` is (same device and inode, linked).
pub fn check_live(open: &File, path: &Path) -> Result<(), AuditError> {
    let held = open.metadata().map_err(|e| io("cannot stat", path, e))?;
    let same = fs::metadata(path).is_ok_and(|m| m.dev() == held.dev() && m.ino() == held.ino());
    if held.nlink() == 0 || !same {
        return Err(AuditError::Damaged(format!(
            "the live audit file {} was removed or replaced while sesame was writing it; the writer stopped and \
             nothing more is released: restore the file and restart",
            path.display()
        )));
    }
    Ok(())
}

/// The writer's state as `/readyz` sees it.
#[derive(Debug, Default)]
pub struct Health {
    /// Set for good when the writer stopped (its file vanished, say).
    stopped: Mutex<Option<AuditError>>,
    /// The last batch's failure, cleared by the next success.
    last_error: Mutex<Option<AuditError>>,
    /// The file being written.
    live: Mutex<PathBuf>,
}

impl Health {
    pub fn stop(&self, e: &AuditError) {
        if let Ok(mut g) = self.stopped.lock() {
            g.get_or_insert_with(|| e.clone());
        }
    }

    pub fn stopped(&self) -> Option<AuditError> {
        self.stopped.lock().ok().and_then(|g| g.clone())
    }

    pub fn wrote(&self, result: Result<(), &AuditError>) {
        if let Ok(mut g) = self.last_error.lock() {
            *g = result.err().cloned();
        }
    }

    pub fn set_live(&self, p: &Path) {
        if let Ok(mut g) = self.live.lock() {
            p.clone_into(&mut g);
        }
    }

    /// Can a record be written now? The writer's own state first, then the file system.
    pub fn check(&self, dir: &Path) -> Result<(), AuditError> {
        if let Some(e) = self.stopped() {
            return Err(e);
        }
        if let Some(e) = self.last_error.lock().ok().and_then(|g| g.clone()) {
            return Err(e);
        }
        let live = self.live.lock().map(|g| g.clone()).unwrap_or_default();
        rustix::fs::access(&live, rustix::fs::Access::WRITE_OK)
            .map_err(|e| AuditError::Unavailable(format!("{} cannot be written: {e}", live.display())))?;
        let st = rustix::fs::statvfs(dir).map_err(|e| io("cannot stat", dir, e.into()))?;
        let free = st.f_bavail.saturating_mul(st.f_frsize);
        if free < MIN_FREE_BYTES {
            return Err(AuditError::Unavailable(format!(
                "{} has {free} bytes free, less than the {MIN_FREE_BYTES} a batch of records needs",
                dir.display()
            )));
        }
        Ok(())
    }
}
