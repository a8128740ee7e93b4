//! The schema, versioned: SQL files under `migrations/` (compiled in), applied in
//! order by `sesame db migrate` (and `serve` with `database.migrate_on_start`), all
//! pending ones in one transaction under an advisory lock so two replicas starting at
//! once cannot both apply a step. `sesame_migrations` records each version with the
//! SHA-256 of its text; a database whose recorded text differs from this build's, or
//! that is ahead of it, is refused.

use crate::core::text::hex;
use tokio_postgres::{Client, GenericClient};

use super::DbError;

/// (version, name, SQL), in order.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "init", include_str!("../../migrations/0001_init.sql")),
    (2, "reaper", include_str!("../../migrations/0002_reaper.sql")),
];

/// The advisory-lock key of migrations (`pg_advisory_xact_lock`): "sesame" + 1.
pub const LOCK_KEY: i64 = 0x7365_7361_6d65_0001;

/// The newest version this build knows.
pub fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

fn digest(sql: &str) -> String {
    hex(&openssl::sha::sha256(sql.as_bytes()))
}

/// Where a database stands against this build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Current(i32),
    /// Applied, known to this build: run `sesame db migrate`.
    Behind {
        at: i32,
        latest: i32,
    },
    /// Newer than this build: run a newer sesame.
    Ahead {
        at: i32,
        latest: i32,
    },
    /// A recorded step's text differs from this build's.
    Altered {
        version: i32,
    },
}

impl Status {
    pub fn problem(&self) -> Option<String> {
        match self {
            Status::Current(_) => None,
            Status::Behind { at, latest } => Some(format!(
                "the database schema is at version {at}, this sesame needs {latest}: run `sesame db migrate`"
            )),
            Status::Ahead { at, latest } => Some(format!(
                "the database schema is at version {at}, newer than this sesame knows ({latest}): run the newer sesame"
            )),
            Status::Altered { version } => Some(format!(
                "migration {version} recorded in the database differs from this build's migrations/ (altered schema file)"
            )),
        }
    }
}

async fn applied(c: &impl GenericClient) -> Result<Vec<(i32, String)>, DbError> {
    let exists = c
        .query_one("SELECT to_regclass('sesame_migrations') IS NOT NULL", &[])
        .await
        .map_err(|e| DbError::from_pg(&e))?;
    if !exists.get::<_, bool>(0) {
        return Ok(Vec::new());
    }
    let rows = c
        .query("SELECT version, sha256 FROM sesame_migrations ORDER BY version", &[])
        .await
        .map_err(|e| DbError::from_pg(&e))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Judges the recorded steps against this build's.
fn judge(done: &[(i32, String)]) -> Status {
    for (v, sum) in done {
        if let Some((_, _, sql)) = MIGRATIONS.iter().find(|m| m.0 == *v) {
            if digest(sql) != *sum {
                return Status::Altered { version: *v };
            }
        }
    }
    let at = done.last().map_or(0, |d| d.0);
    match at.cmp(&latest()) {
        std::cmp::Ordering::Equal => Status::Current(at),
        std::cmp::Ordering::Less => Status::Behind { at, latest: latest() },
        std::cmp::Ordering::Greater => Status::Ahead { at, latest: latest() },
    }
}

/// Compares the database with this build's migrations.
pub async fn status(c: &impl GenericClient) -> Result<Status, DbError> {
    Ok(judge(&applied(c).await?))
}

/// Applies what is pending; returns the versions applied (none when current).
pub async fn migrate(c: &mut Client) -> Result<Vec<i32>, DbError> {
    let pg = |e: tokio_postgres::Error| DbError::from_pg(&e);
    let tx = c.transaction().await.map_err(pg)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY]).await.map_err(pg)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS sesame_migrations (
             version    integer PRIMARY KEY,
             name       text NOT NULL,
             sha256     text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await
    .map_err(pg)?;
    let done = applied(&tx).await?;
    let at = done.last().map_or(0, |d| d.0);
    let judged = judge(&done);
    if matches!(judged, Status::Ahead { .. } | Status::Altered { .. }) {
        return Err(DbError::new("error", judged.problem().unwrap_or_default()));
    }
    let mut applied_now = Vec::new();
    for (v, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > at) {
        tx.batch_execute(sql).await.map_err(|e| {
            DbError::new("error", format!("migration {v} ({name}): {}", DbError::from_pg(&e).message))
        })?;
        tx.execute(
            "INSERT INTO sesame_migrations (version, name, sha256) VALUES ($1, $2, $3)",
            &[v, name, &digest(sql)],
        )
        .await
        .map_err(pg)?;
        applied_now.push(*v);
    }
    tx.commit().await.map_err(pg)?;
    Ok(applied_now)
}
