//! Reading the log as it grows, for the session reaper: a [`RecordFeed`] returns the
//! records appended since its last call. [`FileTail`] follows one replica's files
//! (starting with the files written since a cutoff, then byte offsets); the
//! PostgreSQL feed (`pg_tail.rs`) follows every replica's chain. Only complete lines
//! are read: a record being written is read on the next call.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::files::{io, log_files};
use super::log::AuditError;
use super::record::Record;

/// Records appended since the last call (the first call: since the cutoff).
pub trait RecordFeed: Send {
    fn next(&mut self) -> Result<Vec<Record>, AuditError>;
}

pub struct FileTail {
    dir: PathBuf,
    replica: String,
    /// Files last modified before this hold nothing the reader wants.
    cutoff: SystemTime,
    /// The file being followed and the offset after its last complete line.
    at: Option<(PathBuf, u64)>,
}

impl FileTail {
    pub fn new(dir: &Path, replica: &str, cutoff: SystemTime) -> Self {
        Self { dir: dir.to_owned(), replica: replica.to_owned(), cutoff, at: None }
    }

    fn read_from(file: &Path, offset: u64, out: &mut Vec<Record>) -> Result<u64, AuditError> {
        let mut f = std::fs::File::open(file).map_err(|e| io("cannot read", file, e))?;
        f.seek(SeekFrom::Start(offset)).map_err(|e| io("cannot read", file, e))?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).map_err(|e| io("cannot read", file, e))?;
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        for line in bytes[..complete].split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let r: Record = serde_json::from_slice(line).map_err(|e| {
                AuditError::Damaged(format!("{}: a record does not parse: {e}", file.display()))
            })?;
            out.push(r);
        }
        Ok(offset + complete as u64)
    }
}

impl RecordFeed for FileTail {
    fn next(&mut self) -> Result<Vec<Record>, AuditError> {
        let files = log_files(&self.dir, &self.replica)?;
        let mut out = Vec::new();
        let start = match &self.at {
            Some((file, _)) => files.iter().position(|f| f == file).unwrap_or(0),
            None => files
                .iter()
                .position(|f| std::fs::metadata(f).and_then(|m| m.modified()).is_ok_and(|t| t >= self.cutoff))
                .unwrap_or(files.len()),
        };
        for f in files.iter().skip(start) {
            let offset = match &self.at {
                Some((file, off)) if file == f => *off,
                _ => 0,
            };
            let end = Self::read_from(f, offset, &mut out)?;
            self.at = Some((f.clone(), end));
        }
        Ok(out)
    }
}
