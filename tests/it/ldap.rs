//! The LDAP directory against a real OpenLDAP server started by `scripts/test`
//! (`scripts/openldap.sh`, tree in `tests/data/ldap/`): TLS, nested groups, cycles,
//! escaping, disabled and ambiguous accounts, fail-closed behaviour and the cache.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use sesame::adapters::directory::ldap::{user_filter, LdapDirectory};
use sesame::adapters::{Directory, UserGroups};
use sesame::config::{Config, Source};
use sesame::core::DirGroup;
use sesame::core::UserName;

use crate::common::{at, minter, nonce, root, sesame, temp_config_with, TempConfig};

/// Connection settings written by `scripts/openldap.sh start` (DIR/env).
pub struct LdapEnv(HashMap<String, String>);

impl LdapEnv {
    pub fn load() -> Self {
        Self::from_var("SESAME_TEST_LDAP", "scripts/openldap.sh")
    }
    pub fn from_var(var: &str, script: &str) -> Self {
        let path = std::env::var(var).unwrap_or_else(|_| {
            panic!(
                "{var} is not set: run the suite with scripts/test, which starts the directory \
                 (or {script} start DIR and export {var}=DIR/env)"
            )
        });
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        Self(text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect())
    }
    pub fn get(&self, k: &str) -> &str {
        &self.0[k]
    }
}

/// A configuration in a temporary directory using the LDAP directory.
pub type LdapSetup = TempConfig;

impl TempConfig {
    /// The LDAP directory this configuration names.
    pub fn directory(&self) -> LdapDirectory {
        match self.config().directory {
            Source::Ldap(l) => LdapDirectory::new(*l).unwrap(),
            other => panic!("not LDAP: {other:?}"),
        }
    }
}

pub fn setup(url_key: &str, directory: &str, entitlements: &str) -> LdapSetup {
    setup_env(&LdapEnv::load(), url_key, "LDAP_BIND_DN", directory, entitlements)
}

