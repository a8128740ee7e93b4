//! IdP metadata for IAM `create-saml-provider`: an EntityDescriptor with one
//! IDPSSODescriptor, a signing KeyDescriptor per published certificate (the current
//! one first, then rotation candidates), the NameID formats and a validity.

use chrono::{DateTime, Utc};

use super::ns;
use super::xmlw::XmlOut;
use crate::core::text::saml_time;
use crate::core::NameIdFormat;

#[derive(Debug, Clone)]
pub struct MetadataParams {
    pub entity_id: String,
    pub sso_url: String,
    /// Base64 DER certificates, current first.
    pub certs_b64: Vec<String>,
    pub valid_until: DateTime<Utc>,
    pub name_id_format: NameIdFormat,
}

/// Serializes the metadata document (unsigned; IAM does not require a signature).
pub fn build_metadata(p: &MetadataParams) -> Option<Vec<u8>> {
    let mut x = XmlOut::new(2048 + 1500 * p.certs_b64.len());
    x.start(
        "md:EntityDescriptor",
        &[
            ("xmlns:md", ns::METADATA),
            ("xmlns:ds", ns::DSIG),
            ("entityID", &p.entity_id),
            ("validUntil", &saml_time(p.valid_until)),
        ],
    );
    x.start(
        "md:IDPSSODescriptor",
        &[("WantAuthnRequestsSigned", "false"), ("protocolSupportEnumeration", ns::PROTOCOL)],
    );
    for cert in &p.certs_b64 {
        x.start("md:KeyDescriptor", &[("use", "signing")]);
        x.start("ds:KeyInfo", &[]);
        x.start("ds:X509Data", &[]);
        x.leaf("ds:X509Certificate", &[], cert);
        x.end("ds:X509Data");
        x.end("ds:KeyInfo");
        x.end("md:KeyDescriptor");
    }
    let mut formats = vec![p.name_id_format.uri().to_owned()];
    for f in [NameIdFormat::Persistent, NameIdFormat::Transient] {
        if !formats.iter().any(|u| u == f.uri()) {
            formats.push(f.uri().to_owned());
        }
    }
    for f in &formats {
        x.leaf("md:NameIDFormat", &[], f);
    }
    x.empty("md:SingleSignOnService", &[("Binding", ns::POST_BINDING), ("Location", &p.sso_url)]);
    x.end("md:IDPSSODescriptor");
    x.end("md:EntityDescriptor");
    x.finish()
}
