//! The auditor's check: one replica's chain across its files, in order. Names the
//! first broken record and why (edited, deleted, reordered, inserted, truncated,
//! bad checkpoint). Reads each line's bytes as stored; never re-serializes.
//!
//! Checkpoints of record format 2 sign every field they carry and may carry no other;
//! format 1 checkpoints (older logs) signed replica, seq and prev only and are
//! counted as such. A chain's format version never goes back.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;

use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use serde::Deserialize;

use super::chain::{checkpoint_message, checkpoint_message_v1, hash_line, GENESIS};
use super::files::first_seq_in_name;
use super::record::FORMAT_VERSION;

/// The fields a format-2 checkpoint may carry (all of them signed but `signature`).
const CHECKPOINT_FIELDS: [&str; 8] = ["v", "seq", "prev", "replica", "kind", "time", "signature", "key_id"];

/// Public keys that may sign checkpoints, by key id (hex SHA-256 of the certificate DER).
pub type Certs = HashMap<String, PKey<Public>>;

#[derive(Deserialize)]
struct Head<'a> {
    v: u32,
    seq: u64,
    #[serde(borrow)]
    prev: Cow<'a, str>,
    #[serde(borrow)]
    replica: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    time: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    signature: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    key_id: Option<Cow<'a, str>>,
    #[serde(default)]
    pruned_through: Option<u64>,
    #[serde(default, borrow)]
    pruned_head: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breakage {
    Malformed,
    Edited,
    Deleted,
    Reordered,
    Inserted,
    Truncated,
    BadCheckpoint,
    WrongReplica,
}

impl Breakage {
    pub fn word(self) -> &'static str {
        match self {
            Breakage::Malformed => "malformed",
            Breakage::Edited => "edited",
            Breakage::Deleted => "deleted",
            Breakage::Reordered => "reordered",
            Breakage::Inserted => "inserted",
            Breakage::Truncated => "truncated",
            Breakage::BadCheckpoint => "bad checkpoint",
            Breakage::WrongReplica => "wrong replica",
        }
    }
}

/// The first broken record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {} — {message}", .file.display(), .kind.word())]
pub struct Broken {
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
    pub seq: Option<u64>,
    pub kind: Breakage,
    pub message: String,
}

/// What a clean chain looks like.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub replica: String,
    pub files: usize,
    pub records: u64,
    pub checkpoints: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    /// Hash of the last record.
    pub head: String,
    /// Records after the last checkpoint: a truncation among them would not be detectable.
    pub unsealed: u64,
    /// The first record does not start from genesis (earlier files were not given).
    pub starts_mid_chain: bool,
    /// Format-1 checkpoints: their time and key id were not signed.
    pub v1_checkpoints: u64,
    /// The first record's `prev` (64 zeros when the chain starts from genesis).
    pub first_prev: String,
    /// Prune declarations in the chain: (last seq removed, its hash).
    pub prunes: Vec<(u64, String)>,
}

impl Report {
    /// For the whole log of a replica: the chain must start at seq 1, unless a prune
    /// record in it declares exactly the missing prefix. Returns the pruned range's end.
    pub fn require_genesis(&self) -> Result<Option<u64>, String> {
        if self.first_seq <= 1 && !self.starts_mid_chain {
            return Ok(None);
        }
        let missing = self.first_seq.saturating_sub(1);
        let declared =
            self.prunes.iter().any(|(through, head)| *through == missing && *head == self.first_prev);
        if declared {
            Ok(Some(missing))
        } else {
            Err(format!(
                "records 1..={missing} of replica {} are missing and no prune record declares them \
                 (`sesame audit prune` removes old files and records that it did)",
                self.replica
            ))
        }
    }
}

/// One parsed line and the hex hash of its bytes.
type Prepared<'a> = (Result<Head<'a>, String>, String);

