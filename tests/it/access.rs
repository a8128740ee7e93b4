//! The launcher's view (`GET /v1/access`, `sesame access`): each entitlement's status as
//! `decide` would give its set, the instances it covers with their console links,
//! pagination, the errors that name the field, all checked against docs/openapi.json.

use proptest::prelude::*;
use serde_json::Value;
use sesame::core::decide;
use sesame::core::decide::status_of;

use crate::common::{nonce, sesame, temp_config};
use crate::decide::arb_case;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// The launcher never promises what a mint would not give: every set `decide`
    /// emits has the status the launcher shows for its entitlement.
    #[test]
    fn the_launcher_shows_each_set_as_decide_decides_it((ents, grants, now, p) in arb_case()) {
        let d = decide(now, &nonce(7), &ents, &grants, None, &p);
        for s in &d.sets {
            let e = ents.iter().find(|e| e.group == s.group).unwrap();
            prop_assert_eq!(&status_of(now, e, &grants, &p), &s.status);
        }
    }
}

#[test]
fn the_server_lists_entitlements_and_instances_a_page_at_a_time() {
    let s = crate::server::start_with(
        "[[server.client]]\nidentity = \"cn:nobody\"\nroles = [\"auditor\"]\n",
        |t| t,
    );
    let c = s.client();
    let spec = crate::openapi::spec();
    let get = |q: &str| c.get(format!("{}/v1/access?{q}", s.url)).send().unwrap();
    let r = get("user=alice");
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().unwrap();
    assert_eq!(v["user"], "alice");
    assert_eq!(v["inventory"], true);
    assert_eq!(v["next_page"], Value::Null);
    let ents = v["entitlements"].as_array().unwrap();
    let names: Vec<&str> = ents.iter().map(|e| e["entitlement"].as_str().unwrap()).collect();
    assert_eq!(names, ["pam-payments", "pam-webserver"]);
    // The webserver grant (2026-01-01 → 2030-01-01) is open whatever the clock says.
    let web = &ents[1];
    assert_eq!(
        (web["status"].as_str(), web["window"]["end"].as_str()),
        (Some("open"), Some("2030-01-01T00:00:00Z"))
    );
    assert_eq!(web["tags"]["APP_ID"], "ABC");
    let i = &web["instances"][0];
    assert_eq!(web["instances"].as_array().unwrap().len(), 1);
    assert_eq!((i["account"].as_str(), i["region"].as_str()), (Some("111122223333"), Some("us-east-1")));
    assert_eq!((i["instance_id"].as_str(), i["name"].as_str()), (Some("i-0123456789abcdef0"), Some("web-1")));
    assert_eq!(
        i["console_url"],
        "https://console.aws.amazon.com/systems-manager/session-manager/i-0123456789abcdef0?region=us-east-1"
    );
    // Payments follows New York business hours: open with a local end, or closed with the next opening.
    let pay = &ents[0];
    match pay["status"].as_str().unwrap() {
        "open" => assert!(pay["window"]["end_local"].as_str().unwrap().ends_with("(America/New_York)")),
        _ => {
            assert_eq!(pay["reason"], "outside_schedule");
            assert!(pay["next_open_local"].as_str().unwrap().contains(" 09:00 "), "{pay}");
        }
    }
    // Pages of one.
    let p1: Value = get("user=alice&limit=1").json().unwrap();
    assert_eq!(p1["entitlements"].as_array().unwrap().len(), 1);
    assert_eq!(p1["next_page"], "1");
    let p2: Value = get("user=alice&limit=1&page=1").json().unwrap();
    assert_eq!(p2["entitlements"][0]["entitlement"], "pam-webserver");
    assert_eq!(p2["next_page"], Value::Null);
    // Errors name the field; unknown people are 404; the role is minter.
    for (q, status, field) in [
        ("", 400, "user"),
        ("user=alice&limit=0", 400, "limit"),
        ("user=alice&limit=x", 400, "limit"),
        ("user=alice&page=7", 400, "page"),
        ("user=a%20b", 400, "user"),
        ("user=nobody", 404, ""),
    ] {
        let r = get(q);
        assert_eq!(r.status().as_u16(), status, "{q}");
        let e: Value = r.json().unwrap();
        assert!(e["error"]["message"].as_str().unwrap().contains(field), "{q}: {e}");
    }
    let other = s.client_as("nobody").get(format!("{}/v1/access?user=alice", s.url)).send().unwrap();
    assert_eq!(other.status().as_u16(), 403);
    for q in ["user=alice", "user=alice&limit=1", "user=alice&limit=0", "user=nobody"] {
        crate::openapi::check(&spec, "/v1/access", "get", get(q));
    }
}

#[test]
fn the_cli_shows_the_same_view() {
    let env = temp_config("", &[]);
    let run = |args: &[&str]| sesame().arg("--config").arg(&env.path).args(args).output().unwrap();
    // 22:00 in New York: payments is closed and opens at 09:00 there.
    let out = run(&["access", "--user", "alice", "--at", "2026-12-01T03:00:00Z"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("pam-payments [APP_GROUP_NAME=payments APP_ID=PAY RELEASE_ID=2.3]: closed (outside_schedule), opens 2026-12-01T14:00:00Z (2026-12-01 09:00 EST America/New_York)"),
        "{text}"
    );
    assert!(text.contains("  111122223333 us-east-1 i-0fedcba9876543210 pay-1 https://console.aws.amazon.com/systems-manager/session-manager/i-0fedcba9876543210?region=us-east-1"), "{text}");
    assert!(text.contains("pam-webserver [APP_GROUP_NAME=webserver APP_ID=ABC RELEASE_ID=1.0]: open until 2030-01-01T00:00:00Z"), "{text}");
    assert!(text.ends_with("access: user=alice entitlements=2 at=2026-12-01T03:00:00Z\n"), "{text}");
    let out = run(&["access", "--user", "alice", "--at", "2026-12-01T15:00:00Z", "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["entitlements"][0]["window"]["end_local"], "2026-12-01 17:00 EST (America/New_York)");
    // bob has no sesame entitlement: an empty list, not an error.
    let out = run(&["access", "--user", "bob", "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["entitlements"].as_array().map(Vec::len), Some(0));
    assert_eq!(run(&["access", "--user", "nobody"]).status.code(), Some(1));
    assert_eq!(run(&["access", "--user", "a b"]).status.code(), Some(2));
    assert_eq!(run(&["access", "--user", "alice", "--at", "soon"]).status.code(), Some(2));
}
