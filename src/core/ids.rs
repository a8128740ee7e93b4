//! Identifiers that arrive from outside: parsed once at the edge, valid by construction.
//!
//! Each type has one constructor (`parse`) that names the field and the rule it broke,
//! so a caller can show the message as it is.

use std::fmt;

/// Why an input was rejected: the field, the offending value (truncated) and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule} (got {value:?})")]
pub struct InputError {
    pub field: &'static str,
    pub value: String,
    pub rule: &'static str,
}

impl InputError {
    pub fn new(field: &'static str, value: &str, rule: &'static str) -> Self {
        let value: String = value.chars().take(80).collect();
        Self { field, value, rule }
    }
}

/// The characters AWS allows in RoleSessionName and SourceIdentity: `[A-Za-z0-9_=,.@-]`.
pub fn is_session_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '=' | ',' | '.' | '@' | '-')
}

/// Rule text for [`UserName`]; it is also AWS's RoleSessionName / SourceIdentity rule,
/// because the user name becomes both.
pub const USER_RULE: &str =
    "must be 2-64 characters of A-Z a-z 0-9 _ = , . @ - (AWS RoleSessionName/SourceIdentity rule)";

/// A person's account name as the access manager sends it (sAMAccountName, uid or UPN).
///
/// It becomes RoleSessionName and SourceIdentity as is, so it must satisfy their rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserName(String);

impl UserName {
    pub fn parse(field: &'static str, s: &str) -> Result<Self, InputError> {
        let n = s.chars().count();
        if !(2..=64).contains(&n) || !s.chars().all(is_session_name_char) {
            return Err(InputError::new(field, s, USER_RULE));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const INSTANCE_RULE: &str = "must be i- followed by 8 or 17 lower-case hex digits, or mi- followed by 17";

/// An EC2 instance ID (`i-` + 8 or 17 hex) or a managed instance ID (`mi-` + 17 hex).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(String);

impl InstanceId {
    pub fn parse(field: &'static str, s: &str) -> Result<Self, InputError> {
        let hex = |t: &str| t.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let ok = if let Some(rest) = s.strip_prefix("mi-") {
            rest.len() == 17 && hex(rest)
        } else if let Some(rest) = s.strip_prefix("i-") {
            (rest.len() == 8 || rest.len() == 17) && hex(rest)
        } else {
            false
        };
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InputError::new(field, s, INSTANCE_RULE))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const REGION_RULE: &str = "must be an AWS region code such as us-east-1, eu-central-2 or us-gov-west-1";

/// An AWS region code: `<2 letters>[-gov|-iso|-isob…]-<direction>-<number>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region(String);

impl Region {
    pub fn parse(field: &'static str, s: &str) -> Result<Self, InputError> {
        let parts: Vec<&str> = s.split('-').collect();
        let lower = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
        let ok = match parts.as_slice() {
            [geo, mid @ .., dir, num] => {
                geo.len() == 2
                    && lower(geo)
                    && mid.len() <= 1
                    && mid.iter().all(|m| m.len() <= 4 && lower(m))
                    && lower(dir)
                    && dir.len() <= 10
                    && (1..=2).contains(&num.len())
                    && num.bytes().all(|b| b.is_ascii_digit())
            }
            _ => false,
        };
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InputError::new(field, s, REGION_RULE))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const GROUP_RULE: &str = "must be 1-256 characters with no control characters";

/// A directory group as the mapping names it (a CN or a DN). Compared case-insensitively,
/// as Active Directory does.
#[derive(Debug, Clone)]
pub struct GroupName(String);

impl GroupName {
    pub fn parse(field: &'static str, s: &str) -> Result<Self, InputError> {
        let n = s.chars().count();
        if !(1..=256).contains(&n) || s.chars().any(char::is_control) || s.trim() != s {
            return Err(InputError::new(field, s, GROUP_RULE));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The key used for ordering and equality: Unicode lower case.
    pub fn fold(&self) -> String {
        self.0.to_lowercase()
    }
}

/// Whether `a` and `b` are equal in Unicode lower case (`to_lowercase`), without
/// allocating when both are ASCII (where that is ASCII case folding).
pub fn fold_eq(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

impl PartialEq for GroupName {
    fn eq(&self, other: &Self) -> bool {
        fold_eq(&self.0, &other.0)
    }
}
impl Eq for GroupName {}
impl std::hash::Hash for GroupName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.fold().hash(state)
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One validated request: "user U asks for instance I in region R".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub user: UserName,
    pub instance: InstanceId,
    pub region: Region,
}

impl Request {
    /// Parses all three fields; reports the first bad one by its API name.
    pub fn parse(user: &str, instance_id: &str, region: &str) -> Result<Self, InputError> {
        Ok(Self {
            user: UserName::parse("user", user)?,
            instance: InstanceId::parse("instance_id", instance_id)?,
            region: Region::parse("region", region)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Issue 17: the ASCII fast path decides as comparing `to_lowercase` does,
        /// for ASCII, non-ASCII and mixed pairs (the Kelvin sign folds to `k`, a final
        /// sigma differs from `to_lowercase` of its character alone).
        #[test]
        fn fold_eq_is_equality_in_lower_case(
            a in "[a-zA-Z0-9 _.-]{0,6}|[kKsS\u{212a}\u{3a3}\u{3c3}\u{3c2}\u{130}iI]{0,4}",
            b in "[a-zA-Z0-9 _.-]{0,6}|[kKsS\u{212a}\u{3a3}\u{3c3}\u{3c2}\u{130}iI]{0,4}",
        ) {
            proptest::prop_assert_eq!(fold_eq(&a, &b), a.to_lowercase() == b.to_lowercase());
        }
    }
}
