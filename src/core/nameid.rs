//! The NameID formats sesame can emit: configuration chooses one, the SAML writer and
//! the metadata name it. AWS accepts persistent, transient or a full URI.

/// A NameID format.
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
