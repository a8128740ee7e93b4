//! Keys and certificates: `material.rs` loads the signing key with the checks that keep
//! it private and matched to its certificate, and generates new ones; `rotation.rs`
//! moves keys through their slots (next, current, previous, retired); `x509.rs` is the
//! one certificate builder and key-file writer; `error.rs` says what went wrong;
//! `dev_tls.rs` makes the development CA, server and client certificates for
//! `scripts/run`.
//!
//! Invariants: a key file readable by group or others is refused; key material never
//! appears in `Debug` output or logs.

pub mod dev_tls;
pub mod error;
pub mod material;
pub mod rotation;
pub mod x509;

pub use error::KeyError;
pub use material::{check_private, generate, load, load_cert, GenerateSpec, SigningMaterial};
