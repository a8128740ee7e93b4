//! Fixture: the real PostgreSQL started once per run by `scripts/test`
//! (`scripts/postgres.sh`: TLS on, loopback only, roles pgadmin / sesame_owner /
//! sesame). Each test gets its own database, migrated by `sesame db migrate` as the
//! schema owner, and servers configured with `grants.kind` and `audit.kind =
//! "postgres"`. Admin SQL goes through `psql` as pgadmin over the server's socket.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::common::sesame;
use crate::server::{Server, ALL_ROLES};

/// Settings written by `scripts/postgres.sh start DIR` (DIR/env).
pub struct PgEnv(HashMap<String, String>);

impl PgEnv {
    pub fn load() -> Self {
        Self::from_file(&std::env::var("SESAME_TEST_PG").unwrap_or_else(|_| {
            panic!(
                "SESAME_TEST_PG is not set: run the suite with scripts/test, which starts PostgreSQL \
                 (or scripts/postgres.sh start DIR and export SESAME_TEST_PG=DIR/env)"
            )
        }))
    }
    pub fn from_file(path: &str) -> Self {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        Self(text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect())
    }
    pub fn get(&self, k: &str) -> &str {
        &self.0[k]
    }

    /// Runs SQL as `role` (pgadmin by default) in `db`; returns psql's unaligned output.
    pub fn psql_as(&self, role: &str, password_key: &str, db: &str, sql: &str) -> Result<String, String> {
        let pw = std::fs::read_to_string(self.get(password_key)).unwrap();
        let out = Command::new("psql")
            .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", self.get("PG_SOCK"), "-p", self.get("PG_PORT"), "-U", role, "-d", db, "-c", sql])
            .env("PGPASSWORD", pw.trim())
            .output()
            .unwrap();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }

    pub fn admin(&self, db: &str, sql: &str) -> String {
        self.psql_as("pgadmin", "PG_ADMIN_PASSWORD_FILE", db, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A database of its own, dropped (forcibly) with the value.
pub struct TestDb {
    pub env: PgEnv,
    pub name: String,
}

impl TestDb {
    /// A new, empty database owned by sesame_owner (not migrated).
    pub fn empty() -> Self {
        Self::empty_in(PgEnv::load())
    }

    pub fn empty_in(env: PgEnv) -> Self {
        let name = format!("t{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        env.admin("postgres", &format!("CREATE DATABASE {name} OWNER sesame_owner"));
        env.admin(&name, "REVOKE CREATE ON SCHEMA public FROM PUBLIC");
        TestDb { env, name }
    }

    /// A new database migrated by `sesame db migrate` as the schema owner.
    pub fn migrated() -> Self {
        let db = Self::empty();
        let cfg = db.cli_config("migrate");
        let out = db.migrate(&cfg);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        db
    }

    pub fn migrate(&self, cfg: &crate::common::TempConfig) -> std::process::Output {
        sesame()
            .arg("--config")
            .arg(&cfg.path)
            .args(["db", "migrate", "--user", "sesame_owner", "--password-file"])
            .arg(self.env.get("PG_OWNER_PASSWORD_FILE"))
            .output()
            .unwrap()
    }

    pub fn sql(&self, sql: &str) -> String {
        self.env.admin(&self.name, sql)
    }

    /// The `[database]` table for this database as the sesame role.
    pub fn database_toml(&self) -> String {
        format!(
            "[database]\nhost = \"127.0.0.1\"\nport = {}\ndbname = \"{}\"\nuser = \"sesame\"\npassword_file = {:?}\nca_file = {:?}\nconnect_timeout_ms = 2000\nstatement_timeout_ms = 2000\npool_wait_ms = 2000\n",
            self.env.get("PG_PORT"),
            self.name,
            self.env.get("PG_PASSWORD_FILE"),
            self.env.get("PG_CA"),
        )
    }

    /// Rewrites a configuration text to keep grants and audit in this database.
    pub fn edit(&self, text: &str, replica: &str) -> String {
        let text = replace_table(text, "grants", "[grants]\nkind = \"postgres\"\nmax_seconds = 157680000\n");
        let text = replace_table(
            &text,
            "audit",
            &format!("[audit]\nkind = \"postgres\"\nreplica = \"{replica}\"\ncheckpoint_every = 50\n"),
        );
        format!("{text}\n{}", self.database_toml())
    }

    /// A CLI configuration (no server) on this database.
    pub fn cli_config(&self, replica: &str) -> crate::common::TempConfig {
        let cfg = crate::common::temp_config("", &[]);
        let text = std::fs::read_to_string(&cfg.path).unwrap();
        std::fs::write(&cfg.path, self.edit(&text, replica)).unwrap();
        cfg
    }

    /// `sesame serve` as replica `replica` on this database, with a management listener.
    pub fn serve(&self, replica: &str) -> Replica {
        self.serve_with(replica, "", &[])
    }

    /// As [`TestDb::serve`], with `extra` appended to the configuration and `vars` in
    /// the server's environment.
    pub fn serve_with(&self, replica: &str, extra: &str, vars: &[(&str, String)]) -> Replica {
        let env = crate::common::temp_config("", &[]);
        let tls_dir = env.dir.path().join("tls");
        let text = std::fs::read_to_string(&env.path).unwrap();
        let text = format!(
            "{}\n[server]\nlisten = \"127.0.0.1:0\"\nmanagement_listen = \"127.0.0.1:0\"\ndev_tls_dir = {:?}\n\n[[server.client]]\nidentity = \"cn:demo-access-manager\"\nroles = {ALL_ROLES}\n{extra}",
            self.edit(&text, replica),
            tls_dir.display().to_string()
        );
        std::fs::write(&env.path, text).unwrap();
        let mut server = spawn_lines(env, tls_dir, vars);
        let management = server.1.take().unwrap_or_default();
        Replica { server: server.0, management }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = self.env.psql_as(
            "pgadmin",
            "PG_ADMIN_PASSWORD_FILE",
            "postgres",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// Replaces the `[name]` table (up to the next table) with `with`.
pub fn replace_table(text: &str, name: &str, with: &str) -> String {
    let head = format!("\n[{name}]");
    let Some(a) = text.find(&head) else { return format!("{text}\n{with}") };
    let b = text[a + 1..].find("\n[").map_or(text.len(), |i| a + 1 + i);
    format!("{}\n{with}{}", &text[..a], &text[b..])
}

/// A replica and its management listener's URL.
pub struct Replica {
    pub server: Server,
    pub management: String,
}

impl std::ops::Deref for Replica {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.server
    }
}

/// As `server::spawn`, reading the management line too.
fn spawn_lines(
    env: crate::common::TempConfig,
    tls_dir: std::path::PathBuf,
    vars: &[(&str, String)],
) -> (Server, Option<String>) {
    let mut child = sesame()
        .arg("--config")
        .arg(&env.path)
        .arg("serve")
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .env("SESAME_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let (mut first, mut second) = (String::new(), String::new());
    reader.read_line(&mut first).unwrap();
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("server did not start: {first:?}"));
    reader.read_line(&mut second).unwrap();
    let management = second.trim().strip_prefix("management on ").map(str::to_owned);
    let server =
        Server { child, url: url.to_owned(), tls: sesame::keys::dev_tls::DevTls::in_dir(&tls_dir), env };
    (server, management)
}
