//! What sesame publishes and which certificates it trusts when reading old records:
//! the IdP metadata (the signing certificate first, then the next and previous slots
//! and `keys.publish_certs`) and every certificate that may have signed a response or
//! a checkpoint, by key id.

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};

use super::wiring::SetupError;
use crate::config::Config;
use crate::core::text::hex;
use crate::keys::rotation::Slots;
use crate::keys::{self, KeyError, SigningMaterial};
use crate::saml::metadata::{build_metadata, MetadataParams};

fn b64(der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// The IdP metadata document: the signing certificate first, then `keys.publish_certs`.
pub fn metadata(
    config: &Config,
    material: &SigningMaterial,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, SetupError> {
    let mut certs_b64 = vec![b64(&material.cert_der)];
    let slots = Slots::of(&config.keys.signing_key, &config.keys.signing_cert);
    for path in slots.published().iter().chain(&config.keys.publish_certs) {
        let der = keys::load_cert(path)?.to_der().map_err(KeyError::from)?;
        let s = b64(&der);
        if !certs_b64.contains(&s) {
            certs_b64.push(s);
        }
    }
    let params = MetadataParams {
        entity_id: config.idp.entity_id.clone(),
        sso_url: config.idp.sso_url.clone(),
        certs_b64,
        valid_until: now + Duration::days(i64::from(config.idp.metadata_valid_days)),
        name_id_format: config.idp.name_id_format.clone(),
    };
    build_metadata(&params).ok_or(SetupError::Metadata)
}

/// Every certificate that may have signed a response or a checkpoint, by key id.
pub fn known_certs(config: &Config) -> Result<Vec<(String, openssl::x509::X509)>, SetupError> {
    let mut paths = vec![config.keys.signing_cert.clone(), config.audit.checkpoint_cert.clone()];
    paths.extend(config.keys.publish_certs.iter().cloned());
    let slots = Slots::of(&config.keys.signing_key, &config.keys.signing_cert);
    paths.extend(slots.published());
    paths.extend(slots.retired());
    let mut out: Vec<(String, openssl::x509::X509)> = Vec::new();
    for p in paths {
        if !p.exists() {
            continue;
        }
        let cert = keys::load_cert(&p)?;
        let id = hex(&openssl::sha::sha256(&cert.to_der().map_err(KeyError::from)?));
        if !out.iter().any(|(k, _)| *k == id) {
            out.push((id, cert));
        }
    }
    Ok(out)
}
