//! Audit log benchmarks: appends per second with fsync (one writer waiting for each
//! record, and many concurrent callers sharing fsyncs), and `verify` throughput.
//! Numbers go to BENCHMARKS.md; CI runs this only as a smoke test (`-- --test`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: setup failures should stop it

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sesame::audit::chain::{hash_line, GENESIS};
use sesame::audit::file::{FileAudit, FileAuditConfig};
use sesame::audit::record::{Kind, Record, SetRecord, FORMAT_VERSION};
use sesame::audit::verify::{verify, Certs};
use sesame::audit::{AuditLog, Entry};

fn entry(i: u64) -> Entry {
    Entry {
        time: "2026-12-01T15:00:00Z".into(),
        outcome: Some("minted".into()),
        caller: Some("CN=access-manager".into()),
        request_id: Some(format!("req-{i}")),
        user: Some("alice".into()),
        instance: Some("i-0fedcba9876543210".into()),
        region: Some("us-east-1".into()),
        assertion_id: Some(format!("_A{i:032x}")),
        response_id: Some(format!("_R{i:032x}")),
        response_sha256: Some(hash_line(&i.to_le_bytes())),
        session_duration: Some(3600),
        not_on_or_after: Some("2026-12-01T15:05:00Z".into()),
        sets: vec![SetRecord {
            number: 1,
            entitlement: "pam-payments".into(),
            status: "open".into(),
            reason: None,
            window_start: Some("2026-12-01T14:00:00Z".into()),
            window_end: Some("2026-12-01T22:00:00Z".into()),
            next_open: None,
            ticket: Some("CHG-1001".into()),
            tags: [("AppId".to_owned(), "payments".to_owned())].into(),
        }],
        ..Entry::default()
    }
}

fn open(dir: &Path) -> FileAudit {
    let cfg = FileAuditConfig {
        dir: dir.to_path_buf(),
        replica: "bench".into(),
        rotate_bytes: 1 << 30,
        checkpoint_every: 1_000_000,
        checkpoint_key: None,
        lock_wait: Duration::from_secs(1),
        accept_loss: None,
        gather: FileAuditConfig::GATHER,
    };
    FileAudit::open(cfg, "2026-12-01T15:00:00Z").unwrap()
}

/// Writes `n` chained records without fsync (test data for `verify`), returns the file.
fn synthetic_log(dir: &Path, n: u64) -> std::path::PathBuf {
    let path = dir.join("bench-000000000001.jsonl");
    let mut out = Vec::with_capacity(n as usize * 700);
    let mut prev = GENESIS.to_owned();
    for i in 1..=n {
        let rec = Record {
            v: FORMAT_VERSION,
            seq: i,
            prev: prev.clone(),
            replica: "bench".into(),
            kind: Kind::Decision,
            entry: entry(i),
        };
        let line = serde_json::to_vec(&rec).unwrap();
        prev = hash_line(&line);
        out.extend_from_slice(&line);
        out.push(b'\n');
    }
    std::fs::write(&path, out).unwrap();
    path
}

fn benches(c: &mut Criterion) {
    let quick = std::env::args().any(|a| a == "--test");
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(open(dir.path()));
    let mut g = c.benchmark_group("audit");
    g.throughput(Throughput::Elements(1));
    g.bench_function("append_single_writer_fsync", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            log.append(sesame::audit::Kind::Decision, entry(i)).unwrap()
        })
    });
    for threads in [8u64, 64] {
        g.throughput(Throughput::Elements(threads * 50));
        g.bench_function(format!("append_group_commit_{threads}_threads"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let hs: Vec<_> = (0..threads)
                        .map(|t| {
                            let log = log.clone();
                            std::thread::spawn(move || {
                                (0..50).for_each(|i| {
                                    drop(
                                        log.append(sesame::audit::Kind::Decision, entry(t * 1000 + i))
                                            .unwrap(),
                                    )
                                })
                            })
                        })
                        .collect();
                    hs.into_iter().for_each(|h| h.join().unwrap());
                    total += start.elapsed();
                }
                total
            })
        });
    }
    g.finish();

    let n = if quick { 1_000 } else { 1_000_000 };
    let vdir = tempfile::tempdir().unwrap();
    let file = synthetic_log(vdir.path(), n);
    let mut g = c.benchmark_group("audit_verify");
    g.sample_size(10).throughput(Throughput::Elements(n));
    g.bench_function(format!("verify_{n}_records"), |b| {
        b.iter(|| {
            let r = verify(std::slice::from_ref(&file), &Certs::new()).unwrap();
            assert_eq!(r.records, n);
        })
    });
    g.finish();
}

criterion_group!(all, benches);
criterion_main!(all);
