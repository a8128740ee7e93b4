//! The service edge (`sesame serve`): actix-web over rustls with client certificates.
//!
//! - `server.rs` — the server on a bound listener, the edge middleware, the routes;
//! - `state.rs` — what handlers share, request IDs;
//! - `tls.rs` — TLS 1.2/1.3, client-certificate verification, SIGHUP reload;
//! - `auth.rs` — certificate identities → roles; turned-away callers are counted in
//!   `denials.rs` and audited per source and interval;
//! - `routes.rs` — thin handlers (`access.rs` the launcher's view, `firecalls.rs`
//!   break-glass grants); `body.rs` — bounded JSON bodies, connections per
//!   source; `error.rs` — the one error → HTTP mapping;
//! - `metrics.rs` — Prometheus text format.
//!
//! Every request gets a request ID (`X-Request-Id`, generated when absent) that is
//! echoed in the response and kept in audit records. A request without a verified
//! client certificate is answered 401 by the edge middleware and never reaches a
//! handler.

pub mod access;
pub mod auth;
pub mod body;
pub mod denials;
pub mod error;
pub mod firecalls;
pub mod metrics;
pub mod routes;
pub mod server;
pub mod state;
pub mod tls;
