//! `[directory]` validated: the file directory, or LDAP / Active Directory settings.
//! The bind password is read here from a file or an environment variable — never from
//! the command line — and never printed (`LdapConfig`'s `Debug` redacts it).

use std::path::Path;
use std::time::Duration;

use super::model::{GroupMode, LdapConfig, Source};
use super::problems::Problems;
use super::raw::RawDirectory;

/// The AD default: accounts by sAMAccountName.
pub const AD_USER_FILTER: &str = "(&(objectClass=user)(sAMAccountName={user}))";
pub const DEFAULT_GROUP_FILTER: &str =
    "(|(objectClass=group)(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))";

fn balanced(f: &str) -> bool {
    let mut depth = 0i32;
    for c in f.chars() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

fn filter_ok(f: &str) -> bool {
    f.starts_with('(') && f.ends_with(')') && balanced(f)
}

fn usize_of(v: i64) -> usize {
    usize::try_from(v).unwrap_or(0)
}

fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A password from exactly one of a file (mode-checked) or an environment variable;
/// `at` is the section (`directory.bind_password`, `database.password`).
pub fn password(
    p: &mut Problems,
    at: &str,
    file: Option<&String>,
    env: Option<&String>,
    base: &Path,
    what: &str,
) -> String {
    match (file, env) {
        (Some(f), None) => match crate::secrets::read_line(&base.join(f)) {
            Ok(s) => s,
            Err(e) => {
                p.push(format!("{at}_file"), e.to_string());
                String::new()
            }
        },
        (None, Some(var)) => std::env::var(var).unwrap_or_else(|_| {
            p.push(format!("{at}_env"), format!("environment variable {var} is not set"));
            String::new()
        }),
        (Some(_), Some(_)) => {
            p.push(format!("{at}_file"), format!("give {at}_file or {at}_env, not both"));
            String::new()
        }
        (None, None) => {
            p.push(format!("{at}_file"), format!("is required (or {at}_env): {what}"));
            String::new()
        }
    }
}

pub fn directory(p: &mut Problems, r: RawDirectory, base: &Path) -> Source {
    match (r.kind.as_deref(), r.url.is_some()) {
        (Some("file"), _) | (None, false) => match &r.file {
            Some(f) => Source::File(base.join(f)),
            None => {
                p.push("directory.file", "is required when kind = \"file\"");
                Source::None
            }
        },
        (Some("ldap"), _) | (None, true) => ldap(p, r, base),
        (Some(k), _) => {
            p.push("directory.kind", format!("unknown kind {k:?}; expected \"file\" or \"ldap\""));
            Source::None
        }
    }
}

fn ldap(p: &mut Problems, r: RawDirectory, base: &Path) -> Source {
    let url = r.url.clone().unwrap_or_default();
    let ldaps = url.starts_with("ldaps://");
    if !(ldaps || url.starts_with("ldap://")) || url.len() < 10 {
        p.push("directory.url", format!("must be ldaps://host[:port] or ldap://host[:port] (got {url:?})"));
    }
    let starttls = r.starttls.unwrap_or(false);
    if ldaps && starttls {
        p.push("directory.starttls", "ldaps:// is already TLS; starttls applies to ldap:// URLs");
    }
    let tls = ldaps || starttls;
    if !tls && !r.allow_plaintext.unwrap_or(false) {
        p.push("directory.url", "plain LDAP sends the bind password in clear: use ldaps://, or starttls = true, or set allow_plaintext = true explicitly");
    }
    let ca_file = r.ca_file.as_ref().map(|c| base.join(c));
    if tls && ca_file.is_none() {
        p.push("directory.ca_file", "is required with TLS: the CA that issued the directory's certificate");
    }
    if let Some(ca) = ca_file.as_ref().filter(|c| !c.exists()) {
        p.push("directory.ca_file", format!("{} does not exist", ca.display()));
    }
    let bind_dn = r.bind_dn.clone().unwrap_or_default();
    if bind_dn.trim().is_empty() {
        p.push("directory.bind_dn", "is required: the service account used for searches");
    }
    let bind_password = password(
        p,
        "directory.bind_password",
        r.bind_password_file.as_ref(),
        r.bind_password_env.as_ref(),
        base,
        "the service account's password",
    );
    let user_base = r.user_base.clone().unwrap_or_default();
    if user_base.trim().is_empty() {
        p.push("directory.user_base", "is required, e.g. \"dc=corp,dc=example\"");
    }
    let user_filter = r.user_filter.clone().unwrap_or_else(|| AD_USER_FILTER.into());
    if user_filter.matches("{user}").count() != 1 || !filter_ok(&user_filter) {
        p.push(
            "directory.user_filter",
            format!(
                "must be a parenthesised LDAP filter containing {{user}} exactly once (got {user_filter:?})"
            ),
        );
    }
    let group_filter = r.group_filter.clone().unwrap_or_else(|| DEFAULT_GROUP_FILTER.into());
    if !filter_ok(&group_filter) || group_filter.contains("{user}") {
        p.push(
            "directory.group_filter",
            format!("must be a parenthesised LDAP filter (got {group_filter:?})"),
        );
    }
    let groups = match r.groups.as_deref().unwrap_or("auto") {
        "auto" => GroupMode::Auto,
        "in_chain" => GroupMode::InChain,
        "walk" => GroupMode::Walk,
        "memberof" => GroupMode::MemberOf,
        other => {
            p.push(
                "directory.groups",
                format!("must be \"auto\", \"in_chain\", \"walk\" or \"memberof\" (got {other:?})"),
            );
            GroupMode::Auto
        }
    };
    let max_depth = usize_of(p.number("directory.max_depth", r.max_depth, 8, 1, 32));
    let max_groups = usize_of(p.number("directory.max_groups", r.max_groups, 1000, 1, 100_000));
    let pool_size = usize_of(p.number("directory.pool_size", r.pool_size, 2, 1, 32));
    let timeout =
        Duration::from_millis(u64_of(p.number("directory.timeout_ms", r.timeout_ms, 2000, 50, 60_000)));
    let cache_ttl = Duration::from_secs(u64_of(p.number(
        "directory.cache_ttl_seconds",
        r.cache_ttl_seconds,
        30,
        0,
        3600,
    )));
    Source::Ldap(Box::new(LdapConfig {
        url,
        starttls,
        ca_file,
        bind_dn,
        bind_password,
        group_base: r.group_base.unwrap_or_else(|| user_base.clone()),
        user_base,
        user_filter,
        group_filter,
        groups,
        max_depth,
        max_groups,
        pool_size,
        timeout,
        cache_ttl,
        group_attributes: vec!["cn".into()],
    }))
}

/// A warning for `sesame check` (plain LDAP that was explicitly allowed).
pub fn warnings(s: &Source) -> Vec<String> {
    match s {
        Source::Ldap(l) if !l.url.starts_with("ldaps://") && !l.starttls => {
            vec![format!("directory.url {}: plain LDAP (allow_plaintext = true): the bind password and every answer cross the network in clear", l.url)]
        }
        _ => Vec::new(),
    }
}
