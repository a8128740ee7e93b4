//! The assertion log: one record per decision, group commit, rotation, recovery of a
//! torn tail, and `verify` naming each kind of breakage.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sesame::adapters::{Directory, LookupError, UserGroups};
use sesame::audit::chain::hash_line;
use sesame::audit::file::{CheckpointKey, FileAudit, FileAuditConfig};
use sesame::audit::files::log_files;
use sesame::audit::verify::{verify, Breakage, Certs};
use sesame::audit::{AuditLog, Entry, Record};
use sesame::core::UserName;

use crate::common::{at, demo_config, minter, nonce, test_material};

pub fn records(dir: &Path) -> Vec<Record> {
    crate::common::audit_records(dir)
}

pub fn certs() -> Certs {
    let m = test_material();
    let id = sesame::core::text::hex(&openssl::sha::sha256(&m.cert_der));
    [(id, m.cert.public_key().unwrap())].into_iter().collect()
}

pub fn writer(dir: &Path, rotate_bytes: u64, checkpoint_every: u64) -> FileAudit {
    gathering_writer(dir, rotate_bytes, checkpoint_every, FileAuditConfig::GATHER)
}

fn gathering_writer(dir: &Path, rotate_bytes: u64, checkpoint_every: u64, gather: Duration) -> FileAudit {
    let m = test_material();
    let key_id = sesame::core::text::hex(&openssl::sha::sha256(&m.cert_der));
    let cfg = FileAuditConfig {
        dir: dir.to_path_buf(),
        replica: "local".into(),
        rotate_bytes,
        checkpoint_every,
        checkpoint_key: Some(CheckpointKey { key: m.key, key_id }),
        lock_wait: std::time::Duration::from_millis(200),
        accept_loss: None,
        gather,
    };
    FileAudit::open(cfg, "2026-12-01T00:00:00Z").unwrap()
}

fn entry(i: usize, time: &str) -> Entry {
    Entry {
        time: time.into(),
        outcome: Some("minted".into()),
        user: Some(format!("user{i}")),
        ..Entry::default()
    }
}

#[test]
fn every_decision_is_recorded_with_what_auditors_need() {
    let m = minter(&demo_config());
    let open =
        m.mint("alice", "i-0fedcba9876543210", "us-east-1", at("2026-12-01T15:00:00Z"), &nonce(1)).unwrap();
    let closed =
        m.mint("alice", "i-0fedcba9876543210", "us-east-1", at("2026-12-01T12:00:00Z"), &nonce(2)).unwrap();
    assert!(m
        .mint("bob", "i-0123456789abcdef0", "us-east-1", at("2026-12-01T15:00:00Z"), &nonce(3))
        .is_err());
    assert!(m
        .mint("al ice", "i-0123456789abcdef0", "us-east-1", at("2026-12-01T15:00:00Z"), &nonce(4))
        .is_err());
    assert!(m
        .mint("mallory", "i-0123456789abcdef0", "us-east-1", at("2026-12-01T15:00:00Z"), &nonce(5))
        .is_err());
    let recs = records(m.audit_dir.path());
    let outcomes: Vec<(Option<&str>, Option<&str>)> =
        recs.iter().map(|r| (r.entry.outcome.as_deref(), r.entry.code.as_deref())).collect();
    assert_eq!(
        outcomes,
        vec![
            (Some("minted"), None),
            (Some("minted_all_closed"), None),
            (Some("refused"), Some("no_entitlement")),
            (Some("refused"), Some("bad_input")),
            (Some("refused"), Some("unknown_user")),
        ]
    );
    let r = &recs[0].entry;
    assert_eq!(recs[0].seq, open.receipt().seq());
    assert_eq!(r.assertion_id.as_deref(), Some(open.assertion_id()));
    assert_eq!(r.response_id.as_deref(), Some(open.response_id()));
    assert_eq!(
        r.response_sha256.as_deref(),
        Some(sesame::core::text::hex(&openssl::sha::sha256(open.xml())).as_str())
    );
    assert_eq!(r.session_duration, Some(3600));
    assert_eq!(r.sets[0].entitlement, "pam-payments");
    assert_eq!(r.sets[0].window_end.as_deref(), Some("2026-12-01T22:00:00Z"));
    assert_eq!(recs[1].entry.sets[0].reason.as_deref(), Some("outside_schedule"));
    assert_eq!(recs[1].entry.sets[0].next_open.as_deref(), Some("2026-12-01T14:00:00Z"));
    assert_eq!(
        recs[1].entry.response_sha256.as_deref(),
        Some(sesame::core::text::hex(&openssl::sha::sha256(closed.xml())).as_str())
    );
    // Never the assertion, never key material.
    let text: String = log_files(m.audit_dir.path(), "local")
        .unwrap()
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    assert!(
        !text.contains("SignatureValue") && !text.contains("sesame:closed:") && !text.contains("PRIVATE KEY")
    );
    assert!(!text.contains(&open.base64()[..40]));
    assert!(verify(&log_files(m.audit_dir.path(), "local").unwrap(), &certs()).is_ok());
}

