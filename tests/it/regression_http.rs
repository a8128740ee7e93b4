//! Regression tests for the HTTP edge, named after the issue that found the defect;
//! each failed on the code before its fix.

use serde_json::Value;

use crate::common::temp_config;

/// A plain-HTTP development server on loopback with `server` settings added.
fn dev_server(server: &str) -> crate::server::Server {
    let env = temp_config("", &[]);
    let tls_dir = env.dir.path().join("tls");
    let mut text = std::fs::read_to_string(&env.path).unwrap();
    text.push_str(&format!("\n[server]\nlisten = \"127.0.0.1:0\"\n{server}\n"));
    std::fs::write(&env.path, text).unwrap();
    crate::server::spawn(env, tls_dir, &["--insecure-dev-http"])
}

/// Sends raw bytes and reads the whole answer (until the server closes or `secs` pass).
fn raw(addr: &str, bytes: &[u8], secs: u64) -> (String, std::time::Duration) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(secs))).unwrap();
    let t = std::time::Instant::now();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    (String::from_utf8_lossy(&out).into_owned(), t.elapsed())
}

fn json_body(response: &str) -> Value {
    serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap_or_default()).unwrap_or(Value::Null)
}

/// Issue 12, defects 8 and 11: a stalled request body was never timed out; JSON type
/// errors did not name the field; a wrong method, media type or size got no JSON.
/// Connections per source are limited and idle keep-alive connections close.
#[test]
fn issue_12_bodies_connections_and_every_refusal_are_bounded_and_json() {
    let s = dev_server("body_timeout_ms = 500\nkeep_alive_seconds = 1\nmax_connections_per_source = 3\nmax_body_bytes = 1024");
    let addr = s.url.trim_start_matches("http://").to_owned();
    let head = |len: usize| {
        format!("POST /v1/assertions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n")
    };
    let (r, took) = raw(&addr, format!("{}{{\"user\":", head(500)).as_bytes(), 10);
    assert!(r.starts_with("HTTP/1.1 408"), "{r}");
    assert_eq!(json_body(&r)["error"]["code"], "body_timeout");
    assert!(took < std::time::Duration::from_secs(5), "answered after {took:?}");

    let c = reqwest::blocking::Client::new();
    let url = format!("{}/v1/assertions", s.url);
    let typed = c
        .post(&url)
        .json(&serde_json::json!({"user": 123, "instance_id": "i-0fedcba9876543210", "region": "us-east-1"}));
    let v: Value = typed.send().unwrap().json().unwrap();
    assert_eq!(v["error"]["code"], "bad_input");
    assert_eq!(v["error"]["field"], "user", "{v}");
    assert!(v["error"]["message"].as_str().unwrap().starts_with("user: invalid type: integer"), "{v}");
    let grant = c.post(format!("{}/v1/grants", s.url)).json(&serde_json::json!({"user": "carol", "group": "pam-webserver", "duration_seconds": 1e30, "ticket": "T", "approver": "a"}));
    let v: Value = grant.send().unwrap().json().unwrap();
    assert_eq!(v["error"]["field"], "duration_seconds", "{v}");
    let bad_user = c.post(&url).json(
        &serde_json::json!({"user": "al ice", "instance_id": "i-0fedcba9876543210", "region": "us-east-1"}),
    );
    assert_eq!(bad_user.send().unwrap().json::<Value>().unwrap()["error"]["field"], "user");
    for (req, status, code) in [
        (c.put(&url), 405, "method_not_allowed"),
        (c.post(&url).header("content-type", "text/plain").body("x"), 415, "unsupported_media_type"),
        (
            c.post(&url).header("content-type", "application/json").body(vec![b' '; 4096]),
            413,
            "body_too_large",
        ),
    ] {
        let r = req.send().unwrap();
        assert_eq!(r.status(), status);
        let allow = r.headers().get("allow").map(|v| v.to_str().unwrap().to_owned());
        let v: Value = r.json().unwrap();
        assert_eq!(v["error"]["code"], code, "{v}");
        if status == 405 {
            assert_eq!(allow.as_deref(), Some("POST"));
        }
    }
    // Three connections per source; the fourth is refused while they are open.
    use std::io::{Read, Write};
    let get = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    let open: Vec<std::net::TcpStream> = (0..3)
        .map(|_| {
            let mut k = std::net::TcpStream::connect(&addr).unwrap();
            k.write_all(get).unwrap();
            let mut buf = [0u8; 512];
            let n = k.read(&mut buf).unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
            k
        })
        .collect();
    let (r, _) = raw(&addr, get, 5);
    assert!(r.starts_with("HTTP/1.1 429"), "{r}");
    assert_eq!(json_body(&r)["error"]["code"], "too_many_connections");
    // Idle keep-alive connections close after a second, and the source may connect again.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    for mut k in open {
        let mut buf = [0u8; 16];
        k.set_read_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
        assert_eq!(k.read(&mut buf).unwrap_or(0), 0, "closed by the server");
    }
    let (r, _) = raw(&addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5);
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
}

