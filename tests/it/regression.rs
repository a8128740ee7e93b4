//! Regression tests named after the issue that found the defect; each failed on the
//! code before its fix.

use serde_json::Value;
use sesame::adapters::grants::sqlite::SqliteGrants;
use sesame::adapters::{GrantStore, Grants};
use sesame::audit::{AuditError, AuditLog, Entry, Kind, Receipt};
use sesame::core::UserName;
use sesame::service::grants::{self, Actor, GrantRequest};

use crate::common::{at, audit_json, sesame, temp_config, TempConfig};
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

/// An audit log whose disk is full: every append fails.
struct FullDisk;
impl AuditLog for FullDisk {
    fn append(&self, _: Kind, _: Entry) -> Result<Receipt, AuditError> {
        Err(AuditError::Unavailable("No space left on device (os error 28)".into()))
    }
}

fn request(user: &str) -> GrantRequest {
    GrantRequest {
        user: user.into(),
        group: "pam-webserver".into(),
        duration_seconds: Some(3600),
        ticket: "INC-7".into(),
        approver: "dana".into(),
        ..GrantRequest::default()
    }
}

/// Issue 12, defect 1: a grant was stored first and audited after; with the audit disk
/// full the API answered 503 but the grant was in the store and opened the set once
/// space returned, with no record. The same for revocations.
#[test]
fn issue_12_no_grant_change_takes_effect_without_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = SqliteGrants::open(&dir.path().join("g.db")).unwrap();
    let cfg = crate::common::demo_config();
    let now = at("2026-12-01T15:00:00Z");
    let actor = Actor { caller: "cn:approver", request_id: None, now, allow_past: false };
    let carol = UserName::parse("user", "carol").unwrap();
    let e = grants::add(&store, &FullDisk, &cfg.mapping, 86_400, &request("carol"), &actor).unwrap_err();
    assert_eq!(e.code(), "grants_unavailable", "{e}");
    assert!(store.grants(&carol, now).unwrap().is_empty(), "the unrecorded grant is not effective");
    assert!(store.list(None).unwrap().is_empty(), "nor stored");
    // Space returns: still nothing.
    assert!(store.grants(&carol, now).unwrap().is_empty());

    let audit_dir = tempfile::tempdir().unwrap();
    let log = crate::audit::writer(audit_dir.path(), 64 << 20, 100_000);
    let g = grants::add(&store, &log, &cfg.mapping, 86_400, &request("carol"), &actor).unwrap();
    assert_eq!(store.grants(&carol, now).unwrap().len(), 1);
    let e = grants::revoke(&store, &FullDisk, g.id, &actor).unwrap_err();
    assert_eq!(e.code(), "grants_unavailable");
    assert_eq!(store.grants(&carol, now).unwrap().len(), 1, "an unrecorded revocation does not take effect");
    assert!(store.list(None).unwrap()[0].revoked_at.is_none());
    grants::revoke(&store, &log, g.id, &actor).unwrap();
    assert!(store.grants(&carol, now).unwrap().is_empty(), "a recorded revocation does");
    log.close().unwrap();
    let outcomes: Vec<String> = audit_json(audit_dir.path())
        .iter()
        .filter_map(|r| r["outcome"].as_str().map(str::to_owned))
        .collect();
    assert!(outcomes.starts_with(&["grant_added".to_owned(), "grant_revoked".to_owned()]), "{outcomes:?}");
}

