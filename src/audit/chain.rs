//! The hash chain and checkpoint message, shared by the writer and the verifier.
//!
//! - hash(record) = SHA-256 of the record's line, without the trailing newline;
//! - record n carries `prev` = hex hash(record n-1); the first record carries 64 zeros;
//! - a checkpoint signs [`checkpoint_message`] (RSA-SHA256, PKCS#1 v1.5).

use std::fmt::Write as _;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Hex SHA-256 of a line's bytes (without its newline).
pub fn hash_line(line: &[u8]) -> String {
    hex(&openssl::sha::sha256(line))
}

/// The bytes a checkpoint signs: it commits to the replica, its own sequence number
/// and the hash of the record before it (the chain head).
pub fn checkpoint_message(replica: &str, seq: u64, prev: &str) -> String {
    format!("sesame-audit-checkpoint-v1\n{replica}\n{seq}\n{prev}\n")
}
