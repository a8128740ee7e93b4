//! SAML: the Response AWS sign-in accepts, built from a [`crate::core::Decision`],
//! written in canonical form and signed with one RSA operation (libxmlsec1 where the
//! Assertion is encrypted), and the IdP metadata IAM accepts.
//!
//! Invariant: no policy decision is made here; every value written was validated
//! before (core types) or is a constant of the protocol.

pub mod canon;
pub mod dsig;
pub mod encrypt;
pub mod metadata;
pub mod response;
pub mod sign;
mod xmlw;

pub use dsig::DsigKey;
pub use response::{build_response, ResponseParams, Unsigned};
pub use sign::{SignError, Signer, Targets};

/// SAML and XML-DSig names used by the builders.
pub mod ns {
    pub const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
    pub const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
    pub const METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
    pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
    pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
    pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
    pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
    pub const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
    pub const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
    pub const POST_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
    pub const AC_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified";
    pub const ATTR_ROLE: &str = "https://aws.amazon.com/SAML/Attributes/Role";
    pub const ATTR_SESSION_NAME: &str = "https://aws.amazon.com/SAML/Attributes/RoleSessionName";
    pub const ATTR_DURATION: &str = "https://aws.amazon.com/SAML/Attributes/SessionDuration";
    pub const ATTR_SOURCE_ID: &str = "https://aws.amazon.com/SAML/Attributes/SourceIdentity";
    pub const ATTR_TAG_PREFIX: &str = "https://aws.amazon.com/SAML/Attributes/PrincipalTag:";
}

/// NameID formats sesame can emit (AWS accepts persistent, transient or a full URI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameIdFormat {
    Persistent,
    Transient,
    Other(String),
}

impl NameIdFormat {
    pub fn uri(&self) -> &str {
        match self {
            NameIdFormat::Persistent => "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            NameIdFormat::Transient => "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
            NameIdFormat::Other(u) => u,
        }
    }
}

/// SAML's dateTime form: UTC, whole seconds, `Z`.
pub fn saml_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
