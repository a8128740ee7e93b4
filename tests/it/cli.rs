//! The real binary: the demo outcomes of the issue, output formats, bad input, exit codes.

use base64::Engine as _;
use serde_json::Value;

use crate::common::{sesame, temp_config, TempConfig};

fn mint(env: &TempConfig, args: &[&str]) -> std::process::Output {
    sesame().arg("--config").arg(&env.path).arg("mint").args(args).output().unwrap()
}

fn json(env: &TempConfig, user: &str, instance: &str, when: &str) -> (Value, i32) {
    let out = mint(
        env,
        &["--user", user, "--instance", instance, "--region", "us-east-1", "--at", when, "--format", "json"],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (v, out.status.code().unwrap())
}

#[test]
fn alice_is_inside_the_payments_window_at_15z() {
    let env = temp_config("", &[]);
    let (v, code) = json(&env, "alice", "i-0fedcba9876543210", "2026-12-01T15:00:00Z");
    assert_eq!(code, 0);
    let d = &v["decision"];
    assert_eq!(d["status"], "minted");
    assert_eq!(d["sets"][0]["entitlement"], "pam-payments");
    assert_eq!(d["sets"][0]["tags"]["AppGroupName"], "payments");
    assert_eq!(d["sets"].as_array().unwrap().len(), 1, "least privilege: only the covering set");
    assert_eq!(
        v["relay_state"],
        "https://console.aws.amazon.com/systems-manager/session-manager/i-0fedcba9876543210?region=us-east-1"
    );
    assert_eq!(v["acs_url"], "https://signin.aws.amazon.com/saml");
    let xml = base64::engine::general_purpose::STANDARD.decode(v["saml_response"].as_str().unwrap()).unwrap();
    let xml = String::from_utf8(xml).unwrap();
    assert!(xml.contains(v["assertion_id"].as_str().unwrap()));
}

#[test]
fn alice_is_outside_the_payments_window_at_12z_and_told_when_it_opens() {
    let env = temp_config("", &[]);
    let (v, code) = json(&env, "alice", "i-0fedcba9876543210", "2026-12-01T12:00:00Z");
    assert_eq!(code, 0, "AWS must accept the sign-in; the tags make it useless");
    let s = &v["decision"]["sets"][0];
    assert_eq!(s["status"], "closed");
    assert_eq!(s["reason"], "outside_schedule");
    assert_eq!(s["next_open"], "2026-12-01T14:00:00Z");
    assert_eq!(s["next_open_local"], "2026-12-01 09:00 EST (America/New_York)");
    assert!(s["tags"]["AppGroupName"].as_str().unwrap().starts_with("sesame:closed:"));
}

#[test]
fn carol_gets_an_invalidated_webserver_set() {
    let env = temp_config("", &[]);
    let (v, code) = json(&env, "carol", "i-0123456789abcdef0", "2026-12-01T15:00:00Z");
    assert_eq!(code, 0);
    let s = &v["decision"]["sets"][0];
    assert_eq!((s["status"].as_str(), s["reason"].as_str()), (Some("closed"), Some("no_current_grant")));
    assert_eq!(s["next_open"], Value::Null);
}

#[test]
fn bob_is_refused_with_a_clear_message_and_no_assertion() {
    let env = temp_config("", &[]);
    let out = mint(&env, &["--user", "bob", "--instance", "i-0123456789abcdef0", "--region", "us-east-1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no response on refusal");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no sesame entitlement") && err.contains("no_entitlement"), "{err}");
    let (v, code) = json(&env, "bob", "i-0123456789abcdef0", "2026-12-01T15:00:00Z");
    assert_eq!(code, 1);
    assert_eq!(v["error"]["code"], "no_entitlement");
    assert!(v.get("saml_response").is_none());
}

#[test]
fn unknown_users_are_distinct_from_users_without_entitlements() {
    let env = temp_config("", &[]);
    let out =
        mint(&env, &["--user", "mallory", "--instance", "i-0123456789abcdef0", "--region", "us-east-1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown_user"));
}

#[test]
fn bad_input_names_the_field_and_exits_2() {
    let env = temp_config("", &[]);
    let ok = ("alice", "i-0123456789abcdef0", "us-east-1", "2026-12-01T15:00:00Z");
    for ((user, instance, region, when), field) in [
        (("al ice", ok.1, ok.2, ok.3), "user:"),
        ((ok.0, "i-XYZ", ok.2, ok.3), "instance_id:"),
        ((ok.0, ok.1, "mars-1", ok.3), "region:"),
        ((ok.0, ok.1, ok.2, "yesterday"), "--at:"),
        ((ok.0, ok.1, ok.2, "9999-01-01T00:00:00Z"), "between 2000"),
    ] {
        let out = mint(&env, &["--user", user, "--instance", instance, "--region", region, "--at", when]);
        assert_eq!(out.status.code(), Some(2), "{user} {instance} {region} {when}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(field), "{err}");
        assert!(!err.contains("panicked"));
    }
}

#[test]
fn output_formats() {
    let env = temp_config("", &[]);
    let base = [
        "--user",
        "alice",
        "--instance",
        "i-0fedcba9876543210",
        "--region",
        "us-east-1",
        "--at",
        "2026-12-01T15:00:00Z",
    ];
    let xml = mint(&env, &[&base[..], &["--format", "xml"]].concat());
    assert!(xml.stdout.starts_with(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    let b64 = mint(&env, &[&base[..], &["--format", "base64"]].concat());
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(String::from_utf8(b64.stdout).unwrap().trim())
        .unwrap();
    assert!(decoded.starts_with(b"<?xml"));
    let html = String::from_utf8(mint(&env, &[&base[..], &["--format", "html"]].concat()).stdout).unwrap();
    assert!(html.contains(r#"<form method="post" action="https://signin.aws.amazon.com/saml">"#));
    assert!(html.contains(r#"name="SAMLResponse" value=""#));
    assert!(html.contains("session-manager/i-0fedcba9876543210?region=us-east-1"));
    assert!(html.contains("<script>document.forms[0].submit();</script>"));
    assert!(!html.contains("onload"), "no inline event handler: the CSP allows the one script by hash");
}

#[test]
fn embedded_default_runs_without_a_config_and_generates_a_private_dev_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("policies/demo")).unwrap();
    for f in [
        "policies/entitlements.toml",
        "policies/schedules.toml",
        "policies/demo/directory.toml",
        "policies/demo/grants.toml",
        "policies/demo/inventory.toml",
    ] {
        std::fs::copy(crate::common::root().join(f), dir.path().join(f)).unwrap();
    }
    let out = sesame()
        .current_dir(dir.path())
        .args([
            "mint",
            "--user",
            "alice",
            "--instance",
            "i-0fedcba9876543210",
            "--region",
            "us-east-1",
            "--at",
            "2026-12-01T15:00:00Z",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("keys/dev-signing.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(String::from_utf8_lossy(&out.stderr).contains("generated a development signing key"));
}

#[test]
fn help_explains_every_subcommand_and_flag() {
    let out = sesame().arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for word in ["keys", "metadata", "mint", "check", "--config", "Exit codes"] {
        assert!(text.contains(word), "{word}");
    }
    let out = sesame().args(["mint", "--help"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for word in [
        "--user",
        "--instance",
        "--region",
        "--at",
        "--format",
        "RoleSessionName",
        "xml",
        "base64",
        "json",
        "html",
    ] {
        assert!(text.contains(word), "{word}");
    }
    let out = sesame().args(["keys", "generate", "--help"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for word in ["--bits", "--key", "--cert", "--days", "--force", "0600"] {
        assert!(text.contains(word), "{word}");
    }
}

#[test]
fn check_reports_ok_and_lists_problems() {
    let env = temp_config("", &[]);
    let out = sesame().arg("--config").arg(&env.path).arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("pam-webserver") && text.contains("matches"), "{text}");

    let bad = temp_config("name_id_format = \"email\"\nassertion_lifetime_seconds = 5", &[]);
    let out = sesame().arg("--config").arg(&bad.path).arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("idp.name_id_format") && err.contains("idp.assertion_lifetime_seconds"), "{err}");
}

#[test]
fn sesame_config_env_var_is_honoured() {
    let env = temp_config("", &[]);
    let out = sesame().env("SESAME_CONFIG", &env.path).arg("check").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(&env.path.display().to_string()), "{text}");
}

#[test]
fn grants_cli_adds_lists_revokes_and_imports_with_audit() {
    let env = crate::regression::sqlite_config();
    let run =
        |args: &[&str]| sesame().arg("--config").arg(&env.path).arg("grants").args(args).output().unwrap();
    let add = run(&[
        "add",
        "--user",
        "carol",
        "--group",
        "pam-webserver",
        "--duration",
        "3600",
        "--ticket",
        "INC-1",
        "--approver",
        "dana",
    ]);
    assert!(add.status.success(), "{}", String::from_utf8_lossy(&add.stderr));
    let g: Value = serde_json::from_slice(&add.stdout).unwrap();
    assert_eq!(g["status"], "active");
    let dup = run(&[
        "add",
        "--user",
        "carol",
        "--group",
        "pam-webserver",
        "--duration",
        "60",
        "--ticket",
        "INC-2",
        "--approver",
        "dana",
    ]);
    assert!(dup.status.success(), "an overlapping grant stacks: {}", String::from_utf8_lossy(&dup.stderr));
    let long = run(&[
        "add",
        "--user",
        "bob",
        "--group",
        "pam-webserver",
        "--duration",
        "9999999",
        "--ticket",
        "X",
        "--approver",
        "d",
    ]);
    assert!(String::from_utf8_lossy(&long.stderr).contains("grants.max_seconds"));
    let id = g["id"].to_string();
    assert!(run(&["revoke", &id]).status.success());
    let file = env.dir.path().join("import.toml");
    std::fs::write(&file, "[[grant]]\nuser = \"bob\"\ngroup = \"pam-payments\"\nstart = \"2026-01-01T00:00:00Z\"\nend = \"2026-01-02T00:00:00Z\"\nticket = \"OLD\"\napprover = \"x\"\n").unwrap();
    let imp = run(&["import", file.to_str().unwrap()]);
    assert!(imp.status.success(), "{}", String::from_utf8_lossy(&imp.stderr));
    let list = String::from_utf8(run(&["list"]).stdout).unwrap();
    let statuses: Vec<String> = list
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(statuses, vec!["revoked", "active", "expired"], "the stacked grant stays");
    let recs: Vec<Value> = crate::common::audit_json(&env.dir.path().join("audit"));
    let outcomes: Vec<&str> =
        recs.iter().filter(|r| r["kind"] == "grant").filter_map(|r| r["outcome"].as_str()).collect();
    assert_eq!(outcomes, vec!["grant_added", "grant_added", "grant_refused", "grant_revoked", "grant_added"]);
}
