//! Enveloped XML signatures (RSA-SHA256, exclusive c14n) over documents sesame wrote in
//! canonical form ([`super::response`]): the digest is SHA-256 of a byte range, the
//! SignedInfo is written canonically, and the only expensive step left is the one RSA
//! private-key operation. No parsing, no canonicalizer, no libxml2 tree.
//!
//! libxmlsec1 stays the independent check: `tests/it/dsig.rs` compares digest and
//! signature values with libxmlsec1's for the same documents, and every minted golden
//! is verified by xmlsec1 and python3-saml. The encryption path, which must rewrite the
//! tree, still signs through libxmlsec1 ([`super::libxmlsec::Signer`]).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::Padding;
use openssl::sha::Sha256;

use super::canon::{Canon, CanonError};
use super::error::SignError;
use super::ns;
use super::response::{Unsigned, XML_DECL};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `<ds:SignedInfo>` for one Reference; `declare_ns` writes it as its own canonical
/// form (the bytes that are signed), without it as it sits inside `<ds:Signature>`.
fn signed_info(c: &mut Canon, reference_id: &str, digest_b64: &str, declare_ns: bool) {
    let uri = format!("#{reference_id}");
    c.start("ds:SignedInfo", declare_ns.then_some(("ds", ns::DSIG)), &[]);
    c.empty("ds:CanonicalizationMethod", &[("Algorithm", ns::EXC_C14N)]);
    c.empty("ds:SignatureMethod", &[("Algorithm", ns::RSA_SHA256)]);
    c.start("ds:Reference", None, &[("URI", &uri)]);
    c.start("ds:Transforms", None, &[]);
    c.empty("ds:Transform", &[("Algorithm", ns::ENVELOPED)]);
    c.empty("ds:Transform", &[("Algorithm", ns::EXC_C14N)]);
    c.end("ds:Transforms");
    c.empty("ds:DigestMethod", &[("Algorithm", ns::SHA256)]);
    c.leaf("ds:DigestValue", &[], digest_b64);
    c.end("ds:Reference");
    c.end("ds:SignedInfo");
}

/// The whole `<ds:Signature>` element; with empty digest and value it is the template
/// libxmlsec1 fills.
pub fn signature_element(
    reference_id: &str,
    digest_b64: &str,
    value_b64: &str,
    cert_b64: &str,
) -> Result<Vec<u8>, CanonError> {
    let mut c = Canon::new(1200 + cert_b64.len());
    c.start("ds:Signature", Some(("ds", ns::DSIG)), &[]);
    signed_info(&mut c, reference_id, digest_b64, false);
    c.leaf("ds:SignatureValue", &[], value_b64);
    c.start("ds:KeyInfo", None, &[]);
    c.start("ds:X509Data", None, &[]);
    c.leaf("ds:X509Certificate", &[], cert_b64);
    c.end("ds:X509Data");
    c.end("ds:KeyInfo");
    c.end("ds:Signature");
    c.finish()
}

/// The document with empty signature templates in place, for libxmlsec1
/// ([`super::libxmlsec::Signer`]): the encryption path and the cross-checks in tests.
pub fn template(u: &Unsigned, cert_b64: &str, sign_response: bool) -> Result<Vec<u8>, CanonError> {
    let a_sig = signature_element(&u.assertion_id, "", "", cert_b64)?;
    let mut out = Vec::with_capacity(XML_DECL.len() + u.xml.len() + 2 * a_sig.len());
    out.extend_from_slice(XML_DECL);
    out.extend_from_slice(&u.xml[..u.response_sig_at]);
    if sign_response {
        out.extend_from_slice(&signature_element(&u.response_id, "", "", cert_b64)?);
    }
    out.extend_from_slice(&u.xml[u.response_sig_at..u.assertion_sig_at]);
    out.extend_from_slice(&a_sig);
    out.extend_from_slice(&u.xml[u.assertion_sig_at..]);
    Ok(out)
}

/// SHA-256 of one byte range (the streaming API: OpenSSL 3's one-shot `SHA256()`
/// looks the algorithm up in the provider store, under a lock, on every call).
fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(bytes);
    h.finish()
}

/// Which implementation performs the private-key operation. Both give the same bytes
/// (PKCS#1 v1.5 is deterministic; [`DsigKey::new`] checks it for the key it loads, and
/// `tests/it/dsig.rs` compares them with libxmlsec1's); which one is faster depends on
/// the CPU (BENCHMARKS.md): AWS-LC has AVX-512 IFMA code for 3072-bit keys that
/// OpenSSL 3.0 lacks, and without IFMA the system's OpenSSL is the faster of the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// AWS-LC through aws-lc-rs.
    AwsLc,
    /// The system's OpenSSL 3 through the `openssl` crate.
    OpenSsl,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::AwsLc => "aws-lc",
            Engine::OpenSsl => "openssl",
        }
    }
}

/// How long one signature took in each engine when [`DsigKey::new`] measured them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measured {
    pub aws_lc_us: u64,
    pub openssl_us: u64,
}

/// Signatures per engine when choosing: the fastest of a few, taken in turns so that a
/// busy moment of the machine does not fall on one engine only.
const ROUNDS: usize = 5;

/// An RSA signing key, parsed once; signing takes one private-key operation, in the
/// [`Engine`] given or, without one, the one that signed this key faster on this CPU.
pub struct DsigKey {
    aws_lc: RsaKeyPair,
    openssl: PKey<Private>,
    rng: SystemRandom,
    engine: Engine,
    measured: Option<Measured>,
}

