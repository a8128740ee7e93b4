//! Configuration validation: every problem is reported with its location and rule.

use sesame::config::Config;

use crate::common::{demo_config, root};

fn problems(text: &str) -> Vec<(String, String)> {
    Config::from_toml(text, "t", &root()).unwrap_err().problems.0
}

fn has(p: &[(String, String)], at: &str, msg: &str) -> bool {
    p.iter().any(|(a, m)| a.contains(at) && m.contains(msg))
}

#[test]
fn the_embedded_default_is_valid() {
    let c = demo_config();
    assert_eq!(c.mapping.entitlements.len(), 2);
    assert_eq!(c.policy.role_max_session, 3600);
    assert_eq!(c.aws.audience, "urn:amazon:webservices");
}

#[test]
fn all_problems_are_listed_at_once() {
    let text = sesame::config::EMBEDDED_DEFAULT
        .replace("arn:aws:iam::111122223333:role/sesame-session-manager", "role/oops")
        .replace("role_max_session_seconds = 3600", "role_max_session_seconds = 60")
        .replace("https://sesame.localhost/sso", "http://insecure");
    let p = problems(&text);
    assert!(has(&p, "aws.role_arn", "arn:<partition>:iam::"), "{p:?}");
    assert!(has(&p, "aws.role_max_session_seconds", "between 900 and 43200"), "{p:?}");
    assert!(has(&p, "idp.sso_url", "https://"), "{p:?}");
}

#[test]
fn unknown_keys_and_syntax_errors_are_named() {
    let e = Config::from_toml("[idp]\nentity_idd = \"x\"\n", "t", &root()).unwrap_err();
    assert!(e.to_string().contains("entity_idd"), "{e}");
    let e = Config::from_toml("[idp\n", "t", &root()).unwrap_err();
    assert!(e.to_string().contains("t"), "{e}");
}

#[test]
fn provider_and_role_must_share_an_account() {
    let text =
        sesame::config::EMBEDDED_DEFAULT.replace("111122223333:saml-provider", "999999999999:saml-provider");
    assert!(has(&problems(&text), "aws.provider_arn", "same account"));
}

fn with_policies(ent: &str, sched: &str) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("e.toml"), ent).unwrap();
    std::fs::write(dir.path().join("s.toml"), sched).unwrap();
    let text = sesame::config::EMBEDDED_DEFAULT
        .replace("policies/entitlements.toml", &dir.path().join("e.toml").display().to_string())
        .replace("policies/schedules.toml", &dir.path().join("s.toml").display().to_string());
    problems(&text)
}

const SCHED: &str = "[[schedule]]\nname = \"bh\"\nzone = \"America/New_York\"\nrules = [{ days = \"Mon-Fri\", from = \"09:00\", to = \"17:00\" }]\n";

#[test]
fn mapping_errors_name_the_entitlement_and_value() {
    let ent = r#"
[[entitlement]]
group = "pam-a"
values = { APP_GROUP_NAME = "bad,value", APP_ID = "A", RELEASE_ID = "1" }

[[entitlement]]
group = "pam-b"
values = { APP_GROUP_NAME = "b", APP_ID = "B" }

[[entitlement]]
group = "pam-c"
values = { APP_GROUP_NAME = "c", APP_ID = "C", RELEASE_ID = "1", EXTRA = "x" }
requires_grant = false

[[entitlement]]
group = "pam-d"
values = { APP_GROUP_NAME = "sesame:closed:abc", APP_ID = "D", RELEASE_ID = "1" }
schedule = "nope"
"#;
    let p = with_policies(ent, SCHED);
    assert!(has(&p, "entitlement[0].values.APP_GROUP_NAME", "session-tag rule"), "{p:?}");
    assert!(has(&p, "entitlement[1].values.RELEASE_ID", "missing"), "{p:?}");
    assert!(has(&p, "entitlement[2].requires_grant", "standing access"), "{p:?}");
    assert!(has(&p, "entitlement[3].schedule", "no schedule named"), "{p:?}");
}

