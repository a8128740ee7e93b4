//! The input files the auditor's commands read: each path as given, or a folder walked
//! in name order (so runs over the same folders read in the same order).

use std::path::{Path, PathBuf};

/// Hands every file `paths` name to `each`: a file as given, a folder's files in name order.
pub fn walk(paths: &[PathBuf], each: &mut dyn FnMut(&Path)) -> Result<(), String> {
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if !meta.is_dir() {
            each(p);
            continue;
        }
        for entry in walkdir::WalkDir::new(p).sort_by_file_name() {
            let entry = entry.map_err(|e| format!("{}: {e}", p.display()))?;
            if entry.file_type().is_file() {
                each(entry.path());
            }
        }
    }
    Ok(())
}
