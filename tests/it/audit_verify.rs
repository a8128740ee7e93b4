//! `verify` names the first broken record for each kind of tampering, and an auditor can
//! check the same log with common tools (Python's hashlib, OpenSSL).

use std::path::{Path, PathBuf};
use std::process::Command;

use sesame::audit::chain::hash_line;
use sesame::audit::files::log_files;
use sesame::audit::verify::{verify, Breakage};
use sesame::audit::{AuditLog, Entry, Record};

use crate::audit::{certs, writer};
use crate::common::root;

/// A sealed log of 20 decisions with a checkpoint every 8 records.
fn sample() -> (tempfile::TempDir, PathBuf, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let log = writer(dir.path(), 64 << 20, 8);
    for i in 0..20 {
        let e = Entry {
            time: "2026-12-01T10:00:00Z".into(),
            user: Some(format!("user{i}")),
            outcome: Some("minted".into()),
            ..Entry::default()
        };
        log.append(sesame::audit::Kind::Decision, e).unwrap();
    }
    log.close().unwrap();
    let file = log_files(dir.path(), "local").unwrap().pop().unwrap();
    let lines = std::fs::read_to_string(&file).unwrap().lines().map(str::to_owned).collect();
    (dir, file, lines)
}

fn write(file: &Path, lines: &[String]) {
    std::fs::write(file, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
}

fn broken(file: &Path) -> sesame::audit::verify::Broken {
    verify(&[file.to_path_buf()], &certs()).unwrap_err()
}

#[test]
fn the_sample_verifies() {
    let (_d, file, lines) = sample();
    let r = verify(&[file], &certs()).unwrap();
    assert_eq!(r.records as usize, lines.len());
    assert_eq!(r.checkpoints, 3);
    assert_eq!(r.unsealed, 0);
}

#[test]
fn an_edited_record_is_named() {
    let (_d, file, mut lines) = sample();
    lines[4] = lines[4].replace("user4", "userX");
    write(&file, &lines);
    let b = broken(&file);
    assert_eq!((b.kind, b.line, b.seq), (Breakage::Edited, 5, Some(5)));
}

#[test]
fn a_deleted_record_is_named() {
    let (_d, file, mut lines) = sample();
    lines.remove(4);
    write(&file, &lines);
    let b = broken(&file);
    assert_eq!((b.kind, b.line), (Breakage::Deleted, 5));
    assert!(b.message.contains("records 5..5 are missing"), "{}", b.message);
}

/// Issue 12, defect 4: a swap of two records was reported as "deleted".
#[test]
fn reordered_records_are_named() {
    let (_d, file, mut lines) = sample();
    lines.swap(3, 5);
    write(&file, &lines);
    let b = broken(&file);
    assert_eq!((b.kind, b.line), (Breakage::Reordered, 4), "{b}");
    assert!(
        b.message.contains("record 6 stands where 4 belongs, and record 4 comes later, at line 6"),
        "{b}"
    );
    let (_d, file, mut lines) = sample();
    lines.swap(3, 4);
    write(&file, &lines);
    assert_eq!(broken(&file).kind, Breakage::Reordered, "adjacent records swapped");
    let (_d, file, mut lines) = sample();
    let moved = lines.remove(2);
    lines.insert(6, moved);
    write(&file, &lines);
    assert_eq!(broken(&file).kind, Breakage::Reordered, "record 3 moved down");
    let (_d, file, mut lines) = sample();
    let moved = lines.remove(6);
    lines.insert(2, moved);
    write(&file, &lines);
    assert_eq!(broken(&file).kind, Breakage::Reordered, "seq 7 at line 3, seq 3 later");
    let (_d, file, mut lines) = sample();
    lines.remove(6);
    write(&file, &lines);
    assert_eq!(broken(&file).kind, Breakage::Deleted, "a record that is nowhere is deleted");
}

/// Issue 12, defect 4: a checkpoint's signature covered replica, seq and prev only, so
/// its time could be edited (and a field added) and `verify --sealed` still passed.
#[test]
fn every_field_of_a_checkpoint_is_signed() {
    let last_checkpoint =
        |lines: &[String]| lines.iter().rposition(|l| l.contains("\"checkpoint\"")).unwrap();
    let (_d, file, mut lines) = sample();
    let at = last_checkpoint(&lines);
    assert_eq!(at, lines.len() - 1, "the sealing checkpoint is the last record: nothing after it covers it");
    let cp: Record = serde_json::from_str(&lines[at]).unwrap();
    lines[at] =
        lines[at].replace(&format!("\"time\":\"{}\"", cp.entry.time), "\"time\":\"2031-01-01T00:00:00Z\"");
    assert_ne!(lines[at], serde_json::to_string(&cp).unwrap());
    write(&file, &lines);
    let b = broken(&file);
    assert_eq!((b.kind, b.seq), (Breakage::BadCheckpoint, Some(cp.seq)), "{b}");
    // A field the signature does not cover.
    let (_d, file, mut lines) = sample();
    let at = last_checkpoint(&lines);
    lines[at] =
        lines[at].replacen("\"kind\":\"checkpoint\"", "\"kind\":\"checkpoint\",\"message\":\"all fine\"", 1);
    write(&file, &lines);
    let b = broken(&file);
    assert_eq!(b.kind, Breakage::BadCheckpoint);
    assert!(b.message.contains("unsigned field \"message\""), "{b}");
    // Downgraded to format 1, whose checkpoints did not sign the time.
    let (_d, file, mut lines) = sample();
    let at = last_checkpoint(&lines);
    lines[at] = lines[at].replacen("{\"v\":2,", "{\"v\":1,", 1);
    write(&file, &lines);
    let b = broken(&file);
    assert_eq!(b.kind, Breakage::Malformed);
    assert!(b.message.contains("goes back from 2 to 1"), "{b}");
}

#[test]
fn going_backwards_is_reported_as_reordered() {
    let (_d, file, mut lines) = sample();
    let copy = lines[1].clone();
    lines.insert(5, copy); // seq 2 again after seq 5
    write(&file, &lines);
    assert_eq!(broken(&file).kind, Breakage::Reordered);
}

#[test]
fn an_inserted_record_is_named() {
    let (_d, file, mut lines) = sample();
    // A forged record with the right seq and prev, placed after record 4.
    let mut forged: Record = serde_json::from_str(&lines[4]).unwrap();
    forged.seq = 6;
    forged.prev = hash_line(lines[4].as_bytes());
    forged.entry.user = Some("mallory".into());
    lines.insert(5, serde_json::to_string(&forged).unwrap());
    write(&file, &lines);
    let b = broken(&file);
    assert_eq!((b.kind, b.line, b.seq), (Breakage::Inserted, 7, Some(6)));
}

#[test]
fn a_rewritten_chain_fails_at_the_next_checkpoint() {
    let (_d, file, lines) = sample();
    // Edit record 3 and recompute every prev after it: only the checkpoint can tell.
    let mut out = Vec::new();
    let mut prev = String::new();
    for (i, l) in lines.iter().enumerate() {
        let mut r: Record = serde_json::from_str(l).unwrap();
        if i == 2 {
            r.entry.user = Some("nobody".into());
        }
        if i > 0 {
            r.prev.clone_from(&prev);
        }
        let s = serde_json::to_string(&r).unwrap();
        prev = hash_line(s.as_bytes());
        out.push(s);
    }
    write(&file, &out);
    let b = broken(&file);
    assert_eq!((b.kind, b.seq), (Breakage::BadCheckpoint, Some(9)));
}

#[test]
fn a_truncated_file_is_named() {
    let (_d, file, lines) = sample();
    let mut text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    text.truncate(text.len() - 30);
    std::fs::write(&file, text).unwrap();
    let b = broken(&file);
    assert_eq!((b.kind, b.line), (Breakage::Truncated, lines.len()));
}

#[test]
fn dropping_whole_records_from_the_end_leaves_an_unsealed_tail_or_a_gap() {
    let (_d, file, mut lines) = sample();
    let n = lines.len();
    lines.truncate(n - 3); // the sealing checkpoint and two records gone
    write(&file, &lines);
    let r = verify(&[file], &certs()).unwrap();
    assert_eq!(r.unsealed, 2, "reported, and an error with --sealed");
}

#[test]
fn the_cli_names_the_broken_record_and_exits_1() {
    let (d, file, mut lines) = sample();
    let cfg = crate::common::temp_config("", &[]);
    let dir = cfg.dir.path().join("audit");
    std::fs::create_dir_all(&dir).unwrap();
    lines[4] = lines[4].replace("user4", "userX");
    write(&dir.join(file.file_name().unwrap()), &lines);
    drop(d);
    let out =
        crate::common::sesame().arg("--config").arg(&cfg.path).args(["audit", "verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("local-000000000001.jsonl:5: edited"), "{err}");
}

#[test]
fn python_hashlib_agrees_and_catches_the_same_edit() {
    let (_d, file, mut lines) = sample();
    let script = root().join("scripts/audit-chain-check.py");
    let out = Command::new("python3").arg(&script).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let head = verify(std::slice::from_ref(&file), &certs()).unwrap().head;
    assert!(String::from_utf8_lossy(&out.stdout).contains(&head));
    lines[4] = lines[4].replace("user4", "userX");
    write(&file, &lines);
    let out = Command::new("python3").arg(&script).arg(&file).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(":6: prev does not match"));
}

#[test]
fn openssl_verifies_a_checkpoint_as_documented() {
    let (d, _file, lines) = sample();
    let cp: Record =
        serde_json::from_str(lines.iter().find(|l| l.contains("\"checkpoint\"")).unwrap()).unwrap();
    let msg = d.path().join("msg");
    let key_id = cp.entry.key_id.clone().unwrap();
    let text = format!(
        "sesame-audit-checkpoint-v2\n{}\n{}\n{}\n{}\n{key_id}\n",
        cp.replica, cp.seq, cp.prev, cp.entry.time
    );
    assert_eq!(
        text,
        sesame::audit::chain::checkpoint_message(&cp.replica, cp.seq, &cp.prev, &cp.entry.time, &key_id)
    );
    std::fs::write(&msg, text).unwrap();
    let sig = d.path().join("sig");
    use base64::Engine as _;
    std::fs::write(
        &sig,
        base64::engine::general_purpose::STANDARD.decode(cp.entry.signature.unwrap()).unwrap(),
    )
    .unwrap();
    let pubkey = d.path().join("pub.pem");
    std::fs::write(
        &pubkey,
        crate::common::test_material().cert.public_key().unwrap().public_key_to_pem().unwrap(),
    )
    .unwrap();
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(&pubkey)
        .arg("-signature")
        .arg(&sig)
        .arg(&msg)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Verified OK");
}

/// Logs written before format 2 still verify: their checkpoints signed replica, seq and
/// prev, and the report counts them.
#[test]
fn format_1_logs_still_verify_and_are_counted() {
    use base64::Engine as _;
    let (_d, file, lines) = sample();
    let key = crate::common::test_material().key;
    let mut prev = sesame::audit::chain::GENESIS.to_owned();
    let mut out = Vec::new();
    for l in &lines {
        let mut r: Record = serde_json::from_str(l).unwrap();
        r.v = 1;
        r.prev.clone_from(&prev);
        if r.kind == sesame::audit::Kind::Checkpoint {
            let msg = sesame::audit::chain::checkpoint_message_v1(&r.replica, r.seq, &r.prev);
            let mut s = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
            s.update(msg.as_bytes()).unwrap();
            r.entry.signature =
                Some(base64::engine::general_purpose::STANDARD.encode(s.sign_to_vec().unwrap()));
        }
        let line = serde_json::to_string(&r).unwrap();
        prev = hash_line(line.as_bytes());
        out.push(line);
    }
    write(&file, &out);
    let r = verify(&[file], &certs()).unwrap();
    assert_eq!((r.checkpoints, r.v1_checkpoints), (3, 3));
}

/// Issue 17: `verify` reads a file through a 16 MiB buffer, a run of whole lines at a
/// time. Records of 5 MB and one of 20 MB (longer than the buffer) span many reads; a
/// break is still named by its line in the file, and a record moved across reads is
/// found where it went.
#[test]
fn a_log_larger_than_the_read_buffer_names_lines_across_reads() {
    let dir = tempfile::tempdir().unwrap();
    let log = writer(dir.path(), 1 << 30, 8);
    for i in 0..14usize {
        let size = if i == 6 { 20 << 20 } else { 5 << 20 };
        let e = Entry {
            time: "2026-12-01T10:00:00Z".into(),
            user: Some(format!("user{i}")),
            message: Some("m".repeat(size)),
            outcome: Some("minted".into()),
            ..Entry::default()
        };
        log.append(sesame::audit::Kind::Decision, e).unwrap();
    }
    log.close().unwrap();
    let file = log_files(dir.path(), "local").unwrap().pop().unwrap();
    let lines: Vec<String> = std::fs::read_to_string(&file).unwrap().lines().map(str::to_owned).collect();
    let total: usize = lines.iter().map(|l| l.len() + 1).sum();
    assert!(total > 80 << 20 && lines.len() >= 16, "{total} bytes in {} lines", lines.len());
    let r = verify(std::slice::from_ref(&file), &certs()).unwrap();
    assert_eq!((r.records as usize, r.checkpoints, r.unsealed), (lines.len(), 2, 0));
    assert_eq!(r.head, hash_line(lines.last().unwrap().as_bytes()));

    let mut edited = lines.clone();
    edited[13] = edited[13].replacen("user12", "userX1", 1);
    write(&file, &edited);
    let b = broken(&file);
    assert_eq!((b.kind, b.line, b.seq), (Breakage::Edited, 14, Some(14)), "{b}");

    let mut moved = lines.clone();
    moved.swap(4, 12);
    write(&file, &moved);
    let b = broken(&file);
    assert_eq!((b.kind, b.line), (Breakage::Reordered, 5), "{b}");
    assert!(b.message.contains("record 5 comes later, at line 13"), "{b}");

    let mut cut = lines.join("\n").into_bytes();
    cut.truncate(cut.len() - 10);
    std::fs::write(&file, &cut).unwrap();
    let b = broken(&file);
    assert_eq!((b.kind, b.line), (Breakage::Truncated, lines.len()), "{b}");
}
