//! Grants in the shared PostgreSQL (`grants.kind = "postgres"`): every lookup reads the
//! table (no cache), so a revocation committed through any replica holds on every
//! replica for the next request. A change and its audit record commit in one
//! transaction: the store describes the change as an [`crate::db::Effect`] and hands it to the
//! record function, which gives it to the PostgreSQL audit writer (`audit.kind =
//! "postgres"` is required); there is no pending state and nothing to recover.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_postgres::Row;

use crate::adapters::{GrantError, GrantStore, Grants, LookupError, NewGrant, Record, StoredGrant};
use crate::core::{Grant, GroupName, Interval, UserName};
use crate::db::{Db, DbError, Effect};

pub struct PgGrants {
    db: Arc<Db>,
}

fn store(e: DbError) -> LookupError {
    LookupError::Grants(e.to_string())
}

fn pg(e: tokio_postgres::Error) -> DbError {
    DbError::from_pg(&e)
}

const COLUMNS: &str =
    "id, usr, grp, start_at, end_at, ticket, approver, created_at, created_by, revoked_at, revoked_by";

fn stored(r: &Row) -> Result<StoredGrant, LookupError> {
    let id: i64 = r.get(0);
    let bad = |m: String| LookupError::Grants(format!("grant {id}: {m}"));
    Ok(StoredGrant {
        id,
        user: UserName::parse("user", r.get(1)).map_err(|e| bad(e.rule.to_string()))?,
        group: GroupName::parse("group", r.get(2)).map_err(|e| bad(e.rule.to_string()))?,
        window: Interval::new(r.get(3), r.get(4)).ok_or_else(|| bad("end before start".into()))?,
        ticket: r.get(5),
        approver: r.get(6),
        created_at: r.get(7),
        created_by: r.get(8),
        revoked_at: r.get(9),
        revoked_by: r.get(10),
    })
}

impl PgGrants {
    pub fn new(db: Arc<Db>) -> Self {
        PgGrants { db }
    }

    fn one(&self, id: i64) -> Result<Option<StoredGrant>, LookupError> {
        let db = self.db.clone();
        let row = self
            .db
            .run(async move {
                let c = db.client().await?;
                let sql = format!("SELECT {COLUMNS} FROM grants WHERE id = $1");
                c.query_opt(&sql, &[&id]).await.map_err(pg)
            })
            .map_err(store)?;
        row.as_ref().map(stored).transpose()
    }

    fn next_id(&self) -> Result<i64, LookupError> {
        let db = self.db.clone();
        self.db
            .run(async move {
                let c = db.client().await?;
                let r = c.query_one("SELECT nextval('grants_id_seq')", &[]).await.map_err(pg)?;
                Ok(r.get(0))
            })
            .map_err(store)
    }
}

impl Grants for PgGrants {
    fn grants(&self, user: &UserName, _now: DateTime<Utc>) -> Result<Vec<Grant>, LookupError> {
        let (db, u) = (self.db.clone(), user.as_str().to_owned());
        let rows = self
            .db
            .run(async move {
                let c = db.client().await?;
                let st = c
                    .prepare_cached("SELECT grp, start_at, end_at, ticket FROM grants WHERE usr = $1 AND revoked_at IS NULL")
                    .await
                    .map_err(pg)?;
                c.query(&st, &[&u]).await.map_err(pg)
            })
            .map_err(store)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let group =
                GroupName::parse("group", r.get(0)).map_err(|e| LookupError::Grants(e.rule.to_string()))?;
            if let Some(window) = Interval::new(r.get(1), r.get(2)) {
                out.push(Grant { group, window, ticket: r.get(3) });
            }
        }
        Ok(out)
    }

    fn ready(&self) -> Result<(), LookupError> {
        self.db.ping().map_err(store)
    }
}

impl GrantStore for PgGrants {
    fn add(
        &self,
        g: NewGrant,
        now: DateTime<Utc>,
        by: &str,
        record: Record<'_>,
    ) -> Result<StoredGrant, GrantError> {
        let id = self.next_id().map_err(GrantError::Store)?;
        let s = StoredGrant {
            id,
            user: g.user,
            group: g.group,
            window: g.window,
            ticket: g.ticket,
            approver: g.approver,
            created_at: now,
            created_by: by.to_owned(),
            revoked_at: None,
            revoked_by: None,
        };
        let effect = Effect {
            sql: "INSERT INTO grants (id, usr, grp, start_at, end_at, ticket, approver, created_at, created_by) \
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            params: vec![
                Box::new(s.id),
                Box::new(s.user.as_str().to_owned()),
                Box::new(s.group.as_str().to_owned()),
                Box::new(s.window.start),
                Box::new(s.window.end),
                Box::new(s.ticket.clone()),
                Box::new(s.approver.clone()),
                Box::new(s.created_at),
                Box::new(s.created_by.clone()),
            ],
            rows: 1,
            refused: format!("grant {id} could not be inserted"),
        };
        record(&s, Some(effect))?;
        Ok(s)
    }

    fn list(&self, user: Option<&UserName>) -> Result<Vec<StoredGrant>, LookupError> {
        let (db, u) = (self.db.clone(), user.map(|u| u.as_str().to_owned()));
        let rows = self
            .db
            .run(async move {
                let c = db.client().await?;
                let sql =
                    format!("SELECT {COLUMNS} FROM grants WHERE ($1::text IS NULL OR usr = $1) ORDER BY id");
                c.query(&sql, &[&u]).await.map_err(pg)
            })
            .map_err(store)?;
        rows.iter().map(stored).collect()
    }

    fn revoke(
        &self,
        id: i64,
        now: DateTime<Utc>,
        by: &str,
        record: Record<'_>,
    ) -> Result<StoredGrant, GrantError> {
        let g = self.one(id).map_err(GrantError::Store)?.ok_or(GrantError::NotFound(id))?;
        if g.revoked_at.is_some() {
            return Err(GrantError::AlreadyRevoked(id));
        }
        let revoked = StoredGrant { revoked_at: Some(now), revoked_by: Some(by.to_owned()), ..g };
        let effect = Effect {
            sql: "UPDATE grants SET revoked_at = $2, revoked_by = $3 WHERE id = $1 AND revoked_at IS NULL",
            params: vec![Box::new(id), Box::new(now), Box::new(by.to_owned())],
            rows: 1,
            refused: format!("grant {id} is already revoked"),
        };
        match record(&revoked, Some(effect)) {
            Ok(()) => Ok(revoked),
            // Another replica revoked it between our read and our transaction.
            Err(GrantError::Conflict(_)) => Err(GrantError::AlreadyRevoked(id)),
            Err(e) => Err(e),
        }
    }

    /// Nothing is ever half-done here: a change and its record commit together.
    fn recover(
        &self,
        _now: DateTime<Utc>,
        _abandoned: Record<'_>,
        _revoked: Record<'_>,
    ) -> Result<usize, GrantError> {
        Ok(0)
    }
}
