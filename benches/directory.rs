//! Entitlement lookup latency against the local OpenLDAP of `scripts/test`
//! (`SESAME_TEST_LDAP=DIR/env`): uncached (user search + nested-group walk on a bound
//! connection), cached (TTL hit), and connect + bind + lookup from nothing.
//! Without `SESAME_TEST_LDAP` the bench says so and measures nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness

use std::collections::HashMap;

use criterion::{criterion_group, criterion_main, Criterion};
use sesame::adapters::directory::ldap::LdapDirectory;
use sesame::adapters::Directory;
use sesame::config::{GroupMode, LdapConfig};
use sesame::core::UserName;

fn env() -> Option<HashMap<String, String>> {
    let path = std::env::var("SESAME_TEST_LDAP").ok()?;
    let text = std::fs::read_to_string(path).ok()?;
    Some(text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect())
}

fn config(e: &HashMap<String, String>, ttl: u64) -> LdapConfig {
    LdapConfig {
        url: e["LDAPS_URL"].clone(),
        starttls: false,
        ca_file: Some(e["LDAP_CA_FILE"].clone().into()),
        bind_dn: e["LDAP_BIND_DN"].clone(),
        bind_password: e["LDAP_BIND_PW"].clone(),
        user_base: e["LDAP_BASE"].clone(),
        user_filter: "(&(objectClass=user)(sAMAccountName={user}))".into(),
        group_base: e["LDAP_BASE"].clone(),
        group_filter: "(|(objectClass=group)(objectClass=groupOfNames))".into(),
        groups: GroupMode::Walk,
        max_depth: 8,
        max_groups: 1000,
        pool_size: 2,
        timeout: std::time::Duration::from_secs(2),
        cache_ttl: std::time::Duration::from_secs(ttl),
        group_attributes: vec!["cn".into()],
    }
}

fn benches(c: &mut Criterion) {
    let Some(e) = env() else {
        eprintln!(
            "benches/directory: SESAME_TEST_LDAP is not set (scripts/test starts OpenLDAP); nothing measured"
        );
        return;
    };
    let carol = UserName::parse("user", "carol").unwrap(); // three levels of nesting
    let mut g = c.benchmark_group("directory");
    let uncached = LdapDirectory::new(config(&e, 0)).unwrap();
    uncached.groups(&carol).unwrap();
    g.bench_function("lookup_uncached_nested_3_levels", |b| b.iter(|| uncached.groups(&carol).unwrap()));
    let cached = LdapDirectory::new(config(&e, 3600)).unwrap();
    cached.groups(&carol).unwrap();
    g.bench_function("lookup_cache_hit", |b| b.iter(|| cached.groups(&carol).unwrap()));
    g.sample_size(20);
    g.bench_function("connect_bind_lookup_cold", |b| {
        b.iter(|| LdapDirectory::new(config(&e, 0)).unwrap().groups(&carol).unwrap())
    });
    g.finish();
}

criterion_group!(all, benches);
criterion_main!(all);
