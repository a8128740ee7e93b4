//! Least privilege that cannot be side-stepped: `inventory.require_known_instance`
//! refuses an instance the inventory does not know, and `aws.when_all_closed =
//! "refuse"` answers a request whose sets are all closed with no sign-in and the time
//! the next window opens — properties of the pure core, then the real binary and server.

use std::collections::HashMap;

use proptest::prelude::*;
use sesame::core::decide::WhenAllClosed;
use sesame::core::decision::SetStatus;
use sesame::core::{decide, Refusal};

use crate::common::nonce;
use crate::decide::arb_case;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// With require_known_instance, an unknown instance is refused whatever the sets;
    /// a known one is decided exactly as without the option.
    #[test]
    fn an_unknown_instance_is_refused_and_a_known_one_decided_as_before((ents, grants, now, p) in arb_case()) {
        let strict = sesame::core::Policy { require_known_instance: true, ..p.clone() };
        let d = decide(now, &nonce(5), &ents, &grants, None, &strict);
        prop_assert_eq!(d.refusal, Some(Refusal::UnknownInstance));
        prop_assert!(d.sets.is_empty());
        let first = &ents[0];
        let tags: HashMap<String, String> = p
            .spec
            .columns()
            .iter()
            .zip(&first.values)
            .map(|(c, v)| (c.ec2_key.as_str().to_owned(), v.as_str().to_owned()))
            .collect();
        let known = decide(now, &nonce(5), &ents, &grants, Some(&tags), &strict);
        prop_assert_eq!(known, decide(now, &nonce(5), &ents, &grants, Some(&tags), &p));
    }

    /// With when_all_closed = "refuse": a decision that would carry only sentinels is a
    /// refusal naming the earliest next opening; any other decision is unchanged.
    #[test]
    fn all_closed_is_refused_with_the_next_opening_and_nothing_else_changes((ents, grants, now, p) in arb_case()) {
        let refuse = sesame::core::Policy { when_all_closed: WhenAllClosed::Refuse, ..p.clone() };
        let lenient = decide(now, &nonce(6), &ents, &grants, None, &p);
        let strict = decide(now, &nonce(6), &ents, &grants, None, &refuse);
        if lenient.refusal.is_none() && lenient.open_sets() == 0 {
            let next = lenient
                .sets
                .iter()
                .filter_map(|s| match &s.status {
                    SetStatus::Closed { next_open, .. } => *next_open,
                    SetStatus::Open { .. } => None,
                })
                .min();
            match strict.refusal {
                Some(Refusal::AllClosed { next_open, .. }) => prop_assert_eq!(next_open, next),
                other => prop_assert!(false, "expected all_closed, got {other:?}"),
            }
            prop_assert!(strict.sets.is_empty());
        } else {
            prop_assert_eq!(strict, lenient);
        }
    }
}

fn with_aws(env: &crate::common::TempConfig, aws: &str, inventory: &str) {
    let text = std::fs::read_to_string(&env.path).unwrap();
    let text = text
        .replace("[aws]\n", &format!("[aws]\n{aws}\n"))
        .replace("[inventory]\n", &format!("[inventory]\n{inventory}\n"));
    std::fs::write(&env.path, text).unwrap();
}

fn mint(
    env: &crate::common::TempConfig,
    instance: &str,
    at: &str,
) -> (Option<i32>, serde_json::Value, String) {
    let out = crate::common::sesame()
        .arg("--config")
        .arg(&env.path)
        .args([
            "mint",
            "--user",
            "alice",
            "--instance",
            instance,
            "--region",
            "us-east-1",
            "--at",
            at,
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code(), v, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_binary_refuses_unknown_instances_and_closed_windows_when_configured() {
    let env = crate::common::temp_config("", &[]);
    // Defaults: every set for an unknown instance; sentinels when all are closed.
    let (code, v, _) = mint(&env, "i-0aaaaaaaaaaaaaaaa", "2026-12-01T15:00:00Z");
    assert_eq!((code, v["decision"]["sets"].as_array().map(Vec::len)), (Some(0), Some(2)));
    let (code, v, _) = mint(&env, "i-0fedcba9876543210", "2026-12-01T03:00:00Z");
    assert_eq!((code, v["decision"]["status"].as_str()), (Some(0), Some("minted_all_closed")));

    with_aws(&env, "when_all_closed = \"refuse\"", "require_known_instance = true");
    let (code, _, err) = mint(&env, "i-0aaaaaaaaaaaaaaaa", "2026-12-01T15:00:00Z");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("the inventory does not know this instance"), "{err}");
    // 22:00 in New York: the payments window opens at 09:00 there, 14:00 UTC.
    let (code, _, err) = mint(&env, "i-0fedcba9876543210", "2026-12-01T03:00:00Z");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("the next opens 2026-12-01 09:00 EST (2026-12-01T14:00:00Z)"), "{err}");
    // Open sets mint as before; both refusals are recorded, with no assertion.
    let (code, v, _) = mint(&env, "i-0fedcba9876543210", "2026-12-01T15:00:00Z");
    assert_eq!((code, v["decision"]["status"].as_str()), (Some(0), Some("minted")));
    let recs = crate::common::audit_json(&env.dir.path().join("audit"));
    let refused: Vec<_> = recs.iter().filter(|r| r["outcome"] == "refused").collect();
    assert_eq!(refused.len(), 2);
    assert!(refused.iter().all(|r| r["assertion_id"].is_null()));
    assert_eq!(refused[0]["code"], "unknown_instance");
    assert_eq!(refused[1]["code"], "all_closed");
}

#[test]
fn the_options_are_checked() {
    let env = crate::common::temp_config("", &[]);
    with_aws(&env, "when_all_closed = \"never\"", "");
    let out = crate::common::sesame().arg("--config").arg(&env.path).arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("aws.when_all_closed"));
    let env = crate::common::temp_config("", &[]);
    let text = std::fs::read_to_string(&env.path).unwrap();
    let a = text.find("[inventory]").unwrap();
    let b = a + text[a..].find("\n[audit]").unwrap();
    let text =
        format!("{}[inventory]\nkind = \"none\"\nrequire_known_instance = true\n{}", &text[..a], &text[b..]);
    std::fs::write(&env.path, text).unwrap();
    let out = crate::common::sesame().arg("--config").arg(&env.path).arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("inventory.require_known_instance"));
}

