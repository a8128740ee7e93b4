//! Session Manager session logs as AWS writes them, read piece by piece: S3 objects
//! `<prefix>/<SessionId>.log` (the transcript), CloudWatch Logs exports to S3
//! (`<prefix>/<task>/<log stream = SessionId>/000000.gz`, lines `<timestamp> <message>`),
//! `aws logs get-log-events` / `filter-log-events` JSON (`{"events": [{"logStreamName",
//! "timestamp", "message"}]}`), and streamed session events, JSON lines carrying
//! `sessionId` (and `sessionOwner` or `userIdentity.arn`, `target.id`). Anything else is
//! an error that names the file and line.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// How a piece is written out: transcript text (`<SessionId>.log`) or JSON event lines
/// (`<SessionId>.jsonl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Transcript,
    Events,
}

/// A run of bytes of one session's log, ending in a newline.
#[derive(Debug)]
pub struct Piece<'a> {
    pub session_id: &'a str,
    /// The instance the session was opened on, when the log says.
    pub target: Option<&'a str>,
    /// The session's owner (`arn:aws:sts::<account>:assumed-role/<role>/<RoleSessionName>`).
    pub owner: Option<&'a str>,
    pub format: Format,
    pub data: &'a [u8],
}

/// True for `<RoleSessionName>-<hex>` of at most 96 characters.
pub fn is_session_id(s: &str) -> bool {
    crate::core::session_name_of(s).is_some()
}

/// The files `paths` name: files as given, folders walked in name order (every file
/// in them is read; one that is not a session log is an error).
pub fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    super::files::walk(paths, &mut |p| out.push(p.to_path_buf()))?;
    Ok(out)
}

type Each<'a> = dyn FnMut(Piece<'_>) -> Result<(), String> + 'a;

/// Reads one file, handing its pieces to `each`.
pub fn read_file(path: &Path, each: &mut Each<'_>) -> Result<(), String> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let at = |line: usize, m: String| format!("{}:{line}: {m}", path.display());
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(stem) = name.strip_suffix(".log") {
        if !is_session_id(stem) {
            return Err(format!(
                "{}: an S3 session log is named <SessionId>.log (<RoleSessionName>-<hex>); {stem:?} is not a session ID",
                path.display()
            ));
        }
        return transcript(file, stem, each).map_err(|e| format!("{}: {e}", path.display()));
    }
    if name.ends_with(".gz") {
        let stream = path
            .parent()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !is_session_id(&stream) {
            return Err(format!(
                "{}: a CloudWatch Logs export lies in a folder named after its log stream (the session ID); {stream:?} is not one",
                path.display()
            ));
        }
        let reader = BufReader::new(flate2::read::MultiGzDecoder::new(BufReader::new(file)));
        return export_lines(reader, &stream, each, &at);
    }
    if name.ends_with(".json") || name.ends_with(".jsonl") {
        return json(BufReader::new(file), each, &at);
    }
    Err(format!(
        "{}: not a session log: expected <SessionId>.log, a CloudWatch Logs export (.gz), or JSON (.json, .jsonl)",
        path.display()
    ))
}

fn transcript(mut file: std::fs::File, session_id: &str, each: &mut Each<'_>) -> Result<(), String> {
    let mut buf = vec![0u8; 1 << 16];
    let mut last = b'\n';
    loop {
        let n = file.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        let data = buf.get(..n).unwrap_or_default();
        last = data.last().copied().unwrap_or(last);
        each(Piece { session_id, target: None, owner: None, format: Format::Transcript, data })?;
    }
    if last != b'\n' {
        each(Piece { session_id, target: None, owner: None, format: Format::Transcript, data: b"\n" })?;
    }
    Ok(())
}

/// `<timestamp> <message>` lines of a CloudWatch Logs export.
fn export_lines(
    reader: impl BufRead,
    stream: &str,
    each: &mut Each<'_>,
    at: &dyn Fn(usize, String) -> String,
) -> Result<(), String> {
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line.map_err(|e| at(i + 1, format!("cannot read: {e} (a corrupt or truncated file?)")))?;
        let text = String::from_utf8(line).map_err(|_| at(i + 1, "not UTF-8".into()))?;
        let text = text.trim_end_matches('\r');
        if text.is_empty() {
            continue;
        }
        let (stamp, message) = text.split_once(' ').unwrap_or((text, ""));
        if chrono::DateTime::parse_from_rfc3339(stamp).is_err() {
            return Err(at(
                i + 1,
                format!("not a CloudWatch Logs export line (<RFC 3339 timestamp> <message>): {stamp:?}"),
            ));
        }
        message_piece(stream, text, message, each).map_err(|m| at(i + 1, m))?;
    }
    Ok(())
}

