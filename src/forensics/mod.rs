//! The auditor's evidence from AWS's side: CloudTrail sign-ins reconciled against the
//! assertion log (`sesame audit reconcile`), and Session Manager session logs routed to
//! each tenant's own folder (`sesame audit route`). Reads files only; no AWS call.
//!
//! - `files.rs` — the input paths, folders walked in name order;
//! - `cloudtrail.rs` — CloudTrail log files and lookup-events output, streamed;
//! - `json_stream.rs` — a JSON object's arrays handed over one element at a time;
//! - `minted.rs` — the minted assertions of the log, indexed;
//! - `reconcile.rs` — the join and its alerts;
//! - `session_logs.rs` — the session log formats; `route.rs` — attribution and writing.

pub mod cloudtrail;
pub mod files;
pub mod json_stream;
pub mod minted;
pub mod reconcile;
pub mod route;
pub mod session_logs;
