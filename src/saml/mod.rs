//! SAML: the Response AWS sign-in accepts, built from a [`crate::core::Decision`],
//! written in canonical form and signed with one RSA operation (libxmlsec1 where the
//! Assertion is encrypted), and the IdP metadata IAM accepts.
//!
//! - `response.rs` — the Response, written by `canon.rs` already in exclusive-c14n form;
//! - `dsig.rs` — enveloped signatures over those bytes, and templates for libxmlsec1;
//! - `libxmlsec.rs` + `encrypt.rs` — the libxmlsec1 boundary (the only `unsafe` code):
//!   verification, and signing when the Assertion is encrypted;
//! - `metadata.rs` — the IdP metadata (quick-xml, `xmlw.rs`);
//! - `ns.rs` — protocol names; `error.rs` — [`error::SignError`].
//!
//! Invariant: no policy decision is made here; every value written was validated
//! before (core types) or is a constant of the protocol.

pub mod canon;
pub mod dsig;
pub mod encrypt;
pub mod error;
pub mod libxmlsec;
pub mod metadata;
pub mod ns;
pub mod response;
mod xmlw;
