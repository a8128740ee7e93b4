//! `sesame audit reconcile` against CloudTrail built from the documented record
//! (tests/data/cloudtrail) and what the real binary minted: a clean month of sign-ins in
//! S3's gzip layout plus lookup-events output (no alert, exit 0), each alert kind once
//! (exit 1), truncated and corrupt files (an error naming file and line, exit 2), and an
//! assertion log kept in PostgreSQL.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::common::{data, sesame, temp_config, TempConfig};

pub const ACCOUNT: &str = "111122223333";
const ATTR: &str = "<saml:Attribute Name=\"https://aws.amazon.com/SAML/Attributes/";

pub fn run(env: &TempConfig, args: &[&str]) -> std::process::Output {
    sesame().arg("--config").arg(&env.path).args(args).output().unwrap()
}

/// Mints through the CLI; the JSON answer.
pub fn mint(env: &TempConfig, user: &str, instance: &str, at: &str) -> Value {
    let out = run(
        env,
        &[
            "mint",
            "--user",
            user,
            "--instance",
            instance,
            "--region",
            "us-east-1",
            "--at",
            at,
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The AWS SAML attributes of a minted response, read from its XML (first value each).
pub fn attributes(minted: &Value) -> BTreeMap<String, String> {
    let xml =
        base64::engine::general_purpose::STANDARD.decode(minted["saml_response"].as_str().unwrap()).unwrap();
    let xml = String::from_utf8(xml).unwrap();
    let mut out = BTreeMap::new();
    for part in xml.split(ATTR).skip(1) {
        let name = &part[..part.find('"').unwrap()];
        let v = &part[part.find("<saml:AttributeValue>").unwrap() + "<saml:AttributeValue>".len()..];
        out.insert(name.to_owned(), v[..v.find('<').unwrap()].to_owned());
    }
    out
}

fn template() -> Value {
    serde_json::from_str(&std::fs::read_to_string(data("cloudtrail/assume-role-with-saml.json")).unwrap())
        .unwrap()
}

/// The CloudTrail record of AWS accepting `minted` at `time`, as event number `n`:
/// the documented record with what the response carried filled in.
pub fn sign_in(minted: &Value, n: u32, time: &str) -> Value {
    let a = attributes(minted);
    let mut r = template();
    r["eventTime"] = json!(time);
    r["eventID"] = json!(format!("00000000-0000-4000-8000-{n:012x}"));
    r["requestID"] = json!(format!("00000000-0000-4000-9000-{n:012x}"));
    let tags: BTreeMap<&str, &str> =
        a.iter().filter_map(|(k, v)| k.strip_prefix("PrincipalTag:").map(|k| (k, v.as_str()))).collect();
    let name = &a["RoleSessionName"];
    let p = &mut r["requestParameters"];
    p["sAMLAssertionID"] = minted["assertion_id"].clone();
    p["roleSessionName"] = json!(name);
    p["principalTags"] = json!(tags);
    p["durationSeconds"] = json!(a["SessionDuration"].parse::<u64>().unwrap());
    let e = &mut r["responseElements"];
    e["credentials"]["accessKeyId"] = json!(format!("ASIAEXAMPLE{n:09}"));
    e["sourceIdentity"] = json!(a["SourceIdentity"]);
    e["subject"] = json!(a["SourceIdentity"]);
    e["assumedRoleUser"]["arn"] =
        json!(format!("arn:aws:sts::{ACCOUNT}:assumed-role/sesame-session-manager/{name}"));
    r
}

/// A sign-in AWS refused: an error code, no response elements.
fn refused(minted: &Value, n: u32, time: &str) -> Value {
    let mut r = sign_in(minted, n, time);
    r["errorCode"] = json!("AccessDenied");
    r["errorMessage"] = json!("Not authorized to perform sts:AssumeRoleWithSAML");
    r["responseElements"] = Value::Null;
    r
}

fn other_event(n: u32) -> Value {
    let mut r: Value =
        serde_json::from_str(&std::fs::read_to_string(data("cloudtrail/start-session.json")).unwrap())
            .unwrap();
    r["eventID"] = json!(format!("00000000-0000-4000-7000-{n:012x}"));
    r
}

pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Writes records as one CloudTrail log file in S3's layout under `root`, gzip'd.
fn deliver(root: &Path, day: &str, seq: u32, records: &[Value]) -> PathBuf {
    let (y, rest) = day.split_at(4);
    let (m, d) = rest.split_at(2);
    let dir = root.join(format!("AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{y}/{m}/{d}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{ACCOUNT}_CloudTrail_us-east-1_{day}T1505Z_{seq:016x}.json.gz"));
    // CloudTrail writes each file as one line of JSON.
    std::fs::write(&path, gz(json!({ "Records": records }).to_string().as_bytes())).unwrap();
    path
}

/// `aws cloudtrail lookup-events` output for these records.
fn lookup_events(records: &[Value]) -> String {
    let events: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({"EventId": r["eventID"], "EventName": r["eventName"], "ReadOnly": "true",
                   "EventTime": r["eventTime"], "EventSource": r["eventSource"], "Resources": [],
                   "CloudTrailEvent": r.to_string()})
        })
        .collect();
    serde_json::to_string_pretty(&json!({ "Events": events })).unwrap()
}

fn json_lines(out: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn summary(lines: &[Value]) -> &Value {
    lines.iter().find(|l| l["type"] == "summary").unwrap()
}

#[test]
fn a_clean_month_of_sign_ins_has_no_alert() {
    let env = temp_config("", &[]);
    let trail = env.dir.path().join("trail");
    let mut n = 0u32;
    let mut lookup = Vec::new();
    let mut minted = Vec::new();
    // Weekdays of December 2026 inside New York business hours.
    for day in ["01", "02", "03", "04", "07", "08", "14", "21", "28", "30"] {
        let at = format!("2026-12-{day}T15:00:00Z");
        let m = mint(&env, "alice", "i-0fedcba9876543210", &at);
        n += 1;
        // Signed in one second before NotOnOrAfter (15:05): still in time.
        let s = sign_in(&m, n, &format!("2026-12-{day}T15:04:59Z"));
        let mut records = vec![other_event(n), s.clone()];
        if day == "01" {
            lookup.push(s.clone());
            let mut other = sign_in(&m, 1000, "2026-12-01T15:02:00Z");
            other["requestParameters"]["principalArn"] =
                json!("arn:aws:iam::111122223333:saml-provider/other-idp");
            other["requestParameters"]["sAMLAssertionID"] = json!("_not-ours");
            records.push(other);
            n += 1;
            records.push(refused(&m, n, "2026-12-01T15:03:00Z"));
        }
        deliver(&trail, &format!("202612{day}"), n, &records);
        minted.push(m);
    }
    // A response whose sets were all closed is still a sign-in AWS accepts (SSM denies it).
    let closed = mint(&env, "carol", "i-0123456789abcdef0", "2026-12-09T15:00:00Z");
    assert_eq!(closed["decision"]["status"], "minted_all_closed");
    n += 1;
    deliver(&trail, "20261209", n, &[sign_in(&closed, n, "2026-12-09T15:00:30Z")]);
    // Minted and never used: listed, not an alert.
    let unused = mint(&env, "alice", "i-0fedcba9876543210", "2026-12-10T15:00:00Z");
    let digest = trail.join(format!("AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/2026/12/01"));
    std::fs::create_dir_all(&digest).unwrap();
    std::fs::write(digest.join("d.json.gz"), gz(&std::fs::read(data("cloudtrail/digest.json")).unwrap()))
        .unwrap();
    // The same events again through lookup-events (overlapping inputs count once).
    let lk = env.dir.path().join("lookup.json");
    std::fs::write(&lk, lookup_events(&lookup)).unwrap();

    let out = run(
        &env,
        &[
            "audit",
            "reconcile",
            "--cloudtrail",
            trail.to_str().unwrap(),
            lk.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    let s = summary(&lines);
    assert_eq!(s["status"], "ok", "{s}");
    assert_eq!(s["alerts"], 0);
    assert_eq!(
        (s["minted"].as_u64(), s["used"].as_u64(), s["unused"].as_u64()),
        (Some(12), Some(11), Some(1))
    );
    assert_eq!(s["counts"]["accepted"], 11);
    assert_eq!(s["counts"]["refused"], 1);
    assert_eq!(s["counts"]["other_provider"], 1);
    assert_eq!(s["counts"]["duplicate_events"], 1);
    assert_eq!((s["files"].as_u64(), s["digest_files"].as_u64()), (Some(12), Some(1)));
    // 10 StartSession + 11 accepted + 1 refused + 1 other provider, and 1 from lookup-events.
    assert_eq!(s["events"], 24);
    let row =
        |id: &Value| lines.iter().find(|l| l["type"] == "assertion" && l["assertion_id"] == *id).unwrap();
    let first = row(&minted[0]["assertion_id"]);
    assert_eq!(first["used"], true);
    assert_eq!(first["seen"]["source_ip"], "192.0.2.10");
    assert_eq!(first["seen"]["account"], ACCOUNT);
    assert_eq!(first["seen"]["access_key_id"], "ASIAEXAMPLE000000001");
    assert_eq!(first["seen"]["time"], "2026-12-01T15:04:59Z");
    assert_eq!(row(&unused["assertion_id"])["used"], false);
    assert_eq!(row(&closed["assertion_id"])["used"], true);
    assert!(lines.iter().any(|l| l["type"] == "refused" && l["error_code"] == "AccessDenied"));

    // --since/--until narrow the list (by when each record was written), not the matching.
    let window = |since: &str, until: &str| {
        let out = run(
            &env,
            &[
                "audit",
                "reconcile",
                "--cloudtrail",
                trail.to_str().unwrap(),
                "--format",
                "json",
                "--since",
                since,
                "--until",
                until,
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let lines = json_lines(&out);
        let s = summary(&lines).clone();
        (s["minted"].as_u64(), s["counts"]["accepted"].as_u64())
    };
    assert_eq!(window("2000-01-01T00:00:00Z", "2099-01-01T00:00:00Z"), (Some(12), Some(11)));
    assert_eq!(window("2099-01-01T00:00:00Z", "2099-01-02T00:00:00Z"), (Some(0), Some(11)));
    let bad =
        run(&env, &["audit", "reconcile", "--cloudtrail", trail.to_str().unwrap(), "--since", "last week"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--since"));

    // The table: every assertion, the summary line last, in key=value form.
    let table = run(&env, &["audit", "reconcile", "--cloudtrail", trail.to_str().unwrap()]);
    assert_eq!(table.status.code(), Some(0));
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.contains(" unused ") && text.contains(" used "), "{text}");
    assert!(text.contains("refused by AWS (AccessDenied)"), "{text}");
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("reconcile: status=ok alerts=0 files=11 "), "{last}");
    assert!(last.contains(" not_minted=0 ") && last.contains(" minted=12 used=11 unused=1 "), "{last}");
}

#[test]
fn each_disagreement_is_an_alert_of_its_kind() {
    let env = temp_config("", &[]);
    let m: Vec<Value> = (1..=5)
        .map(|d| mint(&env, "alice", "i-0fedcba9876543210", &format!("2026-12-0{d}T15:00:00Z")))
        .collect();
    let mut forged = sign_in(&m[0], 1, "2026-12-01T15:01:00Z");
    forged["requestParameters"]["sAMLAssertionID"] = json!("_Aforgedforgedforgedforgedforged00");
    let mut tags = sign_in(&m[0], 2, "2026-12-01T15:01:00Z");
    tags["requestParameters"]["principalTags"]["AppId"] = json!("ABC");
    let mut identity = sign_in(&m[1], 3, "2026-12-02T15:01:00Z");
    identity["requestParameters"]["roleSessionName"] = json!("mallory.000000000000");
    let mut duration = sign_in(&m[2], 4, "2026-12-03T15:01:00Z");
    duration["requestParameters"]["durationSeconds"] = json!(43200);
    // At NotOnOrAfter exactly (15:05): too late.
    let late = sign_in(&m[3], 5, "2026-12-04T15:05:00Z");
    let once = sign_in(&m[4], 6, "2026-12-05T15:01:00Z");
    let twice = sign_in(&m[4], 7, "2026-12-05T15:02:00Z");
    let trail = env.dir.path().join("trail");
    deliver(&trail, "20261201", 1, &[forged, tags, identity, duration]);
    deliver(&trail, "20261204", 2, &[late, once, twice]);

    let out = run(&env, &["audit", "reconcile", "--cloudtrail", trail.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out);
    let s = summary(&lines);
    assert_eq!(s["status"], "alert");
    assert_eq!(s["alerts"], 6, "{s}");
    for kind in [
        "not_minted",
        "tags_differ",
        "identity_differs",
        "duration_differs",
        "after_not_on_or_after",
        "reused",
    ] {
        assert_eq!(s["by_kind"][kind], 1, "{kind}: {s}");
    }
    let alert = |kind: &str| {
        lines.iter().find(|l| l["type"] == "alert" && l["alert"]["kind"] == kind).unwrap()["alert"].clone()
    };
    assert_eq!(alert("not_minted")["assertion_id"], "_Aforgedforgedforgedforgedforged00");
    assert!(alert("tags_differ")["detail"].as_str().unwrap().contains("AppId: minted \"PAY\", seen \"ABC\""));
    assert!(alert("identity_differs")["detail"].as_str().unwrap().contains("mallory.000000000000"));
    assert!(alert("duration_differs")["detail"].as_str().unwrap().contains("43200"));
    assert_eq!(alert("after_not_on_or_after")["assertion_id"], m[3]["assertion_id"]);
    let reused = alert("reused");
    assert_eq!(reused["seen"]["event_id"], "00000000-0000-4000-8000-000000000007");
    assert!(reused["detail"].as_str().unwrap().contains("00000000-0000-4000-8000-000000000006"));
    assert_eq!(reused["user"], "alice");

    // The table names kind, assertion, where and when; --alerts-only lists no assertions.
    let t = run(&env, &["audit", "reconcile", "--cloudtrail", trail.to_str().unwrap(), "--alerts-only"]);
    assert_eq!(t.status.code(), Some(1));
    let text = String::from_utf8(t.stdout).unwrap();
    assert!(text.contains("ALERT not_minted assertion=_Aforgedforgedforgedforgedforged00 user=- at=2026-12-01T15:01:00Z from=192.0.2.10"), "{text}");
    assert!(!text.contains("ASSERTION "), "{text}");
    assert!(text.lines().last().unwrap().starts_with("reconcile: status=alert alerts=6 "), "{text}");
    // A provider other than the configured one: nothing of ours to reconcile, no alert.
    let other = run(
        &env,
        &[
            "audit",
            "reconcile",
            "--cloudtrail",
            trail.to_str().unwrap(),
            "--provider",
            "arn:aws:iam::111122223333:saml-provider/x",
        ],
    );
    assert_eq!(other.status.code(), Some(0), "{}", String::from_utf8_lossy(&other.stderr));
}

/// Runs reconcile on one file; exit code and stderr.
fn reconcile_file(env: &TempConfig, name: &str, bytes: &[u8]) -> (Option<i32>, String, PathBuf) {
    let p = env.dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    let out = run(env, &["audit", "reconcile", "--cloudtrail", p.to_str().unwrap()]);
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned(), p)
}

#[test]
fn truncated_or_corrupt_cloudtrail_is_an_error_naming_file_and_line() {
    let env = temp_config("", &[]);
    let m = mint(&env, "alice", "i-0fedcba9876543210", "2026-12-01T15:00:00Z");
    let records: Vec<Value> = (1..=50).map(|n| sign_in(&m, n, "2026-12-01T15:01:00Z")).collect();
    let pretty = serde_json::to_string_pretty(&json!({ "Records": records })).unwrap();
    let whole = gz(pretty.as_bytes());

    // A gzip file cut short: the decompressor's error, with file and line.
    let (code, err, p) = reconcile_file(&env, "cut.json.gz", &whole[..whole.len() * 2 / 3]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&p.display().to_string()) && err.contains("line "), "{err}");
    assert!(err.contains("corrupt or truncated"), "{err}");
    // Bytes flipped inside the compressed stream.
    let mut bad = whole.clone();
    for b in &mut bad[100..140] {
        *b ^= 0x5a;
    }
    let (code, err, _) = reconcile_file(&env, "flipped.json.gz", &bad);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("flipped.json.gz") && err.contains("line "), "{err}");
    // Plain JSON cut short: the line and column where it stops.
    let cut = &pretty[..pretty.len() / 2];
    let (code, err, _) = reconcile_file(&env, "cut.json", cut.as_bytes());
    assert_eq!(code, Some(2), "{err}");
    let line = cut.matches('\n').count() + 1;
    assert!(err.contains("cut.json") && err.contains(&format!("line {line}")), "line {line}: {err}");
    // A syntax error on a known line.
    let mut lines: Vec<&str> = pretty.lines().collect();
    lines[30] = "    \"eventTime\": 2026-12-01,";
    let (code, err, _) = reconcile_file(&env, "syntax.json", lines.join("\n").as_bytes());
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("syntax.json") && err.contains("line 31"), "{err}");
    // CloudTrail writes a file as one line: the column counts from the line's start.
    let mut r = records.clone();
    r[2]["eventTime"] = json!("@@BAD@@");
    let compact = json!({ "Records": r }).to_string();
    let pos = compact.find("\"@@BAD@@\"").unwrap();
    let compact = compact.replace("\"@@BAD@@\"", "2026-12-01");
    let (code, err, _) = reconcile_file(&env, "compact.json", compact.as_bytes());
    assert_eq!(code, Some(2), "{err}");
    // serde_json points at the last character of the integer `2026`.
    let want =
        format!("record 2: invalid type: integer `2026`, expected a string at line 1 column {}", pos + 4);
    assert!(err.contains(&want), "{want}: {err}");
    // A record whose eventTime is not an instant names the record.
    let mut r = records.clone();
    r[7]["eventTime"] = json!("yesterday");
    let (code, err, _) = reconcile_file(&env, "time.json", json!({ "Records": r }).to_string().as_bytes());
    assert_eq!(code, Some(2));
    assert!(err.contains("time.json") && err.contains("record 7") && err.contains("eventTime"), "{err}");
    // Not CloudTrail at all.
    let (code, err, _) = reconcile_file(&env, "other.json", br#"{"Items": []}"#);
    assert_eq!(code, Some(2));
    assert!(err.contains("neither \"Records\""), "{err}");
    // No files found, and a provider that is not an ARN.
    let empty = env.dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = run(&env, &["audit", "reconcile", "--cloudtrail", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&env, &["audit", "reconcile", "--cloudtrail", p.to_str().unwrap(), "--provider", "sesame"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--provider"));
}

#[test]
fn reconcile_reads_an_assertion_log_kept_in_postgresql() {
    let db = crate::pg::TestDb::migrated();
    let cfg = db.cli_config("r1");
    let m = mint(&cfg, "alice", "i-0fedcba9876543210", "2026-12-01T15:00:00Z");
    let forged = {
        let mut f = sign_in(&m, 2, "2026-12-01T15:02:00Z");
        f["requestParameters"]["sAMLAssertionID"] = json!("_Anotours");
        f
    };
    let trail = cfg.dir.path().join("trail");
    deliver(&trail, "20261201", 1, &[sign_in(&m, 1, "2026-12-01T15:01:00Z"), forged]);
    let out = run(&cfg, &["audit", "reconcile", "--cloudtrail", trail.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out);
    let s = summary(&lines);
    assert_eq!(
        (s["minted"].as_u64(), s["used"].as_u64(), s["alerts"].as_u64()),
        (Some(1), Some(1), Some(1)),
        "{s}"
    );
    assert_eq!(s["by_kind"]["not_minted"], 1);
}

#[test]
fn sign_ins_through_every_served_accounts_provider_are_reconciled() {
    // A second account by entry and any other by the template: a forged sign-in through
    // either provider is an alert, not "another provider's".
    let env = temp_config("", &[]);
    let text = std::fs::read_to_string(&env.path).unwrap();
    let extra = "\n[[aws.account]]\nid = \"444455556666\"\nrole_arn = \"arn:aws:iam::444455556666:role/r\"\nprovider_arn = \"arn:aws:iam::444455556666:saml-provider/b\"\n[aws.account_template]\nrole_arn = \"arn:aws:iam::{account}:role/t\"\nprovider_arn = \"arn:aws:iam::{account}:saml-provider/t\"\n";
    std::fs::write(&env.path, text.replacen("\n[keys]", &format!("{extra}\n[keys]"), 1)).unwrap();
    let m = mint(&env, "alice", "i-0fedcba9876543210", "2026-12-01T15:00:00Z");
    let through = |n: u32, provider: &str| {
        let mut f = sign_in(&m, n, "2026-12-01T15:02:00Z");
        f["requestParameters"]["sAMLAssertionID"] = json!(format!("_Aforged{n}"));
        f["requestParameters"]["principalArn"] = json!(provider);
        f
    };
    let trail = env.dir.path().join("trail");
    deliver(
        &trail,
        "20261201",
        1,
        &[
            sign_in(&m, 1, "2026-12-01T15:01:00Z"),
            through(2, "arn:aws:iam::444455556666:saml-provider/b"),
            through(3, "arn:aws:iam::777788889999:saml-provider/t"),
            through(4, "arn:aws:iam::777788889999:saml-provider/someone-else"),
        ],
    );
    let out = run(&env, &["audit", "reconcile", "--cloudtrail", trail.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out);
    let s = summary(&lines);
    assert_eq!(s["by_kind"]["not_minted"], 2, "{s}");
    assert_eq!(s["counts"]["other_provider"], 1, "{s}");
    assert_eq!(s["used"], 1, "{s}");
}
