//! `sesame audit reconcile`'s engine: CloudTrail records per second, read from a gzip'd
//! log file and matched against the minted assertions. Two inputs: every record an
//! `AssumeRoleWithSAML` of ours (the worst case: each is parsed and compared), and a
//! trail of which one record in twenty is a sign-in (the rest other API calls).
//! The whole command on generated months of CloudTrail, with its peak memory, is
//! `scripts/bench-reconcile`. Numbers go to BENCHMARKS.md.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: setup failures should stop it

use std::io::Write;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};
use sesame::forensics::cloudtrail::read_file;
use sesame::forensics::minted::{Index, Minted, Released};
use sesame::forensics::reconcile::Reconciler;

const PROVIDER: &str = "arn:aws:iam::111122223333:saml-provider/sesame";
const RECORDS: usize = 20_000;

fn template(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cloudtrail").join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn tags() -> Vec<(String, Released)> {
    [("AppGroupName", "payments"), ("AppId", "PAY"), ("ReleaseId", "2.3")]
        .iter()
        .map(|(k, v)| (k.to_string(), Released::Value(v.to_string())))
        .collect()
}

/// An index of `n` minted assertions, and a gzip'd log file in which record `i` is a
/// sign-in with assertion `i` when `i % every == 0`, else another API call.
fn input(dir: &Path, n: usize, every: usize) -> (Index, PathBuf) {
    let mut ix = Index::default();
    let saml = template("assume-role-with-saml.json");
    let other = template("start-session.json");
    let mut records = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("_A{i:032x}");
        let name = format!("alice.{:012x}", i);
        ix.insert(Minted {
            assertion_id: id.clone(),
            replica: "local".into(),
            seq: i as u64,
            time: "2026-12-01T15:00:00Z".into(),
            user: "alice".into(),
            instance: "i-0fedcba9876543210".into(),
            region: "us-east-1".into(),
            role_session_name: Some(name.clone()),
            session_duration: Some(3600),
            not_on_or_after: chrono::DateTime::parse_from_rfc3339("2026-12-01T15:05:00Z")
                .ok()
                .map(|t| t.to_utc()),
            tags: Some(tags()),
            sets: Vec::new(),
        });
        let mut r = if i % every == 0 { saml.clone() } else { other.clone() };
        r["eventID"] = json!(format!("00000000-0000-4000-8000-{i:012x}"));
        if i % every == 0 {
            r["requestParameters"]["sAMLAssertionID"] = json!(id);
            r["requestParameters"]["roleSessionName"] = json!(name);
        }
        records.push(r);
    }
    let path = dir.join(format!("trail-{every}.json.gz"));
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(json!({ "Records": records }).to_string().as_bytes()).unwrap();
    std::fs::write(&path, e.finish().unwrap()).unwrap();
    (ix, path)
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("reconcile");
    g.sample_size(10).throughput(Throughput::Elements(RECORDS as u64));
    for (every, label) in [(1, "all_sign_ins"), (20, "one_in_20_sign_ins")] {
        let (ix, path) = input(dir.path(), RECORDS, every);
        g.bench_function(format!("{label}_{RECORDS}_records_gzip"), |b| {
            b.iter(|| {
                let mut rec = Reconciler::new(&ix, [PROVIDER.to_owned()]);
                let n = read_file(&path, &mut |s| rec.observe(s)).unwrap();
                let report = rec.finish();
                assert_eq!(n as usize, RECORDS);
                assert!(report.alerts.is_empty(), "{:?}", report.alerts.first());
                report.used.len()
            })
        });
    }
    g.finish();
}

criterion_group!(all, benches);
criterion_main!(all);
