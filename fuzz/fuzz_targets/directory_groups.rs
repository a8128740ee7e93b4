//! Directory entries → entitlements: groups with any name, DN and attributes map to
//! entitlements or to named problems, never a panic; and a user name rendered into an
//! LDAP filter never leaves its assertion value.
#![no_main]

mod common;

use std::collections::HashMap;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sesame::core::DirGroup;

static MAPPING: OnceLock<sesame::core::Mapping> = OnceLock::new();

fn mapping() -> &'static sesame::core::Mapping {
    MAPPING.get_or_init(|| {
        let ent = common::root().join("tests/data/ldap/entitlements.toml").display().to_string();
        let sched = common::root().join("policies/schedules.toml").display().to_string();
        let raw = format!(
            "[idp]\nentity_id = \"https://x/idp\"\nsso_url = \"https://x/sso\"\n[aws]\nrole_arn = \"arn:aws:iam::111122223333:role/r\"\nprovider_arn = \"arn:aws:iam::111122223333:saml-provider/p\"\n[keys]\nsigning_key = \"k\"\nsigning_cert = \"c\"\n[policies]\nentitlements = {ent:?}\nschedules = {sched:?}\n[directory]\nkind = \"file\"\nfile = \"policies/demo/directory.toml\"\n[grants]\nkind = \"file\"\nfile = \"policies/demo/grants.toml\"\n"
        );
        sesame::config::Config::from_toml(&raw, "fuzz", &common::root()).expect("the test mapping").mapping
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let groups: Vec<DirGroup> = text
        .split('\n')
        .take(64)
        .map(|line| {
            let mut parts = line.split('|');
            let name = parts.next().unwrap_or_default().to_owned();
            let dn = parts.next().unwrap_or_default().to_owned();
            let mut attrs: HashMap<String, Vec<String>> = HashMap::new();
            for kv in parts {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                attrs.entry(k.to_lowercase()).or_default().push(v.to_owned());
            }
            let _ = sesame::core::dn::normalize_dn(&dn);
            DirGroup { dn, name, attrs }
        })
        .collect();
    let _ = mapping().map(&groups);
    let user = text.lines().next().unwrap_or_default();
    let f =
        sesame::adapters::directory::ldap::user_filter("(&(objectClass=user)(sAMAccountName={user}))", user);
    let value = f
        .strip_prefix("(&(objectClass=user)(sAMAccountName=")
        .and_then(|r| r.strip_suffix("))"))
        .expect("the template's frame is kept");
    assert!(!value.contains(['(', ')', '*', '\0']), "an unescaped filter character: {value:?}");
});
