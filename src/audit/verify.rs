//! The auditor's check: one replica's chain across its files, in order. Names the
//! first broken record and why (edited, deleted, reordered, inserted, truncated,
//! bad checkpoint). Reads each line's bytes as stored; never re-serializes.
//!
//! Checkpoints of record format 2 sign every field they carry and may carry no other;
//! format 1 checkpoints (older logs) signed replica, seq and prev only and are
//! counted as such. A chain's format version never goes back.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};

use super::chain::{checkpoint_message, checkpoint_message_v1, GENESIS};
use super::files::first_seq_in_name;
use super::record::FORMAT_VERSION;
use super::scan::{prepare, Batch, Fact, Head, Reader};
use crate::core::text::hex;

/// The fields a format-2 checkpoint may carry (all of them signed but `signature`).
const CHECKPOINT_FIELDS: [&str; 8] = ["v", "seq", "prev", "replica", "kind", "time", "signature", "key_id"];

/// Public keys that may sign checkpoints, by key id (hex SHA-256 of the certificate DER).
pub type Certs = HashMap<String, PKey<Public>>;

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

/// Whether `text` is the lowercase hex form of `hash` (what `prev` carries).
fn is_hex_of(text: &str, hash: &[u8; 32]) -> bool {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let t = text.as_bytes();
    t.len() == 64
        && hash
            .iter()
            .zip(t.chunks_exact(2))
            .all(|(&b, pair)| pair == [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]])
}

/// The line number (1-based) of the first record after line `after` of `file` whose
/// seq is `seq`: where a record missing from its place went (the error path only).
fn find_later(file: &Path, after: usize, seq: u64) -> Option<usize> {
    let bytes = std::fs::read(file).ok()?;
    let complete = memchr::memrchr(b'\n', &bytes)?;
    let k = bytes
        .get(..complete)?
        .split(|&b| b == b'\n')
        .skip(after)
        .position(|l| Head::parse(l).is_ok_and(|x| x.seq == seq))?;
    Some(after + 1 + k)
}

/// The chain as checked so far, across files.
#[derive(Default)]
struct Walk {
    r: Report,
    prev_hash: Option<[u8; 32]>,
    /// (index into `files`, line) of the previous record: no allocation per record.
    prev_loc: Option<(usize, usize)>,
    expected: Option<u64>,
    version: u32,
}

/// Verifies `files` (one replica, chain order) against `certs`.
pub fn verify(files: &[PathBuf], certs: &Certs) -> Result<Report, Broken> {
    let mut w = Walk::default();
    // Buffers to read into: one being read, one being parsed, one being checked.
    let mut spare: Vec<Vec<u8>> = vec![Vec::new(), Vec::new(), Vec::new()];
    // The replica the fast path expects: the first line's (the chain's, once checked).
    let mut replica: Option<String> = None;
    for (fi, file) in files.iter().enumerate() {
        let cannot = |e: std::io::Error| Broken {
            file: file.clone(),
            line: 0,
            seq: None,
            kind: Breakage::Truncated,
            message: format!("cannot read: {e}"),
        };
        let mut reader = Reader::open(file).map_err(cannot)?;
        w.r.files += 1;
        let mut next = reader.fill(spare.pop().unwrap_or_default()).map_err(cannot)?;
        // The chunk parsed last, to be checked while the next one is parsed.
        let mut pending: Option<Batch> = None;
        // Lines of this file before the chunk being parsed.
        let mut before = 0;
        while let Some(buf) = next.take() {
            let hint = replica.get_or_insert_with(|| {
                let first = buf.split(|&b| b == b'\n').next().unwrap_or_default();
                Head::parse(first).map(|h| h.replica.into_owned()).unwrap_or_default()
            });
            let (batch, (walked, read)) = prepare(buf, before, hint, || {
                let walked = pending.take().map(|p| w.batch(files, fi, &p, hint, certs).map(|()| p.buf));
                (walked, reader.fill(spare.pop().unwrap_or_default()))
            });
            if let Some(done) = walked.transpose()? {
                spare.push(done);
            }
            let batch = batch.ok_or_else(|| Broken {
                file: file.clone(),
                line: 0,
                seq: None,
                kind: Breakage::Malformed,
                message: "internal error: a verification worker stopped".into(),
            })?;
            before += batch.ends.len();
            pending = Some(batch);
            next = read.map_err(cannot)?;
        }
        if let Some(p) = pending.take() {
            w.batch(files, fi, &p, replica.as_deref().unwrap_or_default(), certs)?;
            spare.push(p.buf);
        }
        if reader.tail() > 0 {
            return Err(Broken {
                file: file.clone(),
                line: before + 1,
                seq: w.expected,
                kind: Breakage::Truncated,
                message: format!("the last line is cut off ({} bytes without a newline)", reader.tail()),
            });
        }
    }
    w.r.head = w.prev_hash.map(|h| hex(&h)).unwrap_or_default();
    Ok(w.r)
}

impl Walk {
    /// Checks a parsed chunk of `files[fi]`, record by record, in order.
    fn batch(
        &mut self,
        files: &[PathBuf],
        fi: usize,
        b: &Batch,
        replica: &str,
        certs: &Certs,
    ) -> Result<(), Broken> {
        for (i, fact) in b.facts.iter().enumerate() {
            let n = b.before + i + 1;
            if !self.quick(fact, replica, fi, n) {
                let line = b.line(i);
                self.record(files, fi, n, line, Head::parse(line), fact.hash, certs)?;
            }
        }
        Ok(())
    }

