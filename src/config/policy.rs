//! The entitlement mapping and schedules under `policies/`, validated into core types.

use std::collections::HashMap;

use super::problems::Problems;
use super::raw::{RawEntitlements, RawRule, RawSchedules};
use crate::core::decide::Entitlement;
use crate::core::mapping::{Mapping, Rule, RuleField, RuleValues};
use crate::core::sentinel::SENTINEL_PREFIX;
use crate::core::tags::TagColumn;
use crate::core::window::{parse_zone, ScheduleRule};
use crate::core::{AccessRule, GroupName, Schedule, TagKey, TagSpec, TagValue};

/// Default tag columns: EC2 key ↔ principal-tag name.
pub const DEFAULT_COLUMNS: [(&str, &str); 3] =
    [("APP_GROUP_NAME", "AppGroupName"), ("APP_ID", "AppId"), ("RELEASE_ID", "ReleaseId")];
pub const DEFAULT_MAX_SETS: i64 = 4;

pub fn schedules(file: &str, raw: RawSchedules, p: &mut Problems) -> HashMap<String, Schedule> {
    let mut out = HashMap::new();
    for (i, s) in raw.schedule.into_iter().enumerate() {
        let at = format!("{file}: schedule[{i}]");
        let zone = match parse_zone("zone", &s.zone) {
            Ok(z) => Some(z),
            Err(e) => {
                p.push(format!("{at}.zone"), e.rule);
                None
            }
        };
        let mut rules = Vec::new();
        if s.rules.is_empty() {
            p.push(format!("{at}.rules"), "must list at least one rule");
        }
        for (j, r) in s.rules.iter().enumerate() {
            match ScheduleRule::parse(&r.days, &r.from, &r.to) {
                Ok(rule) => rules.push(rule),
                Err(e) => {
                    p.push(format!("{at}.rules[{j}].{}", e.field), format!("{} (got {:?})", e.rule, e.value))
                }
            }
        }
        if out.contains_key(&s.name) {
            p.push(format!("{at}.name"), format!("schedule {:?} is defined twice", s.name));
        }
        if let Some(zone) = zone {
            out.insert(s.name.clone(), Schedule { name: s.name, zone, rules });
        }
    }
    out
}

pub fn mapping(
    file: &str,
    raw: RawEntitlements,
    schedules: &HashMap<String, Schedule>,
    p: &mut Problems,
) -> Option<Mapping> {
    let mut columns = Vec::new();
    let raw_cols: Vec<(String, String)> = match raw.tags {
        Some(cols) => cols.into_iter().map(|c| (c.ec2_key, c.principal)).collect(),
        None => DEFAULT_COLUMNS.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect(),
    };
    for (i, (ec2, principal)) in raw_cols.iter().enumerate() {
        for (field, v) in [("ec2_key", ec2), ("principal", principal)] {
            if v.trim() != v {
                p.push(
                    format!("{file}: tags[{i}].{field}"),
                    format!("{v:?} has leading or trailing whitespace: a condition key would never match"),
                );
            }
        }
        let e = TagKey::parse("ec2_key", ec2);
        let q = TagKey::parse("principal", principal);
        match (e, q) {
            (Ok(ec2_key), Ok(principal)) => columns.push(TagColumn { ec2_key, principal }),
            (e, q) => {
                for err in [e.err(), q.err()].into_iter().flatten() {
                    p.push(
                        format!("{file}: tags[{i}].{}", err.field),
                        format!("{} (got {:?})", err.rule, err.value),
                    );
                }
            }
        }
    }
    let max_sets = raw.max_sets.unwrap_or(DEFAULT_MAX_SETS);
    let spec = match usize::try_from(max_sets) {
        Ok(n) => TagSpec::new(columns, n).map_err(|e| p.push(file.to_owned(), e.to_string())).ok(),
        Err(_) => {
            p.push(format!("{file}: max_sets"), "must be at least 1");
            None
        }
    };
    let mut ents = Vec::new();
    let mut max_grants = Vec::new();
    let mut firecall = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, r) in raw.entitlement.into_iter().enumerate() {
        let at = format!("{file}: entitlement[{i}]");
        let group = match GroupName::parse("group", &r.group) {
            Ok(g) => g,
            Err(e) => {
                p.push(format!("{at}.group"), e.rule);
                continue;
            }
        };
        if !seen.insert(group.fold()) {
            p.push(format!("{at}.group"), format!("group {:?} is mapped twice", r.group));
        }
        let schedule = match &r.schedule {
            Some(name) => match schedules.get(name) {
                Some(s) => Some(s.clone()),
                None => {
                    p.push(
                        format!("{at}.schedule"),
                        format!("no schedule named {name:?} in the schedules file"),
                    );
                    continue;
                }
            },
            None => None,
        };
        let Some(access) = AccessRule::new(r.requires_grant, schedule) else {
            p.push(
                format!("{at}.requires_grant"),
                "standing access is not allowed: set requires_grant = true or name a schedule",
            );
            continue;
        };
        let Some(spec) = &spec else { continue };
        let mut values = Vec::new();
        for c in spec.columns() {
            let key = c.ec2_key.as_str();
            match r.values.get(key) {
                Some(toml::Value::String(s)) => {
                    match TagValue::parse("value", s) {
                        Ok(_) if s.starts_with(SENTINEL_PREFIX) => {
                            p.push(format!("{at}.values.{key}"), format!("must not start with {SENTINEL_PREFIX:?}, the prefix of closed-set sentinels"));
                        }
                        Ok(v) => values.push(v),
                        Err(e) => {
                            p.push(format!("{at}.values.{key}"), format!("{} (got {:?})", e.rule, e.value))
                        }
                    }
                }
                Some(_) => p.push(format!("{at}.values.{key}"), "must be a string"),
                None => p.push(format!("{at}.values.{key}"), "is missing: every tag column needs a value"),
            }
        }
        for k in r.values.keys() {
            if !spec.columns().iter().any(|c| c.ec2_key.as_str() == k) {
                p.push(format!("{at}.values.{k}"), "is not a configured tag column (see [[tags]])");
            }
        }
        if values.len() == spec.columns().len() {
            if let Some(s) = max_grant(&at, r.max_grant_seconds, p) {
                max_grants.push((group.clone(), s));
            }
            if r.firecall {
                firecall.push(group.clone());
            }
            ents.push(Entitlement { group, values, access });
        }
    }
    let rules = match &spec {
        Some(spec) => rules(file, raw.rule, spec, schedules, p),
        None => Vec::new(),
    };
    spec.map(|spec| Mapping { spec, entitlements: ents, rules, max_grant: max_grants, firecall })
}

