//! The session reaper against a loopback stand-in for Session Manager
//! (`tests/standins/ssm.py`: the JSON 1.1 protocol, SigV4 checked, AWS's session-ID
//! and Owner formats, injectable throttling and 5xx), with the real AWS SDK pointed at
//! it by `reaper.endpoint_url`: sessions end within one interval of the window's end
//! and seconds after a revocation or release; other people's sessions are untouched;
//! errors are retried and recorded; a reaper killed mid-work finishes after restart.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use crate::server::{config_with, spawn_env, Server};

pub const AKID: &str = "AKIDSESAMETEST000001";
const SECRET: &str = "sesame-test-secret-key";
const OWNER: &str = "arn:aws:sts::111122223333:assumed-role/sesame-session-manager/";
const WEB: &str = "i-0123456789abcdef0";

/// The stand-in, killed with the value.
pub struct Ssm {
    child: Child,
    pub url: String,
    http: reqwest::blocking::Client,
}

impl Ssm {
    pub fn start() -> Self {
        let mut child = Command::new("python3")
            .arg(crate::common::root().join("tests/standins/ssm.py"))
            .args(["--access-key", AKID, "--secret-key", SECRET])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("stand-in: {line:?}"));
        Ssm { child, url: format!("http://127.0.0.1:{port}"), http: reqwest::blocking::Client::new() }
    }

    fn control(&self, path: &str, body: Value) {
        let r = self.http.post(format!("{}/_control/{path}", self.url)).json(&body).send().unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }

    pub fn add(&self, id: &str, session_name: &str, target: &str) {
        self.control(
            "sessions",
            json!({"SessionId": id, "Owner": format!("{OWNER}{session_name}"), "Target": target, "Region": "us-east-1"}),
        );
    }

    pub fn fail(&self, operation: &str, status: u16, kind: &str, count: u32) {
        self.control("fail", json!({"operation": operation, "status": status, "type": kind, "count": count}));
    }

    pub fn sticky(&self, id: &str, count: u32) {
        self.control("sticky", json!({"SessionId": id, "count": count}));
    }

    pub fn clear(&self) {
        self.control("clear", json!({}));
    }

    pub fn state(&self) -> Value {
        self.http.get(format!("{}/_control/state", self.url)).send().unwrap().json().unwrap()
    }

    pub fn session(&self, id: &str) -> Value {
        self.state()["sessions"].as_array().unwrap().iter().find(|s| s["SessionId"] == id).cloned().unwrap()
    }

    /// Waits (bounded) until the session has ended; its EndDate (epoch seconds).
    pub fn ended(&self, id: &str, within: Duration) -> f64 {
        let t0 = Instant::now();
        loop {
            let s = self.session(id);
            if s["State"] == "History" {
                return s["EndDate"].as_f64().unwrap();
            }
            assert!(t0.elapsed() < within, "session {id} still {s} after {within:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// An unsigned request is refused, as AWS refuses it.
    pub fn refuses_unsigned(&self) -> bool {
        let r = self
            .http
            .post(&self.url)
            .header("X-Amz-Target", "AmazonSSM.DescribeSessions")
            .header("Content-Type", "application/x-amz-json-1.1")
            .body("{\"State\":\"Active\"}")
            .send()
            .unwrap();
        r.status() == 400
    }
}

impl Drop for Ssm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment the AWS SDK's standard chain reads in the tests: static keys,
/// no instance metadata, no profile files.
pub fn aws_env(dir: &std::path::Path) -> Vec<(&'static str, String)> {
    for f in ["no-aws-config", "no-aws-credentials"] {
        std::fs::write(dir.join(f), "").unwrap();
    }
    vec![
        ("AWS_ACCESS_KEY_ID", AKID.into()),
        ("AWS_SECRET_ACCESS_KEY", SECRET.into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_CONFIG_FILE", dir.join("no-aws-config").display().to_string()),
        ("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-aws-credentials").display().to_string()),
    ]
}

pub fn reaper_toml(ssm: &Ssm) -> String {
    format!(
        "\n[reaper]\nenabled = true\ninterval_seconds = 1\nrounds = 3\nround_wait_ms = 200\nretry_after_seconds = 1\ntimeout_ms = 2000\nsdk_attempts = 3\nendpoint_url = {:?}\n",
        ssm.url
    )
}

/// A server with the reaper on, the stand-in as Session Manager, and windows below
/// AWS's 900-second floor kept open (so a test window can end in seconds).
fn serve(ssm: &Ssm) -> Server {
    let (env, tls) =
        config_with(&reaper_toml(ssm), |t| t.replace("[aws]\n", "[aws]\nbelow_floor = \"allow_floor\"\n"));
    let vars = aws_env(env.dir.path());
    spawn_env(env, tls, &[], &vars)
}

pub fn session_name(minted: &Value) -> String {
    let xml =
        base64::engine::general_purpose::STANDARD.decode(minted["saml_response"].as_str().unwrap()).unwrap();
    let xml = String::from_utf8(xml).unwrap();
    let rest = &xml[xml.find("Attributes/RoleSessionName\"><saml:AttributeValue>").unwrap()..];
    let v = &rest[rest.find("<saml:AttributeValue>").unwrap() + "<saml:AttributeValue>".len()..];
    v[..v.find('<').unwrap()].to_owned()
}

fn mint(s: &Server, user: &str) -> Value {
    let r = s
        .client()
        .post(format!("{}/v1/assertions", s.url))
        .json(&crate::server::mint_body(user, WEB))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json().unwrap()
}

fn grant(s: &Server, user: &str, seconds: u64) -> Value {
    let body = json!({"user": user, "group": "pam-webserver", "duration_seconds": seconds, "ticket": "INC-7", "approver": "dana"});
    let g: Value =
        s.client().post(format!("{}/v1/grants", s.url)).json(&body).send().unwrap().json().unwrap();
    assert_eq!(g["status"], "active", "{g}");
    g
}

/// Every record of the server's log, as JSON.
pub fn all_records(s: &Server) -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(s.audit_dir())
        .unwrap()
        .map(|f| f.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<Value>>()
        })
        .collect()
}

