//! A top-level JSON object read as a stream, its chosen arrays handed over one element
//! at a time as bytes (`{"Records": [{…}, {…}]}` → each record). Only one element is in
//! memory; each is then parsed from its slice, which is several times faster than
//! serde_json's byte-at-a-time reader. The scanner checks structure (brackets, strings,
//! commas) and keeps the line and column for errors; the elements' own syntax is left
//! to the parser that reads them.

use std::io::Read;

/// Where the stream stopped being readable or well formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamError {
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at line {} column {}", self.message, self.line, self.column)
    }
}

/// One element: its bytes and the line it starts on.
pub struct Element<'a> {
    pub key: &'a str,
    pub bytes: &'a [u8],
    pub line: u64,
}

struct Scanner<R> {
    r: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    line: u64,
    column: u64,
}

const BUF: usize = 1 << 16;
/// The longest element accepted (a CloudTrail record is at most a few hundred KiB).
pub const MAX_ELEMENT: usize = 64 << 20;

impl<R: Read> Scanner<R> {
    fn error(&self, message: impl Into<String>) -> StreamError {
        StreamError { line: self.line, column: self.column, message: message.into() }
    }

    /// The next byte, or `None` at the end.
    fn peek(&mut self) -> Result<Option<u8>, StreamError> {
        if self.pos == self.len {
            self.pos = 0;
            self.len = loop {
                match self.r.read(&mut self.buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err(self.error(format!("cannot read: {e} (a corrupt or truncated file?)")))
                    }
                }
            };
        }
        Ok(self.buf.get(self.pos).copied().filter(|_| self.pos < self.len))
    }

    fn bump(&mut self, b: u8) {
        self.pos += 1;
        if b == b'\n' {
            self.line += 1;
            self.column = 0;
        } else {
            self.column += 1;
        }
    }

    /// The next byte, consumed; the end of input is an error.
    fn next(&mut self) -> Result<u8, StreamError> {
        match self.peek()? {
            Some(b) => {
                self.bump(b);
                Ok(b)
            }
            None => Err(self.error("cut short: the file ends inside the JSON")),
        }
    }

    fn skip_ws(&mut self) -> Result<Option<u8>, StreamError> {
        while let Some(b) = self.peek()? {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Ok(Some(b));
            }
            self.bump(b);
        }
        Ok(None)
    }

    fn expect(&mut self, want: u8, what: &str) -> Result<(), StreamError> {
        match self.skip_ws()? {
            Some(b) if b == want => self.next().map(|_| ()),
            Some(b) => Err(self.error(format!("expected {what}, found {:?}", char::from(b)))),
            None => Err(self.error(format!("cut short: expected {what}"))),
        }
    }

    /// A string (the opening quote consumed already), appended to `out` with quotes.
    /// Runs without a quote or backslash are copied whole (a raw newline cannot be in a
    /// JSON string, so the column just advances; the parser rejects such a string).
    fn string(&mut self, out: &mut Vec<u8>) -> Result<(), StreamError> {
        out.push(b'"');
        loop {
            if self.peek()?.is_none() {
                return Err(self.error("cut short: the file ends inside a string"));
            }
            let avail = self.buf.get(self.pos..self.len).unwrap_or_default();
            let stop = avail.iter().position(|b| *b == b'"' || *b == b'\\');
            let run = stop.map_or(avail.len(), |i| i + 1);
            let last = stop.and_then(|i| avail.get(i).copied());
            out.extend_from_slice(avail.get(..run).unwrap_or_default());
            self.pos += run;
            self.column = self.column.saturating_add(run as u64);
            match last {
                Some(b'"') => return Ok(()),
                Some(_) => out.push(self.next()?),
                None => {}
            }
            if out.len() > MAX_ELEMENT {
                return Err(self.error(format!("a value longer than {MAX_ELEMENT} bytes")));
            }
        }
    }

    /// One whole value appended to `out`: brackets balanced, strings closed.
    fn value(&mut self, out: &mut Vec<u8>) -> Result<(), StreamError> {
        let first = self.next()?;
        match first {
            b'"' => self.string(out),
            b'{' | b'[' => {
                out.push(first);
                self.nested(out)
            }
            _ => {
                // A number, true, false or null runs to the next delimiter.
                out.push(first);
                while let Some(c) = self.peek()? {
                    if matches!(c, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.bump(c);
                    out.push(c);
                }
                Ok(())
            }
        }
    }

    fn nested(&mut self, out: &mut Vec<u8>) -> Result<(), StreamError> {
        let mut depth = 1usize;
        loop {
            let b = self.next()?;
            match b {
                b'"' => self.string(out)?,
                b'{' | b'[' => {
                    depth += 1;
                    out.push(b);
                }
                b'}' | b']' => {
                    depth -= 1;
                    out.push(b);
                    if depth == 0 {
                        return Ok(());
                    }
                }
                _ => out.push(b),
            }
            if out.len() > MAX_ELEMENT {
                return Err(self.error(format!("a value longer than {MAX_ELEMENT} bytes")));
            }
        }
    }
}

