//! EncryptedAssertion for IAM SAML providers that require (or allow) encryption:
//! the signed Assertion is encrypted with a fresh AES-256-GCM session key, which is
//! itself encrypted to the provider's certificate with RSA-OAEP (MGF1-SHA1), through
//! libxmlsec1. Part of the libxmlsec1 boundary, like `sign.rs`.
//!
//! libxmlsec1's `xmlenc.h` is not in the bindings the `xmlsec` crate generates, so the
//! three functions are declared here and the one field sesame sets (`encKey`) is reached
//! through a `repr(C)` mirror of the start of `struct _xmlSecEncCtx` (xmlsec 1.2.37). The
//! mirror is checked against fields xmlsec itself initialises before it is written to;
//! a mismatch is an error, never a write.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::os::raw::{c_int, c_uint};
use std::ptr::{null, null_mut};

use xmlsec::bindings as x;

use super::error::SignError;

unsafe extern "C" {
    fn xmlSecEncCtxCreate(keys_mngr: x::xmlSecKeysMngrPtr) -> *mut c_void;
    fn xmlSecEncCtxDestroy(ctx: *mut c_void);
    fn xmlSecEncCtxXmlEncrypt(ctx: *mut c_void, tmpl: x::xmlNodePtr, node: x::xmlNodePtr) -> c_int;
}

/// The start of `struct _xmlSecEncCtx` up to `encKey` (xmlsec/xmlenc.h).
#[repr(C)]
struct EncCtxHead {
    user_data: *mut c_void,
    flags: c_uint,
    flags2: c_uint,
    mode: c_uint,
    key_info_read: x::xmlSecKeyInfoCtx,
    key_info_write: x::xmlSecKeyInfoCtx,
    transform_ctx: x::xmlSecTransformCtx,
    def_enc_method_id: x::xmlSecTransformId,
    enc_key: x::xmlSecKeyPtr,
}

struct Mngr(x::xmlSecKeysMngrPtr);
impl Drop for Mngr {
    fn drop(&mut self) {
        // SAFETY: created by xmlSecKeysMngrCreate; destroys the keys it adopted.
        unsafe { x::xmlSecKeysMngrDestroy(self.0) }
    }
}

struct EncCtx(*mut c_void);
impl Drop for EncCtx {
    fn drop(&mut self) {
        // SAFETY: created by xmlSecEncCtxCreate; destroys its session key.
        unsafe { xmlSecEncCtxDestroy(self.0) }
    }
}

const SAML_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion\0";

/// Replaces `assertion` (a child of `root`) by
/// `<saml:EncryptedAssertion><xenc:EncryptedData>…</xenc:EncryptedData></saml:EncryptedAssertion>`.
///
/// # Safety
/// `doc` and `assertion` must belong to one live document, `assertion` a child of its root.
pub(crate) unsafe fn encrypt_assertion(
    doc: x::xmlDocPtr,
    assertion: x::xmlNodePtr,
    recipient_cert_pem: &[u8],
) -> Result<(), SignError> {
    let fail = |m: &'static str| SignError::Encrypt(m);
    let len = c_uint::try_from(recipient_cert_pem.len()).map_err(|_| fail("certificate too large"))?;
    let mngr = Mngr(x::xmlSecKeysMngrCreate());
    if mngr.0.is_null() || x::xmlSecOpenSSLAppDefaultKeysMngrInit(mngr.0) < 0 {
        return Err(fail("keys manager"));
    }
    let rsa = x::xmlSecOpenSSLAppKeyLoadMemory(
        recipient_cert_pem.as_ptr(),
        len,
        x::xmlSecKeyDataFormat_xmlSecKeyDataFormatCertPem,
        null(),
        null_mut(),
        null_mut(),
    );
    if rsa.is_null() {
        return Err(fail("the encryption certificate does not load"));
    }
    if x::xmlSecOpenSSLAppDefaultKeysMngrAdoptKey(mngr.0, rsa) < 0 {
        x::xmlSecKeyDestroy(rsa);
        return Err(fail("keys manager"));
    }
    // The wrapper declares `saml` itself, as exclusive c14n would render it (the
    // Response declares only `samlp`, see `super::response`).
    let wrapper = x::xmlNewDocNode(doc, null_mut(), c"EncryptedAssertion".as_ptr().cast(), null());
    if wrapper.is_null() {
        return Err(fail("EncryptedAssertion"));
    }
    let ns = x::xmlNewNs(wrapper, SAML_NS.as_ptr(), c"saml".as_ptr().cast());
    if ns.is_null() {
        x::xmlFreeNode(wrapper);
        return Err(fail("EncryptedAssertion namespace"));
    }
    x::xmlSetNs(wrapper, ns);
    x::xmlReplaceNode(assertion, wrapper);
    if x::xmlAddChild(wrapper, assertion).is_null() {
        return Err(fail("EncryptedAssertion"));
    }
    let tmpl = x::xmlSecTmplEncDataCreate(
        doc,
        x::xmlSecOpenSSLTransformAes256GcmGetKlass(),
        null(),
        x::xmlSecTypeEncElement.as_ptr(),
        null(),
        null(),
    );
    if tmpl.is_null() || x::xmlSecTmplEncDataEnsureCipherValue(tmpl).is_null() {
        return Err(fail("EncryptedData template"));
    }
    let key_info = x::xmlSecTmplEncDataEnsureKeyInfo(tmpl, null());
    let enc_key = if key_info.is_null() {
        null_mut()
    } else {
        x::xmlSecTmplKeyInfoAddEncryptedKey(
            key_info,
            x::xmlSecOpenSSLTransformRsaOaepGetKlass(),
            null(),
            null(),
            null(),
        )
    };
    if enc_key.is_null() || x::xmlSecTmplEncDataEnsureCipherValue(enc_key).is_null() {
        x::xmlFreeNode(tmpl);
        return Err(fail("EncryptedKey template"));
    }
    let ctx = xmlSecEncCtxCreate(mngr.0);
    if ctx.is_null() {
        x::xmlFreeNode(tmpl);
        return Err(fail("encryption context"));
    }
    let ctx = EncCtx(ctx);
    let head = ctx.0.cast::<EncCtxHead>();
    let layout_ok = (*head).key_info_read.keysMngr == mngr.0
        && (*head).key_info_write.keysMngr == mngr.0
        && (*head).key_info_read.mode == x::xmlSecKeyInfoMode_xmlSecKeyInfoModeRead
        && (*head).key_info_write.mode == x::xmlSecKeyInfoMode_xmlSecKeyInfoModeWrite
        && (*head).enc_key.is_null();
    if !layout_ok {
        x::xmlFreeNode(tmpl);
        return Err(fail("libxmlsec1's encryption context does not have the expected layout"));
    }
    let session =
        x::xmlSecKeyGenerate(x::xmlSecOpenSSLKeyDataAesGetKlass(), 256, x::xmlSecKeyDataTypeSession);
    if session.is_null() {
        x::xmlFreeNode(tmpl);
        return Err(fail("session key"));
    }
    (*head).enc_key = session;
    if xmlSecEncCtxXmlEncrypt(ctx.0, tmpl, assertion) < 0 {
        return Err(fail("libxmlsec1 failed to encrypt the Assertion"));
    }
    Ok(())
}
