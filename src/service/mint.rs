//! Minting one request, DESIGN steps 2-8, in order. Generic over the adapter traits;
//! fails closed: any lookup, build, signing or audit error returns an error and no
//! response bytes. Every attempt — minted, refused, failed — is appended to the audit
//! log.
//!
//! The receipt rule is in the types: steps 2-7 ([`Minter::prepare`]) give a
//! [`Pending`], whose signed bytes are private; step 8 ([`Pending::commit`], or
//! [`Pending::commit_async`] for the async edge) writes its record and only a durable
//! [`Receipt`] turns it into a [`Minted`], the one value that carries response bytes.
//! A `Receipt` is made only by the audit log, so neither edge can skip step 8. The
//! bytes come out of a committed mint:
//!
//! ```no_run
//! fn bytes(p: sesame::service::mint::Pending, log: &dyn sesame::audit::AuditLog) -> Vec<u8> {
//!     p.commit(log).map(|m| m.xml().to_vec()).unwrap_or_default()
//! }
//! ```
//!
//! and not out of a pending one (the same function, reaching past `commit`):
//!
//! ```compile_fail,E0616
//! fn bytes(p: sesame::service::mint::Pending, log: &dyn sesame::audit::AuditLog) -> Vec<u8> {
//!     p.signed.map(|s| s.xml).unwrap_or_default()
//! }
//! ```

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use chrono::{DateTime, Utc};

use crate::adapters::{Directory, GrantStore, Grants, Inventory, LookupError, UserGroups};
use crate::audit::chain::sha256;
use crate::audit::log::{durable, AuditError, AuditLog, Coming, Receipt};
use crate::audit::record::{outcome, sets, Entry, Kind};
use crate::core::accounts::{Accounts, RolePair};
use crate::core::decide::decide_picker;
use crate::core::mapping::Mapping;
use crate::core::text::{clip, hex, saml_time};
use crate::core::Entitlement;
use crate::core::{decide, role_session_name, Decision, InputError, Nonce, Policy, Request};
use crate::saml::dsig::DsigKey;
use crate::saml::error::SignError;
use crate::saml::libxmlsec::{Signer, Targets};
use crate::saml::response::{build_response, BuildError, ResponseParams};

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
    /// The authenticated caller (certificate identity, or `cli:<user>`).
    pub caller: Option<String>,
    /// The caller's or the server's request ID, for correlation.
    pub request_id: Option<String>,
    /// The account the caller believes the instance is in: checked against the
    /// inventory's, used only where the inventory does not say.
    pub account_id: Option<String>,
    /// Ask for the console's role picker: one Role value per account where an open
    /// set reaches an instance (needs an inventory).
    pub role_picker: bool,
}

/// Signed bytes that have not been recorded yet: never visible outside this module.
struct Signed {
    xml: Vec<u8>,
    response_id: String,
    assertion_id: String,
    relay_state: String,
    acs_url: String,
    request: Request,
    decision: Decision,
    roles: Vec<RolePair>,
}

/// Steps 2-7 done: the signed response (or why there is none) and the audit record
/// that must be durable before anything leaves. Only [`Pending::commit`] and
/// [`Pending::commit_async`] open it.
#[must_use = "a pending mint must be committed: its record is not written yet"]
pub struct Pending {
    signed: Result<Signed, MintError>,
    entry: Entry,
    /// Announced to the audit writer when the mint began (group commit).
    coming: Coming,
}

impl Pending {
    /// Step 8, waiting on this thread: appends the record, then releases.
    pub fn commit(self, audit: &dyn AuditLog) -> Result<Minted, MintError> {
        self.coming.arrived();
        let receipt = audit.append(Kind::Decision, self.entry);
        release(self.signed, receipt)
    }

    /// Step 8 without holding a thread: the writer resolves the receipt after its
    /// `fdatasync`, then the response is released.
    pub async fn commit_async(self, audit: &dyn AuditLog) -> Result<Minted, MintError> {
        self.coming.arrived();
        let submitted = audit.submit(Kind::Decision, self.entry);
        release(self.signed, durable(submitted).await)
    }
}

/// The rule of step 8: a response is released only with the receipt of its durable
/// record; an error stands whether or not its record could be written.
fn release(
    signed: Result<Signed, MintError>,
    receipt: Result<Receipt, AuditError>,
) -> Result<Minted, MintError> {
    let s = signed?;
    let receipt = receipt?;
    Ok(Minted { s, receipt })
}