/// What `each` says about an element it could not take: the line within the element
/// (1 for its first), the column (0 when unknown) and why.
pub type Refusal = (u64, u64, String);

type Each<'a> = dyn FnMut(Element<'_>) -> Result<(), Refusal> + 'a;

/// Reads `{ "key": value, … }`: the elements of each array under a key in `keys` go to
/// `each`, other values are skipped. Returns which of `keys` were present.
pub fn elements(r: impl Read, keys: &[&str], each: &mut Each<'_>) -> Result<Vec<String>, StreamError> {
    let mut s = Scanner { r, buf: vec![0u8; BUF].into_boxed_slice(), pos: 0, len: 0, line: 1, column: 0 };
    let mut found = Vec::new();
    let mut buf = Vec::with_capacity(1 << 14);
    s.expect(b'{', "a JSON object")?;
    if s.skip_ws()? == Some(b'}') {
        s.next()?;
        return end(&mut s).map(|()| found);
    }
    loop {
        s.expect(b'"', "a key")?;
        buf.clear();
        s.string(&mut buf)?;
        let key: String = serde_json::from_slice(&buf).map_err(|e| s.error(format!("a bad key: {e}")))?;
        s.expect(b':', "':'")?;
        if keys.contains(&key.as_str()) && s.skip_ws()? == Some(b'[') {
            s.next()?;
            array(&mut s, &key, &mut buf, each)?;
            found.push(key);
        } else {
            s.skip_ws()?;
            buf.clear();
            s.value(&mut buf)?;
        }
        match s.skip_ws()? {
            Some(b',') => {
                s.next()?;
            }
            Some(b'}') => {
                s.next()?;
                return end(&mut s).map(|()| found);
            }
            Some(b) => return Err(s.error(format!("expected ',' or '}}', found {:?}", char::from(b)))),
            None => return Err(s.error("cut short: the object is not closed")),
        }
    }
}

fn array<R: Read>(
    s: &mut Scanner<R>,
    key: &str,
    buf: &mut Vec<u8>,
    each: &mut Each<'_>,
) -> Result<(), StreamError> {
    if s.skip_ws()? == Some(b']') {
        s.next()?;
        return Ok(());
    }
    loop {
        s.skip_ws()?;
        let (line, start) = (s.line, s.column);
        buf.clear();
        s.value(buf)?;
        // A position on the element's first line counts from where the element starts.
        each(Element { key, bytes: buf, line }).map_err(|(within, column, message)| StreamError {
            line: line.saturating_add(within.saturating_sub(1)),
            column: if within <= 1 && column > 0 { start.saturating_add(column) } else { column },
            message,
        })?;
        match s.skip_ws()? {
            Some(b',') => {
                s.next()?;
            }
            Some(b']') => {
                s.next()?;
                return Ok(());
            }
            Some(b) => return Err(s.error(format!("expected ',' or ']', found {:?}", char::from(b)))),
            None => return Err(s.error("cut short: the array is not closed")),
        }
    }
}

fn end<R: Read>(s: &mut Scanner<R>) -> Result<(), StreamError> {
    match s.skip_ws()? {
        None => Ok(()),
        Some(b) => Err(s.error(format!("trailing characters after the object: {:?}", char::from(b)))),
    }
}
