//! The one loader for secret files — the SAML signing and checkpoint keys, the TLS
//! server key, the development CA key, the LDAP bind password, database passwords:
//! a file that its group or others may read or write is refused, with the fix in the
//! message, before a byte of it is read. Nothing here logs or prints contents.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Why a secret file was not read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{path}: cannot read: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: secret file is readable or writable by group or others (mode {mode:03o}); run: chmod 600 {path}")]
    Permissions { path: PathBuf, mode: u32 },
}

/// Refuses a secret file that group or others can read or write.
pub fn check(path: &Path) -> Result<(), SecretError> {
    let meta = std::fs::metadata(path).map_err(|source| SecretError::Read { path: path.into(), source })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretError::Permissions { path: path.into(), mode });
    }
    Ok(())
}

/// Reads a secret file after [`check`].
pub fn read(path: &Path) -> Result<Vec<u8>, SecretError> {
    check(path)?;
    std::fs::read(path).map_err(|source| SecretError::Read { path: path.into(), source })
}

/// A one-line secret (a password): the file's text without its trailing line break.
pub fn read_line(path: &Path) -> Result<String, SecretError> {
    let bytes = read(path)?;
    let text = String::from_utf8(bytes).map_err(|_| SecretError::Read {
        path: path.into(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"),
    })?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}