/// A signed response whose audit record is durable, and what the caller needs to
/// deliver it. Only step 8 makes one.
pub struct Minted {
    s: Signed,
    receipt: Receipt,
}

impl Minted {
    /// The exact signed Response bytes (UTF-8 XML).
    pub fn xml(&self) -> &[u8] {
        &self.s.xml
    }
    /// The SAMLResponse form value: standard base64 of the XML bytes.
    pub fn base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.s.xml)
    }
    /// [`Minted::base64`] appended to `out`.
    pub fn base64_into(&self, out: &mut String) {
        base64::engine::general_purpose::STANDARD.encode_string(&self.s.xml, out);
    }
    pub fn response_id(&self) -> &str {
        &self.s.response_id
    }
    pub fn assertion_id(&self) -> &str {
        &self.s.assertion_id
    }
    /// Session Manager console deep link for the instance.
    pub fn relay_state(&self) -> &str {
        &self.s.relay_state
    }
    pub fn acs_url(&self) -> &str {
        &self.s.acs_url
    }
    pub fn request(&self) -> &Request {
        &self.s.request
    }
    pub fn decision(&self) -> &Decision {
        &self.s.decision
    }
    /// The accounts' pairs the Role attribute names (the first is the instance's
    /// account, unless the role picker left it out).
    pub fn roles(&self) -> &[RolePair] {
        &self.s.roles
    }
    /// The durable audit record of this response.
    pub fn receipt(&self) -> &Receipt {
        &self.receipt
    }
}

impl std::fmt::Debug for Minted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minted")
            .field("assertion_id", &self.s.assertion_id)
            .field("receipt", &self.receipt)
            .finish_non_exhaustive()
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

/// Everything one mint needs, built once at start-up by the edge's wiring.
pub struct Minter {
    pub signing: RwLock<Arc<Signing>>,
    pub policy: Policy,
    pub mapping: Mapping,
    pub console_url: String,
    /// Every account's role/provider pair (`aws.role_arn`, `[[aws.account]]`, the template).
    pub accounts: Accounts,
    pub directory: Box<dyn Directory>,
    pub grants: Arc<dyn Grants>,
    /// The same grants source when it can record grants (the embedded SQLite store).
    pub grant_store: Option<Arc<dyn GrantStore>>,
    pub inventory: Option<Box<dyn Inventory>>,
    pub audit: Arc<dyn AuditLog>,
    /// Stamps audit records with the real time (the decision's `now` may be pinned).
    pub wall_clock: fn() -> DateTime<Utc>,
}

impl Minter {
    /// The current signing state (a cheap `Arc` clone).
    pub fn signing(&self) -> Result<Arc<Signing>, MintError> {
        self.signing.read().map(|g| g.clone()).map_err(|_| MintError::Sign(SignError::KeyLoad))
    }

    /// Replaces the signing key and certificate (key rotation, SIGHUP); requests in
    /// flight finish with the key they started with.
    pub fn replace_signing(&self, s: Signing) {
        if let Ok(mut g) = self.signing.write() {
            *g = Arc::new(s);
        }
    }

    /// Session Manager console deep link (AWS-FACTS.md, RelayState).
    pub fn relay_state(&self, req: &Request) -> String {
        crate::core::text::console_link(&self.console_url, req.instance.as_str(), req.region.as_str())
    }

