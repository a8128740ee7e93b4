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
    /// One field of the body is wrong (a type error, say); the body names it.
    #[error("{field}: {message}")]
    BadField { field: String, message: String },
    /// The body is not `application/json`.
    #[error("the body must be application/json")]
    UnsupportedMediaType,
    /// The body is larger than `server.max_body_bytes`.
    #[error("the body is larger than {0} bytes (server.max_body_bytes)")]
    BodyTooLarge(usize),
    /// The body did not arrive whole in time.
    #[error("the body did not arrive within {} ms (server.body_timeout_ms)", .0.as_millis())]
    BodyTimeout(std::time::Duration),
    /// The route exists, not for this method.
    #[error("this route does not take {0}")]
    MethodNotAllowed(String),
    /// The source was turned away too often in this interval.
    #[error("too many refused requests from this source; try again later")]
    RateLimited,
    /// The source holds too many connections already.
    #[error("this source holds more than {0} connections (server.max_connections_per_source)")]
    TooManyConnections(usize),
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

/// The status of a refused mint, in JSON or as the browser's page.
pub fn refusal_status(r: Option<&Refusal>) -> StatusCode {
    match r {
        Some(Refusal::TooManyOpenSets { .. }) => StatusCode::UNPROCESSABLE_ENTITY,
        Some(
            Refusal::NoEntitlement
            | Refusal::NoEntitlementForInstance
            | Refusal::UnknownInstance
            | Refusal::AllClosed { .. },
        )
        | None => StatusCode::CONFLICT,
    }
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
            ApiError::BadInput(_) | ApiError::BadField { .. } => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TooManyConnections(_) | ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(..) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Mint(e) => match e {
                MintError::Input(_) => StatusCode::BAD_REQUEST,
                MintError::UnknownUser(_) => StatusCode::NOT_FOUND,
                MintError::Refused(d) => refusal_status(d.refusal.as_ref()),
                MintError::Lookup(l) => lookup(l),
                MintError::Build(_) | MintError::Sign(_) | MintError::Audit(_) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            },
            ApiError::Grant(e) => match e {
                GrantError::Invalid { .. } => StatusCode::BAD_REQUEST,
                GrantError::AlreadyRevoked(_) | GrantError::ReadOnly | GrantError::Conflict(_) => {
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
            ApiError::BadInput(_) | ApiError::BadField { .. } => "bad_input",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::BodyTooLarge(_) => "body_too_large",
            ApiError::BodyTimeout(_) => "body_timeout",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::TooManyConnections(_) => "too_many_connections",
            ApiError::RateLimited => "rate_limited",
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

impl ApiError {
    /// The input field a refusal is about, when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            ApiError::BadField { field, .. } => Some(field),
            ApiError::Mint(MintError::Input(e)) => Some(e.field),
            ApiError::Grant(GrantError::Invalid { field, .. }) => Some(field),
            _ => None,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = json!({"error": {"code": self.code(), "message": self.to_string()}});
        if let Some(field) = self.field() {
            body["error"]["field"] = json!(field);
        }
        if let ApiError::Mint(MintError::Refused(d)) = self {
            body["decision"] = decision_json(d);
        }
        let mut r = HttpResponse::build(self.status());
        if matches!(self, ApiError::TooManyConnections(_) | ApiError::BodyTimeout(_) | ApiError::RateLimited)
        {
            r.insert_header((actix_web::http::header::CONNECTION, "close"));
        }
        r.json(body)
    }
}
