//! AWS Config query expressions for the inventory (SelectResourceConfig, and
//! SelectAggregateResourceConfig across an aggregator), built by one pure function.
//!
//! AWS-FACTS.md: array properties match per condition against any element, so
//! `tags.key = 'A' AND tags.value = 'x'` also matches an instance tagged `A=y, B=x`;
//! tag conditions are therefore only ever `tags.tag = 'KEY=value'`. The query language
//! has no bind parameters, so every key and value is checked before it enters the
//! text: the EC2 tag charset (letters, digits, the space and `_ . : / = + - @` — no
//! quote, no other separator, no control character), a key without `=` (it would make
//! `KEY=value` ambiguous: the strict reading), and the whole expression at most
//! [`MAX_EXPRESSION`] characters. Pages are fetched with NextToken, [`PAGE_LIMIT`] at a time.

use super::ids::{InstanceId, Region};

/// SelectResourceConfig's limit on the expression's length, characters.
pub const MAX_EXPRESSION: usize = 4096;
/// SelectResourceConfig's largest Limit per page.
pub const PAGE_LIMIT: i32 = 100;

const SELECT: &str =
    "SELECT resourceId, awsRegion, accountId, tags WHERE resourceType = 'AWS::EC2::Instance'";

/// What a query looks for.
#[derive(Debug, Clone, Copy)]
pub enum Want<'a> {
    /// Every instance carrying all these (EC2 key, value) tags: one tag set's instances.
    Covering(&'a [(&'a str, &'a str)]),
    /// One instance in one region, for its tags.
    Instance(&'a InstanceId, &'a Region),
}

/// Why no expression was built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    Key { key: String },
    Value { key: String, value: String },
    TooLong { len: usize },
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryError::Key { key } => write!(
                f,
                "tag key {key:?} cannot be queried in AWS Config: it must be 1-128 characters of letters, digits, the space and _ . : / + - @ (no =)"
            ),
            QueryError::Value { key, value } => write!(
                f,
                "tag {key}={value:?} cannot be queried in AWS Config: values must be 0-256 characters of letters, digits, the space and _ . : / = + - @"
            ),
            QueryError::TooLong { len } => {
                write!(f, "the AWS Config query would be {len} characters; at most {MAX_EXPRESSION}")
            }
        }
    }
}

fn allowed(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, ' ' | '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

fn key_ok(k: &str) -> bool {
    (1..=128).contains(&k.chars().count()) && k.chars().all(|c| allowed(c) && c != '=')
}

fn value_ok(v: &str) -> bool {
    v.chars().count() <= 256 && v.chars().all(allowed)
}

/// The expression for `want`, or why it cannot be written safely.
pub fn expression(want: Want<'_>) -> Result<String, QueryError> {
    let mut q = String::from(SELECT);
    match want {
        Want::Covering(tags) => {
            for (k, v) in tags {
                if !key_ok(k) {
                    return Err(QueryError::Key { key: (*k).to_owned() });
                }
                if !value_ok(v) {
                    return Err(QueryError::Value { key: (*k).to_owned(), value: (*v).to_owned() });
                }
                q.push_str(" AND tags.tag = '");
                q.push_str(k);
                q.push('=');
                q.push_str(v);
                q.push('\'');
            }
        }
        Want::Instance(id, region) => {
            // An InstanceId is i-/mi- and hex digits, a Region lower-case letters, digits and -.
            q.push_str(" AND resourceId = '");
            q.push_str(id.as_str());
            q.push_str("' AND awsRegion = '");
            q.push_str(region.as_str());
            q.push('\'');
        }
    }
    let len = q.chars().count();
    if len > MAX_EXPRESSION {
        return Err(QueryError::TooLong { len });
    }
    Ok(q)
}