/// Parses and hashes lines on every core, one chunk per thread, results in line order
/// (chunks are not concatenated: that copy cost more than the chain check); the chain
/// itself is checked in order after.
fn prepare<'a>(lines: &[&'a [u8]]) -> Vec<Vec<Prepared<'a>>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let chunk = lines.len().div_ceil(threads).max(4096);
    std::thread::scope(|s| {
        let workers: Vec<_> = lines
            .chunks(chunk)
            .map(|c| {
                s.spawn(move || {
                    c.iter()
                        .map(|l| (serde_json::from_slice::<Head>(l).map_err(|e| e.to_string()), hash_line(l)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        // A worker that panicked yields nothing; the caller detects the short result.
        workers.into_iter().map(|w| w.join().unwrap_or_default()).collect()
    })
}

/// Verifies `files` (one replica, chain order) against `certs`.
pub fn verify(files: &[PathBuf], certs: &Certs) -> Result<Report, Broken> {
    let mut r = Report::default();
    let mut prev_hash: Option<String> = None;
    // (index into `files`, line) of the previous record: no allocation per record.
    let mut prev_loc: Option<(usize, usize)> = None;
    let mut expected: Option<u64> = None;
    let mut version = 0;
    for (fi, file) in files.iter().enumerate() {
        let bytes = std::fs::read(file).map_err(|e| Broken {
            file: file.clone(),
            line: 0,
            seq: None,
            kind: Breakage::Truncated,
            message: format!("cannot read: {e}"),
        })?;
        r.files += 1;
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let body = bytes.get(..complete).unwrap_or_default();
        let mut first_in_file = true;
        let mut all: Vec<&[u8]> = Vec::with_capacity(body.len() / 512);
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', body) {
            all.push(&body[start..end]);
            start = end + 1;
        }
        let prepared = prepare(&all);
        if prepared.iter().map(Vec::len).sum::<usize>() != all.len() {
            return Err(Broken {
                file: file.clone(),
                line: 0,
                seq: None,
                kind: Breakage::Malformed,
                message: "internal error: a verification worker stopped".into(),
            });
        }
        for (i, (parsed, hash)) in prepared.into_iter().flatten().enumerate() {
            let n = i + 1;
            let broken =
                |kind, seq, message: String| Broken { file: file.clone(), line: n, seq, kind, message };
            let h: Head = parsed
                .map_err(|e| broken(Breakage::Malformed, None, format!("record does not parse: {e}")))?;
            if h.v == 0 || h.v > FORMAT_VERSION {
                return Err(broken(
                    Breakage::Malformed,
                    Some(h.seq),
                    format!("unknown format version {}", h.v),
                ));
            }
            if h.v < version {
                return Err(broken(
                    Breakage::Malformed,
                    Some(h.seq),
                    format!("the format version goes back from {version} to {} (a downgraded record)", h.v),
                ));
            }
            version = h.v;
            if r.replica.is_empty() {
                r.replica = h.replica.to_string();
            } else if h.replica != r.replica {
                return Err(broken(
                    Breakage::WrongReplica,
                    Some(h.seq),
                    format!("replica {:?} in the chain of {:?}", h.replica, r.replica),
                ));
            }
            if first_in_file {
                if let Some(named) = first_seq_in_name(file).filter(|&s| s != h.seq) {
                    return Err(broken(
                        Breakage::Deleted,
                        Some(h.seq),
                        format!("the file name says its first record is {named}, but it is {}", h.seq),
                    ));
                }
                first_in_file = false;
            }
            match expected {
                None => {
                    r.first_seq = h.seq;
                    r.first_prev = h.prev.to_string();
                    r.starts_mid_chain = h.prev != GENESIS;
                    if !r.starts_mid_chain && h.seq != 1 {
                        return Err(broken(
                            Breakage::Deleted,
                            Some(h.seq),
                            format!(
                                "the chain starts from genesis but at seq {}; records 1..{} are missing",
                                h.seq,
                                h.seq - 1
                            ),
                        ));
                    }
                }
                Some(exp) if h.seq == exp => {}
                Some(exp) if h.seq > exp => {
                    // Missing here, but is it further on? Then records were moved.
                    let later = all
                        .get(n..)
                        .unwrap_or_default()
                        .iter()
                        .position(|l| serde_json::from_slice::<Head>(l).is_ok_and(|x| x.seq == exp));
                    return Err(match later {
                        Some(k) => broken(
                            Breakage::Reordered,
                            Some(h.seq),
                            format!(
                                "record {} stands where {exp} belongs, and record {exp} comes later, at line {}",
                                h.seq,
                                n + 1 + k
                            ),
                        ),
                        None => broken(
                            Breakage::Deleted,
                            Some(h.seq),
                            format!("records {exp}..{} are missing", h.seq - 1),
                        ),
                    });
                }
                Some(exp) if h.seq + 1 == exp => {
                    return Err(broken(
                        Breakage::Inserted,
                        Some(h.seq),
                        format!("a second record with seq {} follows the first", h.seq),
                    ));
                }
                Some(exp) => {
                    return Err(broken(
                        Breakage::Reordered,
                        Some(h.seq),
                        format!("seq {} appears where {exp} was expected", h.seq),
                    ));
                }
            }
            if let Some(p) = &prev_hash {
                if h.prev != *p {
                    let (pf, pl) =
                        prev_loc.map_or_else(|| (file.clone(), n), |(fi, l)| (files[fi].clone(), l));
                    return Err(Broken {
                        file: pf,
                        line: pl,
                        seq: Some(h.seq - 1),
                        kind: Breakage::Edited,
                        message: format!(
                            "record {} does not hash to the `prev` that record {} carries",
                            h.seq - 1,
                            h.seq
                        ),
                    });
                }
            }
            if h.kind == "checkpoint" {
                let sig = h
                    .signature
                    .as_deref()
                    .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok());
                let key = h.key_id.as_deref().and_then(|k| certs.get(k));
                let (Some(sig), Some(key)) = (sig, key) else {
                    return Err(broken(
                        Breakage::BadCheckpoint,
                        Some(h.seq),
                        format!(
                            "checkpoint without a signature, or signed by an unknown key ({:?})",
                            h.key_id
                        ),
                    ));
                };
                let msg = match h.v {
                    1 => {
                        r.v1_checkpoints += 1;
                        checkpoint_message_v1(&h.replica, h.seq, &h.prev)
                    }
                    _ => {
                        let extra = checkpoint_extra(all.get(i).copied().unwrap_or_default());
                        if let Some(why) = extra {
                            return Err(broken(Breakage::BadCheckpoint, Some(h.seq), why));
                        }
                        let time = h.time.as_deref().unwrap_or_default();
                        let key_id = h.key_id.as_deref().unwrap_or_default();
                        checkpoint_message(&h.replica, h.seq, &h.prev, time, key_id)
                    }
                };
                let ok = openssl::sign::Verifier::new(MessageDigest::sha256(), key)
                    .and_then(|mut v| v.update(msg.as_bytes()).and_then(|()| v.verify(&sig)))
                    .unwrap_or(false);
                if !ok {
                    return Err(broken(
                        Breakage::BadCheckpoint,
                        Some(h.seq),
                        "checkpoint signature does not verify: the checkpoint was edited or the chain before it rewritten"
                            .into(),
                    ));
                }
                r.checkpoints += 1;
                r.unsealed = 0;
            } else {
                r.unsealed += 1;
            }
            if h.kind == "prune" {
                if let (Some(t), Some(p)) = (h.pruned_through, &h.pruned_head) {
                    r.prunes.push((t, p.to_string()));
                }
            }
            r.records += 1;
            r.last_seq = h.seq;
            expected = Some(h.seq + 1);
            prev_hash = Some(hash);
            prev_loc = Some((fi, n));
        }
        if complete < bytes.len() {
            let n = all.len() + 1;
            return Err(Broken {
                file: file.clone(),
                line: n,
                seq: expected,
                kind: Breakage::Truncated,
                message: format!(
                    "the last line is cut off ({} bytes without a newline)",
                    bytes.len() - complete
                ),
            });
        }
    }
    r.head = prev_hash.unwrap_or_default();
    Ok(r)
}

/// Why a format-2 checkpoint line is not one, if it is not: a field it may not carry,
/// or a signed field with a line break (which would make the signed text ambiguous).
fn checkpoint_extra(line: &[u8]) -> Option<String> {
    let Ok(map) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(line) else {
        return Some("checkpoint does not parse".into());
    };
    if let Some(k) = map.keys().find(|k| !CHECKPOINT_FIELDS.contains(&k.as_str())) {
        return Some(format!("a checkpoint carries the unsigned field {k:?}"));
    }
    let broken_field = ["time", "key_id", "replica"]
        .into_iter()
        .find(|k| map.get(*k).and_then(|v| v.as_str()).is_some_and(|s| s.contains('\n')));
    broken_field.map(|k| format!("the checkpoint's {k} holds a line break"))
}
