//! A lease in the shared database: a session-level advisory lock held by a connection
//! of its own. While the connection lives, no other process gets the same lease; when
//! the holder dies, its connection goes and the lease is free. `held` is checked before
//! every piece of work, so a holder whose connection broke stops at once. The session
//! reaper takes one so that with several replicas exactly one reaps.

use std::sync::Arc;

use super::{Db, DbError};

/// An advisory-lock key: the first 8 bytes of SHA-256(purpose + "\n" + name). The
/// audit chains use purpose `sesame-audit-chain`, leases `sesame-lease`.
pub fn advisory_key(purpose: &str, name: &str) -> i64 {
    let h = openssl::sha::sha256(format!("{purpose}\n{name}").as_bytes());
    i64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]])
}

/// The lease's key.
pub fn lease_key(name: &str) -> i64 {
    advisory_key("sesame-lease", name)
}

pub struct Lease {
    db: Arc<Db>,
    client: Arc<tokio_postgres::Client>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").finish_non_exhaustive()
    }
}

impl Lease {
    /// The lease if it is free; `None` while another process holds it.
    pub fn try_acquire(db: &Arc<Db>, name: &str) -> Result<Option<Lease>, DbError> {
        let key = lease_key(name);
        let d = db.clone();
        let client = db.run(async move {
            let c = d.dedicated().await?;
            let row = c
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .await
                .map_err(|e| DbError::from_pg(&e))?;
            let got: bool = row.try_get(0).map_err(|e| DbError::from_pg(&e))?;
            Ok(got.then_some(c))
        })?;
        Ok(client.map(|c| Lease { db: db.clone(), client: Arc::new(c) }))
    }

    /// Still held: the connection answers (a broken one means the lease may be gone).
    pub fn held(&self) -> bool {
        let c = self.client.clone();
        self.db
            .run(async move { c.simple_query("SELECT 1").await.map(drop).map_err(|e| DbError::from_pg(&e)) })
            .is_ok()
    }
}
