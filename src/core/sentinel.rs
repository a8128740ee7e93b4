//! The unmatchable tag value that replaces every PrincipalTag of a closed set.
//!
//! EC2 tag values may use the same alphabet as session tags, so the sentinel cannot be
//! unmatchable by its characters; it is unmatchable by content: it carries 128 random
//! bits drawn fresh for every assertion, which no tag on any instance can predict.

use super::text::hex;

/// Every sentinel starts with this; configuration refuses real tag values that do.
pub const SENTINEL_PREFIX: &str = "sesame:closed:";

/// Randomness for one mint, drawn by the edge (`clock.rs`) and passed in.
#[derive(Clone, PartialEq, Eq)]
pub struct Nonce([u8; 48]);

impl std::fmt::Debug for Nonce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nonce(..)")
    }
}

impl Nonce {
    pub fn from_bytes(bytes: [u8; 48]) -> Self {
        Self(bytes)
    }

    /// The sentinel value for this mint: `sesame:closed:` + 32 hex digits.
    /// A legal session-tag value (letters, digits, `:`), 46 characters long.
    pub fn sentinel(&self) -> String {
        format!("{SENTINEL_PREFIX}{}", hex(self.0.get(..16).unwrap_or_default()))
    }

    /// XML ID of the Response: `_R` + 32 hex digits (a valid xs:ID). The prefixes keep
    /// the two IDs distinct whatever the random bytes, so a signature reference can
    /// never resolve to the wrong element.
    pub fn response_id(&self) -> String {
        format!("_R{}", hex(self.0.get(16..32).unwrap_or_default()))
    }

    /// The first 12 hex digits of the assertion ID: the per-decision part of a
    /// RoleSessionName (`session_name.rs`).
    pub fn decision_tag(&self) -> String {
        hex(self.0.get(32..38).unwrap_or_default())
    }

    /// XML ID of the Assertion: `_A` + 32 hex digits (a valid xs:ID).
    pub fn assertion_id(&self) -> String {
        format!("_A{}", hex(self.0.get(32..48).unwrap_or_default()))
    }
}
