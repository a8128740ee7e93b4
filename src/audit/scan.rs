//! The parallel half of `audit verify`: a file read a chunk of whole lines at a time
//! into a few recycled buffers, and each line parsed and hashed on every core into a
//! compact [`Fact`] while its bytes are still in cache. The chain itself is checked in
//! order after (`verify.rs`), from the facts alone for ordinary records; a record the
//! fast path does not settle is parsed again there, the way it always was.

use std::borrow::Cow;
use std::io::Read as _;
use std::path::Path;

use serde::Deserialize;

use super::chain::sha256;

/// A record's chain fields as `verify` reads them (any other field is skipped, but the
/// line must still be one JSON object).
#[derive(Deserialize)]
pub(super) struct Head<'a> {
    pub v: u32,
    pub seq: u64,
    #[serde(borrow)]
    pub prev: Cow<'a, str>,
    #[serde(borrow)]
    pub replica: Cow<'a, str>,
    #[serde(borrow)]
    pub kind: Cow<'a, str>,
    #[serde(default, borrow)]
    pub time: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub signature: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub key_id: Option<Cow<'a, str>>,
    #[serde(default)]
    pub pruned_through: Option<u64>,
    #[serde(default, borrow)]
    pub pruned_head: Option<Cow<'a, str>>,
}

impl Head<'_> {
    /// The line parsed as `verify` always parsed it (the slow path and its messages).
    pub fn parse(line: &[u8]) -> Result<Head<'_>, String> {
        serde_json::from_slice::<Head>(line).map_err(|e| e.to_string())
    }
}

/// What the ordered check needs of an ordinary record (not a checkpoint, not a prune).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Quick {
    pub v: u32,
    pub seq: u64,
    /// `prev` decoded, when it is 64 lowercase hex digits.
    pub prev: Option<[u8; 32]>,
}

/// One line: the SHA-256 of its bytes, and its chain fields when the line is valid
/// UTF-8, parses, names the replica the scan was given and is an ordinary record.
/// `None` says nothing about the record but "check it the long way".
#[derive(Debug, Clone, Copy)]
pub(super) struct Fact {
    pub hash: [u8; 32],
    pub quick: Option<Quick>,
}

