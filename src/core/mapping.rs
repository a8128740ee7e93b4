//! Directory groups → entitlements: exact group names (or DNs) from
//! `[[entitlement]]`, and pattern rules from `[[rule]]` whose tag values come from
//! named captures or from attributes of the group entry.
//!
//! A group that matches nothing is ignored. A group that matches but yields a value
//! AWS would reject (or a sentinel-like value) is reported as a [`MappingProblem`] and
//! not emitted.

use std::collections::HashMap;

use regex::Regex;

use super::decide::Entitlement;
use super::dn::normalize_dn;
use super::ids::{fold_eq, GroupName};
use super::sentinel::SENTINEL_PREFIX;
use super::tags::{TagSpec, TagValue};
use super::window::AccessRule;

/// One group the user belongs to (directly or through nesting), as the directory
/// adapter read it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirGroup {
    /// The DN as the server wrote it (empty for the file directory).
    pub dn: String,
    /// The group's name: its `cn` (or the first RDN's value).
    pub name: String,
    /// Attributes read from the group entry for mapping rules (lower-case names).
    pub attrs: HashMap<String, Vec<String>>,
}

impl DirGroup {
    pub fn named(name: &str) -> Self {
        Self { name: name.to_owned(), ..Self::default() }
    }
}

/// What a rule's pattern is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleField {
    Cn,
    Dn,
}

/// Where a rule's tag values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleValues {
    /// Named captures, one per EC2 tag key.
    Captures,
    /// Attribute names of the group entry, one per tag column, in column order.
    Attributes(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub field: RuleField,
    pub pattern: Regex,
    pub values: RuleValues,
    pub access: AccessRule,
    /// Longest grant for what the rule matches, seconds.
    pub max_grant: Option<i64>,
}

impl PartialEq for Rule {
    fn eq(&self, o: &Self) -> bool {
        self.field == o.field
            && self.pattern.as_str() == o.pattern.as_str()
            && self.values == o.values
            && self.access == o.access
            && self.max_grant == o.max_grant
    }
}

/// A group that matched but could not become an entitlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingProblem {
    pub group: String,
    pub message: String,
}

impl std::fmt::Display for MappingProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "group {:?}: {}", self.group, self.message)
    }
}

/// The validated mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    pub spec: TagSpec,
    pub entitlements: Vec<Entitlement>,
    pub rules: Vec<Rule>,
    /// Longest grant per configured entitlement group, seconds.
    pub max_grant: Vec<(GroupName, i64)>,
    /// Entitlement groups a person may open for themselves in an incident (`firecall`).
    pub firecall: Vec<GroupName>,
}

fn same_group(configured: &GroupName, g: &DirGroup) -> bool {
    let name = configured.as_str();
    if name.contains('=') && !g.dn.is_empty() {
        return normalize_dn(name).is_some_and(|n| Some(n) == normalize_dn(&g.dn));
    }
    fold_eq(name, &g.name)
}

impl Mapping {
    /// Whether a grant may name `group`: a configured entitlement (by name or DN), or a
    /// group name (or DN) that some rule's pattern matches.
    pub fn knows(&self, group: &GroupName) -> bool {
        let g = group.as_str();
        let probe = if g.contains('=') {
            DirGroup { dn: g.to_owned(), ..DirGroup::named(g) }
        } else {
            DirGroup::named(g)
        };
        self.entitlements.iter().any(|e| same_group(&e.group, &probe))
            || self.rules.iter().any(|r| match r.field {
                RuleField::Cn => r.pattern.is_match(g),
                RuleField::Dn => g.contains('=') && r.pattern.is_match(g),
            })
    }

    /// May `group` be opened as a firecall (break-glass) grant? Only entitlements
    /// configured with `firecall = true`, never a pattern rule.
    pub fn firecall_eligible(&self, group: &GroupName) -> bool {
        let probe = DirGroup::named(group.as_str());
        self.firecall.iter().any(|e| same_group(e, &probe))
    }

