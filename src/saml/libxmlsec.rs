//! The libxmlsec1 boundary: verifying enveloped XML signatures (RSA-SHA256, exclusive
//! c14n), and signing where the tree must be rewritten (encrypted Assertions; plain
//! Responses are signed by [`super::dsig`] without a parse). Tests also sign with it to
//! check [`super::dsig`] against an independent canonicalizer.
//!
//! With `encrypt.rs`, this is the crate's only `unsafe` code. The key is parsed once into an xmlsec key
//! ([`Signer::new`]); each signature duplicates it (a reference-count increment in
//! xmlsec-openssl) into a fresh `xmlSecDSigCtx`. Documents are parsed from the bytes
//! [`super::dsig::template`] serialized, signed in place and dumped once.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::os::raw::{c_char, c_int};
use std::ptr::{null, null_mut};
use std::sync::OnceLock;

use xmlsec::bindings as x;

use super::error::SignError;

static INIT: OnceLock<Result<(), SignError>> = OnceLock::new();

fn init() -> Result<(), SignError> {
    INIT.get_or_init(|| {
        // SAFETY: called once (OnceLock) before any other xmlsec/libxml call made by
        // this module; the functions take no pointers.
        unsafe {
            x::xmlInitParser();
            if x::xmlSecInit() < 0 {
                return Err(SignError::Init("xmlSecInit"));
            }
            if x::xmlSecOpenSSLAppInit(null()) < 0 {
                return Err(SignError::Init("xmlSecOpenSSLAppInit"));
            }
            if x::xmlSecOpenSSLInit() < 0 {
                return Err(SignError::Init("xmlSecOpenSSLInit"));
            }
        }
        Ok(())
    })
    .clone()
}

/// An xmlsec key owned by this process. Only duplicated (read) after construction.
struct Key(x::xmlSecKeyPtr);

// SAFETY: the key is never mutated after `Signer::new`; `xmlSecKeyDuplicate` only reads
// it and takes new references to the OpenSSL EVP_PKEY (atomic reference counts).
unsafe impl Send for Key {}
unsafe impl Sync for Key {}

impl Drop for Key {
    fn drop(&mut self) {
        // SAFETY: the pointer came from xmlSecOpenSSLAppKeyLoadMemory and is owned here.
        unsafe { x::xmlSecKeyDestroy(self.0) }
    }
}

/// Signs SAML documents with one RSA key, parsed once.
pub struct Signer {
    key: Key,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(<key redacted>)")
    }
}

/// Where the signature templates sit: the Assertion's, and optionally the Response's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Targets {
    Assertion,
    AssertionThenResponse,
}

struct Doc(x::xmlDocPtr);
impl Drop for Doc {
    fn drop(&mut self) {
        // SAFETY: the document came from xmlReadMemory and is freed exactly once.
        unsafe { x::xmlFreeDoc(self.0) }
    }
}

struct Ctx(*mut x::xmlSecDSigCtx);
impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: created by xmlSecDSigCtxCreate; destroying it also destroys its signKey.
        unsafe { x::xmlSecDSigCtxDestroy(self.0) }
    }
}

const SAML_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion\0";

fn parse(xml: &[u8]) -> Result<Doc, SignError> {
    let len = c_int::try_from(xml.len()).map_err(|_| SignError::TooLarge)?;
    // SAFETY: `xml` is valid for `len` bytes; NONET forbids network access.
    let doc = unsafe {
        x::xmlReadMemory(
            xml.as_ptr().cast::<c_char>(),
            len,
            c"response.xml".as_ptr(),
            c"UTF-8".as_ptr(),
            x::xmlParserOption_XML_PARSE_NONET as c_int,
        )
    };
    if doc.is_null() {
        return Err(SignError::Parse);
    }
    Ok(Doc(doc))
}

