//! The embedded grants store: one SQLite file (WAL, synchronous FULL), the default
//! source of approved windows. Revoked and expired grants stay in the table for audit;
//! revocation takes effect for the next request (every lookup reads the table).
//!
//! Lookups use a pool of read connections with a short busy timeout ([`READ_BUSY`]);
//! changes use one write connection ([`WRITE_BUSY`]), so a lock held by another
//! process costs only the requests that need it.
//!
//! Record before effect ([`GrantStore`]): a new grant is inserted with `pending = 1`,
//! which no lookup sees, and becomes effective (`pending = 0`) only after its audit
//! record is durable; a revocation first notes who asked (`revoked_by`, still
//! effective), and sets `revoked_s` only after its record.

use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::adapters::{GrantError, GrantStore, Grants, LookupError, NewGrant, Record, StoredGrant};
use crate::core::{Grant, GroupName, Interval, UserName};

/// How long a write waits for another process's lock before the change fails (503
/// `grants_unavailable`); it runs on the blocking pool, so only its request waits.
pub const WRITE_BUSY: std::time::Duration = std::time::Duration::from_secs(1);
/// How long a lookup waits: mints read on the async workers, so a locked store costs
/// each of them at most this, and then fails closed.
pub const READ_BUSY: std::time::Duration = std::time::Duration::from_millis(100);
/// Idle read connections kept open.
const READERS: usize = 8;

pub struct SqliteGrants {
    path: std::path::PathBuf,
    /// Grant changes, one at a time.
    conn: Mutex<Connection>,
    /// Lookups, each on its own connection: WAL lets them read while a write (ours or
    /// another process's) holds the write lock, and none waits behind `conn`'s mutex.
    readers: Mutex<Vec<Connection>>,
    flags: rusqlite::OpenFlags,
}

fn store(e: impl std::fmt::Display) -> LookupError {
    LookupError::Grants(e.to_string())
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS grants (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user        TEXT NOT NULL,
    grp         TEXT NOT NULL,
    grp_key     TEXT NOT NULL,
    start_s     INTEGER NOT NULL,
    end_s       INTEGER NOT NULL CHECK (end_s > start_s),
    ticket      TEXT NOT NULL,
    approver    TEXT NOT NULL,
    created_s   INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    revoked_s   INTEGER,
    revoked_by  TEXT,
    pending     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS grants_user ON grants (user, grp_key);
";

/// Stores made before the record-before-effect rule have no `pending` column.
const ADD_PENDING: &str = "ALTER TABLE grants ADD COLUMN pending INTEGER NOT NULL DEFAULT 0";

const COLUMNS: &str =
    "id, user, grp, start_s, end_s, ticket, approver, created_s, created_by, revoked_s, revoked_by";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
    ))
}

type Row = (i64, String, String, i64, i64, String, String, i64, String, Option<i64>, Option<String>);

fn stored(r: Row) -> Result<StoredGrant, LookupError> {
    let (id, user, grp, s, e, ticket, approver, created, created_by, revoked, revoked_by) = r;
    Ok(StoredGrant {
        id,
        user: UserName::parse("user", &user).map_err(store)?,
        group: GroupName::parse("group", &grp).map_err(store)?,
        window: Interval::new(at(s), at(e)).ok_or_else(|| store(format!("grant {id}: end before start")))?,
        ticket,
        approver,
        created_at: at(created),
        created_by,
        revoked_at: revoked.map(at),
        revoked_by,
    })
}

