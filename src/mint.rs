//! The orchestration of one request, DESIGN steps 2-9, in order. Generic over the
//! adapter traits; fails closed: any lookup, build, signing or audit error returns an
//! error and no response bytes. Every attempt — minted, refused, failed — is appended
//! to the audit log, and a response is returned only after its record is durable.

use std::collections::HashMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};

use crate::adapters::{Directory, Grants, Inventory, LookupError, UserGroups};
use crate::audit::record::{clip, outcome, sets};
use crate::audit::{AuditError, AuditLog, Entry, Kind, Receipt};
use crate::config::{Config, Mapping};
use crate::core::{decide, Decision, InputError, Nonce, Policy, Request};
use crate::saml::response::BuildError;
use crate::saml::{build_response, saml_time, DsigKey, ResponseParams, SignError, Signer, Targets};

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
    #[error("{0}; no response was released")]
    Audit(#[from] AuditError),
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
            MintError::Audit(e) => e.code(),
        }
    }

    /// `refused` for what the caller asked wrongly or may not have; `failed` for ours.
    pub fn outcome(&self) -> &'static str {
        match self {
            MintError::Input(_) | MintError::UnknownUser(_) | MintError::Refused(_) => "refused",
            MintError::Lookup(_) | MintError::Build(_) | MintError::Sign(_) | MintError::Audit(_) => "failed",
        }
    }
}

/// A request as it arrives, before validation, with who sent it.
#[derive(Debug, Clone, Default)]
pub struct MintInput {
    pub user: String,
    pub instance_id: String,
    pub region: String,
    /// The authenticated caller (certificate identity, or `cli`).
    pub caller: Option<String>,
    /// The caller's or the server's request ID, for correlation.
    pub request_id: Option<String>,
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
    /// The durable audit record of this response.
    pub receipt: Receipt,
}

impl Minted {
    /// The SAMLResponse form value: standard base64 of the XML bytes.
    pub fn base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.xml)
    }
}

/// The signing key (parsed once: for [`DsigKey`], and into libxmlsec1 for the
/// encryption path) and the Response parameters that name its certificate; swapped as
/// a whole when the key is rotated.
pub struct Signing {
    pub params: ResponseParams,
    pub key: DsigKey,
    pub signer: Signer,
}

