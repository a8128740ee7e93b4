//! The assertion log's chains as files, for the commands that read them: the files
//! given, the configured replica's, or every chain of the database exported into a
//! temporary directory first.

use std::path::{Path, PathBuf};

use super::common::Failure;
use crate::audit::files::log_files;
use crate::config::{AuditSink, Config};
use crate::edge::wiring;

/// The chains to read: `(replica, files in chain order)`, and the temporary directory
/// a database's chains were exported into (removed on drop).
pub struct Logs {
    pub chains: Vec<(String, Vec<PathBuf>)>,
    _exported: Option<tempfile::TempDir>,
}

impl Logs {
    pub fn all_files(&self) -> Vec<PathBuf> {
        self.chains.iter().flat_map(|(_, f)| f.iter().cloned()).collect()
    }
}

/// Files given on the command line (one chain), every chain in the database, or the
/// configured replica's files.
pub fn logs(cfg: &Config, given: Vec<PathBuf>) -> Result<Logs, Failure> {
    if !given.is_empty() {
        return Ok(Logs { chains: vec![(String::new(), given)], _exported: None });
    }
    if cfg.audit.sink == AuditSink::Postgres {
        let tmp = tempfile::tempdir()
            .map_err(|e| Failure::new(3, format!("cannot make a temporary directory: {e}")))?;
        let chains = export_db(cfg, tmp.path(), None)?;
        if chains.is_empty() {
            return Err(Failure::new(3, "no audit records in the database"));
        }
        return Ok(Logs { chains, _exported: Some(tmp) });
    }
    let v = log_files(&cfg.audit.dir, &cfg.audit.replica).map_err(|e| Failure::new(3, e))?;
    if v.is_empty() {
        return Err(Failure::new(
            3,
            format!("no audit log files for replica {:?} in {}", cfg.audit.replica, cfg.audit.dir.display()),
        ));
    }
    Ok(Logs { chains: vec![(cfg.audit.replica.clone(), v)], _exported: None })
}

/// Writes the database's chains (or one) into `dir`.
pub fn export_db(
    cfg: &Config,
    dir: &Path,
    only: Option<&str>,
) -> Result<Vec<(String, Vec<PathBuf>)>, Failure> {
    let db = wiring::database(cfg).map_err(|e| Failure::new(3, e))?;
    let mut out = Vec::new();
    for replica in crate::audit::postgres::replicas(&db).map_err(|e| Failure::new(3, e))? {
        if only.is_some_and(|o| o != replica) {
            continue;
        }
        let (files, _) = crate::audit::postgres::export(&db, &replica, dir, cfg.audit.rotate_bytes)
            .map_err(|e| Failure::new(3, e))?;
        out.push((replica, files));
    }
    Ok(out)
}