/// `max_grant_seconds`: 900 s to 10 years, like grants.max_seconds.
fn max_grant(at: &str, v: Option<i64>, p: &mut Problems) -> Option<i64> {
    let v = v?;
    if (900..=316_224_000).contains(&v) {
        Some(v)
    } else {
        p.push(format!("{at}.max_grant_seconds"), format!("must be between 900 and 316224000 (got {v})"));
        None
    }
}

fn access(
    at: &str,
    requires_grant: bool,
    schedule: Option<&String>,
    schedules: &HashMap<String, Schedule>,
    p: &mut Problems,
) -> Option<AccessRule> {
    let schedule = match schedule {
        Some(name) => match schedules.get(name) {
            Some(s) => Some(s.clone()),
            None => {
                p.push(format!("{at}.schedule"), format!("no schedule named {name:?} in the schedules file"));
                return None;
            }
        },
        None => None,
    };
    let rule = AccessRule::new(requires_grant, schedule);
    if rule.is_none() {
        p.push(
            format!("{at}.requires_grant"),
            "standing access is not allowed: set requires_grant = true or name a schedule",
        );
    }
    rule
}

fn rules(
    file: &str,
    raw: Vec<RawRule>,
    spec: &TagSpec,
    schedules: &HashMap<String, Schedule>,
    p: &mut Problems,
) -> Vec<Rule> {
    let mut out = Vec::new();
    for (i, r) in raw.into_iter().enumerate() {
        let at = format!("{file}: rule[{i}]");
        let field = match r.field.as_deref().unwrap_or("cn") {
            "cn" => RuleField::Cn,
            "dn" => RuleField::Dn,
            other => {
                p.push(format!("{at}.match"), format!("must be \"cn\" or \"dn\" (got {other:?})"));
                continue;
            }
        };
        let pattern = match regex::RegexBuilder::new(&r.pattern).size_limit(1 << 20).build() {
            Ok(re) => re,
            Err(e) => {
                p.push(
                    format!("{at}.pattern"),
                    format!(
                        "not a valid regular expression: {}",
                        e.to_string().lines().last().unwrap_or_default()
                    ),
                );
                continue;
            }
        };
        let values = match r.attributes {
            Some(map) => {
                let mut attrs = Vec::new();
                for c in spec.columns() {
                    match map.get(c.ec2_key.as_str()) {
                        Some(a)
                            if !a.is_empty()
                                && a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b';') =>
                        {
                            attrs.push(a.clone())
                        }
                        Some(a) => p.push(
                            format!("{at}.attributes.{}", c.ec2_key.as_str()),
                            format!("not an LDAP attribute name: {a:?}"),
                        ),
                        None => p.push(
                            format!("{at}.attributes.{}", c.ec2_key.as_str()),
                            "is missing: every tag column needs an attribute",
                        ),
                    }
                }
                for k in map.keys() {
                    if !spec.columns().iter().any(|c| c.ec2_key.as_str() == k) {
                        p.push(
                            format!("{at}.attributes.{k}"),
                            "is not a configured tag column (see [[tags]])",
                        );
                    }
                }
                RuleValues::Attributes(attrs)
            }
            None => {
                let names: Vec<&str> = pattern.capture_names().flatten().collect();
                for c in spec.columns() {
                    if !names.contains(&c.ec2_key.as_str()) {
                        p.push(format!("{at}.pattern"), format!("needs a named capture (?P<{}>…) for every tag column, or an attributes table", c.ec2_key.as_str()));
                    }
                }
                RuleValues::Captures
            }
        };
        let max_grant = max_grant(&at, r.max_grant_seconds, p);
        if let Some(access) = access(&at, r.requires_grant, r.schedule.as_ref(), schedules, p) {
            out.push(Rule { field, pattern, values, access, max_grant });
        }
    }
    out
}