/// Session records of the log, as JSON.
pub fn session_records(s: &Server) -> Vec<Value> {
    all_records(s).into_iter().filter(|v| v["kind"] == "session").collect()
}

/// Waits (bounded) until the session records satisfy `done`; returns them.
pub fn wait_records(s: &Server, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let t0 = Instant::now();
    loop {
        let recs = session_records(s);
        if done(&recs) {
            return recs;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "records never got there: {recs:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn reaped(recs: &[Value], decision: &Value) -> bool {
    recs.iter().any(|r| r["outcome"] == "sessions_reaped" && r["decision"] == *decision)
}

fn epoch(t: &str) -> f64 {
    chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp_millis() as f64 / 1000.0
}

fn sid(name: &str) -> String {
    format!("{name}-0a1b2c3d4e5f67890")
}

#[test]
fn the_stand_in_refuses_unsigned_requests() {
    let ssm = Ssm::start();
    assert!(ssm.refuses_unsigned());
}

#[test]
fn a_window_that_ends_closes_its_sessions_within_one_interval_and_no_one_elses() {
    let ssm = Ssm::start();
    let s = serve(&ssm);
    let g = grant(&s, "carol", 4);
    let minted = mint(&s, "carol");
    assert_eq!(minted["decision"]["sets"][0]["status"], "open", "{minted}");
    let end = epoch(g["end"].as_str().unwrap());
    let name = session_name(&minted);
    ssm.add(&sid(&name), &name, WEB);
    // Someone else's session, and a session of another of carol's principals.
    ssm.add("alice.0123456789ab-0fedcba9876543210", "alice.0123456789ab", WEB);
    ssm.add("carol.ffffffffffff-00000000000000001", "carol.ffffffffffff", WEB);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(ssm.session(&sid(&name))["State"], "Active", "nothing ends before the window does");
    let ended = ssm.ended(&sid(&name), Duration::from_secs(20));
    let delay = ended - end;
    eprintln!("window end → confirmed termination: {delay:.2} s");
    assert!(delay >= 0.0, "ended {delay} s before the window did");
    assert!(delay < 4.0, "ended {delay} s after the window (interval 1 s)");
    assert_eq!(ssm.session("alice.0123456789ab-0fedcba9876543210")["State"], "Active");
    assert_eq!(ssm.session("carol.ffffffffffff-00000000000000001")["State"], "Active");
    // Recorded: started (before terminating), terminated (confirmed), reaped.
    let recs = wait_records(&s, |r| reaped(r, &minted["assertion_id"]));
    let outcomes = (recs.iter().map(|r| r["outcome"].as_str().unwrap().to_owned()).collect::<Vec<_>>(), recs);
    assert_eq!(
        outcomes.0,
        ["sessions_reap_started", "session_terminated", "sessions_reaped"],
        "{:?}",
        outcomes.1
    );
    let terminated = &outcomes.1[1];
    assert_eq!(terminated["session_id"], sid(&name).as_str());
    assert_eq!(terminated["decision"], minted["assertion_id"]);
    assert_eq!(terminated["code"], "window_end");
    assert_eq!(outcomes.1[2]["count"], 1);
    // `audit search --session-id` leads from the session to the decision.
    let out = crate::common::sesame()
        .arg("--config")
        .arg(s.config_path())
        .args(["audit", "search", "--format", "json", "--session-id", &sid(&name)])
        .output()
        .unwrap();
    let hits: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["assertion_id"], minted["assertion_id"]);
}

#[test]
fn a_revocation_or_a_release_ends_sessions_within_seconds() {
    let ssm = Ssm::start();
    let s = serve(&ssm);
    let c = s.client();
    for (user, how) in [("carol", "revoke"), ("alice", "release")] {
        let g = grant(&s, user, 3600);
        let minted = mint(&s, user);
        let name = session_name(&minted);
        ssm.add(&sid(&name), &name, WEB);
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(ssm.session(&sid(&name))["State"], "Active", "an open window's session stays");
        // The operator's view: the person's sessions, each with its decision.
        let list = crate::common::sesame()
            .arg("--config")
            .arg(s.config_path())
            .args(["sessions", "list", "--user", user])
            .envs(aws_env(s.env.dir.path()))
            .output()
            .unwrap();
        assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));
        let rows: Vec<Value> = String::from_utf8(list.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(
            (&rows[0]["session_id"], &rows[0]["assertion_id"]),
            (&json!(sid(&name)), &minted["assertion_id"])
        );
        let id = g["id"].as_i64().unwrap();
        let r = match how {
            "revoke" => c.delete(format!("{}/v1/grants/{id}", s.url)).send().unwrap(),
            _ => c.post(format!("{}/v1/grants/{id}/release", s.url)).send().unwrap(),
        };
        assert!(r.status().is_success(), "{how}: {}", r.status());
        let at = epoch(r.json::<Value>().unwrap()["revoked_at"].as_str().unwrap());
        let ended = ssm.ended(&sid(&name), Duration::from_secs(20));
        eprintln!("{how} → confirmed termination: {:.2} s", ended - at);
        assert!(ended - at < 4.0, "{how}: {} s", ended - at);
    }
    let recs = wait_records(&s, |r| r.iter().filter(|r| r["outcome"] == "sessions_reaped").count() >= 2);
    let done: Vec<&Value> = recs.iter().filter(|r| r["outcome"] == "sessions_reaped").collect();
    assert!(done.iter().all(|r| r["code"] == "revoked" && r["count"] == 1), "{recs:?}");
}

