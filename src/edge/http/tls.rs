//! TLS for `sesame serve`: rustls (TLS 1.2 and 1.3 only) with client certificates
//! verified against the configured CA. Certificates, key and CA are reloadable (SIGHUP)
//! without dropping connections: new handshakes use the new material.
//!
//! A presented certificate that does not verify fails the handshake and is counted for
//! the audit log (`super::denials`: kind `access`, per interval, no write inside the
//! handshake). A connection without a certificate is accepted at the TLS layer and
//! refused by `super::auth` before any handler runs (and counted there), so both cases
//! leave a record.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme};

use super::denials::{Denial, Denials};

/// The files TLS is built from.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: PathBuf,
}

struct Material {
    key: Arc<CertifiedKey>,
    verifier: Arc<dyn ClientCertVerifier>,
}

/// The live TLS material; `reload` swaps it.
pub struct Reloadable {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<Material>>,
    denials: Arc<Denials>,
    wall_clock: fn() -> chrono::DateTime<chrono::Utc>,
}

fn load(files: &TlsFiles, provider: &Arc<CryptoProvider>) -> Result<Material, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", files.cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate", files.cert.display()));
    }
    let pem = crate::secrets::read(&files.key).map_err(|e| e.to_string())?;
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| format!("{}: {e}", files.key.display()))?;
    let signing =
        provider.key_provider.load_private_key(key).map_err(|e| format!("{}: {e}", files.key.display()))?;
    let key = Arc::new(CertifiedKey::new(certs, signing));
    key.keys_match()
        .map_err(|e| format!("{} does not match {}: {e}", files.key.display(), files.cert.display()))?;
    let mut roots = RootCertStore::empty();
    let cas = CertificateDer::pem_file_iter(&files.client_ca)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", files.client_ca.display()))?;
    for c in cas {
        roots.add(c).map_err(|e| format!("{}: {e}", files.client_ca.display()))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("{}: {e}", files.client_ca.display()))?;
    Ok(Material { key, verifier })
}

impl Reloadable {
    pub fn new(
        files: TlsFiles,
        denials: Arc<Denials>,
        wall_clock: fn() -> chrono::DateTime<chrono::Utc>,
    ) -> Result<Arc<Self>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let m = load(&files, &provider)?;
        Ok(Arc::new(Self { files, provider, current: RwLock::new(Arc::new(m)), denials, wall_clock }))
    }

    /// Re-reads the files; on any error keeps the current material.
    pub fn reload(&self) -> Result<(), String> {
        let m = load(&self.files, &self.provider)?;
        let mut g = self.current.write().map_err(|_| "TLS state lock poisoned".to_owned())?;
        *g = Arc::new(m);
        Ok(())
    }

    fn material(&self) -> Option<Arc<Material>> {
        self.current.read().ok().map(|g| g.clone())
    }

    /// The rustls configuration whose resolver and verifier read the live material.
    pub fn server_config(self: &Arc<Self>) -> Result<ServerConfig, String> {
        let cfg = ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| e.to_string())?
            .with_client_cert_verifier(Arc::new(Verifier(self.clone())))
            .with_cert_resolver(Arc::new(Resolver(self.clone())));
        Ok(cfg)
    }
}

#[derive(Debug)]
struct Resolver(Arc<Reloadable>);
#[derive(Debug)]
struct Verifier(Arc<Reloadable>);

impl std::fmt::Debug for Reloadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloadable").field("files", &self.files).finish_non_exhaustive()
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.material().map(|m| m.key.clone())
    }
}

impl ClientCertVerifier for Verifier {
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let m = self.0.material().ok_or(rustls::Error::General("TLS state unavailable".into()))?;
        let r = m.verifier.verify_client_cert(end_entity, intermediates, now);
        if let Err(e) = &r {
            let subject = super::auth::identities(end_entity.as_ref()).join(" ");
            self.0.denials.note(Denial {
                source: "tls-handshake",
                code: "client_certificate_rejected",
                caller: &subject,
                request_id: None,
                message: e.to_string(),
                time: (self.0.wall_clock)(),
            });
        }
        r
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let m = self.0.material().ok_or(rustls::Error::General("TLS state unavailable".into()))?;
        m.verifier.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let m = self.0.material().ok_or(rustls::Error::General("TLS state unavailable".into()))?;
        m.verifier.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.material().map(|m| m.verifier.supported_verify_schemes()).unwrap_or_default()
    }
}
