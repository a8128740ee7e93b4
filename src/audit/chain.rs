//! The hash chain and checkpoint message, shared by the writer and the verifier.
//!
//! - hash(record) = SHA-256 of the record's line, without the trailing newline;
//! - record n carries `prev` = hex hash(record n-1); the first record carries 64 zeros;
//! - a checkpoint signs [`checkpoint_message`] (RSA-SHA256, PKCS#1 v1.5): every field
//!   it carries but the signature.

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
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_published_vector() {
        // FIPS 180-2, SHA-256 of "abc".
        assert_eq!(hash_line(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
