//! Certificates and key files: one builder for every profile sesame issues (the
//! self-signed SAML signing certificate, and the development CA, server and client
//! certificates), and one writer for key and certificate files.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use chrono::{DateTime, Utc};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName, SubjectKeyIdentifier,
};
use openssl::x509::{X509NameBuilder, X509};

use super::error::KeyError;

/// What a certificate is for; each profile has its fixed extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// The SAML signing certificate: digital signature only, self-signed.
    Signing,
    /// A development CA: certificate and CRL signing.
    Ca,
    /// A development TLS server: localhost, 127.0.0.1 and ::1.
    Server,
    /// A TLS client (the access manager, an approver, an auditor).
    Client,
}

/// Who signs: `None` self-signs with the subject's own key.
pub type Issuer<'a> = Option<(&'a X509, &'a PKey<Private>)>;

/// Issues a certificate for `key` with subject `CN=<cn>`, valid from `not_before` to
/// `not_after`, with a random 127-bit serial number.
pub fn issue(
    cn: &str,
    key: &PKey<Private>,
    issuer: Issuer<'_>,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    profile: Profile,
) -> Result<X509, KeyError> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", cn)?;
    let name = name.build();
    let mut b = X509::builder()?;
    b.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let serial = serial.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_pubkey(key)?;
    let (nb, na) =
        (Asn1Time::from_unix(not_before.timestamp())?, Asn1Time::from_unix(not_after.timestamp())?);
    b.set_not_before(&nb)?;
    b.set_not_after(&na)?;
    match profile {
        Profile::Signing => {
            b.append_extension(BasicConstraints::new().critical().build()?)?;
            b.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
        }
        Profile::Ca => {
            b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
            b.append_extension(KeyUsage::new().critical().key_cert_sign().crl_sign().build()?)?;
        }
        Profile::Server => {
            b.append_extension(BasicConstraints::new().critical().build()?)?;
            b.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
            b.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
            let san = SubjectAlternativeName::new()
                .dns("localhost")
                .ip("127.0.0.1")
                .ip("::1")
                .build(&b.x509v3_context(issuer.map(|(c, _)| c.as_ref()), None))?;
            b.append_extension(san)?;
        }
        Profile::Client => {
            b.append_extension(BasicConstraints::new().critical().build()?)?;
            b.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
            b.append_extension(ExtendedKeyUsage::new().client_auth().build()?)?;
        }
    }
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(issuer.map(|(c, _)| c.as_ref()), None))?;
    b.append_extension(ski)?;
    match issuer {
        Some((ic, ik)) => {
            b.set_issuer_name(ic.subject_name())?;
            b.sign(ik, MessageDigest::sha256())?;
        }
        None => {
            b.set_issuer_name(&name)?;
            b.sign(key, MessageDigest::sha256())?;
        }
    }
    Ok(b.build())
}

/// How [`write_file`] treats an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse with [`KeyError::Exists`].
    Keep,
    /// Remove it first (the new file gets `mode` whatever the old one had).
    Replace,
}

/// Writes `bytes` to `path` with `mode` (0600 for keys), creating the directory, and
/// syncs it to disk.
pub fn write_file(path: &Path, bytes: &[u8], mode: u32, existing: Existing) -> Result<(), KeyError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| KeyError::Write { path: dir.into(), source })?;
    }
    if existing == Existing::Replace && path.exists() {
        std::fs::remove_file(path).map_err(|source| KeyError::Write { path: path.into(), source })?;
    }
    let mut f =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(|source| {
            match source.kind() {
                std::io::ErrorKind::AlreadyExists => KeyError::Exists { path: path.into() },
                _ => KeyError::Write { path: path.into(), source },
            }
        })?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|source| KeyError::Write { path: path.into(), source })
}
