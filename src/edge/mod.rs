//! The edges: everything that meets the outside world and composes the layers below.
//!
//! - `cli/` — `sesame` subcommands (clap), one file each; `cli/common.rs` holds the
//!   exit codes and what every subcommand shares;
//! - `http/` — `sesame serve`: actix-web over rustls with client certificates;
//! - `wiring.rs` — the composition root: keys, concrete adapters, the audit log, the
//!   [`crate::service::mint::Minter`]; `trust.rs` — metadata and known certificates;
//! - `render.rs` — JSON and HTML renderings shared by the CLI and HTTP;
//! - `clock.rs` — the only reader of the clock and the only source of nonces.
//!
//! Nothing below points back here.

pub mod cli;
pub mod clock;
pub mod http;
pub mod reaping;
pub mod render;
pub mod trust;
pub mod wiring;
