//! Active Directory behaviour against a real Samba AD DC started by `scripts/test`
//! (`scripts/samba-ad.sh`, `SESAME_TEST_AD=DIR/env`): sAMAccountName and
//! userPrincipalName lookup, memberOf, the in-chain rule, AD's disabled flag, and the
//! demo outcomes.

use std::sync::atomic::Ordering;

use sesame::adapters::{Directory, UserGroups};

use crate::common::{at, demo_config, minter, nonce};
use crate::ldap::{names, setup_env, user, LdapEnv, LdapSetup, TEST_MAP};

fn ad(directory: &str, entitlements: &str) -> LdapSetup {
    setup_env(
        &LdapEnv::from_var("SESAME_TEST_AD", "scripts/samba-ad.sh"),
        "LDAPS_URL",
        "LDAP_BIND_UPN",
        directory,
        entitlements,
    )
}

#[test]
fn sam_account_name_and_the_in_chain_rule_in_one_query() {
    let d = ad("", TEST_MAP).directory();
    assert!(d.probe().unwrap(), "Samba announces the Active Directory capability");
    let before = d.stats().searches.load(Ordering::Relaxed);
    let carol = d.groups(&user("carol")).unwrap();
    assert_eq!(names(&carol), vec!["PAM-db-DBX-4.2", "oncall-emea (night)", "pam-webserver", "sre"]);
    let searches = d.stats().searches.load(Ordering::Relaxed) - before;
    assert_eq!(searches, 2, "one user search and one in-chain search (the rootDSE was read by probe)");
}

#[test]
fn the_in_chain_rule_follows_an_escaped_dn() {
    let d = ad("groups = \"in_chain\"", TEST_MAP).directory();
    assert_eq!(
        names(&d.groups(&user("jdoe")).unwrap()),
        vec!["PAM-db-DBX-4.2", "oncall-emea (night)", "sre"]
    );
}

#[test]
fn user_principal_name_lookup() {
    let d = ad("user_filter = \"(&(objectClass=user)(userPrincipalName={user}))\"", TEST_MAP).directory();
    assert!(names(&d.groups(&user("bob@corp.example")).unwrap()).contains(&"sre".to_owned()));
}

#[test]
fn member_of_gives_direct_groups_and_walk_agrees_with_in_chain() {
    let direct = ad("groups = \"memberof\"", TEST_MAP).directory();
    assert_eq!(
        names(&direct.groups(&user("alice")).unwrap()),
        vec!["pam-webserver", "payments-oncall", "staff"]
    );
    let walk = ad("groups = \"walk\"", TEST_MAP).directory();
    let chain = ad("groups = \"in_chain\"", TEST_MAP).directory();
    for u in ["alice", "bob", "carol", "jdoe"] {
        assert_eq!(names(&walk.groups(&user(u)).unwrap()), names(&chain.groups(&user(u)).unwrap()), "{u}");
    }
}

#[test]
fn accounts_disabled_in_active_directory_hold_nothing() {
    let d = ad("", TEST_MAP).directory();
    assert_eq!(d.groups(&user("dave")).unwrap(), UserGroups::Disabled);
}

#[test]
fn mint_against_active_directory_gives_the_demo_outcomes() {
    let (f, l) = (minter(&demo_config()), minter(&ad("", "policies/entitlements.toml").config()));
    for (u, i, t) in [
        ("alice", "i-0fedcba9876543210", "2026-12-01T15:00:00Z"),
        ("alice", "i-0fedcba9876543210", "2026-12-01T12:00:00Z"),
        ("carol", "i-0123456789abcdef0", "2026-12-01T15:00:00Z"),
        ("bob", "i-0123456789abcdef0", "2026-12-01T15:00:00Z"),
    ] {
        let a =
            f.mint(u, i, "us-east-1", at(t), &nonce(9)).map(|m| m.decision().clone()).map_err(|e| e.code());
        let b =
            l.mint(u, i, "us-east-1", at(t), &nonce(9)).map(|m| m.decision().clone()).map_err(|e| e.code());
        assert_eq!(a, b, "{u} {i} {t}");
    }
}
