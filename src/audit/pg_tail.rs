//! The PostgreSQL [`RecordFeed`]: decisions, grant changes and session records of
//! every replica's chain, first those written since a cutoff, then those appended
//! since the last call (a cursor per replica on `seq`, which only grows). Pages of at
//! most 5,000 rows; read-only, on the pool.

use std::collections::HashMap;
use std::sync::Arc;

use super::log::AuditError;
use super::record::Record;
use super::tail::RecordFeed;
use crate::db::{Db, DbError};

const PAGE: i64 = 5_000;
const QUERY: &str = "SELECT replica, seq, line FROM audit_records \
     WHERE kind IN ('decision', 'grant', 'session') AND at >= $1 \
       AND seq > COALESCE((($2::text)::jsonb ->> replica)::bigint, 0) \
     ORDER BY replica, seq LIMIT $3";

pub struct PgTail {
    db: Arc<Db>,
    /// Records timed before this (RFC 3339, as `at` holds it) are not wanted.
    cutoff: String,
    seen: HashMap<String, i64>,
}

impl PgTail {
    pub fn new(db: Arc<Db>, cutoff: String) -> Self {
        Self { db, cutoff, seen: HashMap::new() }
    }
}

fn unavailable(e: DbError) -> AuditError {
    AuditError::Unavailable(e.to_string())
}

impl RecordFeed for PgTail {
    fn next(&mut self) -> Result<Vec<Record>, AuditError> {
        let mut out = Vec::new();
        loop {
            let db = self.db.clone();
            let cursor = serde_json::to_string(&self.seen).unwrap_or_else(|_| "{}".into());
            let cutoff = self.cutoff.clone();
            let rows = self
                .db
                .run(async move {
                    let c = db.client().await?;
                    let st = c.prepare_cached(QUERY).await.map_err(|e| DbError::from_pg(&e))?;
                    let rows =
                        c.query(&st, &[&cutoff, &cursor, &PAGE]).await.map_err(|e| DbError::from_pg(&e))?;
                    rows.iter()
                        .map(|r| {
                            Ok((
                                r.try_get::<_, String>(0)?,
                                r.try_get::<_, i64>(1)?,
                                r.try_get::<_, String>(2)?,
                            ))
                        })
                        .collect::<Result<Vec<_>, tokio_postgres::Error>>()
                        .map_err(|e| DbError::from_pg(&e))
                })
                .map_err(unavailable)?;
            let n = rows.len();
            for (replica, seq, line) in rows {
                let r: Record = serde_json::from_str(&line).map_err(|e| {
                    AuditError::Damaged(format!("replica {replica} seq {seq}: a record does not parse: {e}"))
                })?;
                out.push(r);
                let s = self.seen.entry(replica).or_insert(0);
                *s = (*s).max(seq);
            }
            if i64::try_from(n).unwrap_or(PAGE) < PAGE {
                return Ok(out);
            }
        }
    }
}