struct DownDirectory;
impl Directory for DownDirectory {
    fn groups(&self, _: &UserName) -> Result<UserGroups, LookupError> {
        Err(LookupError::Directory("connection refused".into()))
    }
}

#[test]
fn dependency_failures_are_recorded_as_failed() {
    let mut m = minter(&demo_config());
    m.minter.directory = Box::new(DownDirectory);
    let e = m
        .mint("alice", "i-0fedcba9876543210", "us-east-1", at("2026-12-01T15:00:00Z"), &nonce(1))
        .unwrap_err();
    assert_eq!(e.code(), "directory_unavailable");
    let recs = records(m.audit_dir.path());
    assert_eq!(recs[0].entry.outcome.as_deref(), Some("failed"));
    assert_eq!(recs[0].entry.code.as_deref(), Some("directory_unavailable"));
}

struct BrokenLog;
impl AuditLog for BrokenLog {
    fn append(
        &self,
        _: sesame::audit::Kind,
        _: Entry,
    ) -> Result<sesame::audit::Receipt, sesame::audit::AuditError> {
        Err(sesame::audit::AuditError::Unavailable("disk full".into()))
    }
}

#[test]
fn no_response_leaves_without_its_record() {
    let mut m = minter(&demo_config());
    m.minter.audit = std::sync::Arc::new(BrokenLog);
    let e = m
        .mint("alice", "i-0fedcba9876543210", "us-east-1", at("2026-12-01T15:00:00Z"), &nonce(1))
        .unwrap_err();
    assert_eq!(e.code(), "audit_unavailable");
    assert!(e.to_string().contains("no response was released"), "{e}");
}

/// A log whose writer is gone: `submit` hands back a receiver whose sender was dropped.
struct GoneLog;
impl AuditLog for GoneLog {
    fn append(
        &self,
        _: sesame::audit::Kind,
        _: Entry,
    ) -> Result<sesame::audit::Receipt, sesame::audit::AuditError> {
        Err(sesame::audit::AuditError::stopped())
    }
    fn submit(&self, _: sesame::audit::Kind, _: Entry) -> sesame::audit::Submitted {
        tokio::sync::oneshot::channel().1
    }
}

#[test]
fn the_async_path_releases_nothing_without_its_record() {
    // The HTTP edge prepares (steps 2-7), then awaits `commit_async` (step 8).
    let m = minter(&demo_config());
    let input = sesame::service::mint::MintInput {
        user: "alice".into(),
        instance_id: "i-0fedcba9876543210".into(),
        region: "us-east-1".into(),
        ..Default::default()
    };
    assert!(m.local(), "file directory and grants answer locally");
    let t = at("2026-12-01T15:00:00Z");
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    for lost in [&BrokenLog as &dyn AuditLog, &GoneLog] {
        let e = rt.block_on(m.prepare(&input, t, &nonce(2)).commit_async(lost)).unwrap_err();
        assert_eq!(e.code(), "audit_unavailable", "{e}");
    }
    assert!(records(m.audit_dir.path()).is_empty(), "nothing reached the real log");
    let minted = rt.block_on(m.prepare(&input, t, &nonce(3)).commit_async(m.audit.as_ref())).unwrap();
    assert_eq!(minted.receipt().seq(), 1, "the first durable record of this log");
    let recs = records(m.audit_dir.path());
    assert_eq!(recs[0].entry.outcome.as_deref(), Some("minted"));
    assert_eq!(recs[0].entry.assertion_id.as_deref(), Some(minted.assertion_id()));
}

