//! Firecall (break-glass) grants over the API: opened by the access manager for the
//! person with a reason and a ticket, only for eligible entitlements and within the
//! cap; announced by webhook; ended hard by the reaper; review pending until an
//! approver records a review.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::notify::{hmac, receiver, SECRET};
use crate::reaper::{aws_env, reaper_toml, session_name, Ssm};
use crate::server::{config_with, spawn_env, Server};

fn pending(s: &Server) -> Vec<Value> {
    let out = crate::common::sesame()
        .arg("--config")
        .arg(s.config_path())
        .args(["audit", "search", "--review-pending", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn a_firecall_opens_within_its_cap_notifies_ends_through_the_reaper_and_waits_for_review() {
    let ssm = Ssm::start();
    let (url, got) = receiver(0);
    let dir = tempfile::tempdir().unwrap();
    let ents = dir.path().join("entitlements.toml");
    let text = std::fs::read_to_string(crate::common::root().join("policies/entitlements.toml")).unwrap();
    std::fs::write(
        &ents,
        text.replace("group = \"pam-webserver\"\n", "group = \"pam-webserver\"\nfirecall = true\n"),
    )
    .unwrap();
    let extra = format!(
        "{}\n[webhook]\nurl = {url:?}\nsecret_file = \"hook.secret\"\nlead_seconds = 0\ntimeout_ms = 2000\nattempts = 2\n",
        reaper_toml(&ssm)
    );
    let shipped = crate::common::root().join("policies/entitlements.toml").display().to_string();
    let (env, tls) = config_with(&extra, |t| {
        t.replace(&format!("{shipped:?}"), &format!("{:?}", ents.display().to_string()))
            .replace("[aws]\n", "[aws]\nbelow_floor = \"allow_floor\"\n")
    });
    assert!(std::fs::read_to_string(&env.path).unwrap().contains(&ents.display().to_string()));
    let secret = env.dir.path().join("hook.secret");
    std::fs::write(&secret, SECRET).unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let vars = aws_env(env.dir.path());
    let s = spawn_env(env, tls, &[], &vars);
    let c = s.client();
    let post = |body: Value| c.post(format!("{}/v1/firecalls", s.url)).json(&body).send().unwrap();
    // Refused: an entitlement not open to firecalls, beyond the cap, no reason; and an
    // ordinary grant may not pose as one.
    for (body, field) in [
        (json!({"user": "alice", "group": "pam-payments", "reason": "db down", "ticket": "INC-1"}), "group"),
        (
            json!({"user": "carol", "group": "pam-webserver", "reason": "db down", "ticket": "INC-1", "duration_seconds": 7200}),
            "duration_seconds",
        ),
        (json!({"user": "carol", "group": "pam-webserver", "reason": " ", "ticket": "INC-1"}), "reason"),
    ] {
        let r = post(body);
        assert_eq!(r.status(), 400);
        let e: Value = r.json().unwrap();
        assert!(e["error"]["message"].as_str().unwrap().starts_with(field), "{e}");
    }
    let fake = json!({"user": "carol", "group": "pam-webserver", "duration_seconds": 60, "ticket": "T", "approver": "firecall"});
    assert_eq!(c.post(format!("{}/v1/grants", s.url)).json(&fake).send().unwrap().status(), 400);
    // Opened: from now, for 5 s.
    let r = post(
        json!({"user": "carol", "group": "pam-webserver", "reason": "payments db down", "ticket": "INC-77", "duration_seconds": 5}),
    );
    assert_eq!(r.status(), 201);
    let g: Value = r.json().unwrap();
    assert_eq!((g["status"].as_str(), g["approver"].as_str()), (Some("active"), Some("firecall")), "{g}");
    let id = g["id"].as_i64().unwrap();
    let minted: Value = c
        .post(format!("{}/v1/assertions", s.url))
        .json(&crate::server::mint_body("carol", "i-0123456789abcdef0"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(minted["decision"]["sets"][0]["status"], "open");
    let name = session_name(&minted);
    let sid = format!("{name}-0a1b2c3d4e5f67890");
    ssm.add(&sid, &name, "i-0123456789abcdef0");
    // Announced at once (within the reaper's interval), signed.
    let t0 = Instant::now();
    let opened = loop {
        let list = got.lock().unwrap().clone();
        if let Some(e) = list.iter().find(|g| g.header("x-sesame-event") == "firecall_opened") {
            break e.clone();
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "no firecall notice");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(opened.header("x-sesame-signature"), hmac(opened.header("x-sesame-timestamp"), &opened.body));
    let v: Value = serde_json::from_slice(&opened.body).unwrap();
    assert_eq!((v["user"].as_str(), v["reason"].as_str()), (Some("carol"), Some("payments db down")));
    // Ends hard at its end.
    let end = chrono::DateTime::parse_from_rfc3339(g["end"].as_str().unwrap()).unwrap().timestamp() as f64;
    let ended = ssm.ended(&sid, Duration::from_secs(20));
    assert!(ended >= end && ended - end < 4.0, "ended {} s after the firecall", ended - end);
    // Review pending until an approver records one.
    let p = pending(&s);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!((p[0]["kind"].as_str(), p[0]["grant"]["id"].as_i64()), (Some("firecall"), Some(id)));
    assert_eq!(p[0]["message"], "payments db down");
    let review = |gid: i64| {
        c.post(format!("{}/v1/firecalls/{gid}/review", s.url))
            .json(&json!({"note": "justified: INC-77"}))
            .send()
            .unwrap()
    };
    assert_eq!(review(1).status(), 400, "grant 1 (the demo's) is not a firecall");
    assert_eq!(review(id).status(), 200);
    assert!(pending(&s).is_empty());
}
