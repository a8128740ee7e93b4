//! LDAP search filters built as values and rendered in one place, so every assertion
//! value passes RFC 4515 escaping (`\` `*` `(` `)` NUL) and no filter is assembled from
//! raw input elsewhere. This module is the filter serializer the tidy test exempts.

use std::fmt;

use ldap3::ldap_escape;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    /// `(attr=value)`, value escaped.
    Eq(&'static str, String),
    /// `(attr:rule:=value)`, value escaped.
    Extensible(&'static str, &'static str, String),
    /// A filter from configuration (validated there: balanced, parenthesised).
    Configured(String),
}

impl Filter {
    /// A configured template with its single `{user}` replaced by the escaped value.
    pub fn template(template: &str, user: &str) -> Self {
        Filter::Configured(template.replace("{user}", &ldap_escape(user)))
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::And(v) | Filter::Or(v) => {
                f.write_str(if matches!(self, Filter::And(_)) { "(&" } else { "(|" })?;
                for c in v {
                    c.fmt(f)?;
                }
                f.write_str(")")
            }
            Filter::Eq(a, v) => write!(f, "({a}={})", ldap_escape(v.as_str())),
            Filter::Extensible(a, rule, v) => write!(f, "({a}:{rule}:={})", ldap_escape(v.as_str())),
            Filter::Configured(s) => f.write_str(s),
        }
    }
}
