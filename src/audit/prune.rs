//! Pruning old files up to a signed checkpoint (`sesame audit prune --through SEQ`),
//! declared in the chain before anything is removed.
//!
//! Only whole files go, and only up to a checkpoint that ends its file (the one a
//! rotation or a clean shutdown writes), so what is kept starts right after a signed
//! chain head. The `prune` record names the last removed seq and its hash; `verify`
//! then accepts a chain that starts there — and only there.

use std::path::{Path, PathBuf};

use super::chain::hash_line;
use super::files::{first_seq_in_name, io, log_files, sync_dir};
use super::log::{AuditError, AuditLog};
use super::record::{Entry, Kind, Record};

/// What a prune removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub files: Vec<PathBuf>,
    /// The first seq removed (1 unless an earlier prune ran).
    pub first: u64,
    /// The last seq removed: a checkpoint that ends the last of `files`.
    pub through: u64,
    /// Hex SHA-256 of that checkpoint's line.
    pub head: String,
}

/// The last line of a file: its record and its hash.
fn last_record(p: &Path) -> Result<Option<(Record, String)>, AuditError> {
    let bytes = std::fs::read(p).map_err(|e| io("cannot read", p, e))?;
    let Some(line) = bytes.split(|&b| b == b'\n').rfind(|l| !l.is_empty()) else { return Ok(None) };
    let rec: Record = serde_json::from_slice(line)
        .map_err(|e| AuditError::Damaged(format!("{}: the last record does not parse ({e})", p.display())))?;
    Ok(Some((rec, hash_line(line))))
}

/// The files of `replica` that a prune through `through` removes; refuses a seq that
/// is not a checkpoint ending a file that is not the live one, naming the ones that are.
pub fn plan(dir: &Path, replica: &str, through: u64) -> Result<Plan, AuditError> {
    let files = log_files(dir, replica)?;
    let live = files.len().saturating_sub(1);
    let mut candidates = Vec::new();
    for (i, f) in files.iter().enumerate().take(live) {
        if let Some((rec, hash)) = last_record(f)? {
            if rec.kind != Kind::Checkpoint {
                continue;
            }
            if rec.seq == through {
                let first = files.first().and_then(|p| first_seq_in_name(p)).unwrap_or(1);
                return Ok(Plan { files: files[..=i].to_vec(), first, through, head: hash });
            }
            candidates.push(rec.seq.to_string());
        }
    }
    Err(AuditError::Unavailable(format!(
        "--through {through}: must be the seq of a checkpoint that ends a file other than the live one; \
         the ones that do here: {}",
        if candidates.is_empty() {
            "none yet (a file ends with one when it rotates)".into()
        } else {
            candidates.join(", ")
        }
    )))
}

/// Records the prune (durably), then removes the files. A crash in between leaves the
/// files and a declaration `verify` does not need yet; running the prune again finishes.
pub fn execute(plan: &Plan, log: &dyn AuditLog, mut entry: Entry) -> Result<(), AuditError> {
    entry.pruned_through = Some(plan.through);
    entry.pruned_head = Some(plan.head.clone());
    entry.message =
        Some(format!("records {}..={} in {} files pruned", plan.first, plan.through, plan.files.len()));
    log.append(Kind::Prune, entry)?;
    for f in &plan.files {
        std::fs::remove_file(f).map_err(|e| io("cannot remove", f, e))?;
    }
    match plan.files.first().and_then(|f| f.parent()) {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}