impl SqliteGrants {
    /// Opens (or creates) the database. Returns whether it was created.
    pub fn open(path: &Path) -> Result<(Self, bool), LookupError> {
        let created = !path.exists();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| store(format!("{}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path).map_err(|e| store(format!("{}: {e}", path.display())))?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(store)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(store)?;
        conn.busy_timeout(WRITE_BUSY).map_err(store)?;
        conn.execute_batch(SCHEMA).map_err(|e| store(format!("{}: {e}", path.display())))?;
        let has_pending: bool = conn
            .query_row("SELECT count(*) FROM pragma_table_info('grants') WHERE name = 'pending'", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n > 0)
            .map_err(store)?;
        if !has_pending {
            conn.execute_batch(ADD_PENDING).map_err(|e| store(format!("{}: {e}", path.display())))?;
        }
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        Ok((
            Self { path: path.to_path_buf(), conn: Mutex::new(conn), readers: Mutex::default(), flags },
            created,
        ))
    }

    /// Opens an existing database for reading only: no schema change, no lock on the
    /// audit log, nothing settled (`sesame grants list` beside a running server).
    pub fn open_read_only(path: &Path) -> Result<Self, LookupError> {
        if !path.exists() {
            return Err(store(format!("{}: the grants store does not exist", path.display())));
        }
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| store(format!("{}: {e}", path.display())))?;
        conn.busy_timeout(READ_BUSY).map_err(store)?;
        Ok(Self { path: path.to_path_buf(), conn: Mutex::new(conn), readers: Mutex::default(), flags })
    }

    /// Runs a lookup on a read connection from the pool (opened when none is idle).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, LookupError>) -> Result<T, LookupError> {
        let idle = self.readers.lock().ok().and_then(|mut v| v.pop());
        let c = match idle {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(&self.path, self.flags)
                    .map_err(|e| store(format!("{}: {e}", self.path.display())))?;
                c.busy_timeout(READ_BUSY).map_err(store)?;
                c
            }
        };
        let r = f(&c);
        if let Ok(mut v) = self.readers.lock() {
            if v.len() < READERS {
                v.push(c);
            }
        }
        r
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, LookupError>) -> Result<T, LookupError> {
        let mut c = self.conn.lock().map_err(|_| store("grants store lock poisoned"))?;
        f(&mut c)
    }

    fn one(c: &Connection, id: i64) -> Result<Option<StoredGrant>, LookupError> {
        let sql = format!("SELECT {COLUMNS} FROM grants WHERE id = ?1");
        let r = c.query_row(&sql, params![id], row).optional().map_err(store)?;
        r.map(stored).transpose()
    }
}

impl Grants for SqliteGrants {
    /// A local file in WAL mode, read on pooled connections: a lookup does not wait for
    /// writers, ours or another process's, and waits at most [`READ_BUSY`] for a lock
    /// that blocks readers.
    fn local(&self) -> bool {
        true
    }

    fn ready(&self) -> Result<(), LookupError> {
        self.read(|c| {
            c.query_row("SELECT count(*) FROM grants", [], |r| r.get::<_, i64>(0)).map(drop).map_err(store)
        })
    }

    fn grants(&self, user: &UserName, _now: DateTime<Utc>) -> Result<Vec<Grant>, LookupError> {
        self.read(|c| {
            let mut st = c
                .prepare_cached(
                    "SELECT grp, start_s, end_s, ticket FROM grants WHERE user = ?1 AND revoked_s IS NULL AND pending = 0",
                )
                .map_err(store)?;
            let rows = st
                .query_map(params![user.as_str()], |r| {
                    Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?))
                })
                .map_err(store)?;
            let mut out = Vec::new();
            for r in rows {
                let (grp, s, e, ticket) = r.map_err(store)?;
                if let (Ok(group), Some(window)) =
                    (GroupName::parse("group", &grp), Interval::new(at(s), at(e)))
                {
                    out.push(Grant { group, window, ticket });
                }
            }
            Ok(out)
        })
    }
}

impl SqliteGrants {
    /// Makes a recorded add effective.
    fn settle_add(&self, id: i64) -> Result<(), LookupError> {
        self.with(|c| {
            c.execute("UPDATE grants SET pending = 0 WHERE id = ?1", params![id]).map(drop).map_err(store)
        })
    }

    /// Removes an add that was never recorded (or whose record says it was abandoned).
    fn drop_pending(&self, id: i64) -> Result<(), LookupError> {
        self.with(|c| {
            c.execute("DELETE FROM grants WHERE id = ?1 AND pending = 1", params![id])
                .map(drop)
                .map_err(store)
        })
    }

    /// Ends a grant whose revocation is recorded.
    fn settle_revoke(&self, id: i64, now: DateTime<Utc>) -> Result<StoredGrant, LookupError> {
        self.with(|c| {
            c.execute(
                "UPDATE grants SET revoked_s = ?2 WHERE id = ?1 AND revoked_s IS NULL",
                params![id, now.timestamp()],
            )
            .map_err(store)?;
            Self::one(c, id)?.ok_or_else(|| store("revoked grant vanished"))
        })
    }

    fn pending(&self, sql: &str) -> Result<Vec<StoredGrant>, LookupError> {
        self.read(|c| {
            let mut st =
                c.prepare(&format!("SELECT {COLUMNS} FROM grants WHERE {sql} ORDER BY id")).map_err(store)?;
            let rows = st.query_map([], row).map_err(store)?;
            rows.map(|r| r.map_err(store).and_then(stored)).collect()
        })
    }
}

