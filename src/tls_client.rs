//! The one TLS client configuration for sesame's outbound connections (LDAP, the
//! database): TLS 1.2+ with ring, and only the CAs of one PEM file as roots.

use std::path::Path;
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// A client config that trusts exactly the certificates in `ca` (PEM). The error names
/// the file and the cause.
pub fn trusting(ca: &Path) -> Result<ClientConfig, String> {
    let at = |e: &dyn std::fmt::Display| format!("{}: {e}", ca.display());
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).map_err(|e| at(&e))? {
        roots.add(c.map_err(|e| at(&e))?).map_err(|e| at(&e))?;
    }
    if roots.is_empty() {
        return Err(at(&"no certificate found"));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| at(&e))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