/// `directory` lines are appended to the `[directory]` table; `entitlements` is a
/// path in the repository.
pub fn setup_env(
    env: &LdapEnv,
    url_key: &str,
    bind_key: &str,
    directory: &str,
    entitlements: &str,
) -> LdapSetup {
    let map = std::fs::read_to_string(root().join(entitlements)).unwrap();
    temp_config_with("", &[("entitlements.toml", &map)], &|dir: &Path, _| {
        let pw = dir.join("ldap.pw");
        std::fs::write(&pw, format!("{}\n", env.get("LDAP_BIND_PW"))).unwrap();
        std::fs::set_permissions(&pw, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        format!(
            "kind = \"ldap\"\nurl = {:?}\nca_file = {:?}\nbind_dn = {:?}\nbind_password_file = {:?}\nuser_base = {:?}\n{directory}\n",
            env.get(url_key),
            env.get("LDAP_CA_FILE"),
            env.get(bind_key),
            pw.display().to_string(),
            env.get("LDAP_BASE"),
        )
    })
}

pub const TEST_MAP: &str = "tests/data/ldap/entitlements.toml";

pub fn user(s: &str) -> UserName {
    UserName::parse("user", s).unwrap()
}

pub fn names(g: &UserGroups) -> Vec<String> {
    match g {
        UserGroups::Member(v) => {
            let mut n: Vec<String> = v.iter().map(|g| g.name.clone()).collect();
            n.sort();
            n
        }
        other => panic!("expected groups, got {other:?}"),
    }
}

fn groups(d: &LdapDirectory, u: &str) -> Vec<DirGroup> {
    match d.groups(&user(u)).unwrap() {
        UserGroups::Member(v) => v,
        other => panic!("{u}: {other:?}"),
    }
}

#[test]
fn ldaps_and_starttls_resolve_nested_groups() {
    for (url, extra) in [("LDAPS_URL", ""), ("LDAP_URL", "starttls = true")] {
        let s = setup(url, extra, TEST_MAP);
        let d = s.directory();
        assert!(!d.probe().unwrap(), "OpenLDAP is not Active Directory");
        let alice = d.groups(&user("alice")).unwrap();
        assert_eq!(names(&alice), vec!["pam-payments", "pam-webserver", "payments-oncall", "staff"], "{url}");
        let carol = d.groups(&user("carol")).unwrap();
        assert_eq!(names(&carol), vec!["PAM-db-DBX-4.2", "oncall-emea (night)", "pam-webserver", "sre"]);
    }
}

#[test]
fn membership_cycles_terminate_and_each_group_appears_once() {
    let d = setup("LDAPS_URL", "", TEST_MAP).directory();
    let n = names(&d.groups(&user("jdoe")).unwrap());
    assert_eq!(n.iter().filter(|g| g.starts_with("cycle-")).count(), 2, "{n:?}");
    assert!(n.contains(&"PAM-db-DBX-4.2".to_owned()), "three levels up through (night) and sre: {n:?}");
}

#[test]
fn dns_that_need_escaping_are_followed() {
    let d = setup("LDAPS_URL", "", TEST_MAP).directory();
    assert_eq!(names(&d.groups(&user("joerg")).unwrap()), vec!["Zürich ops", "back\\slash ops", "ops*star"]);
    let jane = groups(&d, "jdoe");
    assert!(jane.iter().any(|g| g.name == "oncall-emea (night)"), "member DN with a comma and parentheses");
}

#[test]
fn injection_attempts_find_nothing_extra() {
    let template = "(&(objectClass=user)(sAMAccountName={user}))";
    assert_eq!(
        user_filter(template, "*)(uid=*"),
        "(&(objectClass=user)(sAMAccountName=\\2a\\29\\28uid=\\2a))"
    );
    let d = setup("LDAPS_URL", "", TEST_MAP).directory();
    for hostile in [
        "*",
        "*)(uid=*",
        "admin)(|(uid=*",
        "alice)(sAMAccountName=*",
        "al*",
        "\\",
        "*)(objectClass=*",
        "alice\0",
    ] {
        assert_eq!(d.lookup_raw(hostile).unwrap(), UserGroups::Unknown, "{hostile:?} matched something");
    }
    // A literal '*' in a real account name matches that account only.
    assert_eq!(names(&d.lookup_raw("st*r").unwrap()), Vec::<String>::new());
}

#[test]
fn disabled_accounts_hold_no_entitlements() {
    let s = setup("LDAPS_URL", "", TEST_MAP);
    assert_eq!(s.directory().groups(&user("dave")).unwrap(), UserGroups::Disabled);
    let m = minter(&s.config());
    let e = m
        .mint("dave", "i-0123456789abcdef0", "us-east-1", at("2026-12-01T15:00:00Z"), &nonce(1))
        .unwrap_err();
    assert_eq!(e.code(), "no_entitlement");
}

#[test]
fn zero_and_several_matches_are_distinct_errors() {
    let d = setup("LDAPS_URL", "", TEST_MAP).directory();
    assert_eq!(d.groups(&user("nobody")).unwrap(), UserGroups::Unknown);
    let e = d.groups(&user("twin")).unwrap_err();
    assert_eq!(e.code(), "ambiguous_user");
    assert!(e.to_string().contains("2 accounts"), "{e}");
}

#[test]
fn users_by_upn_or_uid_with_a_configured_filter() {
    let upn =
        setup("LDAPS_URL", "user_filter = \"(&(objectClass=user)(userPrincipalName={user}))\"", TEST_MAP);
    assert!(
        names(&upn.directory().groups(&user("alice@corp.example")).unwrap()).contains(&"staff".to_owned())
    );
    let uid = setup("LDAPS_URL", "user_filter = \"(&(objectClass=inetOrgPerson)(uid={user}))\"", TEST_MAP);
    assert!(names(&uid.directory().groups(&user("bob")).unwrap()).contains(&"sre".to_owned()));
}

#[test]
fn memberof_mode_reads_direct_groups_only() {
    let d = setup("LDAPS_URL", "groups = \"memberof\"", TEST_MAP).directory();
    assert_eq!(names(&d.groups(&user("alice")).unwrap()), vec!["pam-webserver", "payments-oncall", "staff"]);
}

#[test]
fn in_chain_is_refused_against_a_server_that_is_not_active_directory() {
    let d = setup("LDAPS_URL", "groups = \"in_chain\"", TEST_MAP).directory();
    let e = d.groups(&user("alice")).unwrap_err();
    assert!(e.to_string().contains("needs Active Directory"), "{e}");
}

#[test]
fn a_certificate_from_another_ca_fails_the_handshake() {
    let s = setup("LDAPS_URL", "", TEST_MAP);
    let other = s.dir.path().join("other-ca.pem");
    std::fs::copy(root().join("tests/data/other-signing.crt"), &other).unwrap();
    let text = std::fs::read_to_string(&s.path).unwrap();
    let ca = LdapEnv::load().get("LDAP_CA_FILE").to_owned();
    std::fs::write(&s.path, text.replace(&ca, &other.display().to_string())).unwrap();
    let e = s.directory().groups(&user("alice")).unwrap_err();
    assert_eq!(e.code(), "directory_unavailable");
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
    // StartTLS too.
    let st = setup("LDAP_URL", "starttls = true", TEST_MAP);
    let text = std::fs::read_to_string(&st.path).unwrap();
    std::fs::write(&st.path, text.replace(&ca, &other.display().to_string())).unwrap();
    assert!(st.directory().groups(&user("alice")).is_err());
}

#[test]
fn a_server_that_is_down_fails_minting_closed_and_is_audited() {
    let s = setup("LDAPS_URL", "", TEST_MAP);
    let text = std::fs::read_to_string(&s.path)
        .unwrap()
        .replace(LdapEnv::load().get("LDAPS_URL"), "ldaps://127.0.0.1:1");
    std::fs::write(&s.path, text).unwrap();
    let m = minter(&s.config());
    let e = m
        .mint("alice", "i-0123456789abcdef0", "us-east-1", at("2026-12-01T15:00:00Z"), &nonce(1))
        .unwrap_err();
    assert_eq!(e.code(), "directory_unavailable");
    let recs = crate::audit::records(m.audit_dir.path());
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].entry.outcome.as_deref(), Some("failed"));
}