    /// Takes an ordinary record that continues the chain exactly — the next seq, the
    /// replica's, its `prev` the last record's hash, a known version not below the
    /// chain's, not a file's first line — from its fact alone, and says whether it did.
    /// Anything else goes to [`Walk::record`], which decides it from the line.
    fn quick(&mut self, fact: &Fact, replica: &str, fi: usize, n: usize) -> bool {
        let Some(q) = fact.quick else { return false };
        let continues = n > 1
            && self.expected == Some(q.seq)
            && q.seq < u64::MAX
            && (self.version..=FORMAT_VERSION).contains(&q.v)
            && q.v != 0
            && self.prev_hash.is_some_and(|p| q.prev == Some(p))
            && !self.r.replica.is_empty()
            && self.r.replica == replica;
        if continues {
            self.version = q.v;
            self.r.unsealed += 1;
            self.advance(q.seq, fact.hash, fi, n);
        }
        continues
    }

    /// Checks record `n` (1-based line) of `files[fi]` against the chain so far.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        files: &[PathBuf],
        fi: usize,
        n: usize,
        line: &[u8],
        parsed: Result<Head<'_>, String>,
        hash: [u8; 32],
        certs: &Certs,
    ) -> Result<(), Broken> {
        let file = files.get(fi).map(PathBuf::as_path).unwrap_or(Path::new(""));
        let r = &mut self.r;
        let broken =
            |kind, seq, message: String| Broken { file: file.to_path_buf(), line: n, seq, kind, message };
        let h: Head =
            parsed.map_err(|e| broken(Breakage::Malformed, None, format!("record does not parse: {e}")))?;
        if h.v == 0 || h.v > FORMAT_VERSION {
            return Err(broken(Breakage::Malformed, Some(h.seq), format!("unknown format version {}", h.v)));
        }
        if h.v < self.version {
            return Err(broken(
                Breakage::Malformed,
                Some(h.seq),
                format!(
                    "the format version goes back from {} to {} (a downgraded record)",
                    self.version, h.v
                ),
            ));
        }
        self.version = h.v;
        if h.seq == 0 || h.seq == u64::MAX {
            // Chains count from 1, and one more record must be countable after this one.
            return Err(broken(Breakage::Malformed, Some(h.seq), format!("seq {} is out of range", h.seq)));
        }
        if r.replica.is_empty() {
            r.replica = h.replica.to_string();
        } else if h.replica != r.replica {
            return Err(broken(
                Breakage::WrongReplica,
                Some(h.seq),
                format!("replica {:?} in the chain of {:?}", h.replica, r.replica),
            ));
        }
        if n == 1 {
            if let Some(named) = first_seq_in_name(file).filter(|&s| s != h.seq) {
                return Err(broken(
                    Breakage::Deleted,
                    Some(h.seq),
                    format!("the file name says its first record is {named}, but it is {}", h.seq),
                ));
            }
        }
        match self.expected {
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
                return Err(match find_later(file, n, exp) {
                    Some(at) => broken(
                        Breakage::Reordered,
                        Some(h.seq),
                        format!(
                            "record {} stands where {exp} belongs, and record {exp} comes later, at line {at}",
                            h.seq
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
        if let Some(p) = &self.prev_hash {
            if !is_hex_of(&h.prev, p) {
                let (pf, pl) = self
                    .prev_loc
                    .and_then(|(fi, l)| files.get(fi).map(|f| (f.clone(), l)))
                    .unwrap_or_else(|| (file.to_path_buf(), n));
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
            check_checkpoint(r, &h, line, certs)
                .map_err(|why| broken(Breakage::BadCheckpoint, Some(h.seq), why))?;
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
        self.advance(h.seq, hash, fi, n);
        Ok(())
    }

    /// Record `seq` (line `n` of `files[fi]`, hashing to `hash`) is the chain's head now.
    fn advance(&mut self, seq: u64, hash: [u8; 32], fi: usize, n: usize) {
        self.r.records += 1;
        self.r.last_seq = seq;
        self.expected = Some(seq + 1);
        self.prev_hash = Some(hash);
        self.prev_loc = Some((fi, n));
    }
}

/// A checkpoint's signature over what its format version signs; why not, if it fails.
fn check_checkpoint(r: &mut Report, h: &Head<'_>, line: &[u8], certs: &Certs) -> Result<(), String> {
    let sig = h.signature.as_deref().and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok());
    let key = h.key_id.as_deref().and_then(|k| certs.get(k));
    let (Some(sig), Some(key)) = (sig, key) else {
        return Err(format!("checkpoint without a signature, or signed by an unknown key ({:?})", h.key_id));
    };
    let msg = match h.v {
        1 => {
            r.v1_checkpoints += 1;
            checkpoint_message_v1(&h.replica, h.seq, &h.prev)
        }
        _ => {
            if let Some(why) = checkpoint_extra(line) {
                return Err(why);
            }
            let time = h.time.as_deref().unwrap_or_default();
            let key_id = h.key_id.as_deref().unwrap_or_default();
            checkpoint_message(&h.replica, h.seq, &h.prev, time, key_id)
        }
    };
    let ok = openssl::sign::Verifier::new(MessageDigest::sha256(), key)
        .and_then(|mut v| v.update(msg.as_bytes()).and_then(|()| v.verify(&sig)))
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err("checkpoint signature does not verify: the checkpoint was edited or the chain before it rewritten"
            .into())
    }
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
