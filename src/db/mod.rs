//! The shared PostgreSQL (`[database]`): one [`Db`] per process owns a small tokio
//! runtime that drives every connection, a bounded pool for queries (grants, audit
//! reads), and dedicated connections for the audit writers. TLS is always on (the
//! server certificate verified against the configured CA); connect and statement
//! timeouts are set on every connection, and every call is also bounded client-side,
//! so a database that stops answering costs a caller at most the timeouts, never a
//! thread. `migrate.rs` owns the schema; [`Effect`] is a statement that commits in the
//! same transaction as an audit record (grant changes).
//!
//! Synchronous callers (the mint path runs on blocking threads) use [`Db::run`]: the
//! future runs on the database runtime and the caller's thread only waits.

pub mod lease;
pub mod migrate;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::Database;

/// Why the database did not answer. `code` is stable; the message names the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("database {what}: {message}")]
pub struct DbError {
    pub what: &'static str,
    pub message: String,
}

impl DbError {
    pub fn new(what: &'static str, message: impl Into<String>) -> Self {
        Self { what, message: message.into() }
    }

    /// From a driver error: read-only (a standby after failover), statement timeout,
    /// full, refused by a rule, or unreachable.
    pub fn from_pg(e: &tokio_postgres::Error) -> Self {
        let what = match e.code() {
            Some(c) if *c == SqlState::READ_ONLY_SQL_TRANSACTION => "read-only",
            Some(c) if *c == SqlState::QUERY_CANCELED => "timed out",
            Some(c) if *c == SqlState::DISK_FULL || *c == SqlState::PROGRAM_LIMIT_EXCEEDED => "full",
            Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => "refused",
            Some(c) if *c == SqlState::UNIQUE_VIOLATION => "conflict",
            Some(_) => "error",
            None => "unavailable",
        };
        let message = match e.as_db_error() {
            Some(d) => format!("{} ({})", d.message(), d.code().code()),
            None => {
                let mut m = e.to_string();
                let mut src = std::error::Error::source(e);
                while let Some(s) = src {
                    m.push_str(": ");
                    m.push_str(&s.to_string());
                    src = s.source();
                }
                m
            }
        };
        Self { what, message }
    }

    pub fn code(&self) -> &'static str {
        match self.what {
            "read-only" => "database_read_only",
            "timed out" => "database_timeout",
            "full" => "database_full",
            "schema" => "database_schema",
            _ => "database_unavailable",
        }
    }
}

/// A statement that must take effect together with an audit record: the audit writer
/// runs it inside the record's transaction (under a savepoint), and the record is
/// written only if the statement touched exactly `rows` rows; otherwise neither
/// happens and the caller gets `refused`.
pub struct Effect {
    pub sql: &'static str,
    pub params: Vec<Box<dyn ToSql + Sync + Send>>,
    pub rows: u64,
    pub refused: String,
}

impl std::fmt::Debug for Effect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Effect").field("sql", &self.sql).field("rows", &self.rows).finish_non_exhaustive()
    }
}

/// The process's handle on the database.
pub struct Db {
    rt: Option<tokio::runtime::Runtime>,
    pool: Pool,
    pg: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    /// The client-side bound on one call: connect + statement timeout + pool wait.
    bound: Duration,
    pub settings: Database,
}

impl Db {
    /// Builds the runtime, TLS and pool; connects lazily (the first call).
    pub fn open(cfg: &Database) -> Result<Arc<Self>, DbError> {
        let tls = crate::tls_client::trusting(&cfg.ca_file).map_err(|e| DbError::new("TLS", e))?;
        let tls = MakeRustlsConnect::new(tls);
        let mut pg = tokio_postgres::Config::new();
        pg.host(&cfg.host)
            .port(cfg.port)
            .dbname(&cfg.dbname)
            .user(&cfg.user)
            .password(cfg.password.as_bytes())
            .ssl_mode(tokio_postgres::config::SslMode::Require)
            .application_name("sesame")
            .connect_timeout(cfg.connect_timeout)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .tcp_user_timeout(cfg.statement_timeout + cfg.connect_timeout)
            .options(format!("-c statement_timeout={}", cfg.statement_timeout.as_millis()));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sesame-db")
            .enable_all()
            .build()
            .map_err(|e| DbError::new("unavailable", format!("cannot start the database runtime: {e}")))?;
        let mgr = Manager::from_config(
            pg.clone(),
            tls.clone(),
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(mgr)
            .max_size(cfg.pool_size)
            .wait_timeout(Some(cfg.pool_wait))
            .create_timeout(Some(cfg.connect_timeout))
            .recycle_timeout(Some(cfg.connect_timeout))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| DbError::new("unavailable", format!("cannot build the pool: {e}")))?;
        let bound = cfg.connect_timeout + cfg.statement_timeout + cfg.pool_wait;
        Ok(Arc::new(Db { rt: Some(rt), pool, pg, tls, bound, settings: cfg.clone() }))
    }