    /// The longest grant `group` may have, when its entitlement (or the first rule that
    /// matches it) sets one.
    pub fn max_grant_seconds(&self, group: &GroupName) -> Option<i64> {
        let g = group.as_str();
        let probe = if g.contains('=') {
            DirGroup { dn: g.to_owned(), ..DirGroup::named(g) }
        } else {
            DirGroup::named(g)
        };
        if self.entitlements.iter().any(|e| same_group(&e.group, &probe)) {
            return self.max_grant.iter().find(|(e, _)| same_group(e, &probe)).map(|(_, s)| *s);
        }
        self.rules
            .iter()
            .find(|r| match r.field {
                RuleField::Cn => r.pattern.is_match(g),
                RuleField::Dn => g.contains('=') && r.pattern.is_match(g),
            })
            .and_then(|r| r.max_grant)
    }

    /// Attribute names the directory must read from group entries.
    pub fn group_attributes(&self) -> Vec<String> {
        let mut v: Vec<String> = vec!["cn".into()];
        for r in &self.rules {
            if let RuleValues::Attributes(a) = &r.values {
                v.extend(a.iter().cloned());
            }
        }
        v.sort();
        v.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        v
    }

    /// The entitlements a user holds through `groups`, and the groups that matched a
    /// rule but could not be mapped.
    pub fn map(&self, groups: &[DirGroup]) -> (Vec<Entitlement>, Vec<MappingProblem>) {
        let mut out = Vec::new();
        let mut problems = Vec::new();
        for g in groups {
            if let Some(e) = self.entitlements.iter().find(|e| same_group(&e.group, g)) {
                out.push(e.clone());
                continue;
            }
            let Some((rule, caps)) = self.rules.iter().find_map(|r| {
                let subject = match r.field {
                    RuleField::Cn => &g.name,
                    RuleField::Dn => &g.dn,
                };
                r.pattern.captures(subject).map(|c| (r, c))
            }) else {
                continue;
            };
            let problem = |m: String| MappingProblem { group: g.name.clone(), message: m };
            let raw: Vec<Result<String, String>> = match &rule.values {
                RuleValues::Captures => self
                    .spec
                    .columns()
                    .iter()
                    .map(|c| {
                        caps.name(c.ec2_key.as_str())
                            .map(|m| m.as_str().to_owned())
                            .ok_or_else(|| format!("pattern captured no {}", c.ec2_key.as_str()))
                    })
                    .collect(),
                RuleValues::Attributes(attrs) => attrs
                    .iter()
                    .map(|a| {
                        let found = g.attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(a)).map(|(_, v)| v);
                        match found.map(Vec::as_slice) {
                            Some([one]) => Ok(one.clone()),
                            Some([]) | None => Err(format!("attribute {a} is missing")),
                            Some(_) => Err(format!("attribute {a} has several values")),
                        }
                    })
                    .collect(),
            };
            let mut values = Vec::new();
            let mut bad = None;
            for (c, v) in self.spec.columns().iter().zip(raw) {
                match v.and_then(|s| {
                    if s.starts_with(SENTINEL_PREFIX) {
                        return Err(format!("{}: value starts with the sentinel prefix", c.ec2_key.as_str()));
                    }
                    TagValue::parse("value", &s)
                        .map_err(|e| format!("{}: {} (got {:?})", c.ec2_key.as_str(), e.rule, e.value))
                }) {
                    Ok(v) => values.push(v),
                    Err(m) => {
                        bad = Some(m);
                        break;
                    }
                }
            }
            match (bad, GroupName::parse("group", &g.name)) {
                (Some(m), _) => problems.push(problem(m)),
                (None, Err(e)) => problems.push(problem(format!("group name: {}", e.rule))),
                (None, Ok(group)) => out.push(Entitlement { group, values, access: rule.access.clone() }),
            }
        }
        (out, problems)
    }
}
