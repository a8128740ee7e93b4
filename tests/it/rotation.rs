//! Signing-key rotation without downtime: rotate → metadata lists both → promote →
//! SIGHUP makes the running server sign with the new key → retire; check warns ahead of
//! expiry.

use base64::Engine as _;
use serde_json::Value;

use crate::common::{sesame, temp_config};
use crate::server::{mint_body, start_with};

fn keys_cmd(cfg: &std::path::Path, args: &[&str]) -> std::process::Output {
    sesame().arg("--config").arg(cfg).arg("keys").args(args).output().unwrap()
}

fn cert_b64(path: &std::path::Path) -> String {
    let c = openssl::x509::X509::from_pem(&std::fs::read(path).unwrap()).unwrap();
    base64::engine::general_purpose::STANDARD.encode(c.to_der().unwrap())
}

#[test]
fn rotate_promote_sighup_retire_without_downtime() {
    let mut s = start_with("", |t| t);
    let cfg = s.config_path().to_path_buf();
    let c = s.client();
    let text = std::fs::read_to_string(&cfg).unwrap();
    let cert =
        text.lines().find(|l| l.starts_with("signing_cert")).unwrap().split('"').nth(1).unwrap().to_owned();
    let cert = std::path::PathBuf::from(cert);
    let old = cert_b64(&cert);

    assert!(keys_cmd(&cfg, &["rotate"]).status.success());
    let next = cert_b64(&std::path::PathBuf::from(format!("{}.next", cert.display())));
    let md = String::from_utf8(sesame().arg("--config").arg(&cfg).arg("metadata").output().unwrap().stdout)
        .unwrap();
    assert!(md.contains(&old) && md.contains(&next), "metadata publishes current and next");
    assert!(md.find(&old).unwrap() < md.find(&next).unwrap(), "current first");

    let mint = || -> Value {
        c.post(format!("{}/v1/assertions", s.url))
            .json(&mint_body("alice", "i-0123456789abcdef0"))
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let before = mint();
    assert!(keys_cmd(&cfg, &["promote"]).status.success());
    s.signal("-HUP");
    std::thread::sleep(std::time::Duration::from_millis(700));
    let after = mint();
    let xml = |v: &Value| {
        String::from_utf8(
            base64::engine::general_purpose::STANDARD.decode(v["saml_response"].as_str().unwrap()).unwrap(),
        )
        .unwrap()
    };
    assert!(xml(&before).contains(&old));
    assert!(xml(&after).contains(&next), "after SIGHUP the promoted key signs");
    let served = c.get(format!("{}/metadata", s.url)).send().unwrap().text().unwrap();
    assert!(served.contains(&next) && served.contains(&old), "metadata: new current, old still published");

    // Old responses remain verifiable by auditors after retirement.
    let f = s.env.dir.path().join("before.b64");
    std::fs::write(&f, before["saml_response"].as_str().unwrap()).unwrap();
    assert!(keys_cmd(&cfg, &["retire"]).status.success());
    let status = String::from_utf8(keys_cmd(&cfg, &["status"]).stdout).unwrap();
    assert!(
        status.contains("retired") && status.contains("previous") && status.contains("(none)"),
        "{status}"
    );
    let md = String::from_utf8(sesame().arg("--config").arg(&cfg).arg("metadata").output().unwrap().stdout)
        .unwrap();
    assert!(!md.contains(&old), "a retired certificate is no longer published");
    s.signal("-TERM");
    s.child.wait().unwrap();
    let show = sesame()
        .arg("--config")
        .arg(&cfg)
        .args(["audit", "show", "--response", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(show.status.success(), "{}", String::from_utf8_lossy(&show.stderr));
    let v = sesame().arg("--config").arg(&cfg).args(["audit", "verify"]).output().unwrap();
    assert!(v.status.success(), "checkpoints by both keys verify: {}", String::from_utf8_lossy(&v.stderr));
}

#[test]
fn promote_and_retire_refuse_out_of_order() {
    let env = temp_config("", &[]);
    let p = keys_cmd(&env.path, &["promote"]);
    assert_eq!(p.status.code(), Some(3), "no next key to promote");
    let r = keys_cmd(&env.path, &["retire"]);
    assert_eq!(r.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&r.stderr).contains("nothing to retire"));
}

#[test]
fn check_warns_ahead_of_certificate_expiry() {
    let env = temp_config("", &[]);
    let text = std::fs::read_to_string(&env.path).unwrap();
    let key = env.dir.path().join("short.key");
    let cert = env.dir.path().join("short.crt");
    let g = sesame()
        .args(["keys", "generate", "--days", "10", "--key"])
        .arg(&key)
        .arg("--cert")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(g.status.success());
    let text = text
        .lines()
        .map(|l| {
            if l.starts_with("signing_key") {
                format!("signing_key = {:?}", key.display().to_string())
            } else if l.starts_with("signing_cert") {
                format!("signing_cert = {:?}", cert.display().to_string())
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&env.path, text).unwrap();
    let out = sesame().arg("--config").arg(&env.path).arg("check").output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("expires in 9 days") || stdout.contains("expires in 10 days"), "{stdout}");
}
