//! The assertion log (DESIGN step 8): every decision — minted, refused, failed — and
//! every grant change and turned-away caller, recorded durably, hash-chained and
//! periodically signed, before any response leaves.
//!
//! - `log.rs` — the contract: [`log::AuditLog`], [`log::Receipt`], [`log::AuditError`];
//! - `record.rs` — the record format (docs/audit-format.md);
//! - `chain.rs` — hashes and the checkpoint message;
//! - `file.rs` — the file log's handle, `writer.rs` — its thread: group commit, fsync,
//!   rotation; `files.rs` — the
//!   layout, the lock per replica and the recovery of a torn tail; `guard.rs` — the
//!   live file's identity, the head file, and the health `/readyz` reads;
//! - `postgres.rs` — the log in PostgreSQL (one chain per replica in one table), its
//!   writer `pg_writer.rs`: group commit in one transaction, release after COMMIT,
//!   recovery of an unknown COMMIT; `export` writes a chain as log files;
//! - `verify.rs` — the auditor's check of chains and checkpoints, `scan.rs` — its
//!   parallel read, parse and hash of each file; `prune.rs` — removing
//!   old files up to a signed checkpoint, declared in the chain first;
//! - `search.rs` — filters over the log.

pub mod chain;
pub mod file;
pub mod files;
pub mod guard;
pub mod log;
pub mod pg_rows;
pub mod pg_tail;
pub mod pg_writer;
pub mod postgres;
pub mod prune;
mod queue;
pub mod record;
mod scan;
pub mod search;
pub mod tail;
pub mod verify;
pub mod writer;

pub use log::{durable, AuditError, AuditLog, Coming, Receipt, Submitted};
pub use record::{Entry, Kind, Record};
