//! Step 4's stores: the embedded SQLite store that records grants (`sqlite.rs`) and a
//! read-only TOML file (`file.rs`), and the shared PostgreSQL (`postgres.rs`).

pub mod file;
pub mod postgres;
pub mod sqlite;
