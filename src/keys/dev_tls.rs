//! Development TLS material for `sesame serve` on the embedded default: a private CA,
//! a server certificate for 127.0.0.1/::1/localhost and one client certificate, all
//! generated on first run (keys 0600). Tests use it to make CAs of their own.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use super::error::KeyError;
use super::x509::{issue, write_file, Existing, Issuer, Profile};

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

/// Valid from five minutes before `now` (clock skew) for `days`.
fn cert(
    cn: &str,
    key: &PKey<Private>,
    issuer: Issuer<'_>,
    now: DateTime<Utc>,
    days: i64,
    profile: Profile,
) -> Result<X509, KeyError> {
    let not_after =
        now.checked_add_signed(chrono::Duration::days(days)).ok_or(KeyError::BadDays(u32::MAX))?;
    issue(cn, key, issuer, now - chrono::Duration::minutes(5), not_after, profile)
}

/// Development files are rewritten in place when regenerated.
fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    write_file(path, bytes, mode, Existing::Replace)
}

/// Generates a CA, a server certificate and a client certificate with subject
/// `CN=<client_cn>` into `set`, valid `days` from `now`.
pub fn generate(set: &DevTls, client_cn: &str, now: DateTime<Utc>, days: i64) -> Result<(), KeyError> {
    let ca_key = key()?;
    let ca = cert("sesame development CA (not for production)", &ca_key, None, now, days, Profile::Ca)?;
    let server_key = key()?;
    let server = cert("localhost", &server_key, Some((&ca, &ca_key)), now, days, Profile::Server)?;
    let client_key = key()?;
    let client = cert(client_cn, &client_key, Some((&ca, &ca_key)), now, days, Profile::Client)?;
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
    let ca_key = PKey::private_key_from_pem(&crate::secrets::read(&set.ca_key)?)?;
    let k = key()?;
    let c = cert(cn, &k, Some((&ca, &ca_key)), now, 30, Profile::Client)?;
    write(key_path, &k.private_key_to_pem_pkcs8()?, 0o600)?;
    write(cert_path, &c.to_pem()?, 0o644)
}
