//! Filters over the log for auditors: by user, instance, assertion ID, RoleSessionName
//! (from a Session Manager session ID), response digest, outcome and time range. Scans the given files in order.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::record::{Kind, Record};

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub user: Option<String>,
    pub instance: Option<String>,
    pub assertion_id: Option<String>,
    /// The RoleSessionName a record's response carried.
    pub role_session_name: Option<String>,
    pub response_sha256: Option<String>,
    /// Outcome (minted, minted_some_closed, minted_all_closed, refused, failed).
    pub outcome: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl Filter {
    pub fn matches(&self, r: &Record) -> bool {
        let e = &r.entry;
        let eq = |want: &Option<String>, got: &Option<String>| {
            want.as_ref().is_none_or(|w| got.as_ref() == Some(w))
        };
        let time = DateTime::parse_from_rfc3339(&e.time).ok().map(|t| t.with_timezone(&Utc));
        r.kind == Kind::Decision
            && eq(&self.user, &e.user)
            && eq(&self.instance, &e.instance)
            && eq(&self.assertion_id, &e.assertion_id)
            && eq(&self.role_session_name, &e.role_session_name)
            && eq(&self.response_sha256, &e.response_sha256)
            && eq(&self.outcome, &e.outcome)
            && self.since.is_none_or(|s| time.is_some_and(|t| t >= s))
            && self.until.is_none_or(|u| time.is_some_and(|t| t < u))
    }
}

/// One match: the record and the exact line it was read from.
#[derive(Debug, Clone)]
pub struct Hit {
    pub file: PathBuf,
    pub line: usize,
    pub raw: String,
    pub record: Record,
}

/// What a search found, and a torn last record it skipped.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub hits: Vec<Hit>,
    /// A partial last line (a writer cut off mid-write; the next start sets it aside):
    /// the file and its bytes.
    pub torn: Vec<(PathBuf, usize)>,
}

/// Reads every complete record of `files` in order, handing each to `each` as a
/// [`Hit`]; a partial last line (no newline yet) is skipped and reported in `torn`. A
/// complete line that does not parse is an error.
pub fn scan(files: &[PathBuf], mut each: impl FnMut(Hit)) -> Result<Vec<(PathBuf, usize)>, String> {
    let mut torn = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let complete = text.rfind('\n').map_or(0, |i| i + 1);
        if complete < text.len() {
            torn.push((file.clone(), text.len() - complete));
        }
        for (i, line) in text.get(..complete).unwrap_or_default().lines().enumerate() {
            let record: Record =
                serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", file.display(), i + 1))?;
            each(Hit { file: file.clone(), line: i + 1, raw: line.to_owned(), record });
        }
    }
    Ok(torn)
}

/// Every record in `files` that matches.
pub fn search(files: &[PathBuf], f: &Filter) -> Result<Found, String> {
    let mut hits = Vec::new();
    let torn = scan(files, |h| {
        if f.matches(&h.record) {
            hits.push(h);
        }
    })?;
    Ok(Found { hits, torn })
}

/// Firecall grants opened and not yet reviewed: `firecall_opened` records with no
/// later `firecall_reviewed` for the same grant id.
pub fn review_pending(files: &[PathBuf]) -> Result<Found, String> {
    let mut open: Vec<Hit> = Vec::new();
    let grant = |h: &Hit| h.record.entry.grant.as_ref().and_then(|g| g.id);
    let torn = scan(files, |h| {
        if h.record.kind != Kind::Firecall {
            return;
        }
        match h.record.entry.outcome.as_deref() {
            Some("firecall_opened") => open.push(h),
            Some("firecall_reviewed") => {
                let id = grant(&h);
                open.retain(|o| grant(o) != id);
            }
            _ => {}
        }
    })?;
    Ok(Found { hits: open, torn })
}

/// How many records of `kind` the files hold (a byte scan for `"kind":"<kind>"`, which
/// the record's fixed field order writes exactly so). For questions like "did this log
/// ever record a grant?", not for verification.
pub fn count_kind(files: &[std::path::PathBuf], kind: &str) -> Result<u64, super::log::AuditError> {
    let needle = format!("\"kind\":\"{kind}\"");
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    let mut n = 0u64;
    for f in files {
        let bytes = std::fs::read(f).map_err(|e| super::files::io("cannot read", f, e))?;
        n += finder.find_iter(&bytes).count() as u64;
    }
    Ok(n)
}