impl GrantStore for SqliteGrants {
    fn add(
        &self,
        g: NewGrant,
        now: DateTime<Utc>,
        by: &str,
        record: Record<'_>,
    ) -> Result<StoredGrant, GrantError> {
        let pending = self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(store)?;
            tx.execute(
                "INSERT INTO grants (user, grp, grp_key, start_s, end_s, ticket, approver, created_s, created_by, pending) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1)",
                params![
                    g.user.as_str(),
                    g.group.as_str(),
                    g.group.fold(),
                    g.window.start.timestamp(),
                    g.window.end.timestamp(),
                    g.ticket,
                    g.approver,
                    now.timestamp(),
                    by
                ],
            )
            .map_err(store)?;
            let id = tx.last_insert_rowid();
            let s = Self::one(&tx, id)?.ok_or_else(|| store("inserted grant vanished"))?;
            tx.commit().map_err(store)?;
            Ok(s)
        });
        let pending = pending.map_err(GrantError::Store)?;
        if let Err(e) = record(&pending, None) {
            // Never recorded, never effective: the row goes (or `recover` finds it).
            let _ = self.drop_pending(pending.id);
            return Err(e);
        }
        self.settle_add(pending.id).map_err(|e| {
            GrantError::Store(store(format!(
                "grant {} is recorded but could not be made effective ({e}); it will be recorded as abandoned at the next start",
                pending.id
            )))
        })?;
        Ok(pending)
    }

    fn list(&self, user: Option<&UserName>) -> Result<Vec<StoredGrant>, LookupError> {
        self.read(|c| {
            let sql = format!(
                "SELECT {COLUMNS} FROM grants WHERE (?1 IS NULL OR user = ?1) AND pending = 0 ORDER BY id"
            );
            let mut st = c.prepare(&sql).map_err(store)?;
            let rows = st.query_map(params![user.map(UserName::as_str)], row).map_err(store)?;
            rows.map(|r| r.map_err(store).and_then(stored)).collect()
        })
    }

    fn revoke(
        &self,
        id: i64,
        now: DateTime<Utc>,
        by: &str,
        record: Record<'_>,
    ) -> Result<StoredGrant, GrantError> {
        let r = self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(store)?;
            let pending: Option<i64> = tx
                .query_row("SELECT pending FROM grants WHERE id = ?1", params![id], |r| r.get(0))
                .optional()
                .map_err(store)?;
            let Some(g) = Self::one(&tx, id)?.filter(|_| pending == Some(0)) else {
                return Ok(Err(GrantError::NotFound(id)));
            };
            if g.revoked_at.is_some() {
                return Ok(Err(GrantError::AlreadyRevoked(id)));
            }
            // Who asked is noted first; the grant stays effective until its record is durable.
            tx.execute("UPDATE grants SET revoked_by = ?2 WHERE id = ?1", params![id, by]).map_err(store)?;
            tx.commit().map_err(store)?;
            Ok(Ok(StoredGrant { revoked_at: Some(now), revoked_by: Some(by.to_owned()), ..g }))
        });
        let asked = r.map_err(GrantError::Store)??;
        if let Err(e) = record(&asked, None) {
            let _ = self.with(|c| {
                c.execute(
                    "UPDATE grants SET revoked_by = NULL WHERE id = ?1 AND revoked_s IS NULL",
                    params![id],
                )
                .map(drop)
                .map_err(store)
            });
            return Err(e);
        }
        self.settle_revoke(id, now).map_err(GrantError::Store)
    }

    fn recover(
        &self,
        now: DateTime<Utc>,
        abandoned: Record<'_>,
        revoked: Record<'_>,
    ) -> Result<usize, GrantError> {
        let adds = self.pending("pending = 1").map_err(GrantError::Store)?;
        let revokes = self
            .pending("pending = 0 AND revoked_s IS NULL AND revoked_by IS NOT NULL")
            .map_err(GrantError::Store)?;
        for g in &adds {
            abandoned(g, None)?;
            self.drop_pending(g.id).map_err(GrantError::Store)?;
        }
        for g in &revokes {
            revoked(&StoredGrant { revoked_at: Some(now), ..g.clone() }, None)?;
            self.settle_revoke(g.id, now).map_err(GrantError::Store)?;
        }
        Ok(adds.len() + revokes.len())
    }
}
