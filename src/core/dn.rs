//! Distinguished names compared as directories compare them, not as raw strings.
//!
//! The same entry reads `cn=Doe\2C Jane,ou=Users,…` on OpenLDAP and
//! `CN=Doe\, Jane,OU=Users,…` on Active Directory. [`normalize_dn`] parses RFC 4514
//! escapes (`\,` and `\2C` alike), trims the spaces around types and values, and
//! lower-cases everything, so both become `cn=doe, jane,ou=users,…`.

/// The comparison key of a DN; `None` when the text is not a DN (no `=` in an RDN,
/// or a broken escape).
pub fn normalize_dn(dn: &str) -> Option<String> {
    let mut rdns: Vec<String> = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut parts: Vec<Vec<u8>> = Vec::new();
    let bytes = dn.as_bytes();
    let mut i = 0;
    // Split on unescaped ',' keeping escapes for the value step.
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => {
                cur.push(b);
                if let Some(&n) = bytes.get(i + 1) {
                    cur.push(n);
                    i += 1;
                }
            }
            b',' | b';' => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(b),
        }
        i += 1;
    }
    parts.push(cur);
    for part in parts {
        let text = String::from_utf8(part).ok()?;
        let (ty, value) = text.split_once('=')?;
        let ty = ty.trim().to_lowercase();
        if ty.is_empty() {
            return None;
        }
        let value = unescape(value.trim_start())?;
        rdns.push(format!("{ty}={}", value.trim().to_lowercase()));
    }
    Some(rdns.join(","))
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

fn unescape(v: &str) -> Option<String> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'\\' {
            let n = *b.get(i + 1)?;
            match (hex(n), b.get(i + 2).copied().and_then(hex)) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                }
                _ => {
                    out.push(n);
                    i += 2;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The value of the first RDN (`CN=app-web,OU=…` → `app-web`), unescaped.
pub fn first_rdn_value(dn: &str) -> Option<String> {
    let bytes = dn.as_bytes();
    let mut end = bytes.len();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'\\' {
            i += 2;
            continue;
        }
        if b == b',' || b == b'+' {
            end = i;
            break;
        }
        i += 1;
    }
    let first = dn.get(..end)?;
    let (_, value) = first.split_once('=')?;
    unescape(value.trim())
}
