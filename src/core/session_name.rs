//! The RoleSessionName of a decision. With [`SessionNaming::PerDecision`] (the
//! default) it is `<user>.<12 hex digits of the assertion ID>`, so every Session Manager
//! session (`<RoleSessionName>-<hex>`), its CloudWatch log stream and its CloudTrail
//! events lead to exactly one audit record; SourceIdentity stays the person. AWS
//! allows 2-64 characters of `[A-Za-z0-9_=,.@-]`: a user name longer than 51 characters
//! is cut to 51 before the suffix (the record keeps the whole name). With
//! [`SessionNaming::User`] it is the user name, as before.

use super::ids::UserName;
use super::sentinel::Nonce;

/// How the RoleSessionName is made (`aws.role_session_name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionNaming {
    #[default]
    PerDecision,
    User,
}

/// Hex digits of the assertion ID in a per-decision name.
pub const DECISION_TAG_LEN: usize = 12;
/// AWS's RoleSessionName maximum.
pub const MAX_SESSION_NAME: usize = 64;

/// The RoleSessionName for this decision.
pub fn role_session_name(user: &UserName, nonce: &Nonce, naming: SessionNaming) -> String {
    let u = user.as_str();
    match naming {
        SessionNaming::User => u.to_owned(),
        SessionNaming::PerDecision => {
            // User names are ASCII (UserName's rule), so a byte cut is a character cut.
            let keep = u.len().min(MAX_SESSION_NAME - 1 - DECISION_TAG_LEN);
            format!("{}.{}", &u[..keep], nonce.decision_tag())
        }
    }
}

/// The RoleSessionName a Session Manager session ID starts with: the ID is
/// `<RoleSessionName>-<hex>` (at most 96 characters). `None` for anything else.
pub fn session_name_of(session_id: &str) -> Option<&str> {
    if session_id.len() > 96 {
        return None;
    }
    let (name, hex) = session_id.rsplit_once('-')?;
    let hex_ok = !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
    let name_ok =
        (2..=MAX_SESSION_NAME).contains(&name.len()) && name.chars().all(super::ids::is_session_name_char);
    (hex_ok && name_ok).then_some(name)
}
