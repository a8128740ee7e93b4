//! Step 5's optional source of instance tags: a TOML file (`file.rs`).

pub mod file;