/// Holds a lock on an SQLite file from another process for `secs`; returns once held.
fn hold_lock(db: &std::path::Path, sql: &str, secs: u64) -> std::process::Child {
    use std::io::BufRead;
    let script = format!(
        "import sqlite3,time,sys\nc=sqlite3.connect(sys.argv[1], isolation_level=None)\nc.executescript({sql:?})\nprint('held', flush=True)\ntime.sleep({secs})\n"
    );
    let mut child = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(db)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "held");
    child
}

/// Issue 12, defect 6: with another process holding a lock on the SQLite grants file,
/// one grant write plus four mints took ~5 s and `/healthz` 4.5 s (store calls behind
/// one mutex with a 5 s busy timeout). Now lookups read on their own connections (and
/// would wait at most 100 ms for a lock that blocks readers); a write waits at most 1 s
/// and fails closed; nothing else waits.
#[test]
fn issue_12_a_locked_grants_store_costs_only_the_requests_that_need_it() {
    let s = crate::server::start();
    let c = s.client();
    let db = s.env.dir.path().join("grants.db");
    let mint = || {
        c.post(format!("{}/v1/assertions", s.url))
            .json(&crate::server::mint_body("alice", "i-0fedcba9876543210"))
            .send()
            .unwrap()
    };
    assert_eq!(mint().status(), 200, "the store exists and is seeded");
    // A writer elsewhere (WAL: readers go on).
    let mut other = hold_lock(&db, "BEGIN IMMEDIATE;", 4);
    let t = std::time::Instant::now();
    let writes = std::thread::scope(|scope| {
        let w = scope.spawn(|| {
            c.post(format!("{}/v1/grants", s.url))
                .json(&serde_json::json!({"user": "carol", "group": "pam-webserver", "duration_seconds": 60, "ticket": "T", "approver": "a"}))
                .send()
                .unwrap()
        });
        std::thread::sleep(std::time::Duration::from_millis(100));
        for _ in 0..4 {
            let m = mint();
            assert_eq!(m.status(), 200);
            assert!(
                t.elapsed() < std::time::Duration::from_millis(900),
                "mints do not wait behind the write"
            );
        }
        let h = c.get(format!("{}/healthz", s.url)).send().unwrap();
        assert_eq!(h.status(), 200);
        w.join().unwrap()
    });
    assert_eq!(writes.status(), 503);
    assert_eq!(writes.json::<Value>().unwrap()["error"]["code"], "grants_unavailable");
    let _ = other.kill();
    let _ = other.wait();
    assert_eq!(mint().status(), 200, "recovers by itself");
}

/// Issue 12, defect 12: every request without a client certificate, failed handshake
/// and wrong-role request wrote its own record with its own `fdatasync` — four clients
/// wrote ~550 KiB/s. Now denials are counted per source and reason and written once per
/// interval, and a source past the limit is answered 429 at once.
#[test]
fn issue_12_a_flood_of_refused_callers_is_counted_not_written_one_by_one() {
    let s = crate::server::start();
    let anon = crate::server::anonymous(&s.tls.ca_cert);
    let ok = s.client();
    let (mut unauthenticated, mut limited) = (0u64, 0u64);
    for i in 0..300 {
        let r = anon.get(format!("{}/healthz", s.url)).send().unwrap();
        match r.status().as_u16() {
            401 => unauthenticated += 1,
            429 => {
                assert_eq!(r.json::<Value>().unwrap()["error"]["code"], "rate_limited");
                limited += 1;
            }
            other => panic!("request {i}: {other}"),
        }
        if i % 50 == 0 {
            let m = ok
                .post(format!("{}/v1/assertions", s.url))
                .json(&crate::server::mint_body("alice", "i-0fedcba9876543210"));
            assert_eq!(m.send().unwrap().status(), 200, "authenticated callers are served during the flood");
        }
    }
    assert_eq!(unauthenticated, sesame::edge::http::denials::PER_SOURCE);
    assert_eq!(limited, 300 - unauthenticated);
    let dir = s.audit_dir();
    assert!(s.stop().success());
    let recs = crate::common::audit_json(&dir);
    let access: Vec<&Value> = recs.iter().filter(|r| r["kind"] == "access").collect();
    assert!(access.len() <= 2, "one record per source and reason and interval: {}", access.len());
    let counted: u64 = access.iter().map(|r| r["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, 300, "every refusal is counted");
    assert!(access.iter().all(|r| r["source"] == "127.0.0.1"));
}