#[test]
fn throttling_and_errors_are_retried_and_recorded_and_unconfirmed_ends_are_tried_again() {
    let ssm = Ssm::start();
    let s = serve(&ssm);
    let g = grant(&s, "carol", 3600);
    let minted = mint(&s, "carol");
    let name = session_name(&minted);
    ssm.add(&sid(&name), &name, WEB);
    // The SDK retries throttling by itself; TerminateSession failing every time is
    // recorded with AWS's error; a "successful" TerminateSession that ended nothing is
    // not counted as an end.
    ssm.fail("DescribeSessions", 400, "ThrottlingException", 2);
    ssm.fail("TerminateSession", 500, "InternalServerError", 9);
    ssm.sticky(&sid(&name), 1);
    let id = g["id"].as_i64().unwrap();
    assert!(s.client().delete(format!("{}/v1/grants/{id}", s.url)).send().unwrap().status().is_success());
    let ended = ssm.ended(&sid(&name), Duration::from_secs(60));
    assert!(ended > 0.0);
    let recs = wait_records(&s, |r| reaped(r, &minted["assertion_id"]));
    let failed: Vec<&Value> = recs.iter().filter(|r| r["outcome"] == "session_terminate_failed").collect();
    assert!(
        failed.iter().any(|r| r["message"].as_str().unwrap_or_default().contains("InternalServerError")),
        "AWS's error is recorded: {recs:?}"
    );
    let calls = ssm.state()["calls"].as_array().unwrap().clone();
    let terminates = calls.iter().filter(|c| c["operation"] == "TerminateSession").count();
    assert!(terminates >= 11, "9 failures, one that ended nothing, one that did: {terminates}");
    let confirmed: Vec<&Value> = recs.iter().filter(|r| r["outcome"] == "session_terminated").collect();
    assert_eq!(confirmed.len(), 1, "one end, confirmed once: {recs:?}");
}