#[test]
fn submit_resolves_after_the_write_and_fails_once_the_writer_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let log = writer(dir.path(), 64 << 20, 100_000);
    let pending: Vec<_> = (0..50)
        .map(|i| log.submit(sesame::audit::Kind::Decision, entry(i, "2026-12-01T00:00:00Z")))
        .collect();
    let seqs: Vec<u64> = pending.into_iter().map(|p| p.blocking_recv().unwrap().unwrap().seq()).collect();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
    let on_disk = std::fs::read_to_string(&log_files(dir.path(), "local").unwrap()[0]).unwrap();
    assert_eq!(on_disk.lines().count(), 50, "every resolved record is in the file");
    log.close().unwrap();
    let late = log.submit(sesame::audit::Kind::Decision, entry(99, "2026-12-01T00:00:00Z"));
    let e = late.blocking_recv().unwrap().unwrap_err();
    assert!(e.to_string().contains("stopped"), "{e}");
}

#[test]
fn concurrent_appends_share_fsyncs_and_keep_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(writer(dir.path(), 64 << 20, 100_000));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                (0..100)
                    .map(|i| {
                        log.append(sesame::audit::Kind::Decision, entry(t * 1000 + i, "2026-12-01T00:00:00Z"))
                            .unwrap()
                            .seq()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seqs: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    seqs.sort();
    assert_eq!(seqs, (1..=800).collect::<Vec<_>>());
    let syncs = log.stats().syncs.load(std::sync::atomic::Ordering::Relaxed);
    assert!(syncs < 800, "group commit: {syncs} fsyncs for 800 records");
    log.close().unwrap();
    let r = verify(&log_files(dir.path(), "local").unwrap(), &certs()).unwrap();
    assert_eq!((r.records, r.checkpoints, r.unsealed), (801, 1, 0), "closing seals the tail");
}

/// Group commit under load: a batch waits for a record announced as coming (a mint on
/// another core) and both become durable with one `fdatasync`. The gather window is
/// set long so the outcome does not depend on timing: without the wait, the first
/// record is synced alone.
#[test]
fn a_record_announced_as_coming_joins_the_batch_before_its_sync() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(gathering_writer(dir.path(), 64 << 20, 100_000, Duration::from_secs(60)));
    let coming = log.coming();
    let first = log.submit(sesame::audit::Kind::Decision, entry(1, "2026-12-01T00:00:00Z"));
    let other = log.clone();
    let second = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        coming.arrived();
        other.append(sesame::audit::Kind::Decision, entry(2, "2026-12-01T00:00:00Z")).unwrap().seq()
    });
    assert_eq!(first.blocking_recv().unwrap().unwrap().seq(), 1);
    assert_eq!(second.join().unwrap(), 2);
    assert_eq!(log.stats().records.load(Relaxed), 2);
    assert_eq!(log.stats().syncs.load(Relaxed), 1, "the two records share one fdatasync");
}

/// Issue 17: the writer is woken once the last announced record is queued, not per
/// record: records queued while others are still announced wait in the batch, and the
/// batch is synced when the last arrives (long before the 60 s window ends).
#[test]
fn a_batch_is_synced_when_the_last_announced_record_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(gathering_writer(dir.path(), 64 << 20, 100_000, Duration::from_secs(60)));
    let started = Instant::now();
    let comings: Vec<_> = (0..3).map(|_| log.coming()).collect();
    let first = log.submit(sesame::audit::Kind::Decision, entry(1, "2026-12-01T00:00:00Z"));
    let senders: Vec<_> = comings
        .into_iter()
        .enumerate()
        .map(|(i, coming)| {
            let other = log.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50 * (i as u64 + 1)));
                coming.arrived();
                other.append(sesame::audit::Kind::Decision, entry(i + 2, "2026-12-01T00:00:00Z")).unwrap()
            })
        })
        .collect();
    assert_eq!(first.blocking_recv().unwrap().unwrap().seq(), 1);
    let mut seqs: Vec<u64> = senders.into_iter().map(|s| s.join().unwrap().seq()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, [2, 3, 4]);
    assert!(started.elapsed() < Duration::from_secs(30), "waited out the 60 s window");
    assert_eq!(log.stats().syncs.load(Relaxed), 1, "four records, one fdatasync");
}

