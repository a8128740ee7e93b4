//! The `[database]` section: where the shared PostgreSQL is (grants and audit with
//! `kind = "postgres"`), how sesame authenticates to it, and its limits. TLS is not
//! optional: the server's certificate is verified against `ca_file`, and the password
//! comes from a mode-checked file or an environment variable, never the config text.

use std::path::Path;
use std::time::Duration;

use super::directory::password;
use super::model::Database;
use super::problems::Problems;
use super::raw::RawDatabase;

fn millis(p: &mut Problems, at: &str, v: Option<i64>, default: i64, lo: i64, hi: i64) -> Duration {
    Duration::from_millis(u64::try_from(p.number(at, v, default, lo, hi)).unwrap_or(0))
}

/// A host name or address: no spaces, quotes or backslashes (the connection string's
/// own syntax), at most 253 characters.
fn host_ok(h: &str) -> bool {
    (1..=253).contains(&h.len())
        && h.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'\'' | b'\\' | b'"'))
}

/// A PostgreSQL identifier sesame accepts for a database or role: 1-63 of
/// `[A-Za-z0-9_]`, not starting with a digit.
fn ident_ok(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

pub fn database(p: &mut Problems, r: RawDatabase, base: &Path) -> Database {
    let host = p.required("database.host", r.host.clone());
    if !host.is_empty() && !host_ok(&host) {
        p.push(
            "database.host",
            format!("must be a host name or address of 1-253 visible characters (got {host:?})"),
        );
    }
    let port = p.number("database.port", r.port, 5432, 1, 65535);
    let dbname = r.dbname.clone().unwrap_or_else(|| "sesame".into());
    if !ident_ok(&dbname) {
        p.push(
            "database.dbname",
            format!("must be 1-63 characters of A-Z a-z 0-9 _, not starting with a digit (got {dbname:?})"),
        );
    }
    let user = r.user.clone().unwrap_or_else(|| "sesame".into());
    if !ident_ok(&user) {
        p.push(
            "database.user",
            format!("must be 1-63 characters of A-Z a-z 0-9 _, not starting with a digit (got {user:?})"),
        );
    }
    let password = password(
        p,
        "database.password",
        r.password_file.as_ref(),
        r.password_env.as_ref(),
        base,
        "the database role's password",
    );
    let ca_file = match &r.ca_file {
        Some(c) => base.join(c),
        None => {
            p.push(
                "database.ca_file",
                "is required: the CA that signed the database server's certificate (TLS is always on)",
            );
            Default::default()
        }
    };
    if !ca_file.as_os_str().is_empty() && !ca_file.exists() {
        p.push("database.ca_file", format!("{} does not exist", ca_file.display()));
    }
    Database {
        host,
        port: u16::try_from(port).unwrap_or(5432),
        dbname,
        user,
        password,
        ca_file,
        connect_timeout: millis(p, "database.connect_timeout_ms", r.connect_timeout_ms, 5000, 100, 60_000),
        statement_timeout: millis(
            p,
            "database.statement_timeout_ms",
            r.statement_timeout_ms,
            5000,
            50,
            600_000,
        ),
        pool_size: usize::try_from(p.number("database.pool_size", r.pool_size, 16, 1, 1024)).unwrap_or(16),
        pool_wait: millis(p, "database.pool_wait_ms", r.pool_wait_ms, 2000, 10, 60_000),
        migrate_on_start: r.migrate_on_start.unwrap_or(false),
    }
}
