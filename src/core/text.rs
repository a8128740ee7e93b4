//! Plain text forms every layer shares, so none borrows them from another: lower-case
//! hex, the UTC whole-seconds instant that SAML and the audit log both write, and the
//! clipping of caller-supplied text. Pure functions, no I/O.

use chrono::{DateTime, SecondsFormat, Utc};

/// Lower-case hex (a table lookup per nibble: `write!` per byte cost a tenth of
/// `audit verify`).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// SAML's dateTime form, also the audit log's: UTC, whole seconds, `Z`.
pub fn saml_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Truncates free text from callers to `max` characters, so a record stays one
/// reasonable line.
pub fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_writes_every_nibble_in_lower_case() {
        assert_eq!(hex(&[0x00, 0x0f, 0xf0, 0xff, 0xa5]), "000ff0ffa5");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn saml_time_drops_fractions_and_writes_z() {
        let t = DateTime::from_timestamp(1_764_600_000, 999_000_000).unwrap_or_default();
        assert_eq!(saml_time(t), "2025-12-01T14:40:00Z");
    }

    #[test]
    fn clip_counts_characters_not_bytes() {
        assert_eq!(clip("héllo", 2), "hé");
        assert_eq!(clip("ab", 10), "ab");
    }
}