impl std::fmt::Debug for DsigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DsigKey(<key redacted>, {})", self.engine.name())
    }
}

impl DsigKey {
    /// Accepts RSA keys only: the signature method written is rsa-sha256. AWS-LC checks
    /// the key again as it loads it (2048 to 8192 bits, consistent CRT parameters). Both
    /// engines sign one test message first and must give the same bytes, or the key is
    /// refused; with `engine` `None`, each then signs [`ROUNDS`] more times and the
    /// faster one signs from then on.
    pub fn new(key: &PKey<Private>, engine: Option<Engine>) -> Result<Self, SignError> {
        if key.id() != Id::RSA {
            return Err(SignError::KeyLoad);
        }
        let der = zeroize::Zeroizing::new(key.private_key_to_pkcs8().map_err(|_| SignError::KeyLoad)?);
        let aws_lc = RsaKeyPair::from_pkcs8(&der).map_err(|_| SignError::KeyLoad)?;
        let mut k = Self {
            aws_lc,
            openssl: key.clone(),
            rng: SystemRandom::new(),
            engine: Engine::AwsLc,
            measured: None,
        };
        let probe = [0x5a_u8; 700]; // a SignedInfo's size
        if k.rsa(Engine::AwsLc, &probe)? != k.rsa(Engine::OpenSsl, &probe)? {
            return Err(SignError::Invalid("AWS-LC and OpenSSL sign this key differently"));
        }
        k.engine = match engine {
            Some(e) => e,
            None => {
                let m = k.measure(&probe)?;
                k.measured = Some(m);
                if m.openssl_us < m.aws_lc_us {
                    Engine::OpenSsl
                } else {
                    Engine::AwsLc
                }
            }
        };
        Ok(k)
    }

    /// The engine that signs.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// What choosing the engine measured (`None` when it was given).
    pub fn measured(&self) -> Option<Measured> {
        self.measured
    }

    /// The fastest of [`ROUNDS`] signatures in each engine, taken in turns.
    fn measure(&self, msg: &[u8]) -> Result<Measured, SignError> {
        let mut best = [u128::MAX; 2];
        for _ in 0..ROUNDS {
            for (slot, e) in best.iter_mut().zip([Engine::AwsLc, Engine::OpenSsl]) {
                let t = std::time::Instant::now();
                self.rsa(e, msg)?;
                *slot = (*slot).min(t.elapsed().as_micros());
            }
        }
        let us = |v: u128| u64::try_from(v).unwrap_or(u64::MAX);
        Ok(Measured { aws_lc_us: us(best[0]), openssl_us: us(best[1]) })
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `msg`, in `engine`.
    fn rsa(&self, engine: Engine, msg: &[u8]) -> Result<Vec<u8>, SignError> {
        match engine {
            Engine::AwsLc => {
                let mut value = vec![0; self.aws_lc.public_modulus_len()];
                self.aws_lc
                    .sign(&RSA_PKCS1_SHA256, &self.rng, msg, &mut value)
                    .map_err(|_| SignError::Sign)?;
                Ok(value)
            }
            Engine::OpenSsl => {
                let mut s = openssl::sign::Signer::new(MessageDigest::sha256(), &self.openssl)
                    .map_err(|_| SignError::Sign)?;
                s.set_rsa_padding(Padding::PKCS1).map_err(|_| SignError::Sign)?;
                s.update(msg).map_err(|_| SignError::Sign)?;
                s.sign_to_vec().map_err(|_| SignError::Sign)
            }
        }
    }

    /// The complete `<ds:Signature>` for a Reference to `reference_id` whose canonical
    /// form hashes to `digest`.
    fn signature(&self, reference_id: &str, digest: &[u8], cert_b64: &str) -> Result<Vec<u8>, SignError> {
        let digest_b64 = b64(digest);
        let mut si = Canon::new(1024);
        signed_info(&mut si, reference_id, &digest_b64, true);
        let si = si.finish()?;
        let value = self.rsa(self.engine, &si)?;
        Ok(signature_element(reference_id, &digest_b64, &b64(&value), cert_b64)?)
    }

    /// Signs the Assertion and, with `sign_response`, then the Response (whose digest
    /// covers the signed Assertion). Returns the document with its XML declaration.
    pub fn sign(&self, u: &Unsigned, cert_b64: &str, sign_response: bool) -> Result<Vec<u8>, SignError> {
        let (xml, at) = (&u.xml, u.assertion_sig_at);
        let assertion = xml.get(u.assertion.clone()).ok_or(SignError::MissingNode("saml:Assertion"))?;
        if !(u.response_sig_at <= u.assertion.start && u.assertion.contains(&at)) {
            return Err(SignError::MissingNode("ds:Signature position"));
        }
        let a_sig = self.signature(&u.assertion_id, &sha256(assertion), cert_b64)?;
        let r_sig = if sign_response {
            // The Response without its own Signature: the enveloped transform's output.
            let mut h = Sha256::new();
            h.update(&xml[..at]);
            h.update(&a_sig);
            h.update(&xml[at..]);
            self.signature(&u.response_id, &h.finish(), cert_b64)?
        } else {
            Vec::new()
        };
        let mut out = Vec::with_capacity(XML_DECL.len() + xml.len() + a_sig.len() + r_sig.len());
        out.extend_from_slice(XML_DECL);
        out.extend_from_slice(&xml[..u.response_sig_at]);
        out.extend_from_slice(&r_sig);
        out.extend_from_slice(&xml[u.response_sig_at..at]);
        out.extend_from_slice(&a_sig);
        out.extend_from_slice(&xml[at..]);
        Ok(out)
    }
}