/// A lone record is not delayed by the gather window, and a record announced but never
/// sent (its mint went away) releases the batch at once, not after the window.
#[test]
fn the_gather_window_delays_nothing_when_nothing_more_is_coming() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(gathering_writer(dir.path(), 64 << 20, 100_000, Duration::from_secs(60)));
    let started = Instant::now();
    log.append(sesame::audit::Kind::Decision, entry(1, "2026-12-01T00:00:00Z")).unwrap();
    let coming = log.coming();
    let pending = log.submit(sesame::audit::Kind::Decision, entry(2, "2026-12-01T00:00:00Z"));
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        drop(coming);
    });
    assert_eq!(pending.blocking_recv().unwrap().unwrap().seq(), 2);
    assert!(started.elapsed() < Duration::from_secs(30), "waited out the 60 s window");
    assert_eq!(log.stats().syncs.load(Relaxed), 2);
}

#[test]
fn rotation_by_size_and_day_keeps_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let log = writer(dir.path(), 4096, 1000);
    for i in 0..60 {
        log.append(sesame::audit::Kind::Decision, entry(i, "2026-12-01T10:00:00Z")).unwrap();
    }
    log.append(sesame::audit::Kind::Decision, entry(99, "2026-12-02T00:00:01Z")).unwrap();
    log.close().unwrap();
    let files = log_files(dir.path(), "local").unwrap();
    assert!(files.len() >= 3, "{files:?}");
    for pair in files.windows(2) {
        let old = std::fs::read_to_string(&pair[0]).unwrap();
        let last = old.lines().last().unwrap();
        let first: Record =
            serde_json::from_str(std::fs::read_to_string(&pair[1]).unwrap().lines().next().unwrap()).unwrap();
        assert_eq!(first.prev, hash_line(last.as_bytes()), "{:?} links to {:?}", pair[1], pair[0]);
        assert!(last.contains("\"kind\":\"checkpoint\""), "each rotated file ends sealed");
    }
    let newest = std::fs::read_to_string(files.last().unwrap()).unwrap();
    assert!(newest.contains("user99") && !newest.contains("user59"), "a new day starts a new file");
    assert!(verify(&files, &certs()).is_ok());
    // A whole missing file is caught.
    let without_middle: Vec<PathBuf> =
        files.iter().enumerate().filter(|(i, _)| *i != 1).map(|(_, f)| f.clone()).collect();
    assert_eq!(verify(&without_middle, &certs()).unwrap_err().kind, Breakage::Deleted);
}

#[test]
fn a_torn_tail_is_set_aside_and_the_chain_continues() {
    let dir = tempfile::tempdir().unwrap();
    let log = writer(dir.path(), 64 << 20, 1000);
    for i in 0..5 {
        log.append(sesame::audit::Kind::Decision, entry(i, "2026-12-01T10:00:00Z")).unwrap();
    }
    drop(log);
    let file = log_files(dir.path(), "local").unwrap().pop().unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(&file).unwrap();
    std::io::Write::write_all(&mut f, br#"{"v":1,"seq":7,"prev":"ab"#).unwrap();
    drop(f);
    assert_eq!(verify(std::slice::from_ref(&file), &certs()).unwrap_err().kind, Breakage::Truncated);
    let log = writer(dir.path(), 64 << 20, 1000);
    let (aside, bytes) = log.recovery().torn.clone().unwrap();
    assert_eq!(bytes, 25);
    assert_eq!(std::fs::read(&aside).unwrap(), br#"{"v":1,"seq":7,"prev":"ab"#);
    log.append(sesame::audit::Kind::Decision, entry(9, "2026-12-01T10:01:00Z")).unwrap();
    log.close().unwrap();
    let recs = records(dir.path());
    assert!(recs.iter().any(|r| r.kind == sesame::audit::Kind::Recovery
        && r.entry.message.as_deref().unwrap().contains("25 bytes")));
    assert!(verify(&log_files(dir.path(), "local").unwrap(), &certs()).is_ok());
}

#[test]
fn a_second_writer_is_refused_while_the_first_holds_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let _first = writer(dir.path(), 64 << 20, 1000);
    let m = test_material();
    let cfg = FileAuditConfig {
        dir: dir.path().to_path_buf(),
        replica: "local".into(),
        rotate_bytes: 1 << 20,
        checkpoint_every: 10,
        checkpoint_key: Some(CheckpointKey { key: m.key, key_id: "x".into() }),
        lock_wait: std::time::Duration::from_millis(50),
        accept_loss: None,
        gather: FileAuditConfig::GATHER,
    };
    let e = FileAudit::open(cfg, "2026-12-01T00:00:00Z").err().unwrap();
    assert!(e.to_string().contains("in use by another sesame process"), "{e}");
}
