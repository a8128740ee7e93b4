//! What the handlers share: the [`State`] built by `sesame serve`, and the request ID
//! the edge middleware attaches to every request.

use std::sync::Arc;

use actix_web::{HttpMessage, HttpRequest};

use super::metrics::Metrics;
use crate::audit::AuditLog;
use crate::config::server::Client;
use crate::config::Config;
use crate::service::mint::Minter;

/// Everything the handlers share.
pub struct State {
    pub minter: Minter,
    pub audit: Arc<dyn AuditLog>,
    pub clients: Vec<Client>,
    pub metrics: Metrics,
    pub metadata: std::sync::RwLock<Vec<u8>>,
    pub config: Config,
    /// Plain HTTP on loopback for development: every caller has every role.
    pub insecure_dev: bool,
    /// Turned-away callers, counted and audited per source and interval.
    pub denials: Arc<super::denials::Denials>,
}

/// The request ID the edge middleware gave a request.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The request ID of `req` (set by the edge middleware).
pub fn request_id(req: &HttpRequest) -> Option<String> {
    req.extensions().get::<RequestId>().map(|r| r.0.clone())
}
