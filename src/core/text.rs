//! Plain text forms every layer shares, so none borrows them from another: lower-case
//! hex, the UTC whole-seconds instant that SAML and the audit log both write (and the
//! one parser for instants that arrive from outside), and the clipping of
//! caller-supplied text. Pure functions, no I/O.

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};

use super::ids::InputError;

/// The rule every instant from outside (API, CLI, grant files) must follow.
pub const INSTANT_RULE: &str =
    "must be an RFC 3339 instant with an offset, between 2000-01-01T00:00:00Z and \
     2099-12-31T23:59:59Z, without a leap second, such as 2026-12-01T22:00:00Z";

/// Parses an instant from outside: RFC 3339 with an offset, years 2000-2099 (so every
/// derived time stays far inside what chrono and SAML consumers handle), no leap
/// second (`:60`, which SAML consumers reject). Fractions of a second are dropped:
/// sesame's times are whole seconds.
pub fn instant(field: &'static str, s: &str) -> Result<DateTime<Utc>, InputError> {
    let bad = || InputError::new(field, s, INSTANT_RULE);
    let t = DateTime::parse_from_rfc3339(s).map_err(|_| bad())?.with_timezone(&Utc);
    if !(2000..=2099).contains(&t.year()) || t.nanosecond() >= 1_000_000_000 {
        return Err(bad());
    }
    DateTime::from_timestamp(t.timestamp(), 0).ok_or_else(bad)
}

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

/// The Session Manager console deep link for an instance (AWS-FACTS.md, RelayState):
/// `<console>/systems-manager/session-manager/<instance>?region=<region>`.
pub fn console_link(console_url: &str, instance: &str, region: &str) -> String {
    format!(
        "{}/systems-manager/session-manager/{instance}?region={region}",
        console_url.trim_end_matches('/')
    )
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
    fn instants_outside_the_rule_are_refused() {
        for bad in
            ["2026-12-31T23:59:60Z", "9999-12-31T23:00:00Z", "1999-12-31T23:59:59Z", "2026-12-01", "tomorrow"]
        {
            assert!(instant("start", bad).is_err(), "{bad}");
        }
        let t = instant("start", "2026-12-01T23:00:00.750+01:00").unwrap_or_default();
        assert_eq!(saml_time(t), "2026-12-01T22:00:00Z", "offset applied, fraction dropped");
        assert!(instant("end", "2099-12-31T23:59:59Z").is_ok());
    }

    #[test]
    fn clip_counts_characters_not_bytes() {
        assert_eq!(clip("héllo", 2), "hé");
        assert_eq!(clip("ab", 10), "ab");
    }
}
