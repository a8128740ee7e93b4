//! Regression tests named after the issue that found the defect; each failed on the
//! code before its fix.

use serde_json::Value;

use crate::common::{audit_json, sesame, temp_config, TempConfig};
use crate::server::{mint_body, start};

/// A configuration whose grants live in an SQLite store in its own directory.
pub fn sqlite_config() -> TempConfig {
    let env = temp_config("", &[]);
    let text = std::fs::read_to_string(&env.path).unwrap();
    let db = env.dir.path().join("g.db").display().to_string();
    let a = text.find("[grants]").unwrap();
    let b = a + text[a..].find("\n[inventory]").unwrap();
    std::fs::write(
        &env.path,
        format!("{}[grants]\nkind = \"sqlite\"\nfile = {db:?}\n{}", &text[..a], &text[b..]),
    )
    .unwrap();
    env
}

fn grants_cli(env: &TempConfig, args: &[&str]) -> std::process::Output {
    sesame().arg("--config").arg(&env.path).arg("grants").args(args).output().unwrap()
}

fn add_args<'a>(user: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v =
        vec!["add", "--user", user, "--group", "pam-webserver", "--ticket", "INC-1", "--approver", "dana"];
    v.extend_from_slice(extra);
    v
}

/// Issue 12, defect 9: `--duration 9223372036854776` panicked (exit 101) and the HTTP
/// API answered 503 `overloaded` with nothing audited.
#[test]
fn issue_12_a_huge_duration_is_refused_with_the_field_not_a_panic() {
    let env = sqlite_config();
    for d in ["9223372036854776", "9223372036854775807", "316224001"] {
        let out = grants_cli(&env, &add_args("carol", &["--duration", d]));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--duration {d}: {err}");
        assert!(err.contains("duration_seconds") && err.contains("grants.max_seconds"), "{err}");
    }
    let s = start();
    let c = s.client();
    let body = serde_json::json!({"user": "carol", "group": "pam-webserver", "duration_seconds": 9_223_372_036_854_776_i64, "ticket": "T", "approver": "a"});
    let r = c.post(format!("{}/v1/grants", s.url)).json(&body).send().unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().unwrap();
    assert_eq!(v["error"]["code"], "bad_input");
    assert!(v["error"]["message"].as_str().unwrap().starts_with("duration_seconds:"), "{v}");
    let refused = audit_json(&s.audit_dir())
        .into_iter()
        .filter(|r| r["kind"] == "grant" && r["outcome"] == "grant_refused")
        .count();
    assert_eq!(refused, 1, "the refusal is audited");
    // The server is still serving.
    let m =
        c.post(format!("{}/v1/assertions", s.url)).json(&mint_body("alice", "i-0fedcba9876543210")).send();
    assert_eq!(m.unwrap().status(), 200);
}

/// Issue 12, defect 10: a year-9999 grant was accepted and rendered as
/// `+10000-01-01T01:00:00Z` (not RFC 3339); `mint --at …T23:59:60Z` signed a
/// leap-second IssueInstant that SAML consumers reject.
#[test]
fn issue_12_instants_outside_the_rule_are_refused_at_every_edge() {
    let env = sqlite_config();
    for (start, end) in [
        ("9999-12-31T23:00:00Z", "9999-12-31T23:30:00Z"),
        ("2026-12-31T23:59:60Z", "2027-01-01T01:00:00Z"),
        ("2026-12-01T10:00:00Z", "2100-01-01T00:00:00Z"),
    ] {
        let out = grants_cli(&env, &add_args("carol", &["--start", start, "--end", end]));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{start}..{end}: {err}");
        assert!(err.contains("between 2000-01-01T00:00:00Z and 2099-12-31T23:59:59Z"), "{err}");
    }
    let list = String::from_utf8(grants_cli(&env, &["list"]).stdout).unwrap();
    assert!(list.trim().is_empty(), "nothing was recorded: {list}");
    for at in ["2026-12-31T23:59:60Z", "9999-01-01T00:00:00Z"] {
        let out = sesame()
            .args(["--config"])
            .arg(&env.path)
            .args([
                "mint",
                "--user",
                "alice",
                "--instance",
                "i-0fedcba9876543210",
                "--region",
                "us-east-1",
                "--at",
                at,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--at {at}");
        assert!(out.stdout.is_empty(), "no response is printed");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--at: must be an RFC 3339 instant"));
    }
    let file = env.dir.path().join("old.toml");
    std::fs::write(&file, "[[grant]]\nuser = \"bob\"\ngroup = \"pam-payments\"\nstart = \"9999-01-01T00:00:00Z\"\nend = \"9999-01-02T00:00:00Z\"\nticket = \"OLD\"\napprover = \"x\"\n").unwrap();
    let imp = grants_cli(&env, &["import", file.to_str().unwrap()]);
    assert_eq!(imp.status.code(), Some(2), "{}", String::from_utf8_lossy(&imp.stderr));
    assert!(String::from_utf8_lossy(&imp.stderr).contains("grant[0]: start:"));
}
