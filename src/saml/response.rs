//! Builds the unsigned SAML Response for AWS's IdP-initiated flow from a Decision.
//!
//! Shape (AWS-FACTS.md): Response(Issuer, [Signature], Status, Assertion(Issuer,
//! Signature, Subject(NameID, one bearer SubjectConfirmation with Recipient and
//! NotOnOrAfter), Conditions(NotBefore, NotOnOrAfter, AudienceRestriction),
//! AuthnStatement, AttributeStatement(Role, RoleSessionName, SessionDuration,
//! SourceIdentity, PrincipalTag:*))). Golden files in `tests/data/golden/` pin it.
//!
//! The document is written in canonical form ([`super::canon`]) with each namespace
//! declared where exclusive c14n renders it — `samlp` on the Response, `saml` on the
//! Response's Issuer and on the Assertion, `ds` on each Signature — so that the
//! Assertion and the Response are each, byte for byte, their own canonical form and
//! [`super::dsig`] signs them without parsing. The unsigned document has no Signature
//! elements; [`Unsigned`] records where they go.

use super::canon::{Canon, CanonError};
use super::ns;
use crate::core::text::saml_time;
use crate::core::{role_session_name, Decision, NameIdFormat, Nonce, Request, SessionNaming};

/// Everything about the Response that comes from configuration and keys.
#[derive(Debug, Clone)]
pub struct ResponseParams {
    pub issuer: String,
    pub acs_url: String,
    pub audience: String,
    pub name_id_format: NameIdFormat,
    /// Base64 DER of the signing certificate, placed in KeyInfo.
    pub cert_b64: String,
    pub sign_response: bool,
    /// PEM certificate of the IAM SAML provider: when set, the Assertion is encrypted to it.
    pub encrypt_to: Option<Vec<u8>>,
    /// RoleSessionName: per decision (default) or the user name.
    pub session_naming: SessionNaming,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("refused decisions have no response")]
    Refused,
    #[error("a response names at least one role")]
    NoRole,
    #[error("the XML writer failed: {0}")]
    Writer(#[from] CanonError),
}

/// The XML declaration that precedes the Response (outside every signed range).
pub const XML_DECL: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// The Response without signatures, and where the signatures belong.
#[derive(Debug, Clone)]
pub struct Unsigned {
    /// `<samlp:Response ...>...</samlp:Response>`, canonical, no XML declaration.
    pub xml: Vec<u8>,
    /// Offset right after the Response's Issuer: where a Response signature goes.
    pub response_sig_at: usize,
    /// Offsets of `<saml:Assertion` and right after `</saml:Assertion>`.
    pub assertion: std::ops::Range<usize>,
    /// Offset right after the Assertion's Issuer: where its signature goes.
    pub assertion_sig_at: usize,
    pub response_id: String,
    pub assertion_id: String,
}

fn attribute(x: &mut Canon, name: &str, value: &str) {
    x.start("saml:Attribute", None, &[("Name", name)]);
    x.leaf("saml:AttributeValue", &[], value);
    x.end("saml:Attribute");
}

/// Serializes the Response without signatures (attributes in canonical order). `roles`
/// are the Role attribute's values, `role-arn,provider-arn` each (several: the
/// console's role picker).
pub fn build_response(
    p: &ResponseParams,
    roles: &[String],
    req: &Request,
    d: &Decision,
    nonce: &Nonce,
) -> Result<Unsigned, BuildError> {
    if d.refusal.is_some() {
        return Err(BuildError::Refused);
    }
    if roles.is_empty() {
        return Err(BuildError::NoRole);
    }
    let response_id = nonce.response_id();
    let assertion_id = nonce.assertion_id();
    let now = saml_time(d.at);
    let not_on_or_after = saml_time(d.not_on_or_after);
    let user = req.user.as_str();
    let duration = d.session_duration.to_string();

    let mut x = Canon::new(2560 + 320 * d.sets.len() + 160 * roles.len());
    x.start(
        "samlp:Response",
        Some(("samlp", ns::PROTOCOL)),
        &[("Destination", &p.acs_url), ("ID", &response_id), ("IssueInstant", &now), ("Version", "2.0")],
    );
    x.start("saml:Issuer", Some(("saml", ns::ASSERTION)), &[]);
    x.text(&p.issuer);
    x.end("saml:Issuer");
    let response_sig_at = x.len();
    x.start("samlp:Status", None, &[]);
    x.empty("samlp:StatusCode", &[("Value", ns::SUCCESS)]);
    x.end("samlp:Status");

    let assertion_start = x.len();
    x.start(
        "saml:Assertion",
        Some(("saml", ns::ASSERTION)),
        &[("ID", &assertion_id), ("IssueInstant", &now), ("Version", "2.0")],
    );
    x.leaf("saml:Issuer", &[], &p.issuer);
    let assertion_sig_at = x.len();

    x.start("saml:Subject", None, &[]);
    x.leaf("saml:NameID", &[("Format", p.name_id_format.uri())], user);
    x.start("saml:SubjectConfirmation", None, &[("Method", ns::BEARER)]);
    x.empty("saml:SubjectConfirmationData", &[("NotOnOrAfter", &not_on_or_after), ("Recipient", &p.acs_url)]);
    x.end("saml:SubjectConfirmation");
    x.end("saml:Subject");

    x.start("saml:Conditions", None, &[("NotBefore", &now), ("NotOnOrAfter", &not_on_or_after)]);
    x.start("saml:AudienceRestriction", None, &[]);
    x.leaf("saml:Audience", &[], &p.audience);
    x.end("saml:AudienceRestriction");
    x.end("saml:Conditions");

    x.start(
        "saml:AuthnStatement",
        None,
        &[
            ("AuthnInstant", &now),
            ("SessionIndex", &assertion_id),
            ("SessionNotOnOrAfter", &saml_time(d.session_not_on_or_after)),
        ],
    );
    x.start("saml:AuthnContext", None, &[]);
    x.leaf("saml:AuthnContextClassRef", &[], ns::AC_UNSPECIFIED);
    x.end("saml:AuthnContext");
    x.end("saml:AuthnStatement");

    x.start("saml:AttributeStatement", None, &[]);
    x.start("saml:Attribute", None, &[("Name", ns::ATTR_ROLE)]);
    for r in roles {
        x.leaf("saml:AttributeValue", &[], r);
    }
    x.end("saml:Attribute");
    attribute(&mut x, ns::ATTR_SESSION_NAME, &role_session_name(&req.user, nonce, p.session_naming));
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
    let assertion_end = x.len();
    x.end("samlp:Response");
    Ok(Unsigned {
        xml: x.finish()?,
        response_sig_at,
        assertion: assertion_start..assertion_end,
        assertion_sig_at,
        response_id,
        assertion_id,
    })
}
