//! Session-tag keys and values under AWS's rules, tag sets, and their numbered names.
//!
//! AWS rule (STS API reference, `Tag`): keys 1-128 and values 0-256 characters, both
//! matching `[\p{L}\p{Z}\p{N}_.:/=+\-@]`; keys are case-insensitive and must not start
//! with `aws:`; at most [`MAX_SESSION_TAGS`] session tags per session.

use std::sync::LazyLock;

use regex::Regex;

use super::ids::InputError;

/// AWS's limit on session tags passed in one AssumeRoleWithSAML.
pub const MAX_SESSION_TAGS: usize = 50;

// The pattern is a literal; it compiles or the test suite fails on first use.
#[allow(clippy::expect_used)]
static TAG_CHARS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$").expect("literal regex compiles"));

pub const KEY_RULE: &str =
    "must be 1-128 characters of letters, digits, spaces and _ . : / = + - @, and not start with aws:";
pub const VALUE_RULE: &str =
    "must be 0-256 characters of letters, digits, spaces and _ . : / = + - @ (AWS session-tag rule)";

fn tag_chars_ok(s: &str) -> bool {
    TAG_CHARS.is_match(s)
}

/// A tag key, valid both as an EC2 tag key and as a session-tag key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TagKey(String);

impl TagKey {
    pub fn parse(field: &'static str, s: &str) -> Result<Self, InputError> {
        let n = s.chars().count();
        let reserved = s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"));
        if !(1..=128).contains(&n) || !tag_chars_ok(s) || reserved {
            return Err(InputError::new(field, s, KEY_RULE));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A session-tag value (also a legal EC2 tag value).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TagValue(String);

impl TagValue {
    pub fn parse(field: &'static str, s: &str) -> Result<Self, InputError> {
        if s.chars().count() > 256 || !tag_chars_ok(s) {
            return Err(InputError::new(field, s, VALUE_RULE));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One column of a tag set: the EC2 tag key on the instance and the principal-tag
/// base name carried in the session (e.g. `APP_GROUP_NAME` ↔ `AppGroupName`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagColumn {
    pub ec2_key: TagKey,
    pub principal: TagKey,
}

/// The shape of every tag set and the maximum number of sets per session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagSpec {
    columns: Vec<TagColumn>,
    max_sets: usize,
}

/// Why a [`TagSpec`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("tags: at least one tag column is required")]
    NoColumns,
    #[error("tags.max_sets: must be at least 1")]
    NoSets,
    #[error("tags.max_sets: {sets} sets x {columns} tags = {total} session tags, above AWS's limit of {MAX_SESSION_TAGS}; at most {allowed} sets fit")]
    TooManyTags { sets: usize, columns: usize, total: usize, allowed: usize },
    #[error("tags: principal tag names {a:?} and {b:?} are equal when AWS compares keys case-insensitively")]
    Collision { a: String, b: String },
    #[error("tags: numbered name {0:?} is longer than 128 characters")]
    NameTooLong(String),
    #[error("tags: EC2 tag key {0:?} is used twice")]
    DuplicateEc2Key(String),
}

impl TagSpec {
    pub fn new(columns: Vec<TagColumn>, max_sets: usize) -> Result<Self, SpecError> {
        if columns.is_empty() {
            return Err(SpecError::NoColumns);
        }
        if max_sets == 0 {
            return Err(SpecError::NoSets);
        }
        let total = columns.len().saturating_mul(max_sets);
        if total > MAX_SESSION_TAGS {
            return Err(SpecError::TooManyTags {
                sets: max_sets,
                columns: columns.len(),
                total,
                allowed: MAX_SESSION_TAGS / columns.len(),
            });
        }
        let mut ec2 = std::collections::HashSet::new();
        for c in &columns {
            if !ec2.insert(c.ec2_key.as_str().to_lowercase()) {
                return Err(SpecError::DuplicateEc2Key(c.ec2_key.as_str().to_owned()));
            }
        }
        let spec = Self { columns, max_sets };
        let mut seen: std::collections::HashMap<String, String> = Default::default();
        for k in 1..=max_sets {
            for i in 0..spec.columns.len() {
                let name = spec.principal_name(k, i);
                if name.chars().count() > 128 {
                    return Err(SpecError::NameTooLong(name));
                }
                if let Some(prev) = seen.insert(name.to_lowercase(), name.clone()) {
                    return Err(SpecError::Collision { a: prev, b: name });
                }
            }
        }
        Ok(spec)
    }

    pub fn columns(&self) -> &[TagColumn] {
        &self.columns
    }

    pub fn max_sets(&self) -> usize {
        self.max_sets
    }

    /// The principal-tag key of column `i` in set `k` (1-based): the base name for
    /// the first set, the base name followed by `k` for k >= 2.
    pub fn principal_name(&self, k: usize, i: usize) -> String {
        let base = self.columns.get(i).map(|c| c.principal.as_str()).unwrap_or_default();
        if k <= 1 {
            base.to_owned()
        } else {
            format!("{base}{k}")
        }
    }
}
