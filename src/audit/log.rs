//! The audit sink's contract (DESIGN step 8): [`AuditLog`] appends one record and
//! answers only once it is durable, with a [`Receipt`] that only an audit writer can
//! make. Minting releases a response only with a receipt (`crate::service::mint`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::record::{Entry, Kind};
use crate::db::Effect;

/// Proof that a record is durable. Made only by the audit writers in this module's
/// folder, so no other code can claim a record was written. A receipt can be read:
///
/// ```
/// fn seq(r: &sesame::audit::log::Receipt) -> (u64, &str) {
///     (r.seq(), r.hash())
/// }
/// ```
///
/// but not made:
///
/// ```compile_fail,E0451
/// fn forge() -> sesame::audit::log::Receipt {
///     sesame::audit::log::Receipt { seq: 1, hash: String::new() }
/// }
/// ```
#[derive(Debug, PartialEq, Eq)]
pub struct Receipt {
    seq: u64,
    hash: String,
}

impl Receipt {
    pub(in crate::audit) fn new(seq: u64, hash: String) -> Self {
        Self { seq, hash }
    }

    /// The record's sequence number in its replica's chain.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Hex SHA-256 of the record's line.
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("audit log unavailable: {0}")]
    Unavailable(String),
    #[error("audit log damaged: {0}")]
    Damaged(String),
    /// The change that was to commit with the record was refused (no record written).
    #[error("{0}")]
    Refused(String),
}

impl AuditError {
    /// The writer thread is gone (closed, or it stopped on an error).
    pub fn stopped() -> Self {
        AuditError::Unavailable("the audit writer has stopped".into())
    }

    pub fn code(&self) -> &'static str {
        match self {
            AuditError::Unavailable(_) => "audit_unavailable",
            AuditError::Damaged(_) => "audit_damaged",
            AuditError::Refused(_) => "conflict",
        }
    }
}

/// A record on its way: taken before a mint starts (lookups, decision, signature), so a
/// writer that is about to `fdatasync` another record can wait a moment for this one
/// and make both durable with one sync (group commit under load, without delaying a
/// lone request: with nothing coming the writer syncs at once). [`Coming::arrived`]
/// just before the record is submitted; dropped without it (the mint went away), it
/// tells the writer to stop waiting for it.
#[must_use = "a record announced must arrive or be dropped"]
pub struct Coming {
    count: Option<Arc<AtomicUsize>>,
    gone: Option<Box<dyn FnOnce() + Send>>,
}

impl Coming {
    /// Announces nothing (sinks that do not gather).
    pub fn none() -> Self {
        Self { count: None, gone: None }
    }

    pub(in crate::audit) fn new(count: Arc<AtomicUsize>, gone: Box<dyn FnOnce() + Send>) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Self { count: Some(count), gone: Some(gone) }
    }

    /// The record is being submitted now.
    pub fn arrived(mut self) {
        self.gone = None;
    }
}

impl Drop for Coming {
    fn drop(&mut self) {
        if let Some(c) = self.count.take() {
            c.fetch_sub(1, Ordering::AcqRel);
        }
        if let Some(gone) = self.gone.take() {
            gone();
        }
    }
}

/// A record handed to the writer: resolves once it is durable, or with the error that
/// kept it from being written. A dropped sender (writer gone) reads as an error.
pub type Submitted = tokio::sync::oneshot::Receiver<Result<Receipt, AuditError>>;

/// Awaits a [`Submitted`] record: its receipt once durable, or why it is not.
pub async fn durable(submitted: Submitted) -> Result<Receipt, AuditError> {
    submitted.await.unwrap_or_else(|_| Err(AuditError::stopped()))
}

/// Step 8: where records go (a decision, a grant change, an access denial).
pub trait AuditLog: Send + Sync {
    /// Appends and waits until the record is durable.
    fn append(&self, kind: Kind, entry: Entry) -> Result<Receipt, AuditError>;
    /// Hands the record over without waiting (async handlers await the result). The
    /// default appends synchronously.
    fn submit(&self, kind: Kind, entry: Entry) -> Submitted {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _ = tx.send(self.append(kind, entry));
        rx
    }
    /// Announces a record that will be submitted shortly ([`Coming`]).
    fn coming(&self) -> Coming {
        Coming::none()
    }
    /// Appends the record and runs `effect` in the same transaction: both commit or
    /// neither does. Only a sink in the database the effect concerns can.
    fn append_with(&self, _kind: Kind, _entry: Entry, _effect: Effect) -> Result<Receipt, AuditError> {
        Err(AuditError::Unavailable(
            "this audit sink cannot commit a database change with its record (audit.kind must be \"postgres\")".into(),
        ))
    }
    /// Seals the log (a final checkpoint) and stops its writer; later appends fail.
    fn close(&self) -> Result<(), AuditError> {
        Ok(())
    }
    /// For `/readyz`: can a record be written now?
    fn ready(&self) -> Result<(), AuditError> {
        Ok(())
    }
    /// For `/metrics`: (records, fsyncs, seconds spent in write + fsync).
    fn counters(&self) -> (u64, u64, f64) {
        (0, 0, 0.0)
    }
}
