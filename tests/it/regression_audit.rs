//! Regression tests for the audit log, named after the issue that found the defect;
//! each failed on the code before its fix.

use serde_json::Value;
use sesame::audit::{AuditLog, Entry, Kind};

use crate::common::{audit_json, sesame, temp_config, TempConfig};
use crate::server::{mint_body, start};

/// Waits for `child` to exit within `secs`; kills it and fails if it keeps running.
pub fn exits_within(mut child: std::process::Child, secs: u64) -> std::process::Output {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > until {
            let _ = child.kill();
            panic!("still running after {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

pub fn serve(cfg: &std::path::Path) -> std::process::Child {
    sesame()
        .arg("--config")
        .arg(cfg)
        .arg("serve")
        .env("SESAME_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Issue 12, defect 2: after the live audit file was deleted, mints still returned 200
/// and `/readyz` said ready; after a restart a new chain began at seq 1 and
/// `audit verify` said ok.
#[test]
fn issue_12_a_deleted_live_audit_file_stops_minting_and_the_next_start() {
    let s = start();
    let c = s.client();
    let mint = || {
        c.post(format!("{}/v1/assertions", s.url))
            .json(&mint_body("alice", "i-0fedcba9876543210"))
            .send()
            .unwrap()
    };
    assert_eq!(mint().status(), 200);
    let files = sesame::audit::files::log_files(&s.audit_dir(), "local").unwrap();
    std::fs::remove_file(&files[0]).unwrap();
    let r = mint();
    assert_eq!(r.status(), 503);
    let v: Value = r.json().unwrap();
    assert_eq!(v["error"]["code"], "audit_damaged", "{v}");
    assert!(v.get("saml_response").is_none());
    let ready = c.get(format!("{}/readyz", s.url)).send().unwrap();
    assert_eq!(ready.status(), 503);
    let v: Value = ready.json().unwrap();
    assert!(v["checks"]["audit"].as_str().unwrap().contains("removed or replaced"), "{v}");
    let cfg = s.config_path().to_path_buf();
    let dir = s.audit_dir();
    let _keep = s.stop();
    // The next start refuses to begin a new chain.
    let out = exits_within(serve(&cfg), 20);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ends at seq 0") && err.contains("head file says") && err.contains("accept-loss"),
        "{err}"
    );
    // An operator who cannot restore the file says so; the loss is recorded.
    let run = |args: &[&str]| sesame().arg("--config").arg(&cfg).args(args).output().unwrap();
    let acc = run(&["audit", "accept-loss", "--reason", "disk replaced, INC-9"]);
    assert!(acc.status.success(), "{}", String::from_utf8_lossy(&acc.stderr));
    assert!(String::from_utf8_lossy(&acc.stdout).contains("recorded the loss of records 1..="));
    let recs = audit_json(&dir);
    assert_eq!(recs[0]["kind"], "recovery");
    assert_eq!(recs[0]["code"], "records_lost");
    assert!(recs[0]["message"].as_str().unwrap().contains("disk replaced, INC-9"));
    assert!(run(&["audit", "verify"]).status.success());
}

/// Issue 12, defects 2 and 5: a live file replaced under the writer stops it; `ready`
/// says not ready while the file cannot be written (immutable) or the disk is full.
#[test]
fn issue_12_the_log_is_not_ready_when_it_cannot_write_and_stops_when_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let log = crate::audit::writer(dir.path(), 64 << 20, 100_000);
    let e = |i: u64| Entry {
        time: "2026-12-01T00:00:00Z".into(),
        message: Some(format!("r{i}")),
        ..Entry::default()
    };
    log.append(Kind::Decision, e(1)).unwrap();
    assert!(log.ready().is_ok());
    let live = sesame::audit::files::log_files(dir.path(), "local").unwrap()[0].clone();
    let chattr = |flag: &str| std::process::Command::new("chattr").arg(flag).arg(&live).status().unwrap();
    assert!(chattr("+i").success(), "chattr +i (root, ext4) is needed for this test");
    let not_ready = log.ready().unwrap_err().to_string();
    assert!(not_ready.contains("cannot be written"), "{not_ready}");
    assert!(log.append(Kind::Decision, e(2)).is_err(), "an immutable file refuses the record");
    assert!(chattr("-i").success());
    log.append(Kind::Decision, e(3)).unwrap();
    assert!(log.ready().is_ok(), "ready again once a write succeeds");
    // Replaced by another file of the same name: the writer stops for good.
    let copy = dir.path().join("copy");
    std::fs::copy(&live, &copy).unwrap();
    std::fs::rename(&copy, &live).unwrap();
    let err = log.append(Kind::Decision, e(4)).unwrap_err();
    assert!(err.to_string().contains("removed or replaced"), "{err}");
    assert!(log.ready().is_err());
    assert!(log.append(Kind::Decision, e(5)).is_err(), "stopped for good");

    // A full disk: a small tmpfs.
    let small = tempfile::tempdir().unwrap();
    assert!(std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=128k", "tmpfs"])
        .arg(small.path())
        .status()
        .unwrap()
        .success());
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _u = Unmount(small.path().to_path_buf());
    let log = crate::audit::writer(small.path(), 64 << 20, 100_000);
    assert!(log.ready().is_err(), "128 KiB free is less than a batch needs");
    let why = log.ready().unwrap_err().to_string();
    assert!(why.contains("bytes free"), "{why}");
}

/// A configuration whose audit log rotates every 4 KiB, with `n` minted responses in it.
fn rotated_log(n: &str) -> TempConfig {
    let env = temp_config("", &[]);
    let text = std::fs::read_to_string(&env.path).unwrap();
    std::fs::write(&env.path, text.replace("[audit]\n", "[audit]\nrotate_bytes = 4096\n")).unwrap();
    let out = sesame()
        .arg("--config")
        .arg(&env.path)
        .args([
            "mint",
            "--count",
            n,
            "--format",
            "json",
            "--user",
            "alice",
            "--instance",
            "i-0fedcba9876543210",
        ])
        .args(["--region", "us-east-1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    env
}

fn last_seq(file: &std::path::Path) -> u64 {
    let text = std::fs::read_to_string(file).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["kind"], "checkpoint", "a rotated file ends with a checkpoint");
    last["seq"].as_u64().unwrap()
}

/// Issue 12, defect 3: `audit verify` passed (with a note) when the oldest file was
/// deleted. Now a missing prefix fails unless `audit prune` declared it.
#[test]
fn issue_12_a_missing_prefix_fails_verify_unless_a_prune_declared_it() {
    let run = |env: &TempConfig, args: &[&str]| {
        sesame().arg("--config").arg(&env.path).args(args).output().unwrap()
    };
    let env = rotated_log("40");
    let audit = env.dir.path().join("audit");
    let files = sesame::audit::files::log_files(&audit, "local").unwrap();
    assert!(files.len() >= 4, "rotation made several files: {}", files.len());
    std::fs::remove_file(&files[0]).unwrap();
    let v = run(&env, &["audit", "verify"]);
    assert_eq!(v.status.code(), Some(1), "{}", String::from_utf8_lossy(&v.stdout));
    let err = String::from_utf8_lossy(&v.stderr);
    assert!(err.contains("are missing and no prune record declares them"), "{err}");

    let env = rotated_log("40");
    let audit = env.dir.path().join("audit");
    let files = sesame::audit::files::log_files(&audit, "local").unwrap();
    let through = last_seq(&files[1]);
    let bad = run(&env, &["audit", "prune", "--through", &(through - 1).to_string()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains(&format!("{through}")),
        "names the checkpoints that qualify"
    );
    let p = run(&env, &["audit", "prune", "--through", &through.to_string()]);
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    let kept = sesame::audit::files::log_files(&audit, "local").unwrap();
    // The prune record itself may start a new file: the two oldest are gone, the rest stay.
    assert!(!kept.contains(&files[0]) && !kept.contains(&files[1]), "the two oldest files are gone");
    assert!(files[2..].iter().all(|f| kept.contains(f)), "the others stay");
    let v = run(&env, &["audit", "verify"]);
    assert!(
        v.status.success(),
        "{}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    assert!(String::from_utf8_lossy(&v.stdout).contains(&format!("records 1..={through} were pruned")));
    let recs = audit_json(&audit);
    let declared = recs.iter().find(|r| r["kind"] == "prune").unwrap();
    assert_eq!(declared["pruned_through"], through);
    // Deleting one more file than declared is caught.
    std::fs::remove_file(&kept[0]).unwrap();
    assert_eq!(run(&env, &["audit", "verify"]).status.code(), Some(1));
}