    /// Where the database is, for messages (never the password).
    pub fn describe(&self) -> String {
        format!(
            "{}:{}/{} as {}",
            self.settings.host, self.settings.port, self.settings.dbname, self.settings.user
        )
    }

    pub fn handle(&self) -> Result<tokio::runtime::Handle, DbError> {
        self.rt
            .as_ref()
            .map(|r| r.handle().clone())
            .ok_or_else(|| DbError::new("unavailable", "the database runtime has stopped"))
    }

    /// Runs `fut` on the database runtime and waits, bounded by the timeouts. Callers
    /// are blocking threads (the mint path's pool, the CLI), never async workers.
    pub fn run<T, F>(&self, fut: F) -> Result<T, DbError>
    where
        F: Future<Output = Result<T, DbError>> + Send + 'static,
        T: Send + 'static,
    {
        self.run_within(self.bound, fut)
    }

    /// As [`Db::run`] with another bound (an export of a long chain).
    pub fn run_within<T, F>(&self, bound: Duration, fut: F) -> Result<T, DbError>
    where
        F: Future<Output = Result<T, DbError>> + Send + 'static,
        T: Send + 'static,
    {
        let timed = async move {
            tokio::time::timeout(bound, fut).await.unwrap_or_else(|_| {
                Err(DbError::new("timed out", format!("no answer within {} ms", bound.as_millis())))
            })
        };
        self.block(timed)?
    }

    /// Runs `fut` on the database runtime and waits for it on this thread (any thread:
    /// the future runs on the runtime's workers, this thread only waits).
    pub fn block<T, F>(&self, fut: F) -> Result<T, DbError>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle()?.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().map_err(|_| DbError::new("unavailable", "the database runtime has stopped"))
    }

    /// A pooled connection.
    pub async fn client(&self) -> Result<deadpool_postgres::Object, DbError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => DbError::from_pg(&e),
            deadpool_postgres::PoolError::Timeout(_) => {
                DbError::new("timed out", format!("no connection to {} within the timeouts", self.describe()))
            }
            other => DbError::new("unavailable", format!("{}: {other}", self.describe())),
        })
    }

    /// A connection of its own, outside the pool (an audit writer holds one for its
    /// session-level advisory lock). Its driver task runs on this runtime.
    pub async fn dedicated(&self) -> Result<tokio_postgres::Client, DbError> {
        let connect = self.pg.connect(self.tls.clone());
        let (client, conn) = tokio::time::timeout(self.settings.connect_timeout, connect)
            .await
            .map_err(|_| DbError::new("unavailable", format!("{}: connect timed out", self.describe())))?
            .map_err(|e| DbError::from_pg(&e))?;
        self.handle()?.spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    }

    /// For `/readyz`: a round trip through the pool.
    pub fn ping(self: &Arc<Self>) -> Result<(), DbError> {
        let db = self.clone();
        self.run(async move {
            let c = db.client().await?;
            c.simple_query("SELECT 1").await.map_err(|e| DbError::from_pg(&e))?;
            Ok(())
        })
    }

    /// (connections open, idle) for metrics and the leak tests.
    pub fn pool_status(&self) -> (usize, usize) {
        let s = self.pool.status();
        (s.size, s.available)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        // The pool's connections close first, so their driver tasks can end.
        self.pool.close();
        if let Some(rt) = self.rt.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                // On an async thread a blocking shutdown (or a plain drop) would panic.
                rt.shutdown_background();
            } else {
                // Elsewhere wait, bounded, for the runtime's threads: none is then still
                // freeing a connection while the process exits and the C libraries'
                // exit handlers run (a suspected cause of one crash at the exit of
                // `sesame db migrate`, not reproduced).
                rt.shutdown_timeout(Duration::from_secs(2));
            }
        }
    }
}
