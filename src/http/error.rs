//! The one place errors become HTTP: status, a stable machine `code`, a human
//! `message`, and for refusals the decision. The mapping from `MintError` and
//! `GrantError` has no wildcard arm: a new variant must choose its status.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Value};

use crate::adapters::{GrantError, LookupError};
use crate::core::decision::Refusal;
use crate::mint::MintError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub decision: Option<Value>,
}

impl ApiError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: code.to_owned(),
            message: message.into(),
            decision: None,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        let mut body = json!({"error": {"code": self.code, "message": self.message}});
        if let Some(d) = &self.decision {
            body["decision"] = d.clone();
        }
        HttpResponse::build(self.status).json(body)
    }
}

fn lookup_status(e: &LookupError) -> u16 {
    match e {
        LookupError::Directory(_) | LookupError::Grants(_) | LookupError::Inventory(_) => 503,
        LookupError::AmbiguousUser { .. } => 409,
    }
}

impl From<MintError> for ApiError {
    fn from(e: MintError) -> Self {
        let status = match &e {
            MintError::Input(_) => 400,
            MintError::UnknownUser(_) => 404,
            MintError::Refused(d) => match &d.refusal {
                Some(Refusal::NoEntitlement) | Some(Refusal::NoEntitlementForInstance) | None => 409,
                Some(Refusal::TooManyOpenSets { .. }) => 422,
            },
            MintError::Lookup(l) => lookup_status(l),
            MintError::Build(_) | MintError::Sign(_) | MintError::Audit(_) => 503,
        };
        let decision = match &e {
            MintError::Refused(d) => Some(crate::render::decision_json(d)),
            _ => None,
        };
        ApiError { decision, ..ApiError::new(status, e.code(), e.to_string()) }
    }
}

impl From<GrantError> for ApiError {
    fn from(e: GrantError) -> Self {
        let status = match &e {
            GrantError::Invalid { .. } => 400,
            GrantError::Overlap(_) | GrantError::AlreadyRevoked(_) => 409,
            GrantError::NotFound(_) => 404,
            GrantError::ReadOnly => 409,
            GrantError::Store(l) => lookup_status(l),
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}
