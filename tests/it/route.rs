//! `sesame audit route` on session logs in each format AWS writes (an S3 transcript
//! `<SessionId>.log`, a CloudWatch Logs export, filter-log-events JSON, streamed events),
//! built from tests/data/session-logs and sessions of what the real binary minted:
//! per-tenant folders, routing with and without the inventory, what stays unattributed
//! and why, and corrupt input named by file and line.

use std::path::Path;

use serde_json::{json, Value};

use crate::common::{data, temp_config, TempConfig};
use crate::reconcile::{attributes, gz, mint, run};

const PAY: &str = "i-0fedcba9876543210";
const UNLISTED: &str = "i-0aaaaaaaaaaaaaaaa";
const OWNER: &str = "arn:aws:sts::111122223333:assumed-role/sesame-session-manager/";

fn session_id(minted: &Value, hex: &str) -> String {
    format!("{}-{hex}", attributes(minted)["RoleSessionName"])
}

fn stream_event(sid: &str, target: &str, line: &str) -> Value {
    let mut e: Value =
        serde_json::from_str(&std::fs::read_to_string(data("session-logs/stream-event.json")).unwrap())
            .unwrap();
    let name = sid.rsplit_once('-').unwrap().0;
    e["sessionId"] = json!(sid);
    e["target"]["id"] = json!(target);
    e["sessionOwner"] = json!(format!("{OWNER}{name}"));
    e["userIdentity"]["arn"] = e["sessionOwner"].clone();
    e["sessionData"] = json!([line]);
    e
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// `sesame audit route --session-logs LOGS --out OUT EXTRA…`.
fn route(env: &TempConfig, logs: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let args = [
        &["audit", "route", "--session-logs", logs.to_str().unwrap(), "--out", out.to_str().unwrap()],
        extra,
    ];
    run(env, &args.concat())
}

fn routing(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("routing.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn route_of<'a>(routes: &'a [Value], sid: &str) -> &'a Value {
    routes.iter().find(|r| r["session_id"] == sid).unwrap()
}

/// The demo inventory without the unlisted instance; rewritten later to include it.
fn env() -> TempConfig {
    let inv = std::fs::read_to_string(crate::common::root().join("policies/demo/inventory.toml")).unwrap();
    temp_config("", &[("inventory.toml", &inv)])
}

#[test]
fn session_logs_go_to_their_tenants_folder() {
    let env = env();
    let at = "2026-12-01T15:00:00Z";
    // Known instance: one covering set (PAY). Unlisted instance: both of alice's sets open.
    let pay = mint(&env, "alice", PAY, at);
    let both = mint(&env, "alice", UNLISTED, at);
    assert_eq!(pay["decision"]["sets"].as_array().unwrap().len(), 1);
    assert_eq!(both["decision"]["sets"].as_array().unwrap().len(), 2);
    let logs = env.dir.path().join("logs");
    // S3: <prefix>/<SessionId>.log
    let s3 = session_id(&pay, "0a1b2c3d4e5f60718");
    let transcript = std::fs::read(data("session-logs/transcript.log")).unwrap();
    write(&logs.join(format!("s3/AWSLogs/ssm/{s3}.log")), &transcript);
    // CloudWatch export: <task>/<log stream = SessionId>/000000.gz, "<timestamp> <message>".
    let cw = session_id(&pay, "0fedcba98765432");
    let export = "2026-12-01T15:02:01.000Z sh-5.2$ id\n2026-12-01T15:02:02.000Z uid=1001(ssm-user)\n";
    write(&logs.join(format!("export/0b1c2d3e-task/{cw}/000000.gz")), &gz(export.as_bytes()));
    // Streamed events (JSON lines) for the session that had two open sets.
    let st = session_id(&both, "0123abcd0123abcd0");
    let lines =
        format!("{}\n{}\n", stream_event(&st, UNLISTED, "whoami"), stream_event(&st, UNLISTED, "exit"));
    write(&logs.join("stream/events.jsonl"), lines.as_bytes());
    // filter-log-events output: a stream no decision leads to.
    let stray = "mallory.000000000000-0aaaaaaaaaaaaaaaa";
    let doc = json!({"events": [{"logStreamName": stray, "timestamp": 1_796_137_320_000i64, "message": "ls", "ingestionTime": 1_796_137_321_000i64, "eventId": "1"}], "searchedLogStreams": []});
    write(&logs.join("filter/out.json"), serde_json::to_string_pretty(&doc).unwrap().as_bytes());

    // Without the inventory, two open sets of different tenants cannot be told apart.
    let out1 = env.dir.path().join("out1");
    let r = route(&env, &logs, &out1, &["--no-inventory"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let text = String::from_utf8(r.stdout).unwrap();
    assert!(text.contains("route: files=4 sessions=4 tenants=1 attributed=2 unattributed=2 "), "{text}");
    assert!(text.contains(&format!("unattributed {st}: 2 open sets with different tenants")), "{text}");
    assert_eq!(std::fs::read(out1.join(format!("tenants/PAY/{s3}.log"))).unwrap(), transcript);
    assert_eq!(std::fs::read_to_string(out1.join(format!("tenants/PAY/{cw}.log"))).unwrap(), export);
    let routes = routing(&out1);
    assert_eq!(route_of(&routes, &s3)["decision"], pay["assertion_id"]);
    assert_eq!(route_of(&routes, &s3)["how"], "the decision's one open set");
    assert_eq!(route_of(&routes, &st)["tenant"], Value::Null);
    assert_eq!(route_of(&routes, &st)["decision"], both["assertion_id"]);
    assert!(route_of(&routes, stray)["how"].as_str().unwrap().contains("no decision carried"));
    let events = std::fs::read_to_string(out1.join(format!("unattributed/{st}.jsonl"))).unwrap();
    assert_eq!(events.lines().count(), 2);
    assert!(out1.join(format!("unattributed/{stray}.log")).exists());

    // With the inventory knowing the instance, the set that covered it names the tenant.
    let inv = std::fs::read_to_string(crate::common::root().join("policies/demo/inventory.toml")).unwrap()
        + &format!("\n[[instance]]\nid = \"{UNLISTED}\"\nregion = \"us-east-1\"\ntags = {{ APP_GROUP_NAME = \"webserver\", APP_ID = \"ABC\", RELEASE_ID = \"1.0\" }}\n");
    std::fs::write(env.dir.path().join("inventory.toml"), inv).unwrap();
    let out2 = env.dir.path().join("out2");
    let r = route(&env, &logs, &out2, &[]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let text = String::from_utf8(r.stdout).unwrap();
    assert!(
        text.contains("tenant \"ABC\": 1 session(s)") && text.contains("tenant \"PAY\": 2 session(s)"),
        "{text}"
    );
    assert!(text.contains(" attributed=3 unattributed=1 "), "{text}");
    let routes = routing(&out2);
    assert_eq!(route_of(&routes, &st)["tenant"], "ABC");
    assert!(route_of(&routes, &st)["how"].as_str().unwrap().contains("by the inventory"));
    assert_eq!(
        std::fs::read_to_string(out2.join(format!("tenants/ABC/{st}.jsonl"))).unwrap().lines().count(),
        2
    );

    // A target the inventory does not know cannot tell two open sets apart either.
    let logs2 = env.dir.path().join("logs2");
    let other = session_id(&both, "0bbbbbbbbbbbbbbbb");
    write(
        &logs2.join("events.jsonl"),
        format!("{}\n", stream_event(&other, "i-0bbbbbbbbbbbbbbbb", "ls")).as_bytes(),
    );
    let out4 = env.dir.path().join("out4");
    let r = route(&env, &logs2, &out4, &[]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let how = routing(&out4)[0]["how"].as_str().unwrap().to_owned();
    assert_eq!(how, "2 open sets; the inventory does not know i-0bbbbbbbbbbbbbbbb in us-east-1");

    // The tenant column can be another tag; an unknown one and a used folder are refused.
    let out3 = env.dir.path().join("out3");
    let r = route(&env, &logs, &out3, &["--tenant-tag", "APP_GROUP_NAME"]);
    assert!(r.status.success());
    assert!(out3.join(format!("tenants/payments/{s3}.log")).exists());
    let r = route(&env, &logs, &out2, &[]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("not empty"));
    let r = route(&env, &logs, Path::new("/nonexistent-x"), &["--tenant-tag", "COST_CENTER"]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("--tenant-tag"));
}

#[test]
fn shared_role_session_names_are_said_to_be_ambiguous() {
    // aws.role_session_name = "user": every decision of alice carries RoleSessionName alice.
    let env = temp_config("", &[]);
    let text = std::fs::read_to_string(&env.path)
        .unwrap()
        .replace("[aws]\n", "[aws]\nrole_session_name = \"user\"\n");
    std::fs::write(&env.path, text).unwrap();
    let pay = mint(&env, "alice", PAY, "2026-12-01T15:00:00Z");
    let web = mint(&env, "alice", "i-0123456789abcdef0", "2026-12-01T15:00:00Z");
    assert_eq!(attributes(&pay)["RoleSessionName"], attributes(&web)["RoleSessionName"]);
    let logs = env.dir.path().join("logs");
    let sid = session_id(&pay, "0abc");
    write(&logs.join(format!("{sid}.log")), b"sh-5.2$ exit\n");
    let out = env.dir.path().join("out");
    let r = route(&env, &logs, &out, &[]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let routes = routing(&out);
    let how = routes[0]["how"].as_str().unwrap();
    assert!(how.starts_with("ambiguous: 2 decisions share RoleSessionName"), "{how}");
    assert!(out.join(format!("unattributed/{sid}.log")).exists());
}

/// A CloudWatch Logs export of 5 000 valid lines, its gzip stream cut in half.
fn truncated_export() -> Vec<u8> {
    let text: String = (0..5000u64)
        .map(|i| format!("2026-12-01T15:02:00.000Z line {i} {:x}\n", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
        .collect();
    let z = gz(text.as_bytes());
    z[..z.len() / 2].to_vec()
}

#[test]
fn corrupt_session_logs_are_errors_naming_file_and_line() {
    let env = env();
    let pay = mint(&env, "alice", PAY, "2026-12-01T15:00:00Z");
    let sid = session_id(&pay, "0a1b");
    let cases: Vec<(String, Vec<u8>, &str)> = vec![
        (
            "events.jsonl".into(),
            format!(
                "{}\n{}\n{{\"sessionId\": \n",
                stream_event(&sid, PAY, "a"),
                stream_event(&sid, PAY, "b")
            )
            .into_bytes(),
            ":3: not a JSON line",
        ),
        ("notes.txt".into(), b"hello\n".to_vec(), "not a session log"),
        ("report.log".into(), b"x\n".to_vec(), "is not a session ID"),
        (
            format!("{sid}/000000.gz"),
            gz(b"2026-12-01T15:02:00Z ok\nnot-a-time line\n"),
            ":2: not a CloudWatch Logs export line",
        ),
        (format!("{sid}/000001.gz"), truncated_export(), "corrupt or truncated"),
    ];
    for (i, (name, bytes, want)) in cases.iter().enumerate() {
        let dir = env.dir.path().join(format!("case{i}"));
        let path = dir.join(name);
        write(&path, bytes);
        let out = env.dir.path().join(format!("out{i}"));
        let r = route(&env, &path, &out, &[]);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains(&path.display().to_string()) && err.contains(want),
            "{name}: want {want:?}: {err}"
        );
    }
}
