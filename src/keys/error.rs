//! Why a key or certificate could not be loaded, checked, generated or written; each
//! message names the file and what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: cannot read: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: cannot write: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path}: already exists (use --force to replace it)")]
    Exists { path: PathBuf },
    #[error("{path}: key file is readable by group or others (mode {mode:03o}); run: chmod 600 {path}")]
    Permissions { path: PathBuf, mode: u32 },
    #[error("{path}: not a PEM private key: {reason}")]
    BadKey { path: PathBuf, reason: String },
    #[error("{path}: RSA keys must have at least 2048 bits, this one has {bits}")]
    WeakKey { path: PathBuf, bits: u32 },
    #[error("{path}: only RSA signing keys are supported (AWS requires RSA-SHA256 here)")]
    NotRsa { path: PathBuf },
    #[error("{path}: not a PEM X.509 certificate: {reason}")]
    BadCert { path: PathBuf, reason: String },
    #[error("certificate {cert} does not match key {key}: their public keys differ")]
    Mismatch { key: PathBuf, cert: PathBuf },
    #[error("key size must be 2048, 3072 or 4096 bits, got {0}")]
    BadBits(u32),
    #[error("a certificate cannot be valid for {0} days from now")]
    BadDays(u32),
    #[error("openssl: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
}

impl From<crate::secrets::SecretError> for KeyError {
    fn from(e: crate::secrets::SecretError) -> Self {
        match e {
            crate::secrets::SecretError::Read { path, source } => KeyError::Read { path, source },
            crate::secrets::SecretError::Permissions { path, mode } => KeyError::Permissions { path, mode },
        }
    }
}

impl KeyError {
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::Read { .. } => "key_unreadable",
            KeyError::Write { .. } | KeyError::Exists { .. } => "key_write_failed",
            KeyError::Permissions { .. } => "key_permissions",
            KeyError::BadKey { .. } | KeyError::NotRsa { .. } | KeyError::WeakKey { .. } => "key_invalid",
            KeyError::BadCert { .. } => "cert_invalid",
            KeyError::Mismatch { .. } => "cert_key_mismatch",
            KeyError::BadBits(_) => "key_bits",
            KeyError::BadDays(_) => "key_days",
            KeyError::OpenSsl(_) => "key_crypto",
        }
    }
}
