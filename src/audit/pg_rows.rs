//! The rows of one batch of the PostgreSQL audit writer (`pg_writer.rs`): records
//! onto the chain and into the columns of one multi-row INSERT (prepared once per
//! connection), checkpoints when due, and grant changes run under a savepoint.

use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Statement};

use super::chain::Chain;
use super::log::{AuditError, Receipt};
use super::record::{Entry, Kind};
use super::writer::Reply;
use crate::db::{DbError, Effect};

/// One record waiting for its batch.
pub(super) struct Item {
    pub kind: Kind,
    pub entry: Entry,
    pub effect: Option<Effect>,
    pub reply: Reply,
}

/// How a batch ended when it did not commit.
pub(super) enum Outcome {
    /// Rolled back: nothing of the batch is in the database.
    Failed(AuditError),
    /// COMMIT sent, no answer: the batch may or may not be in the database.
    Unknown(AuditError),
}

/// One record onto the chain and into the batch's rows; its receipt waits for COMMIT.
pub(super) fn chain_row(
    chain: &mut Chain,
    item: Item,
    done: &mut Vec<(Reply, Result<Receipt, AuditError>)>,
    rows: &mut Rows,
) -> Result<(), Outcome> {
    let (usr, aid) = (item.entry.user.clone(), item.entry.assertion_id.clone());
    let kind = item.kind;
    let (line, receipt) = chain.push(kind.clone(), item.entry).map_err(Outcome::Failed)?;
    rows.add(&kind, &chain.last_time, usr, aid, receipt.hash(), receipt.seq(), line)?;
    done.push((item.reply, Ok(receipt)));
    Ok(())
}

/// A checkpoint row when one is due.
pub(super) fn checkpoint_row(chain: &mut Chain, rows: &mut Rows) -> Result<(), Outcome> {
    if chain.checkpoint_due() {
        if let Some(line) = chain.checkpoint().map_err(Outcome::Failed)? {
            let (seq, hash) = chain.saved();
            rows.add(&Kind::Checkpoint, &chain.last_time, None, None, &hash, seq, line)?;
        }
    }
    Ok(())
}

/// Runs an effect under a savepoint: `Ok(true)` when it touched the rows it must.
pub(super) async fn run_effect(
    tx: &mut tokio_postgres::Transaction<'_>,
    fx: &Effect,
) -> Result<bool, tokio_postgres::Error> {
    let sp = tx.savepoint("sesame_effect").await?;
    let params: Vec<&(dyn ToSql + Sync)> = fx.params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect();
    match sp.execute(fx.sql, &params).await {
        Ok(n) if n == fx.rows => {
            sp.commit().await?;
            Ok(true)
        }
        Ok(_) => {
            sp.rollback().await?;
            Ok(false)
        }
        Err(e) if e.as_db_error().is_some() => {
            tracing::warn!(error = %DbError::from_pg(&e), "a grant change was refused by the database");
            sp.rollback().await?;
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// One multi-row INSERT: a batch's records as arrays (prepared once per connection).
pub(super) const INSERT: &str = "INSERT INTO audit_records (replica, seq, kind, at, usr, assertion_id, hash, line) \
     SELECT $1, * FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])";

/// The columns of one multi-row INSERT.
#[derive(Default)]
pub(super) struct Rows {
    seq: Vec<i64>,
    kind: Vec<String>,
    at: Vec<String>,
    usr: Vec<Option<String>>,
    aid: Vec<Option<String>>,
    hash: Vec<String>,
    line: Vec<String>,
}

impl Rows {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn add(
        &mut self,
        kind: &Kind,
        at: &str,
        usr: Option<String>,
        aid: Option<String>,
        hash: &str,
        seq: u64,
        line: Vec<u8>,
    ) -> Result<(), Outcome> {
        // serde_json writes UTF-8; anything else would not hash the same, so refuse it.
        let line = String::from_utf8(line)
            .map_err(|_| Outcome::Failed(AuditError::Unavailable("a record is not UTF-8".into())))?;
        self.seq.push(i64::try_from(seq).unwrap_or(i64::MAX));
        self.kind.push(
            serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
        );
        self.at.push(at.to_owned());
        self.usr.push(usr);
        self.aid.push(aid);
        self.hash.push(hash.to_owned());
        self.line.push(line);
        Ok(())
    }

    pub(super) fn len(&self) -> usize {
        self.seq.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.seq.is_empty()
    }

    pub(super) async fn insert(
        &self,
        c: &impl GenericClient,
        st: &Statement,
        replica: &str,
    ) -> Result<u64, tokio_postgres::Error> {
        c.execute(
            st,
            &[&replica, &self.seq, &self.kind, &self.at, &self.usr, &self.aid, &self.hash, &self.line],
        )
        .await
    }
}
