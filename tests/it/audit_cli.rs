//! The real binary and the assertion log: search and show, a minting process killed
//! with SIGKILL at random moments, and a full disk.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::{sesame, temp_config, TempConfig};
use crate::reaper::session_name;

const ALICE: [&str; 8] = [
    "--user",
    "alice",
    "--instance",
    "i-0fedcba9876543210",
    "--region",
    "us-east-1",
    "--at",
    "2026-12-01T15:00:00Z",
];

fn run(env: &TempConfig, args: &[&str]) -> std::process::Output {
    sesame().arg("--config").arg(&env.path).args(args).output().unwrap()
}

fn mint_json(env: &TempConfig, args: &[&str]) -> Value {
    let out = run(env, &[&["mint"], args, &["--format", "json"]].concat());
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

#[test]
fn search_finds_by_user_instance_assertion_status_and_time() {
    let env = temp_config("", &[]);
    let a = mint_json(&env, &ALICE);
    let _ =
        mint_json(&env, &["--user", "carol", "--instance", "i-0123456789abcdef0", "--region", "us-east-1"]);
    let _ =
        run(&env, &["mint", "--user", "bob", "--instance", "i-0123456789abcdef0", "--region", "us-east-1"]);
    let lines = |args: &[&str]| -> Vec<Value> {
        let out = run(&env, &[&["audit", "search", "--format", "json"], args].concat());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    assert_eq!(lines(&[]).len(), 3);
    assert_eq!(lines(&["--user", "carol"])[0]["outcome"], "minted_all_closed");
    assert_eq!(lines(&["--status", "refused"])[0]["user"], "bob");
    let by_id = lines(&["--assertion-id", a["assertion_id"].as_str().unwrap()]);
    assert_eq!(by_id.len(), 1);
    assert_eq!(by_id[0]["sets"][0]["entitlement"], "pam-payments");
    assert_eq!(lines(&["--instance", "i-0123456789abcdef0"]).len(), 2);
    assert_eq!(lines(&["--until", "2000-01-01T00:00:00Z"]).len(), 0);
    assert_eq!(lines(&["--since", "2000-01-01T00:00:00Z"]).len(), 3);
    let table = String::from_utf8(run(&env, &["audit", "search", "--user", "alice"]).stdout).unwrap();
    assert!(table.contains("pam-payments=open") && table.contains("1 records"), "{table}");
    let bad = run(&env, &["audit", "search", "--since", "yesterday"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn show_verifies_a_response_and_finds_its_record() {
    let env = temp_config("", &[]);
    let a = mint_json(&env, &ALICE);
    let f = env.dir.path().join("resp.b64");
    std::fs::write(&f, a["saml_response"].as_str().unwrap()).unwrap();
    let out = run(&env, &["audit", "show", "--response", f.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("signature: valid") && text.contains(a["assertion_id"].as_str().unwrap()),
        "{text}"
    );
    assert!(text.contains("\"outcome\":\"minted\""), "{text}");

    // The XML form works too; an altered response does not verify.
    use base64::Engine as _;
    let xml = base64::engine::general_purpose::STANDARD.decode(a["saml_response"].as_str().unwrap()).unwrap();
    let fx = env.dir.path().join("resp.xml");
    std::fs::write(&fx, &xml).unwrap();
    assert!(run(&env, &["audit", "show", "--response", fx.to_str().unwrap()]).status.success());
    let tampered = String::from_utf8(xml).unwrap().replacen(">payments<", ">webserver<", 1);
    std::fs::write(&fx, tampered).unwrap();
    let out = run(&env, &["audit", "show", "--response", fx.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("INVALID"));
}

#[test]
fn show_refuses_a_valid_response_that_was_never_recorded() {
    let env = temp_config("", &[]);
    let _ = mint_json(&env, &ALICE);
    let other = temp_config("", &[]); // same key, a different log
    let a = mint_json(&other, &ALICE);
    let f = env.dir.path().join("resp.b64");
    std::fs::write(&f, a["saml_response"].as_str().unwrap()).unwrap();
    let out = run(&env, &["audit", "show", "--response", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no audit record"));
}

fn audit_lines(env: &TempConfig) -> Vec<Value> {
    let dir = env.dir.path().join("audit");
    crate::common::audit_json(&dir)
}

/// xorshift for kill delays below `span_ms`; seeded per run and printed so a failure can
/// be replayed.
fn delays(mut x: u64, n: usize, span_ms: u64) -> Vec<u64> {
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % span_ms
        })
        .collect()
}

#[test]
fn kill_9_at_random_moments_loses_no_released_response() {
    let env = temp_config("", &[]);
    let seed = std::process::id() as u64 * 2_654_435_761 + 1;
    // Kills fall in three times what start-up and one response take on this machine
    // (at least 120 ms), so some land before the first response and some after it.
    let started = std::time::Instant::now();
    assert!(mint_json(&env, &ALICE)["assertion_id"].is_string(), "seed {seed}: a first mint failed");
    let span_ms =
        u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX / 3).saturating_mul(3).max(120);
    let mut received: Vec<Value> = Vec::new();
    for (round, ms) in delays(seed, 24, span_ms).into_iter().enumerate() {
        let mut child = sesame()
            .arg("--config")
            .arg(&env.path)
            .args(["mint", "--count", "100000", "--format", "json"])
            .args(ALICE)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        let _ = child.kill(); // SIGKILL
        let mut out = String::new();
        child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        let _ = child.wait();
        // Only complete lines were received by the caller.
        let complete = match out.rfind('\n') {
            Some(i) => &out[..=i],
            None => "",
        };
        for line in complete.lines() {
            received.push(
                serde_json::from_str(line).unwrap_or_else(|e| panic!("seed {seed} round {round}: {e}")),
            );
        }
    }
    let log = audit_lines(&env);
    let recorded: std::collections::HashMap<&str, &str> = log
        .iter()
        .filter_map(|r| Some((r["assertion_id"].as_str()?, r["response_sha256"].as_str()?)))
        .collect();
    use base64::Engine as _;
    for r in &received {
        let id = r["assertion_id"].as_str().unwrap();
        let xml =
            base64::engine::general_purpose::STANDARD.decode(r["saml_response"].as_str().unwrap()).unwrap();
        let digest = sesame::core::text::hex(&openssl::sha::sha256(&xml));
        assert_eq!(recorded.get(id), Some(&digest.as_str()), "seed {seed}: response {id} has no record");
    }
    assert!(
        !received.is_empty(),
        "seed {seed}: no response completed in any round (kills within {span_ms} ms)"
    );
    let out = run(&env, &["audit", "verify"]);
    assert!(out.status.success(), "seed {seed}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_full_disk_stops_minting_with_a_clear_error_and_loses_nothing() {
    let env = temp_config("", &[]);
    let dir = env.dir.path().join("audit");
    std::fs::create_dir_all(&dir).unwrap();
    let mounted =
        Command::new("mount").args(["-t", "tmpfs", "-o", "size=96k", "tmpfs"]).arg(&dir).status().unwrap();
    assert!(mounted.success(), "mounting a small tmpfs needs root (the test scripts run as root)");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(dir.clone());
    let out = sesame()
        .arg("--config")
        .arg(&env.path)
        .args(["mint", "--count", "5000", "--format", "json"])
        .args(ALICE)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("audit log unavailable") && err.contains("No space left"), "{err}");
    let received: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(received.len() > 10, "some responses fit before the disk filled");
    let log = audit_lines(&env);
    for r in &received {
        assert!(log.iter().any(|l| l["assertion_id"] == r["assertion_id"]), "released without a record");
    }
    let minted_in_log = log.iter().filter(|l| l["outcome"] == "minted").count();
    assert_eq!(
        minted_in_log,
        received.len(),
        "nothing recorded as minted that was not released, and vice versa"
    );
    let v = run(&env, &["audit", "verify"]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
}

#[test]
fn checkpoints_can_be_signed_by_a_separate_audit_key() {
    let env = temp_config("", &[]);
    let other = crate::common::key_copy("other-signing");
    let text = std::fs::read_to_string(&env.path).unwrap().replace(
        "[audit]\n",
        &format!(
            "[audit]\ncheckpoint_key = {:?}\ncheckpoint_cert = {:?}\n",
            other.key.display().to_string(),
            other.cert.display().to_string()
        ),
    );
    std::fs::write(&env.path, text).unwrap();
    let _ = mint_json(&env, &ALICE);
    let log = audit_lines(&env);
    let cp = log.iter().find(|r| r["kind"] == "checkpoint").expect("closing checkpoint");
    let other_id = sesame::core::text::hex(&openssl::sha::sha256(
        &openssl::x509::X509::from_pem(&std::fs::read(&other.cert).unwrap()).unwrap().to_der().unwrap(),
    ));
    assert_eq!(cp["key_id"], other_id);
    let v = run(&env, &["audit", "verify", "--sealed"]);
    assert!(
        v.status.success(),
        "the configured checkpoint certificate is trusted: {}",
        String::from_utf8_lossy(&v.stderr)
    );
    // Without that certificate the checkpoint cannot be trusted.
    let files = sesame::audit::files::log_files(&env.dir.path().join("audit"), "local").unwrap();
    let certs: sesame::audit::verify::Certs = crate::audit::certs();
    assert_eq!(
        sesame::audit::verify::verify(&files, &certs).unwrap_err().kind,
        sesame::audit::verify::Breakage::BadCheckpoint
    );
}

#[test]
fn a_session_id_leads_to_exactly_the_decision_that_allowed_it() {
    let env = temp_config("", &[]);
    let first = mint_json(&env, &ALICE);
    let second = mint_json(&env, &ALICE);
    let (n1, n2) = (session_name(&first), session_name(&second));
    assert_ne!(n1, n2, "every decision has its own RoleSessionName");
    let tag = &first["assertion_id"].as_str().unwrap()[2..14];
    assert_eq!(n1, format!("alice.{tag}"));
    // A Session Manager session ID is <RoleSessionName>-<hex>; the RoleSessionName may hold '-'.
    let out = run(
        &env,
        &["audit", "search", "--format", "json", "--session-id", &format!("{n1}-0a1b2c3d4e5f67890")],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let hits: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["assertion_id"], first["assertion_id"]);
    assert_eq!(hits[0]["role_session_name"], n1.as_str());
    for bad in ["alice", "alice.0123-", "alice.0123-xyz", &format!("{}-0a", "a".repeat(95))] {
        let out = run(&env, &["audit", "search", "--session-id", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--session-id"), "{bad}");
    }
}

#[test]
fn the_user_name_as_role_session_name_is_still_available() {
    let env = temp_config("", &[]);
    let text = std::fs::read_to_string(&env.path).unwrap();
    std::fs::write(&env.path, text.replace("[aws]\n", "[aws]\nrole_session_name = \"user\"\n")).unwrap();
    assert_eq!(session_name(&mint_json(&env, &ALICE)), "alice");
    std::fs::write(&env.path, text.replace("[aws]\n", "[aws]\nrole_session_name = \"per-user\"\n")).unwrap();
    let out = run(&env, &["check"]);
    assert_eq!(out.status.code(), Some(2));
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(all.contains("aws.role_session_name") && all.contains("per_decision"), "{all}");
}
