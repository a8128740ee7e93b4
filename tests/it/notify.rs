//! Signed webhooks from the reaper to a loopback receiver: a warning a lead time
//! before a window ends, the end, and the sessions terminated; each signed with
//! HMAC-SHA256 over timestamp and body (checked here from the raw bytes), retried
//! when the receiver fails, and recorded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use serde_json::Value;

use crate::reaper::{aws_env, reaper_toml, session_name, Ssm};
use crate::server::{config_with, spawn_env};

pub const SECRET: &str = "webhook-secret-of-the-tests";

/// One request the receiver took: its headers (lower-cased names) and body.
#[derive(Debug, Clone)]
pub struct Got {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub answered: u16,
}

impl Got {
    pub fn header(&self, n: &str) -> &str {
        self.headers.iter().find(|(k, _)| k == n).map_or("", |(_, v)| v.as_str())
    }
}

/// A loopback HTTP receiver that fails its first `fail` requests with 500.
pub fn receiver(fail: usize) -> (String, Arc<Mutex<Vec<Got>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                let h = h.trim_end().to_owned();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
            let len: usize =
                headers.iter().find(|(k, _)| k == "content-length").map_or(0, |(_, v)| v.parse().unwrap());
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let mut list = g.lock().unwrap();
            let answered = if list.len() < fail { 500 } else { 200 };
            list.push(Got { headers, body, answered });
            drop(list);
            let _ = write!(c, "HTTP/1.1 {answered} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, got)
}

pub fn hmac(ts: &str, body: &[u8]) -> String {
    let key = PKey::hmac(SECRET.as_bytes()).unwrap();
    let mut s = Signer::new(MessageDigest::sha256(), &key).unwrap();
    s.update(ts.as_bytes()).unwrap();
    s.update(b".").unwrap();
    s.update(body).unwrap();
    format!("v1={}", s.sign_to_vec().unwrap().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

#[test]
fn people_are_warned_before_the_end_told_at_the_end_and_when_sessions_end() {
    let ssm = Ssm::start();
    let (url, got) = receiver(1);
    let extra = format!("{}\n[webhook]\nurl = {url:?}\nsecret_file = \"hook.secret\"\nlead_seconds = 3\ntimeout_ms = 2000\nattempts = 3\n", reaper_toml(&ssm));
    let (env, tls) = config_with(&extra, |t| t.replace("[aws]\n", "[aws]\nbelow_floor = \"allow_floor\"\n"));
    let secret = env.dir.path().join("hook.secret");
    std::fs::write(&secret, SECRET).unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let vars = aws_env(env.dir.path());
    let s = spawn_env(env, tls, &[], &vars);
    let body = serde_json::json!({"user": "carol", "group": "pam-webserver", "duration_seconds": 6, "ticket": "INC-9", "approver": "dana"});
    let g: Value =
        s.client().post(format!("{}/v1/grants", s.url)).json(&body).send().unwrap().json().unwrap();
    let end = chrono::DateTime::parse_from_rfc3339(g["end"].as_str().unwrap()).unwrap().timestamp();
    let minted: Value = s
        .client()
        .post(format!("{}/v1/assertions", s.url))
        .json(&crate::server::mint_body("carol", "i-0123456789abcdef0"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let name = session_name(&minted);
    ssm.add(&format!("{name}-0a1b2c3d4e5f67890"), &name, "i-0123456789abcdef0");
    let t0 = Instant::now();
    let events = loop {
        let list = got.lock().unwrap().clone();
        let ok: Vec<Got> = list.into_iter().filter(|g| g.answered == 200).collect();
        if ok.len() >= 3 || t0.elapsed() > Duration::from_secs(30) {
            break ok;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let names: Vec<&str> = events.iter().map(|g| g.header("x-sesame-event")).collect();
    assert_eq!(names, ["access_ending", "access_ended", "sessions_terminated"], "{events:?}");
    for e in &events {
        let ts = e.header("x-sesame-timestamp");
        assert_eq!(e.header("x-sesame-signature"), hmac(ts, &e.body), "signed over timestamp and body");
        let v: Value = serde_json::from_slice(&e.body).unwrap();
        assert_eq!(
            (v["user"].as_str(), v["subject"].as_str()),
            (Some("carol"), minted["assertion_id"].as_str())
        );
        assert_eq!(v["entitlements"], serde_json::json!(["pam-webserver"]));
        assert_eq!(v["event"], e.header("x-sesame-event"));
        let at: i64 = ts.parse().unwrap();
        match v["event"].as_str().unwrap() {
            "access_ending" => assert!(at < end && at >= end - 4, "warned {} s before the end", end - at),
            "access_ended" => assert!(at >= end, "told {} s after the end", at - end),
            _ => assert_eq!(v["sessions"], 1),
        }
    }
    // A forged or altered body does not verify.
    let mut altered = events[0].body.clone();
    altered[0] ^= 1;
    assert_ne!(
        events[0].header("x-sesame-signature"),
        hmac(events[0].header("x-sesame-timestamp"), &altered)
    );
    // The first attempt got a 500 and was retried; every notice is recorded once.
    assert_eq!(got.lock().unwrap()[0].answered, 500);
    let t0 = Instant::now();
    loop {
        let recs: Vec<Value> =
            crate::reaper::all_records(&s).into_iter().filter(|r| r["kind"] == "notify").collect();
        if recs.len() >= 3 {
            assert!(recs.iter().all(|r| r["outcome"] == "webhook_delivered"), "{recs:?}");
            let codes: Vec<&str> = recs.iter().map(|r| r["code"].as_str().unwrap()).collect();
            assert_eq!(codes, ["access_ending", "access_ended", "sessions_terminated"]);
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "{recs:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
