//! Step 5's optional source of instance tags: a TOML file (`file.rs`), or AWS Config
//! through the AWS SDK (`aws_config.rs`: one account, or many through an aggregator).

pub mod aws_config;
pub mod file;
