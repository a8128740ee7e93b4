//! `verify` over files larger than its read chunk: records that straddle a chunk's end,
//! a line longer than a chunk, tampering and a cut-off tail in a later chunk; and seq
//! numbers at the ends of their range. (The reader parses one chunk while it reads the
//! next and checks the one before.)

use std::path::{Path, PathBuf};

use sesame::audit::chain::{hash_line, GENESIS};
use sesame::audit::record::{Kind, Record, FORMAT_VERSION};
use sesame::audit::verify::{verify, Breakage, Certs};
use sesame::audit::Entry;

/// `n` chained decision lines whose messages are `size(i)` bytes long, from `seq0` on.
fn lines(seq0: u64, prev0: &str, n: u64, size: impl Fn(u64) -> usize) -> Vec<String> {
    let mut prev = prev0.to_owned();
    (0..n)
        .map(|i| {
            let rec = Record {
                v: FORMAT_VERSION,
                seq: seq0 + i,
                prev: prev.clone(),
                replica: "big".into(),
                kind: Kind::Decision,
                entry: Entry {
                    time: "2026-12-04T10:00:00Z".into(),
                    outcome: Some("refused".into()),
                    message: Some("x".repeat(size(i))),
                    ..Entry::default()
                },
            };
            let line = serde_json::to_string(&rec).unwrap();
            prev = hash_line(line.as_bytes());
            line
        })
        .collect()
}

fn write(dir: &Path, lines: &[String]) -> PathBuf {
    let file = dir.join("big-000000000001.jsonl");
    std::fs::write(&file, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    file
}

/// 3000 records of about 2 KiB (three read chunks and some), one of 5 MiB among them.
fn big() -> Vec<String> {
    lines(1, GENESIS, 3000, |i| if i == 1700 { 5 << 20 } else { 1900 + (i as usize % 300) })
}

#[test]
fn a_log_of_several_chunks_verifies_whole() {
    let d = tempfile::tempdir().unwrap();
    let l = big();
    let file = write(d.path(), &l);
    assert!(std::fs::metadata(&file).unwrap().len() > 10 << 20);
    let r = verify(&[file], &Certs::new()).unwrap();
    assert_eq!((r.records, r.first_seq, r.last_seq, r.unsealed), (3000, 1, 3000, 3000));
    assert_eq!(r.head, hash_line(l[2999].as_bytes()));
}

#[test]
fn tampering_in_a_later_chunk_is_named_at_its_line() {
    let d = tempfile::tempdir().unwrap();
    let mut l = big();
    l[2500] = l[2500].replacen("refused", "minted", 1);
    let b = verify(&[write(d.path(), &l)], &Certs::new()).unwrap_err();
    assert_eq!((b.kind, b.line, b.seq), (Breakage::Edited, 2501, Some(2501)), "{b}");

    let mut l = big();
    l.remove(2200);
    let b = verify(&[write(d.path(), &l)], &Certs::new()).unwrap_err();
    assert_eq!((b.kind, b.line), (Breakage::Deleted, 2201), "{b}");

    // A malformed record after the long line: named, not skipped.
    let mut l = big();
    l[1800] = l[1800].replacen("\"seq\":", "\"seq\" ", 1);
    let b = verify(&[write(d.path(), &l)], &Certs::new()).unwrap_err();
    assert_eq!((b.kind, b.line), (Breakage::Malformed, 1801), "{b}");
}

#[test]
fn a_tail_cut_off_after_several_chunks_is_truncation() {
    let d = tempfile::tempdir().unwrap();
    let l = big();
    let file = write(d.path(), &l);
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() - 100]).unwrap();
    let b = verify(&[file], &Certs::new()).unwrap_err();
    assert_eq!((b.kind, b.line), (Breakage::Truncated, 3000), "{b}");
}

/// Issue 17 review: a genesis record with seq 0 underflowed `seq - 1`, and a record
/// with seq u64::MAX overflowed `seq + 1` (a panic in debug builds, a wrap to 0 in
/// release that let the next record be seq 0). Both are malformed now.
#[test]
fn seq_numbers_outside_their_range_are_malformed_not_a_panic() {
    let d = tempfile::tempdir().unwrap();
    let b = verify(&[write(d.path(), &lines(0, GENESIS, 2, |_| 10))], &Certs::new()).unwrap_err();
    assert_eq!((b.kind, b.line, b.seq), (Breakage::Malformed, 1, Some(0)), "{b}");
    assert!(b.message.contains("seq 0 is out of range"), "{b}");

    let mid = "ab".repeat(32);
    let file = d.path().join("big.jsonl");
    let l = lines(u64::MAX - 1, &mid, 2, |_| 10);
    std::fs::write(&file, l.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let b = verify(&[file], &Certs::new()).unwrap_err();
    assert_eq!((b.kind, b.line, b.seq), (Breakage::Malformed, 2, Some(u64::MAX)), "{b}");
}