/// The Response root and its Assertion child, with `ID` attributes registered so that
/// signature references resolve.
///
/// # Safety
/// `doc` must be a live parsed document.
unsafe fn response_and_assertion(doc: &Doc) -> Result<(x::xmlNodePtr, x::xmlNodePtr), SignError> {
    let root = x::xmlDocGetRootElement(doc.0);
    if root.is_null() {
        return Err(SignError::MissingNode("Response"));
    }
    let mut ids: [*const x::xmlChar; 2] = [c"ID".as_ptr().cast(), null()];
    x::xmlSecAddIDs(doc.0, root, ids.as_mut_ptr());
    let assertion = x::xmlSecFindChild(root, c"Assertion".as_ptr().cast(), SAML_NS.as_ptr());
    if assertion.is_null() {
        return Err(SignError::MissingNode("saml:Assertion"));
    }
    Ok((root, assertion))
}

/// Reads attribute `name` of `node` as a Rust string.
///
/// # Safety
/// `node` must be a live element of a live document.
unsafe fn attr(node: x::xmlNodePtr, name: &std::ffi::CStr) -> Option<String> {
    let v = x::xmlGetProp(node, name.as_ptr().cast());
    if v.is_null() {
        return None;
    }
    let s = std::ffi::CStr::from_ptr(v.cast::<c_char>()).to_string_lossy().into_owned();
    if let Some(free) = x::xmlFree {
        free(v.cast::<c_void>());
    }
    Some(s)
}

/// Verifies the enveloped signature of the Assertion in a SAML Response with the public
/// key of `cert_pem`, and that its single Reference points at that Assertion (no
/// signature wrapping). Returns the Assertion's ID.
pub fn verify_assertion(xml: &[u8], cert_pem: &[u8]) -> Result<String, SignError> {
    init()?;
    // A SAML Response never carries a DTD; refusing one rules out entity tricks.
    if xml.windows(9).any(|w| w.eq_ignore_ascii_case(b"<!DOCTYPE")) {
        return Err(SignError::Invalid("the document has a DTD"));
    }
    let doc = parse(xml)?;
    let len = std::os::raw::c_uint::try_from(cert_pem.len()).map_err(|_| SignError::KeyLoad)?;
    // SAFETY: as in `Signer::sign`: pointers are checked or owned by the live document.
    unsafe {
        let (_, assertion) = response_and_assertion(&doc)?;
        let dsig = x::xmlSecDSigNs.as_ptr();
        let id = attr(assertion, c"ID").ok_or(SignError::MissingNode("Assertion ID"))?;
        let sig = x::xmlSecFindChild(assertion, x::xmlSecNodeSignature.as_ptr(), dsig);
        if sig.is_null() {
            return Err(SignError::Invalid("the Assertion is not signed"));
        }
        let info = x::xmlSecFindChild(sig, x::xmlSecNodeSignedInfo.as_ptr(), dsig);
        let reference = if info.is_null() {
            null_mut()
        } else {
            x::xmlSecFindChild(info, x::xmlSecNodeReference.as_ptr(), dsig)
        };
        if reference.is_null() || attr(reference, c"URI").as_deref() != Some(&format!("#{id}")) {
            return Err(SignError::Invalid(
                "the signature does not reference the Assertion that contains it",
            ));
        }
        let key = x::xmlSecOpenSSLAppKeyLoadMemory(
            cert_pem.as_ptr(),
            len,
            x::xmlSecKeyDataFormat_xmlSecKeyDataFormatCertPem,
            null(),
            null_mut(),
            null_mut(),
        );
        if key.is_null() {
            return Err(SignError::KeyLoad);
        }
        let ctx = x::xmlSecDSigCtxCreate(null_mut());
        if ctx.is_null() {
            x::xmlSecKeyDestroy(key);
            return Err(SignError::Sign);
        }
        let ctx = Ctx(ctx);
        (*ctx.0).signKey = key;
        (*ctx.0).enabledReferenceUris = x::xmlSecTransformUriTypeSameDocument as x::xmlSecTransformUriType;
        if x::xmlSecDSigCtxVerify(ctx.0, sig) < 0 {
            return Err(SignError::Invalid("libxmlsec1 could not process the signature"));
        }
        if (*ctx.0).status != x::xmlSecDSigStatus_xmlSecDSigStatusSucceeded {
            return Err(SignError::Invalid("the digest or signature value does not match"));
        }
        Ok(id)
    }
}