/// Everything one mint needs, built once at start-up.
pub struct Minter {
    pub signing: std::sync::RwLock<std::sync::Arc<Signing>>,
    pub policy: Policy,
    pub mapping: Mapping,
    pub console_url: String,
    pub directory: Box<dyn Directory>,
    pub grants: std::sync::Arc<dyn Grants>,
    /// The same grants source when it can record grants (the embedded SQLite store).
    pub grant_store: Option<std::sync::Arc<dyn crate::adapters::GrantStore>>,
    pub inventory: Option<Box<dyn Inventory>>,
    pub audit: std::sync::Arc<dyn AuditLog>,
    /// Stamps audit records with the real time (the decision's `now` may be pinned).
    pub wall_clock: fn() -> DateTime<Utc>,
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
            encrypt_to: None,
        }
    }

    /// The current signing state (a cheap `Arc` clone).
    pub fn signing(&self) -> Result<std::sync::Arc<Signing>, MintError> {
        self.signing.read().map(|g| g.clone()).map_err(|_| MintError::Sign(SignError::KeyLoad))
    }

    /// Replaces the signing key and certificate (key rotation, SIGHUP); requests in
    /// flight finish with the key they started with.
    pub fn replace_signing(&self, s: Signing) {
        if let Ok(mut g) = self.signing.write() {
            *g = std::sync::Arc::new(s);
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

    /// Convenience for callers without a caller identity or request ID.
    pub fn mint(
        &self,
        user: &str,
        instance_id: &str,
        region: &str,
        now: DateTime<Utc>,
        nonce: &Nonce,
    ) -> Result<Minted, MintError> {
        let input = MintInput {
            user: user.into(),
            instance_id: instance_id.into(),
            region: region.into(),
            caller: None,
            request_id: None,
        };
        self.mint_input(&input, now, nonce)
    }

    /// Steps 2-9 for one request. Every outcome is audited; a failure to audit a
    /// minted response withholds the response.
    pub fn mint_input(
        &self,
        input: &MintInput,
        now: DateTime<Utc>,
        nonce: &Nonce,
    ) -> Result<Minted, MintError> {
        let (outcome, entry) = self.mint_unaudited(input, now, nonce);
        // 8. audit.append: durable before the response leaves
        Self::release(outcome, self.audit.append(Kind::Decision, entry))
    }

    /// True when every source answers locally ([`crate::adapters::Directory::local`]):
    /// minting then never waits on a network, only on the CPU.
    pub fn local(&self) -> bool {
        self.directory.local() && self.grants.local() && self.inventory.as_ref().is_none_or(|i| i.local())
    }

    /// Steps 2-7: the outcome, and the audit record that must be durable before the
    /// outcome may be released ([`Minter::release`]). For callers that wait for the
    /// audit writer asynchronously ([`crate::audit::AuditLog::submit`]).
    pub fn mint_unaudited(
        &self,
        input: &MintInput,
        now: DateTime<Utc>,
        nonce: &Nonce,
    ) -> (Result<Minted, MintError>, Entry) {
        let wall = (self.wall_clock)();
        let mut entry = Entry {
            time: saml_time(wall),
            caller: input.caller.as_deref().map(|c| clip(c, 256)),
            request_id: input.request_id.as_deref().map(|r| clip(r, 128)),
            user: Some(clip(&input.user, 128)),
            instance: Some(clip(&input.instance_id, 64)),
            region: Some(clip(&input.region, 64)),
            ..Entry::default()
        };
        // A pinned decision time (`mint --at`) is noted; a tick between two clock reads is not.
        if (wall - now).num_seconds().abs() > 1 {
            entry.message = Some(format!("decided at {}", saml_time(now)));
        }
        let outcome = self.steps(input, now, nonce, &mut entry);
        if let Err(e) = &outcome {
            entry.outcome = Some(e.outcome().to_owned());
            entry.code = Some(e.code().to_owned());
            entry.message = Some(clip(&e.to_string(), 512));
            if let MintError::Refused(d) = e {
                entry.omitted = d.omitted.iter().map(|g| g.as_str().to_owned()).collect();
            }
        }
        (outcome, entry)
    }

    /// Step 8's rule: a minted response is released only with the receipt of its
    /// durable record; an error stands whether or not its record could be written.
    pub fn release(
        outcome: Result<Minted, MintError>,
        receipt: Result<Receipt, AuditError>,
    ) -> Result<Minted, MintError> {
        let mut minted = outcome?;
        minted.receipt = receipt?;
        Ok(minted)
    }

    fn steps(
        &self,
        input: &MintInput,
        now: DateTime<Utc>,
        nonce: &Nonce,
        entry: &mut Entry,
    ) -> Result<Minted, MintError> {
        // 2. validate input
        let req = Request::parse(&input.user, &input.instance_id, &input.region)?;
        // 3. entitlements(user)
        let groups = match self.directory.groups(&req.user)? {
            UserGroups::Unknown => return Err(MintError::UnknownUser(req.user.as_str().to_owned())),
            UserGroups::Disabled => Vec::new(),
            UserGroups::Member(g) => g,
        };
        let (entitlements, problems) = self.mapping.map(&groups);
        entry.problems = problems.iter().map(ToString::to_string).collect();
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
        let signing = self.signing()?;
        let p = &signing.params;
        let unsigned = build_response(p, &req, &decision, nonce)?;
        let xml = match p.encrypt_to.as_deref() {
            None => signing.key.sign(&unsigned, &p.cert_b64, p.sign_response)?,
            Some(to) => {
                let targets =
                    if p.sign_response { Targets::AssertionThenResponse } else { Targets::Assertion };
                let template = unsigned.template(&p.cert_b64, p.sign_response).map_err(SignError::from)?;
                signing.signer.sign_encrypt(&template, targets, Some(to))?
            }
        };
        entry.outcome = Some(outcome(&decision).to_owned());
        entry.assertion_id = Some(nonce.assertion_id());
        entry.response_id = Some(nonce.response_id());
        entry.response_sha256 = Some(crate::audit::chain::hex(&crate::audit::chain::sha256(&xml)));
        entry.session_duration = Some(decision.session_duration);
        entry.not_on_or_after = Some(saml_time(decision.not_on_or_after));
        entry.sets = sets(&decision);
        entry.omitted = decision.omitted.iter().map(|g| g.as_str().to_owned()).collect();
        // 9. respond (after step 8 in `mint_input`)
        Ok(Minted {
            xml,
            response_id: nonce.response_id(),
            assertion_id: nonce.assertion_id(),
            relay_state: self.relay_state(&req),
            acs_url: signing.params.acs_url.clone(),
            request: req,
            decision,
            receipt: Receipt { seq: 0, hash: String::new() },
        })
    }
}