/// Issue 12, defect 1 (crash): a change half-done when the process died is settled at
/// the next start, each with its record: a pending add is abandoned (it never took
/// effect), an asked-for revocation is completed.
#[test]
fn issue_12_a_crash_between_record_and_effect_is_settled_at_start() {
    let env = sqlite_config();
    let db = env.dir.path().join("g.db");
    let add = grants_cli(&env, &add_args("carol", &["--duration", "3600"]));
    assert!(add.status.success(), "{}", String::from_utf8_lossy(&add.stderr));
    let bob = grants_cli(
        &env,
        &[
            "add",
            "--user",
            "bob",
            "--group",
            "pam-payments",
            "--duration",
            "3600",
            "--ticket",
            "T",
            "--approver",
            "d",
        ],
    );
    assert!(bob.status.success());
    // What a kill -9 leaves: carol's revocation asked but not settled, and a third grant
    // inserted but never made effective.
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute("UPDATE grants SET revoked_by = 'cn:approver' WHERE user = 'carol'", []).unwrap();
    c.execute(
        "INSERT INTO grants (user, grp, grp_key, start_s, end_s, ticket, approver, created_s, created_by, pending) \
         VALUES ('dave', 'pam-webserver', 'pam-webserver', 1, 99999999999, 'T', 'd', 1, 'cli', 1)",
        [],
    )
    .unwrap();
    drop(c);
    // The next writer settles it (a read-only `list` does not).
    assert!(grants_cli(&env, &add_args("zed", &["--duration", "60"])).status.success());
    let list = |env: &TempConfig| -> Vec<Value> {
        let out = grants_cli(env, &["list"]);
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    let after = list(&env);
    let status =
        |u: &str| after.iter().find(|g| g["user"] == u).map(|g| g["status"].as_str().unwrap().to_owned());
    assert_eq!(status("carol").as_deref(), Some("revoked"), "{after:?}");
    assert_eq!(status("bob").as_deref(), Some("active"));
    assert_eq!(status("dave"), None, "the unrecorded add never existed");
    let recs = audit_json(&env.dir.path().join("audit"));
    let settled: Vec<(String, String)> = recs
        .iter()
        .filter(|r| r["caller"] == "recovery")
        .map(|r| (r["outcome"].as_str().unwrap().to_owned(), r["user"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        settled,
        [("grant_abandoned".to_owned(), "dave".to_owned()), ("grant_revoked".to_owned(), "carol".to_owned())]
    );
    // Settled once: the next start records nothing more.
    assert!(grants_cli(&env, &add_args("erin", &["--duration", "60"])).status.success());
    let again = audit_json(&env.dir.path().join("audit"));
    assert_eq!(again.iter().filter(|r| r["caller"] == "recovery").count(), 2);
}

/// Issue 12, defect 1 (kill -9): grant adds and revocations killed at random moments
/// leave no effective grant without its record and no revocation without its record.
#[test]
fn issue_12_kill_9_under_grant_writes_leaves_no_unrecorded_change() {
    let env = sqlite_config();
    let mut seed: u64 = 0x5eed;
    let mut rand = move |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    for i in 0..40 {
        let user = format!("u{i}");
        let args = if i % 3 == 2 {
            vec!["revoke".to_owned(), (rand(i as u64) + 1).to_string()]
        } else {
            add_args(&user, &["--duration", "3600"]).into_iter().map(str::to_owned).collect()
        };
        let mut child = sesame()
            .arg("--config")
            .arg(&env.path)
            .arg("grants")
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // One in four runs to the end, so there is always history to revoke and check.
        if i % 4 != 0 {
            std::thread::sleep(std::time::Duration::from_micros(rand(30_000)));
            let _ = child.kill();
        }
        let _ = child.wait();
    }
    // The next writer settles what was half-done.
    assert!(grants_cli(&env, &add_args("final", &["--duration", "60"])).status.success());
    let c = rusqlite::Connection::open(env.dir.path().join("g.db")).unwrap();
    let left: i64 = c
        .query_row(
            "SELECT count(*) FROM grants WHERE pending = 1 OR (revoked_s IS NULL AND revoked_by IS NOT NULL)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0, "nothing is left half-done");
    let recs = audit_json(&env.dir.path().join("audit"));
    let has = |outcome: &str, id: i64| {
        recs.iter().any(|r| r["kind"] == "grant" && r["outcome"] == outcome && r["grant"]["id"] == id)
    };
    let out = grants_cli(&env, &["list"]);
    let listed: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(listed.len() > 5, "the adds that ran to the end are listed: {}", listed.len());
    for g in &listed {
        let id = g["id"].as_i64().unwrap();
        assert!(has("grant_added", id), "grant {id} is in the store without its record");
        assert!(!has("grant_abandoned", id), "grant {id} was abandoned but is in the store");
        if g["status"] == "revoked" {
            assert!(has("grant_revoked", id), "grant {id} is revoked without its record");
        }
    }
    let v = sesame().arg("--config").arg(&env.path).args(["audit", "verify"]).output().unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}

/// Issue 12, defect 13: the TLS server key at mode 0644 was accepted (the signing key
/// was refused); the LDAP password file too. One loader now checks every secret file.
#[test]
fn issue_12_every_secret_file_must_be_private() {
    use std::os::unix::fs::PermissionsExt;
    let open =
        |p: &std::path::Path| std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
    let s = start();
    let (cfg, key, ca_key) = (s.config_path().to_path_buf(), s.tls.server_key.clone(), s.tls.ca_key.clone());
    let tls = s.tls.clone();
    let _ = s.stop();
    open(&key);
    let out = crate::regression_audit::exits_within(crate::regression_audit::serve(&cfg), 20);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server.key") && err.contains("chmod 600"), "{err}");
    open(&ca_key);
    let dir = tempfile::tempdir().unwrap();
    let e = sesame::keys::dev_tls::issue_client(
        &tls,
        "x",
        &dir.path().join("c"),
        &dir.path().join("k"),
        at("2026-12-01T00:00:00Z"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("chmod 600"), "{e}");

    let env = temp_config("", &[]);
    let pw = env.dir.path().join("ldap.pw");
    std::fs::write(&pw, "secret\n").unwrap();
    open(&pw);
    let text = std::fs::read_to_string(&env.path).unwrap();
    let a = text.find("[directory]").unwrap();
    let ldap = format!(
        "[directory]\nkind = \"ldap\"\nurl = \"ldaps://127.0.0.1:1\"\nbind_dn = \"cn=x\"\nbind_password_file = {:?}\nuser_base = \"dc=x\"\n",
        pw.display().to_string()
    );
    std::fs::write(&env.path, format!("{}{ldap}", &text[..a])).unwrap();
    let out = sesame().arg("--config").arg(&env.path).arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("directory.bind_password_file") && err.contains("chmod 600"), "{err}");
}

/// Issue 12, defect 7: a deleted grants database was silently re-created from the demo
/// seed, undoing a revocation. A store with recorded history is never made anew
/// silently; `grants init` does it deliberately, recorded and without the seed.
#[test]
fn issue_12_a_lost_grants_store_is_not_recreated_from_the_seed() {
    let env = sqlite_config();
    let text = std::fs::read_to_string(&env.path).unwrap();
    let seed = crate::common::root().join("policies/demo/grants.toml").display().to_string();
    let text = text.replace("[grants]\n", &format!("[grants]\nseed = {seed:?}\nmax_seconds = 157680000\n"));
    std::fs::write(&env.path, text).unwrap();
    assert!(
        grants_cli(&env, &add_args("carol", &["--duration", "60"])).status.success(),
        "creates and seeds"
    );
    let ids: Vec<i64> = String::from_utf8(grants_cli(&env, &["list"]).stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_i64().unwrap())
        .collect();
    assert!(ids.len() >= 2, "the seed and carol's grant: {ids:?}");
    assert!(grants_cli(&env, &["revoke", &ids[0].to_string()]).status.success());
    for f in ["g.db", "g.db-wal", "g.db-shm"] {
        let _ = std::fs::remove_file(env.dir.path().join(f));
    }
    let out = grants_cli(&env, &add_args("dave", &["--duration", "60"]));
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist, but the audit log") && err.contains("grants init"), "{err}");
    let mint = sesame()
        .arg("--config")
        .arg(&env.path)
        .args(["mint", "--user", "alice", "--instance", "i-0fedcba9876543210", "--region", "us-east-1"])
        .output()
        .unwrap();
    assert_eq!(mint.status.code(), Some(3), "no mint on a store that lost its history");
    assert!(mint.stdout.is_empty());
    let init = grants_cli(&env, &["init", "--reason", "backup lost, INC-3"]);
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let list = String::from_utf8(grants_cli(&env, &["list"]).stdout).unwrap();
    assert!(list.trim().is_empty(), "an empty store, not the seed again: {list}");
    let recs = audit_json(&env.dir.path().join("audit"));
    assert!(recs.iter().any(|r| r["outcome"] == "grant_store_created"
        && r["message"].as_str().unwrap().contains("backup lost, INC-3")));
}

/// Issue 12, defect 14: `grants list` beside a running server waited 10 s for the
/// audit writer's lock and failed; `audit search` failed on a torn last record.
#[test]
fn issue_12_read_only_commands_run_beside_a_server_and_skip_a_torn_tail() {
    let s = start();
    let started = std::time::Instant::now();
    let out = sesame().arg("--config").arg(s.config_path()).args(["grants", "list"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "no wait for the writer's lock");
    assert!(!out.stdout.is_empty(), "the seeded grants are listed");
    let m = s
        .client()
        .post(format!("{}/v1/assertions", s.url))
        .json(&mint_body("alice", "i-0fedcba9876543210"))
        .send();
    assert_eq!(m.unwrap().status(), 200);
    let live = sesame::audit::files::log_files(&s.audit_dir(), "local").unwrap().pop().unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(&live).unwrap();
    std::io::Write::write_all(&mut f, br#"{"v":2,"seq":99,"prev":"ab"#).unwrap();
    let out = sesame()
        .arg("--config")
        .arg(s.config_path())
        .args(["audit", "search", "--user", "alice"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("skipped a partial last record"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("alice"));
}
