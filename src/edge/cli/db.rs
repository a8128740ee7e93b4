//! `sesame db migrate|status`: the shared PostgreSQL's schema. `migrate` applies the
//! versioned SQL files under `migrations/` (compiled in) under an advisory lock; it
//! connects as `[database]` says, or as the schema owner given here (the runtime role
//! should not own the schema: it may only INSERT and SELECT audit rows).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::common::{load_config, Failure};
use crate::config::{Config, Database};
use crate::db::{migrate, Db};
use crate::edge::wiring;

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending schema migrations (all in one transaction, under an advisory lock).
    Migrate(OwnerArgs),
    /// Print the schema version against this build's; exit 1 when behind, ahead or
    /// altered, 3 when the database cannot be reached or verified.
    Status(OwnerArgs),
}

#[derive(Debug, Args)]
pub struct OwnerArgs {
    /// Connect as this role instead of `database.user` (the schema owner).
    #[arg(long)]
    pub user: Option<String>,
    /// Its password, from a file readable by its owner only.
    #[arg(long, value_name = "FILE", conflicts_with = "password_env")]
    pub password_file: Option<PathBuf>,
    /// Its password, from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
}

fn settings(cfg: &Config, a: &OwnerArgs) -> Result<Database, Failure> {
    let mut d = cfg.database.clone().ok_or_else(|| {
        Failure::new(2, "[database] is not configured (grants.kind or audit.kind = \"postgres\" needs it)")
    })?;
    if let Some(u) = &a.user {
        let ok = (1..=63).contains(&u.len()) && u.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok {
            return Err(Failure::new(
                2,
                format!("--user: must be 1-63 characters of A-Z a-z 0-9 _ (got {u:?})"),
            ));
        }
        d.user.clone_from(u);
    }
    match (&a.password_file, &a.password_env) {
        (Some(f), _) => {
            d.password =
                crate::secrets::read_line(f).map_err(|e| Failure::new(2, format!("--password-file: {e}")))?
        }
        (None, Some(v)) => {
            d.password = std::env::var(v).map_err(|_| {
                Failure::new(2, format!("--password-env: environment variable {v} is not set"))
            })?
        }
        (None, None) => {}
    }
    Ok(d)
}

pub fn run(config: Option<&Path>, cmd: DbCommand) -> Result<(), Failure> {
    let cfg = load_config(config)?;
    let (args, apply) = match &cmd {
        DbCommand::Migrate(a) => (a, true),
        DbCommand::Status(a) => (a, false),
    };
    let db = Db::open(&settings(&cfg, args)?).map_err(|e| Failure::new(3, e))?;
    match wiring::schema(&db, apply) {
        Ok(applied) if apply && applied.is_empty() => {
            println!("{}: schema at version {}, nothing to apply", db.describe(), migrate::latest())
        }
        Ok(applied) if apply => println!(
            "{}: applied migrations {}; schema at version {}",
            db.describe(),
            applied.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            migrate::latest()
        ),
        Ok(_) => println!("{}: schema at version {} (current)", db.describe(), migrate::latest()),
        // A schema behind, ahead or altered is a refusal (1); an unreachable or
        // unverifiable database, or a failed migration, a dependency failure (3).
        Err(e) => {
            let schema = matches!(&e, wiring::SetupError::Db(d) if d.what == "schema");
            return Err(Failure::new(if schema && !apply { 1 } else { 3 }, e));
        }
    }
    Ok(())
}