/// Each byte's value as a lowercase hex digit, or 0x10 (not one).
const HEX: [u8; 256] = {
    let mut t = [0x10u8; 256];
    let mut i = 0;
    while i < 16 {
        t[b"0123456789abcdef"[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// Decodes 64 lowercase hex digits (the only form `prev` is written in). By table and
/// without a branch per digit: random digits mispredicted a `match` half the time,
/// which cost more than the SHA-256 of the line.
fn unhex32(text: &str) -> Option<[u8; 32]> {
    let t = text.as_bytes();
    if t.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(t.chunks_exact(2)) {
        let (hi, lo) = (HEX[usize::from(pair[0])], HEX[usize::from(pair[1])]);
        bad |= hi | lo;
        *o = (hi << 4) | (lo & 0xf);
    }
    (bad & 0x10 == 0).then_some(out)
}

/// The fact of one line. The whole line is checked as UTF-8 once and parsed as text,
/// which is cheaper than serde_json checking each string of a byte slice.
fn fact(line: &[u8], replica: &str) -> Fact {
    let quick = std::str::from_utf8(line)
        .ok()
        .and_then(|s| serde_json::from_str::<Head>(s).ok())
        .filter(|h| h.replica == replica && h.kind != "checkpoint" && h.kind != "prune")
        .map(|h| Quick { v: h.v, seq: h.seq, prev: unhex32(&h.prev) });
    Fact { hash: sha256(line), quick }
}

/// One chunk of a file: whole lines, where each ends, and (once parsed) their facts.
pub(super) struct Batch {
    pub buf: Vec<u8>,
    /// The offset of each line's newline in `buf`.
    pub ends: Vec<usize>,
    pub facts: Vec<Fact>,
    /// Lines of the file before this chunk.
    pub before: usize,
}

impl Batch {
    /// Line `i` of the chunk, without its newline.
    pub fn line(&self, i: usize) -> &[u8] {
        let start = i.checked_sub(1).and_then(|j| self.ends.get(j)).map_or(0, |e| e + 1);
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.buf.get(start..end).unwrap_or_default()
    }
}

/// Lines a worker parses and hashes before it takes the next piece of a chunk: small
/// enough that the threads finish a chunk together, large enough that taking a piece
/// costs nothing beside it.
const PIECE: usize = 256;

/// Parses and hashes `buf`'s lines on every core while `meanwhile` runs on this thread
/// (it reads the next chunk and checks the one before: the three overlap), and returns
/// the chunk with its facts, or `None` if a worker stopped, and what `meanwhile` gave.
/// The chunk is handed out in pieces, and this thread takes pieces too once `meanwhile`
/// is done, so no core waits for a worker that the scheduler held back.
pub(super) fn prepare<T>(
    buf: Vec<u8>,
    before: usize,
    replica: &str,
    meanwhile: impl FnOnce() -> T,
) -> (Option<Batch>, T) {
    let ends: Vec<usize> = memchr::memchr_iter(b'\n', &buf).collect();
    let blank = Fact { hash: [0; 32], quick: None };
    let mut facts = vec![blank; ends.len()];
    let mut batch = Batch { buf, ends, facts: Vec::new(), before };
    // One worker per core but this thread's: it reads and checks first, then parses too.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let b = &batch;
    let pieces = std::sync::Mutex::new(facts.chunks_mut(PIECE).enumerate());
    let work = || loop {
        // The lock is held only to take a piece. A worker that panics while parsing
        // leaves its piece blank; its join says so and the chunk is refused below.
        let Some((k, out)) = pieces.lock().ok().and_then(|mut p| p.next()) else { return };
        for (j, f) in out.iter_mut().enumerate() {
            *f = fact(b.line(k * PIECE + j), replica);
        }
    };
    let (stopped, got) = std::thread::scope(|s| {
        let workers: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        let got = meanwhile();
        work();
        (workers.into_iter().any(|w| w.join().is_err()), got)
    });
    // Only a thread that panicked could have poisoned the lock, and its join said so.
    if stopped {
        return (None, got);
    }
    batch.facts = facts;
    (Some(batch), got)
}

/// How much of a file is read at a time: whole lines into one of a few reused buffers,
/// so memory stays flat, and small enough that a chunk is still in cache when its lines
/// are parsed and hashed (16 MiB chunks spent a fifth more CPU, in cache misses).
const CHUNK: usize = 2 << 20;

/// A file's complete lines, a chunk at a time, into buffers the caller recycles.
pub(super) struct Reader {
    file: std::fs::File,
    /// The start of a line the last chunk cut off; at the end, the unterminated tail.
    carry: Vec<u8>,
    eof: bool,
}

impl Reader {
    pub fn open(path: &Path) -> std::io::Result<Reader> {
        Ok(Reader { file: std::fs::File::open(path)?, carry: Vec::new(), eof: false })
    }

    /// `buf` filled with the next run of complete lines (each ending in a newline), or
    /// `None` at the end; then [`Reader::tail`] is what follows the last newline.
    pub fn fill(&mut self, mut buf: Vec<u8>) -> std::io::Result<Option<Vec<u8>>> {
        buf.clear();
        buf.append(&mut self.carry);
        let mut want = CHUNK;
        loop {
            while !self.eof && buf.len() < want {
                let need = (want - buf.len()) as u64;
                let got = (&mut self.file).take(need).read_to_end(&mut buf)?;
                self.eof = (got as u64) < need;
            }
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => {
                    self.carry.extend_from_slice(buf.get(i + 1..).unwrap_or_default());
                    buf.truncate(i + 1);
                    return Ok(Some(buf));
                }
                None if self.eof => {
                    self.carry = buf;
                    return Ok(None);
                }
                // One line longer than a chunk: read on until it ends.
                None => want = want.saturating_mul(2),
            }
        }
    }

    /// Bytes after the last newline once [`Reader::fill`] returned `None`.
    pub fn tail(&self) -> usize {
        self.carry.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unhex32_takes_only_64_lowercase_hex_digits() {
        let h = sha256(b"abc");
        let text = crate::core::text::hex(&h);
        assert_eq!(unhex32(&text), Some(h));
        assert_eq!(unhex32(&text.to_uppercase()), None);
        assert_eq!(unhex32(&text[..62]), None);
        assert_eq!(unhex32(&format!("{}g", &text[..63])), None);
        assert_eq!(unhex32(""), None);
    }

    #[test]
    fn a_fact_is_quick_only_for_an_ordinary_record_of_the_replica() {
        let line = br#"{"v":2,"seq":7,"prev":"0000000000000000000000000000000000000000000000000000000000000000","replica":"r1","kind":"decision","time":"t"}"#;
        assert_eq!(fact(line, "r1").quick, Some(Quick { v: 2, seq: 7, prev: Some([0; 32]) }));
        assert_eq!(fact(line, "r2").quick, None);
        let cp = String::from_utf8_lossy(line).replace("decision", "checkpoint");
        assert_eq!(fact(cp.as_bytes(), "r1").quick, None);
        assert_eq!(fact(b"{\"v\":2", "r1").quick, None);
        assert_eq!(fact(line, "r1").hash, sha256(line));
    }

    #[test]
    fn prepare_gives_each_line_its_own_fact_in_order_across_pieces() {
        let lines: Vec<String> = (1..=3 * PIECE + 7)
            .map(|i| {
                format!(r#"{{"v":2,"seq":{i},"prev":"{}","replica":"r1","kind":"decision"}}"#, "0".repeat(64))
            })
            .collect();
        let buf = lines.iter().flat_map(|l| l.bytes().chain([b'\n'])).collect::<Vec<u8>>();
        let (batch, ran) = prepare(buf, 5, "r1", || 42);
        let batch = batch.expect("every worker finished");
        assert_eq!((ran, batch.before, batch.facts.len()), (42, 5, lines.len()));
        for (i, (line, f)) in lines.iter().zip(&batch.facts).enumerate() {
            assert_eq!(f.hash, sha256(line.as_bytes()), "line {i}");
            assert_eq!(f.quick.map(|q| q.seq), Some(i as u64 + 1), "line {i}");
        }
    }
}