/// A log event's message: a streamed session event (JSON with sessionId) or transcript.
fn message_piece(stream: &str, line: &str, message: &str, each: &mut Each<'_>) -> Result<(), String> {
    if message.trim_start().starts_with('{') {
        if let Ok(v) = serde_json::from_str::<Value>(message) {
            if v.get("sessionId").is_some() {
                return event_piece(&v, Some(stream), each);
            }
        }
    }
    let mut data = line.as_bytes().to_vec();
    data.push(b'\n');
    each(Piece { session_id: stream, target: None, owner: None, format: Format::Transcript, data: &data })
}

fn event_piece(v: &Value, stream: Option<&str>, each: &mut Each<'_>) -> Result<(), String> {
    let Some(id) = v.get("sessionId").and_then(Value::as_str) else {
        return Err("a session event's sessionId is not a string".into());
    };
    if !is_session_id(id) {
        return Err(format!("sessionId {id:?} is not a session ID (<RoleSessionName>-<hex>)"));
    }
    if let Some(s) = stream.filter(|s| *s != id) {
        return Err(format!("sessionId {id:?} in log stream {s:?}: a stream holds one session"));
    }
    let owner = v
        .get("sessionOwner")
        .and_then(Value::as_str)
        .or_else(|| v.pointer("/userIdentity/arn").and_then(Value::as_str));
    let target = v.pointer("/target/id").and_then(Value::as_str);
    let mut data = serde_json::to_vec(v).map_err(|e| e.to_string())?;
    data.push(b'\n');
    each(Piece { session_id: id, target, owner, format: Format::Events, data: &data })
}

/// JSON lines of streamed events, or one get/filter-log-events document.
fn json(
    mut reader: impl BufRead,
    each: &mut Each<'_>,
    at: &dyn Fn(usize, String) -> String,
) -> Result<(), String> {
    let mut first = String::new();
    reader.read_line(&mut first).map_err(|e| at(1, e.to_string()))?;
    if serde_json::from_str::<Value>(first.trim()).is_err() {
        let mut rest = first;
        reader.read_to_string(&mut rest).map_err(|e| at(1, e.to_string()))?;
        let doc: Value = serde_json::from_str(&rest).map_err(|e| at(e.line(), format!("not JSON: {e}")))?;
        return log_events(&doc, each).map_err(|m| at(1, m));
    }
    let mut line = first;
    let mut n = 1usize;
    loop {
        let text = line.trim();
        if !text.is_empty() {
            let v: Value = serde_json::from_str(text).map_err(|e| at(n, format!("not a JSON line: {e}")))?;
            if v.get("events").is_some() {
                log_events(&v, each).map_err(|m| at(n, m))?;
            } else if v.get("sessionId").is_some() {
                event_piece(&v, None, each).map_err(|m| at(n, m))?;
            } else {
                return Err(at(
                    n,
                    "neither a session event (sessionId) nor get/filter-log-events output (events)".into(),
                ));
            }
        }
        line = String::new();
        if reader.read_line(&mut line).map_err(|e| at(n + 1, e.to_string()))? == 0 {
            return Ok(());
        }
        n += 1;
    }
}

/// `{"events": [{"logStreamName", "timestamp" (ms), "message"}]}`; get-log-events
/// output names no stream, so its events must be session events.
fn log_events(doc: &Value, each: &mut Each<'_>) -> Result<(), String> {
    let Some(events) = doc.get("events").and_then(Value::as_array) else {
        return Err("neither a session event (sessionId) nor get/filter-log-events output (events)".into());
    };
    for (i, e) in events.iter().enumerate() {
        let message = e.get("message").and_then(Value::as_str).ok_or(format!("events[{i}]: no message"))?;
        match e.get("logStreamName").and_then(Value::as_str) {
            Some(stream) => {
                if !is_session_id(stream) {
                    return Err(format!("events[{i}]: log stream {stream:?} is not a session ID"));
                }
                let ms =
                    e.get("timestamp").and_then(Value::as_i64).ok_or(format!("events[{i}]: no timestamp"))?;
                let stamp = chrono::DateTime::from_timestamp_millis(ms)
                    .ok_or(format!("events[{i}]: timestamp {ms} is out of range"))?
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                message_piece(stream, &format!("{stamp} {message}"), message, each)
                    .map_err(|m| format!("events[{i}]: {m}"))?;
            }
            None => {
                let v: Value = serde_json::from_str(message).map_err(|_| {
                    format!("events[{i}]: no logStreamName, and the message is not a session event")
                })?;
                event_piece(&v, None, each).map_err(|m| format!("events[{i}]: {m}"))?;
            }
        }
    }
    Ok(())
}