#[test]
fn too_many_sets_for_aws_are_refused_with_the_limit() {
    let p = with_policies("max_sets = 17\n", SCHED);
    assert!(has(&p, "e.toml", "at most 16 sets fit"), "{p:?}");
}

#[test]
fn sentinel_prefixed_values_are_refused() {
    let ent = "[[entitlement]]\ngroup = \"g\"\nvalues = { APP_GROUP_NAME = \"sesame:closed:1\", APP_ID = \"A\", RELEASE_ID = \"1\" }\n";
    assert!(has(&with_policies(ent, SCHED), "APP_GROUP_NAME", "sentinels"));
}

#[test]
fn schedule_errors_name_the_rule() {
    let sched = "[[schedule]]\nname = \"x\"\nzone = \"Mars/Olympus\"\nrules = [{ days = \"Mon\", from = \"25:00\", to = \"17:00\" }]\n";
    let p = with_policies("", sched);
    assert!(has(&p, "schedule[0].zone", "IANA"), "{p:?}");
    assert!(has(&p, "schedule[0].rules[0].from", "HH:MM"), "{p:?}");
}

/// Issue 13: an entitlement may cap its grants below grants.max_seconds.
#[test]
fn an_entitlement_caps_the_length_of_its_grants() {
    let text = std::fs::read_to_string(crate::common::root().join("policies/entitlements.toml")).unwrap();
    let capped =
        text.replace("group = \"pam-webserver\"\n", "group = \"pam-webserver\"\nmax_grant_seconds = 3600\n");
    let env = crate::common::temp_config("", &[("entitlements.toml", &capped)]);
    let cfg = env.config();
    let g = |s: &str| sesame::core::GroupName::parse("group", s).unwrap();
    assert_eq!(cfg.mapping.max_grant_seconds(&g("pam-webserver")), Some(3600));
    assert_eq!(cfg.mapping.max_grant_seconds(&g("PAM-Payments")), None);
    let req = |group: &str, secs: i64| sesame::service::grants::GrantRequest {
        user: "carol".into(),
        group: group.into(),
        duration_seconds: Some(secs),
        ticket: "T".into(),
        approver: "a".into(),
        ..Default::default()
    };
    let now = crate::common::at("2026-12-01T10:00:00Z");
    let v = |r| sesame::service::grants::validate(&r, &cfg.mapping, cfg.grants_max_seconds, now, false);
    let e = v(req("pam-webserver", 3601)).unwrap_err();
    assert!(e.to_string().contains("maximum of 3600 s for pam-webserver (max_grant_seconds)"), "{e}");
    assert!(v(req("pam-webserver", 3600)).is_ok());
    assert!(v(req("pam-payments", 7200)).is_ok(), "other entitlements keep grants.max_seconds");
    let bad =
        text.replace("group = \"pam-webserver\"\n", "group = \"pam-webserver\"\nmax_grant_seconds = 60\n");
    let env = crate::common::temp_config("", &[("entitlements.toml", &bad)]);
    let e = sesame::config::Config::load(Some(&env.path)).unwrap_err().to_string();
    assert!(e.contains("max_grant_seconds: must be between 900 and 316224000 (got 60)"), "{e}");
}

#[test]
fn the_signing_engine_is_auto_unless_named_and_a_wrong_name_is_refused() {
    use sesame::config::SigningEngine;
    assert_eq!(demo_config().keys.signing_engine, SigningEngine::Auto);
    for (name, engine) in
        [("auto", SigningEngine::Auto), ("aws-lc", SigningEngine::AwsLc), ("openssl", SigningEngine::OpenSsl)]
    {
        let text = sesame::config::EMBEDDED_DEFAULT
            .replace("[keys]\n", &format!("[keys]\nsigning_engine = {name:?}\n"));
        assert_eq!(Config::from_toml(&text, "t", &root()).unwrap().keys.signing_engine, engine);
    }
    let text = sesame::config::EMBEDDED_DEFAULT.replace("[keys]\n", "[keys]\nsigning_engine = \"ring\"\n");
    let p = problems(&text);
    assert!(has(&p, "keys.signing_engine", "\"auto\", \"aws-lc\" or \"openssl\""), "{p:?}");
}
