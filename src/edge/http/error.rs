//! The one place errors become HTTP: every refusal the edge or the library can give is
//! an [`ApiError`] variant, and [`ApiError::status`] is the only mapping to a status —
//! one `match` with no wildcard arm over `ApiError`, `MintError`, `GrantError` and
//! `LookupError`, so a new variant must choose its status. The body is always
//! `{"error": {"code", "message"}}` (plus the decision for refusals).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::adapters::{GrantError, LookupError};
use crate::core::decision::Refusal;
use crate::edge::render::decision_json;
use crate::service::mint::MintError;

/// Why a request was not served.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request itself is malformed: the message names the field and the rule.
    #[error("{0}")]
    BadInput(String),
    /// No verified client certificate.
    #[error("{0}")]
    Unauthenticated(String),
    /// A certificate without the role the route needs.
    #[error("{0}")]
    Forbidden(String),
    /// No such route.
    #[error("no such route")]
    NotFound,
    /// The blocking pool could not run the request.
    #[error("the worker pool could not run the request")]
    Overloaded,
    /// A fault of ours that is not the library's (metrics encoding, missing state).
    #[error("{1}")]
    Internal(&'static str, String),
    #[error("{0}")]
    Mint(#[from] MintError),
    #[error("{0}")]
    Grant(#[from] GrantError),
}

impl ApiError {
    /// The status of every error sesame answers with.
    pub fn status(&self) -> StatusCode {
        let lookup = |e: &LookupError| match e {
            LookupError::Directory(_) | LookupError::Grants(_) | LookupError::Inventory(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            LookupError::AmbiguousUser { .. } => StatusCode::CONFLICT,
        };
        match self {
            ApiError::BadInput(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(..) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Mint(e) => match e {
                MintError::Input(_) => StatusCode::BAD_REQUEST,
                MintError::UnknownUser(_) => StatusCode::NOT_FOUND,
                MintError::Refused(d) => match &d.refusal {
                    Some(Refusal::NoEntitlement) | Some(Refusal::NoEntitlementForInstance) | None => {
                        StatusCode::CONFLICT
                    }
                    Some(Refusal::TooManyOpenSets { .. }) => StatusCode::UNPROCESSABLE_ENTITY,
                },
                MintError::Lookup(l) => lookup(l),
                MintError::Build(_) | MintError::Sign(_) | MintError::Audit(_) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            },
            ApiError::Grant(e) => match e {
                GrantError::Invalid { .. } => StatusCode::BAD_REQUEST,
                GrantError::Overlap(_) | GrantError::AlreadyRevoked(_) | GrantError::ReadOnly => {
                    StatusCode::CONFLICT
                }
                GrantError::NotFound(_) => StatusCode::NOT_FOUND,
                GrantError::Store(l) => lookup(l),
            },
        }
    }

    /// The stable machine code (the API's contract, also in audit records).
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadInput(_) => "bad_input",
            ApiError::Unauthenticated(_) => "unauthenticated",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound => "not_found",
            ApiError::Overloaded => "overloaded",
            ApiError::Internal(code, _) => code,
            ApiError::Mint(e) => e.code(),
            ApiError::Grant(e) => e.code(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = json!({"error": {"code": self.code(), "message": self.to_string()}});
        if let ApiError::Mint(MintError::Refused(d)) = self {
            body["decision"] = decision_json(d);
        }
        HttpResponse::build(self.status()).json(body)
    }
}
