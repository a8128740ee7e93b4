//! Development TLS material for `sesame serve` on the embedded default: a private CA,
//! a server certificate for 127.0.0.1/::1/localhost and one client certificate, all
//! generated on first run (keys 0600). Tests use it to make CAs of their own.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName};
use openssl::x509::{X509NameBuilder, X509};

use crate::keys::KeyError;

/// Where the files of one development set live.
#[derive(Debug, Clone)]
pub struct DevTls {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl DevTls {
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            ca_cert: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
        }
    }
}

fn key() -> Result<PKey<Private>, KeyError> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    Ok(PKey::from_ec_key(EcKey::generate(&group)?)?)
}

fn cert(
    cn: &str,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
    now: DateTime<Utc>,
    days: i64,
    kind: Kind,
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
    let nb = Asn1Time::from_unix(now.timestamp() - 300)?;
    let na = Asn1Time::from_unix(now.timestamp() + days * 86_400)?;
    b.set_not_before(&nb)?;
    b.set_not_after(&na)?;
    match kind {
        Kind::Ca => {
            b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
            b.append_extension(KeyUsage::new().critical().key_cert_sign().crl_sign().build()?)?;
        }
        Kind::Server => {
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
        Kind::Client => {
            b.append_extension(BasicConstraints::new().critical().build()?)?;
            b.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
            b.append_extension(ExtendedKeyUsage::new().client_auth().build()?)?;
        }
    }
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

#[derive(Clone, Copy)]
enum Kind {
    Ca,
    Server,
    Client,
}

fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|source| KeyError::Write { path: d.into(), source })?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(|source| KeyError::Write { path: path.into(), source })?;
    f.write_all(bytes).map_err(|source| KeyError::Write { path: path.into(), source })
}

/// Generates a CA, a server certificate and a client certificate with subject
/// `CN=<client_cn>` into `set`, valid `days` from `now`.
pub fn generate(set: &DevTls, client_cn: &str, now: DateTime<Utc>, days: i64) -> Result<(), KeyError> {
    let ca_key = key()?;
    let ca = cert("sesame development CA (not for production)", &ca_key, None, now, days, Kind::Ca)?;
    let server_key = key()?;
    let server = cert("localhost", &server_key, Some((&ca, &ca_key)), now, days, Kind::Server)?;
    let client_key = key()?;
    let client = cert(client_cn, &client_key, Some((&ca, &ca_key)), now, days, Kind::Client)?;
    write(&set.ca_key, &ca_key.private_key_to_pem_pkcs8()?, 0o600)?;
    write(&set.ca_cert, &ca.to_pem()?, 0o644)?;
    write(&set.server_key, &server_key.private_key_to_pem_pkcs8()?, 0o600)?;
    write(&set.server_cert, &server.to_pem()?, 0o644)?;
    write(&set.client_key, &client_key.private_key_to_pem_pkcs8()?, 0o600)?;
    write(&set.client_cert, &client.to_pem()?, 0o644)?;
    Ok(())
}

/// Issues one more client certificate from an existing development CA.
pub fn issue_client(
    set: &DevTls,
    cn: &str,
    cert_path: &Path,
    key_path: &Path,
    now: DateTime<Utc>,
) -> Result<(), KeyError> {
    let read = |p: &Path| std::fs::read(p).map_err(|source| KeyError::Read { path: p.into(), source });
    let ca = X509::from_pem(&read(&set.ca_cert)?)?;
    let ca_key = PKey::private_key_from_pem(&read(&set.ca_key)?)?;
    let k = key()?;
    let c = cert(cn, &k, Some((&ca, &ca_key)), now, 30, Kind::Client)?;
    write(key_path, &k.private_key_to_pem_pkcs8()?, 0o600)?;
    write(cert_path, &c.to_pem()?, 0o644)
}
