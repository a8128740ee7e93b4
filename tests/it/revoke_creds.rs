//! Revoking issued credentials (`aws.revoke_credentials`) against a loopback IAM
//! stand-in (`tests/standins/iam.py`: the query protocol, SigV4 for service iam,
//! URL-encoded GetRolePolicy documents, the 10,240-character inline limit) through
//! the real aws-sdk-iam: a revocation puts the person's Deny on the role with the
//! revocation time, a second person's is merged, a failure is recorded and retried.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::reaper::{all_records, aws_env, reaper_toml, Ssm, AKID};
use crate::server::{config_with, spawn_env};

const ROLE: &str = "sesame-session-manager";

struct Iam {
    child: Child,
    url: String,
    http: reqwest::blocking::Client,
}

impl Iam {
    fn start() -> Self {
        let mut child = Command::new("python3")
            .arg(crate::common::root().join("tests/standins/iam.py"))
            .args(["--access-key", AKID, "--secret-key", "sesame-test-secret-key"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("listening on ").unwrap().to_owned();
        let iam =
            Iam { child, url: format!("http://127.0.0.1:{port}"), http: reqwest::blocking::Client::new() };
        iam.control("role", json!({"RoleName": ROLE}));
        iam
    }
    fn control(&self, path: &str, body: Value) {
        assert!(self
            .http
            .post(format!("{}/_control/{path}", self.url))
            .json(&body)
            .send()
            .unwrap()
            .status()
            .is_success());
    }
    /// The revocation policy on the role, parsed, once it satisfies `ok`.
    fn policy_when(&self, ok: impl Fn(&Value) -> bool) -> Value {
        let t0 = Instant::now();
        loop {
            let st: Value =
                self.http.get(format!("{}/_control/state", self.url)).send().unwrap().json().unwrap();
            if let Some(doc) = st["roles"][ROLE]["sesame-revoked-sessions"].as_str() {
                let v: Value = serde_json::from_str(doc).unwrap();
                if ok(&v) {
                    return v;
                }
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "policy never got there: {st}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Iam {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn denies(doc: &Value, who: &str) -> Option<String> {
    doc["Statement"].as_array()?.iter().find_map(|s| {
        (s["Condition"]["StringEquals"]["aws:SourceIdentity"] == who
            && s["Effect"] == "Deny"
            && s["Action"] == "*")
            .then(|| {
                s["Condition"]["DateLessThan"]["aws:TokenIssueTime"].as_str().unwrap_or_default().to_owned()
            })
    })
}

#[test]
fn a_revocation_denies_the_persons_issued_credentials_on_the_role() {
    let ssm = Ssm::start();
    let iam = Iam::start();
    let extra = format!("{}iam_endpoint_url = {:?}\n", reaper_toml(&ssm), iam.url);
    let (env, tls) = config_with(&extra, |t| t.replace("[aws]\n", "[aws]\nrevoke_credentials = true\n"));
    let vars = aws_env(env.dir.path());
    let s = spawn_env(env, tls, &[], &vars);
    let c = s.client();
    let grant = |user: &str| -> i64 {
        let body = json!({"user": user, "group": "pam-webserver", "duration_seconds": 3600, "ticket": "T", "approver": "dana"});
        let g: Value = c.post(format!("{}/v1/grants", s.url)).json(&body).send().unwrap().json().unwrap();
        g["id"].as_i64().unwrap()
    };
    let revoke = |id: i64| -> String {
        let r: Value = c.delete(format!("{}/v1/grants/{id}", s.url)).send().unwrap().json().unwrap();
        r["revoked_at"].as_str().unwrap().to_owned()
    };
    let (g1, g2) = (grant("carol"), grant("alice"));
    let at1 = revoke(g1);
    let doc = iam.policy_when(|d| denies(d, "carol").is_some());
    assert_eq!(denies(&doc, "carol").as_deref(), Some(at1.as_str()), "tokens issued before the revocation");
    assert_eq!(denies(&doc, "alice"), None);
    // A failing PutRolePolicy (every SDK attempt) is recorded, then retried.
    iam.control(
        "fail",
        json!({"action": "PutRolePolicy", "status": 500, "code": "ServiceFailure", "count": 3}),
    );
    let at2 = revoke(g2);
    let doc = iam.policy_when(|d| denies(d, "alice").is_some());
    assert_eq!(denies(&doc, "alice").as_deref(), Some(at2.as_str()));
    assert_eq!(denies(&doc, "carol").as_deref(), Some(at1.as_str()), "merged, not replaced");
    let t0 = Instant::now();
    let outcomes = loop {
        let o: Vec<String> = all_records(&s)
            .iter()
            .filter(|r| {
                r["kind"] == "session"
                    && r["outcome"].as_str().unwrap_or_default().starts_with("credentials_")
            })
            .map(|r| format!("{}:{}", r["user"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
            .collect();
        if o.iter().filter(|x| x.ends_with(":credentials_revoked")).count() >= 2
            || t0.elapsed() > Duration::from_secs(10)
        {
            break o;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        outcomes,
        [
            "carol:credentials_revoke_started",
            "carol:credentials_revoked",
            "alice:credentials_revoke_started",
            "alice:credentials_revoke_failed",
            "alice:credentials_revoke_started",
            "alice:credentials_revoked"
        ]
    );
}
