//! The orchestration of one request, DESIGN steps 2-9, in order. Generic over the
//! adapter traits; fails closed: any lookup, build or signing error returns an error
//! and no response bytes.

use std::collections::HashMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};

use crate::adapters::{Directory, Grants, Inventory, LookupError, UserGroups};
use crate::config::{Config, Mapping};
use crate::core::{decide, Decision, InputError, Nonce, Policy, Request};
use crate::saml::response::BuildError;
use crate::saml::{build_response, ResponseParams, SignError, Signer, Targets};

/// Why nothing was minted.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error("bad input: {0}")]
    Input(#[from] InputError),
    #[error("unknown user {0:?}: the directory has no such account")]
    UnknownUser(String),
    #[error("refused: {}", .0.refusal.as_ref().map(ToString::to_string).unwrap_or_default())]
    Refused(Box<Decision>),
    #[error("{0}")]
    Lookup(#[from] LookupError),
    #[error("cannot build the response: {0}")]
    Build(#[from] BuildError),
    #[error("cannot sign the response: {0}")]
    Sign(#[from] SignError),
}

impl MintError {
    /// Stable machine code, for the API body, the audit record and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            MintError::Input(_) => "bad_input",
            MintError::UnknownUser(_) => "unknown_user",
            MintError::Refused(d) => d.refusal.as_ref().map_or("refused", |r| r.code()),
            MintError::Lookup(e) => e.code(),
            MintError::Build(_) => "build_failed",
            MintError::Sign(e) => e.code(),
        }
    }
}

/// A signed response and what the caller needs to deliver it.
#[derive(Debug, Clone)]
pub struct Minted {
    /// The exact signed Response bytes (UTF-8 XML).
    pub xml: Vec<u8>,
    pub response_id: String,
    pub assertion_id: String,
    /// Session Manager console deep link for the instance.
    pub relay_state: String,
    pub acs_url: String,
    pub request: Request,
    pub decision: Decision,
}

impl Minted {
    /// The SAMLResponse form value: standard base64 of the XML bytes.
    pub fn base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.xml)
    }
}

/// Everything one mint needs, built once at start-up.
pub struct Minter {
    pub params: ResponseParams,
    pub policy: Policy,
    pub mapping: Mapping,
    pub console_url: String,
    pub signer: Signer,
    pub directory: Box<dyn Directory>,
    pub grants: Box<dyn Grants>,
    pub inventory: Option<Box<dyn Inventory>>,
}

impl Minter {
    /// Response parameters derived from configuration and the signing certificate.
    pub fn params(config: &Config, cert_der: &[u8]) -> ResponseParams {
        ResponseParams {
            issuer: config.idp.entity_id.clone(),
            acs_url: config.aws.acs_url.clone(),
            audience: config.aws.audience.clone(),
            name_id_format: config.idp.name_id_format.clone(),
            role_value: format!("{},{}", config.aws.role_arn, config.aws.provider_arn),
            cert_b64: base64::engine::general_purpose::STANDARD.encode(cert_der),
            sign_response: config.idp.sign_response,
        }
    }

    /// Session Manager console deep link (AWS-FACTS.md, RelayState).
    pub fn relay_state(&self, req: &Request) -> String {
        format!(
            "{}/systems-manager/session-manager/{}?region={}",
            self.console_url.trim_end_matches('/'),
            req.instance,
            req.region
        )
    }

    /// Steps 2-7 and 9 for raw inputs (step 8, the audit append, joins here with the audit log).
    pub fn mint(
        &self,
        user: &str,
        instance_id: &str,
        region: &str,
        now: DateTime<Utc>,
        nonce: &Nonce,
    ) -> Result<Minted, MintError> {
        // 2. validate input
        let req = Request::parse(user, instance_id, region)?;
        // 3. entitlements(user)
        let groups = match self.directory.groups(&req.user)? {
            UserGroups::Unknown => return Err(MintError::UnknownUser(req.user.as_str().to_owned())),
            UserGroups::Disabled => Vec::new(),
            UserGroups::Member(g) => g,
        };
        let entitlements = self.mapping.entitlements_for(&groups);
        // 4. windows(user): grants; schedules travel inside the entitlements
        let grants = self.grants.grants(&req.user, now)?;
        // 5. tags(instance), when an inventory is configured and knows the instance
        let tags: Option<HashMap<String, String>> = match &self.inventory {
            Some(inv) => inv.tags(&req.instance, &req.region)?,
            None => None,
        };
        // 6. decide
        let decision = decide(now, nonce, &entitlements, &grants, tags.as_ref(), &self.policy);
        if decision.refusal.is_some() {
            return Err(MintError::Refused(Box::new(decision)));
        }
        // 7. mint: build, then sign
        let unsigned = build_response(&self.params, &req, &decision, nonce)?;
        let targets =
            if self.params.sign_response { Targets::AssertionThenResponse } else { Targets::Assertion };
        let xml = self.signer.sign(&unsigned, targets)?;
        // 9. respond
        Ok(Minted {
            xml,
            response_id: nonce.response_id(),
            assertion_id: nonce.assertion_id(),
            relay_state: self.relay_state(&req),
            acs_url: self.params.acs_url.clone(),
            request: req,
            decision,
        })
    }
}
