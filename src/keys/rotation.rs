//! Signing-key rotation without downtime.
//!
//! Slots beside the configured key and certificate: `<key>.next`/`<cert>.next` (published
//! in metadata, not yet signing) and `<key>.previous`/`<cert>.previous` (no longer
//! signing, still published until retired). Retired certificates are kept as
//! `<cert>.retired-<YYYYMMDD>` so auditors can still check old responses.
//!
//! Runbook: `keys rotate` → publish metadata (current + next) to IAM → `keys promote`
//! → SIGHUP (or restart) → after the longest session has ended, `keys retire` →
//! publish metadata again.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::error::KeyError;
use super::material::{self, GenerateSpec};

/// The files of every slot.
#[derive(Debug, Clone)]
pub struct Slots {
    pub key: PathBuf,
    pub cert: PathBuf,
    pub next_key: PathBuf,
    pub next_cert: PathBuf,
    pub previous_key: PathBuf,
    pub previous_cert: PathBuf,
}

fn with(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

impl Slots {
    pub fn of(key: &Path, cert: &Path) -> Self {
        Self {
            key: key.to_path_buf(),
            cert: cert.to_path_buf(),
            next_key: with(key, ".next"),
            next_cert: with(cert, ".next"),
            previous_key: with(key, ".previous"),
            previous_cert: with(cert, ".previous"),
        }
    }

    /// Certificates to publish in metadata after the current one: next, then previous.
    pub fn published(&self) -> Vec<PathBuf> {
        [&self.next_cert, &self.previous_cert].into_iter().filter(|p| p.exists()).cloned().collect()
    }

    /// Retired certificates (for verifying old responses and checkpoints).
    pub fn retired(&self) -> Vec<PathBuf> {
        let (Some(dir), Some(name)) = (self.cert.parent(), self.cert.file_name().and_then(|n| n.to_str()))
        else {
            return Vec::new();
        };
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        let prefix = format!("{name}.retired-");
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix))
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

fn rename(from: &Path, to: &Path) -> Result<(), KeyError> {
    std::fs::rename(from, to).map_err(|source| KeyError::Write { path: to.to_path_buf(), source })
}

/// Generates the next key and certificate; refuses while a next pair exists.
pub fn rotate(s: &Slots, bits: u32, days: u32, now: DateTime<Utc>) -> Result<(), KeyError> {
    let spec = GenerateSpec {
        bits,
        key_path: s.next_key.clone(),
        cert_path: s.next_cert.clone(),
        common_name: "sesame SAML signing".into(),
        days,
        force: false,
    };
    material::generate(&spec, now)
}

/// Makes the next pair current and the current one previous. Refuses without a valid
/// next pair, or while a previous pair is still there (retire it first).
pub fn promote(s: &Slots) -> Result<(), KeyError> {
    material::load(&s.next_key, &s.next_cert)?;
    if s.previous_key.exists() || s.previous_cert.exists() {
        return Err(KeyError::Exists { path: s.previous_key.clone() });
    }
    rename(&s.key, &s.previous_key)?;
    rename(&s.cert, &s.previous_cert)?;
    rename(&s.next_key, &s.key)?;
    rename(&s.next_cert, &s.cert)
}

/// Deletes the previous key and keeps its certificate as `<cert>.retired-<date>`.
pub fn retire(s: &Slots, now: DateTime<Utc>) -> Result<PathBuf, KeyError> {
    if !s.previous_cert.exists() {
        return Err(KeyError::Read {
            path: s.previous_cert.clone(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "nothing to retire"),
        });
    }
    let kept = with(&s.cert, &format!(".retired-{}", now.format("%Y%m%d%H%M%S")));
    rename(&s.previous_cert, &kept)?;
    if s.previous_key.exists() {
        std::fs::remove_file(&s.previous_key)
            .map_err(|source| KeyError::Write { path: s.previous_key.clone(), source })?;
    }
    Ok(kept)
}

/// Days until the certificate expires (negative when expired).
pub fn days_left(cert: &openssl::x509::X509Ref, now: DateTime<Utc>) -> Result<i32, KeyError> {
    let now = openssl::asn1::Asn1Time::from_unix(now.timestamp())?;
    Ok(now.diff(cert.not_after())?.days)
}