impl Signer {
    /// Parses a PEM private key (PKCS#1 or PKCS#8) into libxmlsec1, once.
    pub fn new(key_pem: &[u8]) -> Result<Self, SignError> {
        init()?;
        let len = std::os::raw::c_uint::try_from(key_pem.len()).map_err(|_| SignError::KeyLoad)?;
        // SAFETY: the buffer is valid for `len` bytes; no password or callbacks are used.
        let key = unsafe {
            x::xmlSecOpenSSLAppKeyLoadMemory(
                key_pem.as_ptr(),
                len,
                x::xmlSecKeyDataFormat_xmlSecKeyDataFormatPem,
                null(),
                null_mut(),
                null_mut(),
            )
        };
        if key.is_null() {
            return Err(SignError::KeyLoad);
        }
        Ok(Self { key: Key(key) })
    }

    /// Parses `xml`, fills the signature template(s) and returns the signed document.
    /// The Assertion is signed first, so a Response signature covers the signed Assertion.
    pub fn sign(&self, xml: &[u8], targets: Targets) -> Result<Vec<u8>, SignError> {
        self.sign_encrypt(xml, targets, None)
    }

    /// As [`Signer::sign`]; with `encrypt_to` (a PEM certificate) the signed Assertion is
    /// then encrypted to it, before the Response is signed.
    pub fn sign_encrypt(
        &self,
        xml: &[u8],
        targets: Targets,
        encrypt_to: Option<&[u8]>,
    ) -> Result<Vec<u8>, SignError> {
        let doc = parse(xml)?;
        // SAFETY: every pointer below is either checked for null or comes from libxml2
        // for this live document; static strings are NUL-terminated.
        unsafe {
            let (root, assertion) = response_and_assertion(&doc)?;
            let dsig = x::xmlSecDSigNs.as_ptr();
            let sig_name = x::xmlSecNodeSignature.as_ptr();
            let a_sig = x::xmlSecFindChild(assertion, sig_name, dsig);
            if a_sig.is_null() {
                return Err(SignError::MissingNode("ds:Signature in the Assertion"));
            }
            self.sign_node(a_sig)?;
            if let Some(cert) = encrypt_to {
                super::encrypt::encrypt_assertion(doc.0, assertion, cert)?;
            }
            if targets == Targets::AssertionThenResponse {
                let r_sig = x::xmlSecFindChild(root, sig_name, dsig);
                if r_sig.is_null() {
                    return Err(SignError::MissingNode("ds:Signature in the Response"));
                }
                self.sign_node(r_sig)?;
            }
            let mut out: *mut x::xmlChar = null_mut();
            let mut size: c_int = 0;
            x::xmlDocDumpMemoryEnc(doc.0, &mut out, &mut size, c"UTF-8".as_ptr());
            if out.is_null() {
                return Err(SignError::Sign);
            }
            let bytes = std::slice::from_raw_parts(out, usize::try_from(size).unwrap_or(0)).to_vec();
            if let Some(free) = x::xmlFree {
                free(out.cast::<c_void>());
            }
            Ok(bytes)
        }
    }

    /// # Safety
    /// `node` must be a `ds:Signature` template inside a live document.
    unsafe fn sign_node(&self, node: x::xmlNodePtr) -> Result<(), SignError> {
        let ctx = x::xmlSecDSigCtxCreate(null_mut());
        if ctx.is_null() {
            return Err(SignError::Sign);
        }
        let ctx = Ctx(ctx);
        let key = x::xmlSecKeyDuplicate(self.key.0);
        if key.is_null() {
            return Err(SignError::KeyLoad);
        }
        (*ctx.0).signKey = key;
        if x::xmlSecDSigCtxSign(ctx.0, node) < 0 {
            return Err(SignError::Sign);
        }
        Ok(())
    }
}
