//! Signing keys and certificates: generation, and loading with the checks that keep a
//! key private and matched to its certificate.
//!
//! Invariants: a key file readable by group or others is refused; a certificate whose
//! public key differs from the private key is refused; RSA keys below 2048 bits are
//! refused. Key material never appears in `Debug` output or logs.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{BasicConstraints, KeyUsage, SubjectKeyIdentifier};
use openssl::x509::{X509NameBuilder, X509};

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
    #[error("openssl: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
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
            KeyError::OpenSsl(_) => "key_crypto",
        }
    }
}

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
    let meta = fs::metadata(path).map_err(|source| KeyError::Read { path: path.into(), source })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions { path: path.into(), mode });
    }
    Ok(())
}

/// Reads a PEM certificate file.
pub fn load_cert(path: &Path) -> Result<X509, KeyError> {
    let pem = fs::read(path).map_err(|source| KeyError::Read { path: path.into(), source })?;
    X509::from_pem(&pem).map_err(|e| KeyError::BadCert { path: path.into(), reason: e.to_string() })
}

/// Loads the signing key and its certificate with every check in this module's header.
pub fn load(key_path: &Path, cert_path: &Path) -> Result<SigningMaterial, KeyError> {
    check_private(key_path)?;
    let key_pem = fs::read(key_path).map_err(|source| KeyError::Read { path: key_path.into(), source })?;
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

/// Writes `bytes` to a new file with `mode`; refuses to replace one unless `force`.
fn write_new(path: &Path, bytes: &[u8], mode: u32, force: bool) -> Result<(), KeyError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|source| KeyError::Write { path: dir.into(), source })?;
    }
    if force && path.exists() {
        fs::remove_file(path).map_err(|source| KeyError::Write { path: path.into(), source })?;
    }
    let mut f =
        fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(|source| {
            match source.kind() {
                std::io::ErrorKind::AlreadyExists => KeyError::Exists { path: path.into() },
                _ => KeyError::Write { path: path.into(), source },
            }
        })?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|source| KeyError::Write { path: path.into(), source })
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
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", &spec.common_name)?;
    let name = name.build();
    let mut b = X509::builder()?;
    b.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let serial = serial.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(&key)?;
    let not_before = Asn1Time::from_unix(now.timestamp())?;
    let not_after = Asn1Time::from_unix(now.timestamp() + i64::from(spec.days) * 86_400)?;
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    b.append_extension(BasicConstraints::new().critical().build()?)?;
    b.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
    b.append_extension(ski)?;
    b.sign(&key, MessageDigest::sha256())?;
    let cert = b.build();
    write_new(&spec.key_path, &key.private_key_to_pem_pkcs8()?, 0o600, spec.force)?;
    write_new(&spec.cert_path, &cert.to_pem()?, 0o644, spec.force)?;
    Ok(())
}
