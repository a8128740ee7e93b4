//! Step 4's stores: the embedded SQLite store that records grants (`sqlite.rs`) and a
//! read-only TOML file (`file.rs`).

pub mod file;
pub mod sqlite;
