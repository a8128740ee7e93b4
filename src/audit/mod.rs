//! The assertion log (DESIGN step 8): every decision — minted, refused, failed —
//! recorded durably, hash-chained and periodically signed, before any response leaves.
//!
//! - `record.rs` — the record format (docs/audit-format.md);
//! - `chain.rs` — hashes and the checkpoint message;
//! - `file.rs` — the writer: group commit, fsync, rotation, crash recovery;
//! - `verify.rs` — the auditor's check of chains and checkpoints;
//! - `search.rs` — filters over the log.

pub mod chain;
pub mod file;
pub mod files;
pub mod record;
pub mod search;
pub mod verify;

pub use record::{Entry, Kind, Record};

/// Proof that a record is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub seq: u64,
    /// Hex SHA-256 of the record's line.
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("audit log unavailable: {0}")]
    Unavailable(String),
    #[error("audit log damaged: {0}")]
    Damaged(String),
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
        }
    }
}

/// Step 8: append one record (a decision, a grant change, an access denial); returns
/// only once it is durable.
/// A record handed to the writer: resolves once it is durable, or with the error that
/// kept it from being written. A dropped sender (writer gone) reads as an error.
pub type Pending = tokio::sync::oneshot::Receiver<Result<Receipt, AuditError>>;

/// Awaits a [`Pending`] record: its receipt once durable, or why it is not.
pub async fn durable(pending: Pending) -> Result<Receipt, AuditError> {
    pending.await.unwrap_or_else(|_| Err(AuditError::stopped()))
}

pub trait AuditLog: Send + Sync {
    /// Appends and waits until the record is durable.
    fn append(&self, kind: Kind, entry: Entry) -> Result<Receipt, AuditError>;
    /// Hands the record over without waiting (async handlers await the result). The
    /// default appends synchronously.
    fn submit(&self, kind: Kind, entry: Entry) -> Pending {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _ = tx.send(self.append(kind, entry));
        rx
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