    /// Steps 2-8 for callers without a caller identity or request ID.
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
            ..MintInput::default()
        };
        self.mint_input(&input, now, nonce)
    }

    /// Steps 2-8 for one request on this thread. Every outcome is audited; a failure
    /// to audit a minted response withholds the response.
    pub fn mint_input(
        &self,
        input: &MintInput,
        now: DateTime<Utc>,
        nonce: &Nonce,
    ) -> Result<Minted, MintError> {
        self.prepare(input, now, nonce).commit(self.audit.as_ref())
    }

    /// True when every source answers locally ([`Directory::local`]): minting then
    /// never waits on a network, only on the CPU.
    pub fn local(&self) -> bool {
        self.directory.local() && self.grants.local() && self.inventory.as_ref().is_none_or(|i| i.local())
    }

    /// Steps 2-7: the signed outcome and its audit record, to be committed (step 8).
    pub fn prepare(&self, input: &MintInput, now: DateTime<Utc>, nonce: &Nonce) -> Pending {
        let coming = self.audit.coming();
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
        let signed = self.steps(input, now, nonce, &mut entry);
        if let Err(e) = &signed {
            entry.outcome = Some(e.outcome().to_owned());
            entry.code = Some(e.code().to_owned());
            entry.message = Some(clip(&e.to_string(), 512));
            if let MintError::Refused(d) = e {
                entry.omitted = d.omitted.iter().map(|g| g.as_str().to_owned()).collect();
            }
        }
        Pending { signed, entry, coming }
    }

    fn steps(
        &self,
        input: &MintInput,
        now: DateTime<Utc>,
        nonce: &Nonce,
        entry: &mut Entry,
    ) -> Result<Signed, MintError> {
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
        let known = match &self.inventory {
            Some(inv) => inv.instance(&req.instance, &req.region)?,
            None => None,
        };
        // The Role names the account the inventory places the instance in (an
        // account_id that differs is refused); else the caller's, else the home account.
        let located = known.as_ref().and_then(|k| k.account.as_deref());
        let pair = self.accounts.choose(req.instance.as_str(), located, input.account_id.as_deref())?;
        if input.role_picker && self.inventory.is_none() {
            return Err(MintError::Input(InputError::new(
                "role_picker",
                "true",
                "needs an [inventory]: it tells in which accounts the open sets reach instances",
            )));
        }
        let tags: Option<HashMap<String, String>> = known.map(|k| k.tags);
        // 6. decide
        let decision = if input.role_picker {
            decide_picker(now, nonce, &entitlements, &grants, tags.is_some(), &self.policy)
        } else {
            decide(now, nonce, &entitlements, &grants, tags.as_ref(), &self.policy)
        };
        if decision.refusal.is_some() {
            return Err(MintError::Refused(Box::new(decision)));
        }
        let roles = if input.role_picker { self.picker(pair, &entitlements, &decision)? } else { vec![pair] };
        let values: Vec<String> = roles.iter().map(RolePair::value).collect();
        // 7. mint: build, then sign
        let signing = self.signing()?;
        let p = &signing.params;
        let unsigned = build_response(p, &values, &req, &decision, nonce)?;
        let xml = match p.encrypt_to.as_deref() {
            None => signing.key.sign(&unsigned, &p.cert_b64, p.sign_response)?,
            Some(to) => {
                let targets =
                    if p.sign_response { Targets::AssertionThenResponse } else { Targets::Assertion };
                let template = crate::saml::dsig::template(&unsigned, &p.cert_b64, p.sign_response)
                    .map_err(SignError::from)?;
                signing.signer.sign_encrypt(&template, targets, Some(to))?
            }
        };
        entry.outcome = Some(outcome(&decision).to_owned());
        entry.assertion_id = Some(nonce.assertion_id());
        entry.response_id = Some(nonce.response_id());
        entry.role_session_name = Some(role_session_name(&req.user, nonce, p.session_naming));
        entry.response_sha256 = Some(hex(&sha256(&xml)));
        entry.session_duration = Some(decision.session_duration);
        entry.not_on_or_after = Some(saml_time(decision.not_on_or_after));
        entry.sets = sets(&decision);
        entry.omitted = decision.omitted.iter().map(|g| g.as_str().to_owned()).collect();
        entry.roles = roles.iter().map(|r| r.role_arn.clone()).collect();
        Ok(Signed {
            xml,
            response_id: nonce.response_id(),
            assertion_id: nonce.assertion_id(),
            relay_state: self.relay_state(&req),
            acs_url: signing.params.acs_url.clone(),
            request: req,
            decision,
            roles,
        })
    }

    /// The role picker's pairs: the accounts where an open set of `decision` covers an
    /// instance the inventory knows (one without an account is in the home account),
    /// chosen by [`Accounts::picker`].
    fn picker(
        &self,
        pair: RolePair,
        entitlements: &[Entitlement],
        decision: &Decision,
    ) -> Result<Vec<RolePair>, MintError> {
        let Some(inv) = &self.inventory else { return Ok(vec![pair]) };
        let columns = self.policy.spec.columns();
        let mut reached = std::collections::BTreeSet::new();
        for set in decision.sets.iter().filter(|s| s.is_open()) {
            let Some(e) = entitlements.iter().find(|e| e.group == set.group) else { continue };
            let want: Vec<(&str, &str)> =
                columns.iter().zip(&e.values).map(|(c, v)| (c.ec2_key.as_str(), v.as_str())).collect();
            for i in inv.covering(&want)? {
                reached.insert(i.account.unwrap_or_else(|| self.accounts.home.account.clone()));
            }
        }
        Ok(self.accounts.picker(pair, reached))
    }
}
