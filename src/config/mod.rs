//! Configuration: `raw.rs` (serde, unknown keys rejected) → `load.rs` (every rule,
//! every problem with its location, `problems.rs`) → `model.rs` (the validated
//! [`Config`]). `policy.rs` reads the entitlement and schedule files, `directory.rs`
//! the `[directory]` section (LDAP settings, the bind password), `server.rs`
//! `[server]`, `database.rs` `[database]`, `accounts.rs` the accounts' role/provider pairs, `inventory.rs` `[inventory] kind = "aws-config"`.
//!
//! Invariant: configuration depends only on the core's types; adapters and edges read
//! it, never the other way round.

pub mod accounts;
pub mod database;
pub mod directory;
pub mod inventory;
pub mod load;
pub mod model;
pub mod policy;
pub mod problems;
pub mod raw;
pub mod reaper;
pub mod server;

pub use load::EMBEDDED_DEFAULT;
pub use model::{
    Audit, AuditSink, Aws, AwsConfigSource, Config, Database, GroupMode, Idp, Keys, LdapConfig, Reaper,
    SigningEngine, Source, Webhook,
};
pub use problems::{ConfigError, Problems};
