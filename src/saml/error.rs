//! Why a response could not be signed, encrypted or verified: one error for the
//! canonical signer and the libxmlsec1 boundary.

use super::canon::CanonError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("libxmlsec1 could not be initialised: {0}")]
    Init(&'static str),
    #[error("libxmlsec1 refused the signing key")]
    KeyLoad,
    #[error("the document to sign is not well-formed XML")]
    Parse,
    #[error("the document has no <{0}> to sign")]
    MissingNode(&'static str),
    #[error("libxmlsec1 failed to sign the document")]
    Sign,
    #[error("the document is too large to sign")]
    TooLarge,
    #[error("the signature does not verify: {0}")]
    Invalid(&'static str),
    #[error("cannot encrypt the assertion: {0}")]
    Encrypt(&'static str),
    #[error("cannot write the signature: {0}")]
    Canon(#[from] CanonError),
}

impl SignError {
    pub fn code(&self) -> &'static str {
        match self {
            SignError::Invalid(_) => "signature_invalid",
            SignError::Encrypt(_) => "encryption_failed",
            _ => "signing_failed",
        }
    }
}