fn ldapmodify(ldif: &str) {
    let env = LdapEnv::load();
    let mut c = Command::new("ldapmodify")
        .args([
            "-x",
            "-H",
            env.get("LDAP_URL"),
            "-D",
            env.get("LDAP_ADMIN_DN"),
            "-w",
            env.get("LDAP_ADMIN_PW"),
            "-c",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(ldif.as_bytes()).unwrap();
    c.wait().unwrap();
}

#[test]
fn the_cache_serves_within_its_ttl_and_never_past_it() {
    let base = LdapEnv::load().get("LDAP_BASE").to_owned();
    let group = format!("cn=pam-ttl,ou=Groups,{base}");
    let member = format!("uid=ttluser,ou=Users,{base}");
    // Idempotent start: ttluser is a member.
    ldapmodify(&format!("dn: {group}\nchangetype: modify\nadd: member\nmember: {member}\n"));
    let cached = setup("LDAPS_URL", "cache_ttl_seconds = 1", TEST_MAP).directory();
    let uncached = setup("LDAPS_URL", "cache_ttl_seconds = 0", TEST_MAP).directory();
    assert_eq!(names(&cached.groups(&user("ttluser")).unwrap()), vec!["pam-ttl"]);
    // groupOfNames needs a member: put a placeholder in before removing ttluser.
    ldapmodify(&format!("dn: {group}\nchangetype: modify\nadd: member\nmember: uid=bob,ou=Users,{base}\n"));
    ldapmodify(&format!("dn: {group}\nchangetype: modify\ndelete: member\nmember: {member}\n"));
    assert_eq!(
        names(&uncached.groups(&user("ttluser")).unwrap()),
        Vec::<String>::new(),
        "no-cache mode sees it at once"
    );
    assert_eq!(names(&cached.groups(&user("ttluser")).unwrap()), vec!["pam-ttl"], "served from the cache");
    assert_eq!(cached.stats().cache_hits.load(std::sync::atomic::Ordering::Relaxed), 1);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        names(&cached.groups(&user("ttluser")).unwrap()),
        Vec::<String>::new(),
        "expired entry refreshed"
    );
    ldapmodify(&format!("dn: {group}\nchangetype: modify\nadd: member\nmember: {member}\n"));
}

#[test]
fn groups_that_yield_illegal_tag_values_are_reported_not_emitted() {
    let s = setup("LDAPS_URL", "", TEST_MAP);
    let cfg = s.config();
    let (ents, problems) = cfg.mapping.map(&groups(&s.directory(), "jdoe"));
    let mut got: Vec<&str> = ents.iter().map(|e| e.group.as_str()).collect();
    got.sort();
    assert_eq!(got, vec!["PAM-db-DBX-4.2", "app-analytics"]);
    assert_eq!(problems.len(), 1);
    assert!(problems[0].to_string().contains("app-broken") && problems[0].to_string().contains("bad,value"));
    let m = minter(&cfg);
    m.mint("jdoe", "i-0aaaaaaaaaaaaaaaa", "us-east-1", at("2026-12-01T15:00:00Z"), &nonce(2)).unwrap();
    let recs = crate::audit::records(m.audit_dir.path());
    assert!(recs[0].entry.problems.iter().any(|p| p.contains("app-broken")), "{:?}", recs[0].entry);
}

#[test]
fn mint_with_ldap_gives_the_demo_outcomes() {
    let file_cfg = crate::common::demo_config();
    let ldap_cfg = setup("LDAPS_URL", "", "policies/entitlements.toml").config();
    let (f, l) = (minter(&file_cfg), minter(&ldap_cfg));
    for (u, i, t) in [
        ("alice", "i-0fedcba9876543210", "2026-12-01T15:00:00Z"),
        ("alice", "i-0fedcba9876543210", "2026-12-01T12:00:00Z"),
        ("alice", "i-0aaaaaaaaaaaaaaaa", "2026-12-01T15:00:00Z"),
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

#[test]
fn check_user_prints_groups_and_tag_sets_without_the_password() {
    let s = setup("LDAPS_URL", "", TEST_MAP);
    let out = sesame().arg("--config").arg(&s.path).args(["check", "--user", "carol"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("connected and bound") && text.contains("(LDAPv3)"), "{text}");
    assert!(text.contains("group oncall-emea (night)"), "{text}");
    assert!(text.contains("tag set PAM-db-DBX-4.2: APP_GROUP_NAME=db, APP_ID=DBX, RELEASE_ID=4.2"), "{text}");
    assert!(!text.contains(LdapEnv::load().get("LDAP_BIND_PW")));
    assert!(
        !format!("{:?}", s.config()).contains(LdapEnv::load().get("LDAP_BIND_PW")),
        "Debug redacts the password"
    );
}

#[test]
fn plain_ldap_needs_an_explicit_opt_in_and_check_warns() {
    let s = setup("LDAP_URL", "", TEST_MAP);
    let e = Config::load(Some(&s.path)).unwrap_err();
    assert!(e.to_string().contains("allow_plaintext"), "{e}");
    let ok = setup("LDAP_URL", "allow_plaintext = true", TEST_MAP);
    let out = sesame().arg("--config").arg(&ok.path).arg("check").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("warning: directory.url") && text.contains("in clear"), "{text}");
}
