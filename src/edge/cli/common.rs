//! What every subcommand shares: [`Failure`] and its exit code, `--at` parsing,
//! loading the configuration, and writing output.

use chrono::{DateTime, Datelike, Utc};

use crate::config::{Config, ConfigError};
use crate::edge::clock;

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl std::fmt::Display) -> Self {
        Self { code, message: message.to_string() }
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::new(2, e)
    }
}

/// Parses `--at` (RFC 3339), or reads the clock.
pub fn instant(at: Option<&str>) -> Result<DateTime<Utc>, Failure> {
    match at {
        None => Ok(clock::now()),
        Some(s) => {
            let t = DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).map_err(|_| {
                Failure::new(
                    2,
                    format!("--at: must be an RFC 3339 instant such as 2026-12-01T15:00:00Z (got {s:?})"),
                )
            })?;
            if !(2000..2100).contains(&t.year()) {
                return Err(Failure::new(
                    2,
                    format!("--at: must be between 2000-01-01 and 2099-12-31 (got {s:?})"),
                ));
            }
            Ok(t)
        }
    }
}

pub fn load_config(cli_path: Option<&std::path::Path>) -> Result<Config, Failure> {
    Ok(Config::load(cli_path)?)
}

/// Writes bytes to stdout, or to a file when `out` is given.
pub fn emit(out: Option<&std::path::Path>, bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write;
    match out {
        Some(p) => std::fs::write(p, bytes)
            .map_err(|e| Failure::new(3, format!("{}: cannot write: {e}", p.display()))),
        None => {
            let mut so = std::io::stdout().lock();
            so.write_all(bytes).and_then(|()| so.flush()).map_err(|e| Failure::new(3, format!("stdout: {e}")))
        }
    }
}
