//! Signing keys and certificates: generation, and loading with the checks that keep a
//! key private and matched to its certificate.
//!
//! Invariants: a key file readable by group or others is refused; a certificate whose
//! public key differs from the private key is refused; RSA keys below 2048 bits are
//! refused. Key material never appears in `Debug` output or logs.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::X509;

use super::error::KeyError;
use super::x509::{issue, write_file, Existing, Profile};

/// A loaded, checked signing key and its certificate.
pub struct SigningMaterial {
    pub key_pem: Vec<u8>,
    pub key: PKey<Private>,
    pub cert: X509,
    pub cert_der: Vec<u8>,
}

impl std::fmt::Debug for SigningMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningMaterial").field("key", &"<redacted>").finish_non_exhaustive()
    }
}

/// Refuses a key file that group or others can read or write.
pub fn check_private(path: &Path) -> Result<(), KeyError> {
    Ok(crate::secrets::check(path)?)
}

/// Reads a PEM certificate file.
pub fn load_cert(path: &Path) -> Result<X509, KeyError> {
    let pem = fs::read(path).map_err(|source| KeyError::Read { path: path.into(), source })?;
    X509::from_pem(&pem).map_err(|e| KeyError::BadCert { path: path.into(), reason: e.to_string() })
}

/// Loads the signing key and its certificate with every check in this module's header.
pub fn load(key_path: &Path, cert_path: &Path) -> Result<SigningMaterial, KeyError> {
    let key_pem = crate::secrets::read(key_path)?;
    let key = PKey::private_key_from_pem(&key_pem)
        .map_err(|e| KeyError::BadKey { path: key_path.into(), reason: e.to_string() })?;
    let rsa = key.rsa().map_err(|_| KeyError::NotRsa { path: key_path.into() })?;
    let bits = rsa.size() * 8;
    if bits < 2048 {
        return Err(KeyError::WeakKey { path: key_path.into(), bits });
    }
    let cert = load_cert(cert_path)?;
    let cert_key = cert.public_key()?;
    if !cert_key.public_eq(&key) {
        return Err(KeyError::Mismatch { key: key_path.into(), cert: cert_path.into() });
    }
    let cert_der = cert.to_der()?;
    Ok(SigningMaterial { key_pem, key, cert, cert_der })
}

/// What `sesame keys generate` asks for.
#[derive(Debug, Clone)]
pub struct GenerateSpec {
    pub bits: u32,
    pub key_path: PathBuf,
    pub cert_path: PathBuf,
    pub common_name: String,
    pub days: u32,
    pub force: bool,
}

/// Generates an RSA key (file mode 0600) and a self-signed SHA-256 certificate valid
/// from `now` for `days`.
pub fn generate(spec: &GenerateSpec, now: DateTime<Utc>) -> Result<(), KeyError> {
    if ![2048, 3072, 4096].contains(&spec.bits) {
        return Err(KeyError::BadBits(spec.bits));
    }
    if !spec.force {
        for p in [&spec.key_path, &spec.cert_path] {
            if p.exists() {
                return Err(KeyError::Exists { path: p.clone() });
            }
        }
    }
    let key = PKey::from_rsa(Rsa::generate(spec.bits)?)?;
    let not_after = now
        .checked_add_signed(chrono::Duration::days(i64::from(spec.days)))
        .ok_or(KeyError::BadDays(spec.days))?;
    let cert = issue(&spec.common_name, &key, None, now, not_after, Profile::Signing)?;
    let existing = if spec.force { Existing::Replace } else { Existing::Keep };
    write_file(&spec.key_path, &key.private_key_to_pem_pkcs8()?, 0o600, existing)?;
    write_file(&spec.cert_path, &cert.to_pem()?, 0o644, existing)?;
    Ok(())
}
