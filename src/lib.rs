//! sesame mints signed SAML 2.0 responses for AWS sign-in that carry time-bound,
//! tag-scoped `PrincipalTag` attributes for Session Manager access to EC2 instances.
//!
//! # Layout: the request flow (DESIGN.md) and the module that owns each step
//!
//! 1. authenticate the caller ............ `cli` (service edge: a later issue)
//! 2. validate input ..................... [`core::ids`]
//! 3. entitlements(user) ................. [`adapters::directory`]
//! 4. windows(user) ...................... [`adapters::grants`] + schedules in [`config`]
//! 5. tags(instance) (optional) .......... [`adapters::inventory`]
//! 6. decide(now, …) ..................... [`core::decide`] (pure)
//! 7. mint(decision) ..................... [`saml`] (build, sign with libxmlsec1)
//! 8. audit.append(record) ............... [`audit`] (durable before release)
//! 9. respond ............................ [`mint::Minted`] rendered by `cli`
//!
//! The orchestration of steps 2-9 is [`mint::Minter::mint`].
//! Dependency rule: edges (`cli`, `main`) → `mint` → `saml`, adapters → `core`;
//! `core` depends on nothing else in the crate.

pub mod adapters;
pub mod app;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod core;
pub mod grants;
pub mod http;
pub mod iam;
pub mod keys;
pub mod mint;
pub mod render;
pub mod rotation;
pub mod saml;
pub mod tls_dev;
