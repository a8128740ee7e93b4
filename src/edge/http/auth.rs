//! Who is calling: the client certificate's identities (`cn:`, `dns:`, `uri:`,
//! `email:`) and the roles configuration gives them. Turned-away callers are audited.

use actix_web::HttpRequest;
use openssl::nid::Nid;
use openssl::x509::X509;

use super::denials::Denial;
use super::error::ApiError;
use super::state::{request_id, State};
use crate::config::server::Role;
use crate::core::text::clip;

/// The identities of a connection's verified client certificate, parsed once when the
/// connection is set up (`on_connect`), not on every request: OpenSSL's certificate
/// decoder costs more than a third of a request's edge work.
#[derive(Debug, Clone)]
pub struct PeerCert(pub std::sync::Arc<[String]>);

impl PeerCert {
    pub fn from_der(der: &[u8]) -> Self {
        Self(identities(der).into())
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The first identity (for records): `cn:…` when the certificate has a CN.
    pub name: String,
    pub roles: Vec<Role>,
}

/// Every identity a certificate carries, `cn:` first.
pub fn identities(der: &[u8]) -> Vec<String> {
    let Ok(cert) = X509::from_der(der) else { return vec!["unparseable-certificate".into()] };
    let mut out: Vec<String> = cert
        .subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .filter_map(|e| std::str::from_utf8(e.data().as_slice()).ok().map(|s| format!("cn:{s}")))
        .collect();
    if let Some(sans) = cert.subject_alt_names() {
        for n in sans.iter() {
            if let Some(d) = n.dnsname() {
                out.push(format!("dns:{d}"));
            } else if let Some(u) = n.uri() {
                out.push(format!("uri:{u}"));
            } else if let Some(e) = n.email() {
                out.push(format!("email:{e}"));
            }
        }
    }
    out
}

/// Counts a turned-away caller for the audit log (`denials.rs`), then returns the
/// refusal — or 429 once its source was turned away too often this interval.
fn deny(state: &State, req: &HttpRequest, caller: &str, refusal: ApiError) -> ApiError {
    let source = req.peer_addr().map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string());
    let over = state.denials.note(Denial {
        source: &source,
        code: refusal.code(),
        caller,
        request_id: request_id(req),
        message: format!("{} {}: {refusal}", req.method(), clip(req.path(), 128)),
        time: (state.minter.wall_clock)(),
    });
    if over {
        return ApiError::RateLimited;
    }
    refusal
}

/// The caller of `req`, with its roles; 401 (audited) without a verified certificate.
pub fn caller(state: &State, req: &HttpRequest) -> Result<Caller, ApiError> {
    if state.insecure_dev {
        return Ok(Caller {
            name: "dev:insecure-http".into(),
            roles: vec![Role::Minter, Role::Approver, Role::Auditor, Role::Admin],
        });
    }
    let Some(cert) = req.conn_data::<PeerCert>() else {
        return Err(deny(
            state,
            req,
            "anonymous",
            ApiError::Unauthenticated("a client certificate issued by the configured CA is required".into()),
        ));
    };
    let ids = &cert.0;
    let mut roles = Vec::new();
    for c in state.clients.iter().filter(|c| ids.contains(&c.identity)) {
        roles.extend(c.roles.iter().copied());
    }
    let name = ids.first().cloned().unwrap_or_else(|| "unnamed-certificate".into());
    Ok(Caller { name, roles })
}

/// The caller, if it holds one of `roles`; 403 (audited) otherwise.
pub fn require(state: &State, req: &HttpRequest, roles: &[Role]) -> Result<Caller, ApiError> {
    let c = caller(state, req)?;
    if roles.is_empty() || c.roles.iter().any(|r| roles.contains(r)) {
        return Ok(c);
    }
    let need: Vec<&str> = roles.iter().map(|r| r.name()).collect();
    let refusal = ApiError::Forbidden(format!("this route needs the role {}", need.join(" or ")));
    Err(deny(state, req, &c.name, refusal))
}
