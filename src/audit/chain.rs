//! The hash chain and checkpoint message, shared by the writer and the verifier.
//!
//! - hash(record) = SHA-256 of the record's line, without the trailing newline;
//! - record n carries `prev` = hex hash(record n-1); the first record carries 64 zeros;
//! - a checkpoint signs [`checkpoint_message`] (RSA-SHA256, PKCS#1 v1.5): every field
//!   it carries but the signature.

use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};

use super::log::{AuditError, Receipt};
use super::record::{Entry, Kind, Record, FORMAT_VERSION};
use crate::core::text::hex;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// SHA-256 through OpenSSL's streaming `SHA256_*` functions. The one-shot `SHA256()`
/// of OpenSSL 3 fetches the algorithm from the provider store on every call, under a
/// read lock: 4 % of `verify` and contended between mint threads.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut h = openssl::sha::Sha256::new();
    h.update(bytes);
    h.finish()
}

/// Hex SHA-256 of a line's bytes (without its newline).
pub fn hash_line(line: &[u8]) -> String {
    hex(&sha256(line))
}

/// The bytes a checkpoint of record format 2 signs: every field the checkpoint carries
/// besides the signature itself — the replica, its own sequence number, the hash of the
/// record before it (the chain head), its time and the signing key's id. (A checkpoint
/// may carry no other field; `verify` refuses one that does.)
pub fn checkpoint_message(replica: &str, seq: u64, prev: &str, time: &str, key_id: &str) -> String {
    format!("sesame-audit-checkpoint-v2\n{replica}\n{seq}\n{prev}\n{time}\n{key_id}\n")
}

/// What checkpoints of record format 1 signed: the replica, seq and prev only (their
/// time and key id were not covered). Verified for old logs, never written.
pub fn checkpoint_message_v1(replica: &str, seq: u64, prev: &str) -> String {
    format!("sesame-audit-checkpoint-v1\n{replica}\n{seq}\n{prev}\n")
}
/// Signs checkpoints: a private key and the id (hex SHA-256 of its certificate's DER).
pub struct CheckpointKey {
    pub key: PKey<Private>,
    pub key_id: String,
}

/// One replica's chain head as a writer holds it: every sink (files, PostgreSQL) turns
/// entries into lines here, so the bytes and hashes are the same whatever stores them.
pub struct Chain {
    pub replica: String,
    /// The last record's seq (0 before the first).
    pub seq: u64,
    /// Hex hash of the last record's line ([`GENESIS`] before the first).
    pub prev: String,
    /// The last record's time (a checkpoint carries it).
    pub last_time: String,
    pub since_checkpoint: u64,
    pub checkpoint_every: u64,
    pub key: Option<CheckpointKey>,
}

impl Chain {
    /// The head to restore when a batch fails.
    pub fn saved(&self) -> (u64, String) {
        (self.seq, self.prev.clone())
    }

    pub fn restore(&mut self, saved: (u64, String)) {
        (self.seq, self.prev) = saved;
    }

    /// Serializes one record (without a newline) and advances the head.
    pub fn push(&mut self, kind: Kind, entry: Entry) -> Result<(Vec<u8>, Receipt), AuditError> {
        let counts = kind != Kind::Checkpoint;
        let rec = Record {
            v: FORMAT_VERSION,
            seq: self.seq + 1,
            prev: self.prev.clone(),
            replica: self.replica.clone(),
            kind,
            entry,
        };
        let line = serde_json::to_vec(&rec)
            .map_err(|e| AuditError::Unavailable(format!("cannot encode record: {e}")))?;
        self.seq += 1;
        self.prev = hash_line(&line);
        self.last_time.clone_from(&rec.entry.time);
        if counts {
            self.since_checkpoint += 1;
        }
        Ok((line, Receipt::new(self.seq, self.prev.clone())))
    }

    /// Whether enough records went by for a checkpoint (and a key is there to sign one).
    pub fn checkpoint_due(&self) -> bool {
        self.key.is_some() && self.since_checkpoint >= self.checkpoint_every
    }

    /// A signed checkpoint over the head, as a line; `None` without a key.
    pub fn checkpoint(&mut self) -> Result<Option<Vec<u8>>, AuditError> {
        let Some(key) = &self.key else { return Ok(None) };
        let msg = checkpoint_message(&self.replica, self.seq + 1, &self.prev, &self.last_time, &key.key_id);
        let fail =
            |e: openssl::error::ErrorStack| AuditError::Unavailable(format!("checkpoint signing: {e}"));
        let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), &key.key).map_err(fail)?;
        let sig = signer.update(msg.as_bytes()).and_then(|()| signer.sign_to_vec()).map_err(fail)?;
        let entry = Entry {
            time: self.last_time.clone(),
            signature: Some(base64::engine::general_purpose::STANDARD.encode(sig)),
            key_id: Some(key.key_id.clone()),
            ..Entry::default()
        };
        let (line, _) = self.push(Kind::Checkpoint, entry)?;
        self.since_checkpoint = 0;
        Ok(Some(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_published_vector() {
        // FIPS 180-2, SHA-256 of "abc".
        assert_eq!(hash_line(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
