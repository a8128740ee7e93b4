//! AWS after sign-in: [`super::SessionManager`] in `ssm.rs` (Session Manager) and
//! [`super::RolePolicies`] in `iam.rs` (the role's inline policies), both through the
//! official AWS SDK for Rust.

pub mod iam;
pub mod ssm;