#[test]
fn a_reaper_killed_mid_work_finishes_the_job_after_restart() {
    let ssm = Ssm::start();
    let (env, tls) = config_with(&reaper_toml(&ssm), |t| t);
    let vars = aws_env(env.dir.path());
    let config = env.path.clone();
    let mut s = spawn_env(env, tls.clone(), &[], &vars);
    let g = grant(&s, "carol", 3600);
    let minted = mint(&s, "carol");
    let name = session_name(&minted);
    ssm.add(&sid(&name), &name, WEB);
    ssm.fail("TerminateSession", 503, "ServiceUnavailable", 1000);
    let id = g["id"].as_i64().unwrap();
    assert!(s.client().delete(format!("{}/v1/grants/{id}", s.url)).send().unwrap().status().is_success());
    // Wait until the reaper is at work (a failure recorded), then kill it.
    let t0 = Instant::now();
    while !session_records(&s).iter().any(|r| r["outcome"] == "session_terminate_failed") {
        assert!(t0.elapsed() < Duration::from_secs(20), "the reaper never tried");
        std::thread::sleep(Duration::from_millis(100));
    }
    s.signal("-KILL");
    let _ = s.child.wait();
    let env = std::mem::replace(&mut s.env, crate::common::temp_config("", &[]));
    std::mem::forget(s); // already dead: no SIGTERM to a pid that may be reused
    ssm.clear();
    assert_eq!(ssm.session(&sid(&name))["State"], "Active");
    let s = spawn_env(env, tls, &[], &vars);
    assert_eq!(s.config_path(), config.as_path());
    ssm.ended(&sid(&name), Duration::from_secs(20));
    let recs = wait_records(&s, |r| reaped(r, &minted["assertion_id"]));
    assert_eq!(recs.iter().filter(|r| r["outcome"] == "sessions_reaped").count(), 1, "{recs:?}");
}

#[test]
fn with_two_replicas_on_postgresql_exactly_one_reaps_each_window() {
    let ssm = Ssm::start();
    let db = crate::pg::TestDb::migrated();
    let dir = tempfile::tempdir().unwrap();
    let vars = aws_env(dir.path());
    let a = db.serve_with("a", &reaper_toml(&ssm), &vars);
    let b = db.serve_with("b", &reaper_toml(&ssm), &vars);
    let g = grant(&a, "carol", 3600);
    let (on_a, on_b) = (mint(&a, "carol"), mint(&b, "carol"));
    let names = [session_name(&on_a), session_name(&on_b)];
    for n in &names {
        ssm.add(&sid(n), n, WEB);
    }
    let id = g["id"].as_i64().unwrap();
    assert!(b.client().delete(format!("{}/v1/grants/{id}", b.url)).send().unwrap().status().is_success());
    for n in &names {
        ssm.ended(&sid(n), Duration::from_secs(20));
    }
    let records = || -> Vec<Value> {
        db.sql("SELECT line FROM audit_records WHERE kind = 'session' ORDER BY replica, seq")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let t0 = Instant::now();
    let recs = loop {
        let r = records();
        if r.iter().filter(|r| r["outcome"] == "sessions_reaped").count() >= 2
            || t0.elapsed() > Duration::from_secs(20)
        {
            break r;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let reapers: std::collections::BTreeSet<&str> =
        recs.iter().map(|r| r["replica"].as_str().unwrap()).collect();
    assert_eq!(reapers.len(), 1, "one replica reaps: {recs:?}");
    for m in [&on_a, &on_b] {
        let done =
            recs.iter().filter(|r| r["outcome"] == "sessions_reaped" && r["decision"] == m["assertion_id"]);
        assert_eq!(done.count(), 1, "each decision reaped once: {recs:?}");
    }
    let calls = ssm.state()["calls"].as_array().unwrap().clone();
    for n in &names {
        let ends = calls
            .iter()
            .filter(|c| c["operation"] == "TerminateSession" && c["request"]["SessionId"] == sid(n));
        assert_eq!(ends.count(), 1, "{n}: one TerminateSession");
    }
}
