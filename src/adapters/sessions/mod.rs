//! Implementations of [`super::SessionManager`]: `ssm.rs`, Session Manager through the
//! official AWS SDK for Rust.

pub mod ssm;