/// The server on the real clock (read through sesame's one clock): alice's only entitlement needs a grant that starts at
/// 09:00 New York time on a weekday at least two days ahead, inside its schedule.
#[test]
fn the_server_says_when_the_window_opens_in_json_and_html() {
    use chrono::{Datelike, TimeZone, Weekday};
    let ny = chrono_tz::America::New_York;
    let mut day = (sesame::edge::clock::now() + chrono::Duration::days(2)).with_timezone(&ny).date_naive();
    while matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
        day = day.succ_opt().unwrap();
    }
    let start = ny
        .from_local_datetime(&day.and_hms_opt(9, 0, 0).unwrap())
        .single()
        .unwrap()
        .with_timezone(&chrono::Utc);
    let end = start + chrono::Duration::hours(8);
    let dir = tempfile::tempdir().unwrap();
    let ents = dir.path().join("entitlements.toml");
    let grants = dir.path().join("grants.toml");
    let base = std::fs::read_to_string(crate::common::root().join("policies/entitlements.toml")).unwrap();
    let base = &base[..base.find("[[entitlement]]").unwrap()];
    std::fs::write(&ents, format!("{base}[[entitlement]]\ngroup = \"pam-webserver\"\nvalues = {{ APP_GROUP_NAME = \"webserver\", APP_ID = \"ABC\", RELEASE_ID = \"1.0\" }}\nschedule = \"ny-business-hours\"\n")).unwrap();
    let t = |x: chrono::DateTime<chrono::Utc>| sesame::core::text::saml_time(x);
    std::fs::write(&grants, format!("[[grant]]\nuser = \"alice\"\ngroup = \"pam-webserver\"\nstart = \"{}\"\nend = \"{}\"\nticket = \"CHG-1\"\napprover = \"dana\"\n", t(start), t(end))).unwrap();
    let s = crate::server::start_with("", |text| {
        text.replace("[aws]\n", "[aws]\nwhen_all_closed = \"refuse\"\n")
            .replace(
                &crate::common::root().join("policies/entitlements.toml").display().to_string(),
                &ents.display().to_string(),
            )
            .replace(
                &crate::common::root().join("policies/demo/grants.toml").display().to_string(),
                &grants.display().to_string(),
            )
    });
    let c = s.client();
    let body = crate::server::mint_body("alice", "i-0123456789abcdef0");
    let r = c.post(format!("{}/v1/assertions", s.url)).json(&body).send().unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let v: serde_json::Value = r.json().unwrap();
    assert_eq!(v["error"]["code"], "all_closed", "{v}");
    assert_eq!(v["decision"]["next_open"], t(start));
    let local = format!(
        "{} 09:00 {} (America/New_York)",
        day.format("%Y-%m-%d"),
        start.with_timezone(&ny).format("%Z")
    );
    assert_eq!(v["decision"]["next_open_local"], local);
    let r =
        c.post(format!("{}/v1/assertions", s.url)).header("accept", "text/html").json(&body).send().unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.starts_with("default-src 'none'") && csp.contains("form-action 'none'"), "{csp}");
    let page = r.text().unwrap();
    let want = format!(
        "It opens at 09:00 America/New_York on {} ({} UTC).",
        day.format("%A %-d %B %Y"),
        start.format("%H:%M")
    );
    assert!(page.contains(&want) && !page.contains("SAMLResponse"), "{want}\n{page}");
    // Both answers are as docs/openapi.json documents them.
    let spec = crate::openapi::spec();
    let post = |accept: &str| {
        c.post(format!("{}/v1/assertions", s.url)).header("accept", accept).json(&body).send().unwrap()
    };
    crate::openapi::check(&spec, "/v1/assertions", "post", post("application/json"));
    crate::openapi::check(&spec, "/v1/assertions", "post", post("text/html"));
}
