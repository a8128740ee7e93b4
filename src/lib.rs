//! sesame mints signed SAML 2.0 responses for AWS sign-in that carry time-bound,
//! tag-scoped `PrincipalTag` attributes for Session Manager access to EC2 instances.
//!
//! # Layout: the request flow (DESIGN.md) and the module that owns each step
//!
//! 1. authenticate the caller ............ [`edge::http`] (mTLS, roles)
//! 2. validate input ..................... [`core::ids`]
//! 3. entitlements(user) ................. [`adapters::directory`] → [`core::mapping`]
//! 4. windows(user) ...................... [`adapters::grants`] + schedules in [`config`]
//! 5. tags(instance) (optional) .......... [`adapters::inventory`]
//! 6. decide(now, …) ..................... [`core::decide`] (pure)
//! 7. mint(decision) ..................... [`saml`] (canonical writer, one RSA signature)
//! 8. audit.append(record) ............... [`audit`] (durable before release)
//! 9. respond ............................ [`edge::render`], by [`edge::cli`] or [`edge::http`]
//!
//! Steps 2-8 are [`service::mint::Minter`]; its types make step 8 unskippable.
//!
//! # Layers (ARCHITECTURE.md has the table a test enforces)
//!
//! - [`core`] — pure: ids, tags, windows, mapping, decisions; depends on nothing here;
//! - [`secrets`] — the one loader for secret files (mode checked), used by the layers above;
//! - [`saml`], [`config`], [`iam`], [`keys`] — each uses only `core` (and `secrets`);
//! - [`tls_client`] — the rustls client configuration shared by LDAP and PostgreSQL;
//! - [`db`] — the shared PostgreSQL (runtime, pool, TLS, migrations); uses `config`;
//! - [`audit`] — the assertion log; uses `core`, and `db` for its PostgreSQL sink;
//! - [`adapters`] — the lookup traits; their implementations may also read `config`
//!   and use `db`;
//! - [`service`] — the use cases over the traits (mint, grants, firecalls, the session
//!   reaper); it may also use the pure IAM documents of [`iam`];
//! - [`forensics`] — the auditor's evidence from AWS's side (CloudTrail, session logs),
//!   read from files against the log; uses `core` and `audit`;
//! - [`edge`] — CLI, HTTP, wiring, rendering, the clock: everything meets here.

pub mod adapters;
pub mod audit;
pub mod config;
pub mod core;
pub mod db;
pub mod edge;
pub mod forensics;
pub mod iam;
pub mod keys;
pub mod saml;
pub mod secrets;
pub mod service;
pub mod tls_client;
