//! What every subcommand shares: [`Failure`] and its exit code, `--at` parsing,
//! loading the configuration, and writing output.

use chrono::{DateTime, Utc};

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

/// Parses `--at` (RFC 3339, years 2000-2099, no leap second), or reads the clock.
pub fn instant(at: Option<&str>) -> Result<DateTime<Utc>, Failure> {
    match at {
        None => Ok(clock::now()),
        Some(s) => crate::core::text::instant("--at", s).map_err(|e| Failure::new(2, e)),
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

/// How a listing is printed: a table for people, or JSON lines for programs.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Output {
    Table,
    Json,
}
