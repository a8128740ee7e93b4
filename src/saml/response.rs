//! Builds the unsigned SAML Response for AWS's IdP-initiated flow from a Decision.
//!
//! Shape (AWS-FACTS.md): Response(Issuer, [Signature], Status, Assertion(Issuer,
//! Signature, Subject(NameID, one bearer SubjectConfirmation with Recipient and
//! NotOnOrAfter), Conditions(NotBefore, NotOnOrAfter, AudienceRestriction),
//! AuthnStatement, AttributeStatement(Role, RoleSessionName, SessionDuration,
//! SourceIdentity, PrincipalTag:*))). Golden files in `tests/data/golden/` pin it.

use super::xmlw::XmlOut;
use super::{ns, saml_time, write_signature_template, NameIdFormat};
use crate::core::{Decision, Nonce, Request};

/// Everything about the Response that comes from configuration and keys.
#[derive(Debug, Clone)]
pub struct ResponseParams {
    pub issuer: String,
    pub acs_url: String,
    pub audience: String,
    pub name_id_format: NameIdFormat,
    /// `role-arn,provider-arn`
    pub role_value: String,
    /// Base64 DER of the signing certificate, placed in KeyInfo.
    pub cert_b64: String,
    pub sign_response: bool,
    /// PEM certificate of the IAM SAML provider: when set, the Assertion is encrypted to it.
    pub encrypt_to: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("refused decisions have no response")]
    Refused,
    #[error("the XML writer failed")]
    Writer,
}

fn attribute(x: &mut XmlOut, name: &str, value: &str) {
    x.start("saml:Attribute", &[("Name", name)]);
    x.leaf("saml:AttributeValue", &[], value);
    x.end("saml:Attribute");
}

/// Serializes the Response with empty signature template(s), ready for [`super::Signer`].
pub fn build_response(
    p: &ResponseParams,
    req: &Request,
    d: &Decision,
    nonce: &Nonce,
) -> Result<Vec<u8>, BuildError> {
    if d.refusal.is_some() {
        return Err(BuildError::Refused);
    }
    let response_id = nonce.response_id();
    let assertion_id = nonce.assertion_id();
    let now = saml_time(d.at);
    let not_on_or_after = saml_time(d.not_on_or_after);
    let user = req.user.as_str();
    let duration = d.session_duration.to_string();

    let mut x = XmlOut::new(4096 + 256 * d.sets.len());
    x.start(
        "samlp:Response",
        &[
            ("xmlns:samlp", ns::PROTOCOL),
            ("xmlns:saml", ns::ASSERTION),
            ("ID", &response_id),
            ("Version", "2.0"),
            ("IssueInstant", &now),
            ("Destination", &p.acs_url),
        ],
    );
    x.leaf("saml:Issuer", &[], &p.issuer);
    if p.sign_response {
        write_signature_template(&mut x, &response_id, &p.cert_b64);
    }
    x.start("samlp:Status", &[]);
    x.empty("samlp:StatusCode", &[("Value", ns::SUCCESS)]);
    x.end("samlp:Status");

    x.start("saml:Assertion", &[("ID", &assertion_id), ("Version", "2.0"), ("IssueInstant", &now)]);
    x.leaf("saml:Issuer", &[], &p.issuer);
    write_signature_template(&mut x, &assertion_id, &p.cert_b64);

    x.start("saml:Subject", &[]);
    x.leaf("saml:NameID", &[("Format", p.name_id_format.uri())], user);
    x.start("saml:SubjectConfirmation", &[("Method", ns::BEARER)]);
    x.empty("saml:SubjectConfirmationData", &[("NotOnOrAfter", &not_on_or_after), ("Recipient", &p.acs_url)]);
    x.end("saml:SubjectConfirmation");
    x.end("saml:Subject");

    x.start("saml:Conditions", &[("NotBefore", &now), ("NotOnOrAfter", &not_on_or_after)]);
    x.start("saml:AudienceRestriction", &[]);
    x.leaf("saml:Audience", &[], &p.audience);
    x.end("saml:AudienceRestriction");
    x.end("saml:Conditions");

    x.start(
        "saml:AuthnStatement",
        &[
            ("AuthnInstant", &now),
            ("SessionIndex", &assertion_id),
            ("SessionNotOnOrAfter", &saml_time(d.session_not_on_or_after)),
        ],
    );
    x.start("saml:AuthnContext", &[]);
    x.leaf("saml:AuthnContextClassRef", &[], ns::AC_UNSPECIFIED);
    x.end("saml:AuthnContext");
    x.end("saml:AuthnStatement");

    x.start("saml:AttributeStatement", &[]);
    attribute(&mut x, ns::ATTR_ROLE, &p.role_value);
    attribute(&mut x, ns::ATTR_SESSION_NAME, user);
    attribute(&mut x, ns::ATTR_DURATION, &duration);
    attribute(&mut x, ns::ATTR_SOURCE_ID, user);
    let mut name = String::with_capacity(ns::ATTR_TAG_PREFIX.len() + 32);
    for set in &d.sets {
        for (key, value) in &set.tags {
            name.clear();
            name.push_str(ns::ATTR_TAG_PREFIX);
            name.push_str(key);
            attribute(&mut x, &name, value);
        }
    }
    x.end("saml:AttributeStatement");
    x.end("saml:Assertion");
    x.end("samlp:Response");
    x.finish().ok_or(BuildError::Writer)
}
