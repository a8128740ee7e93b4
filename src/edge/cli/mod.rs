//! The command line: parse with clap, call the library, print. One file per subcommand.
//!
//! Exit codes: 0 success; 1 refused (no entitlement, or check found problems in data);
//! 2 bad input or configuration; 3 a dependency failed (key, files, signing).

mod access;
mod audit;
mod chains;
mod check;
pub mod common;
mod db;
mod grants;
mod keys;
mod metadata;
mod mint;
mod policy;
mod reconcile;
mod route;
mod serve;
mod sessions;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use common::Failure;

#[derive(Debug, Parser)]
#[command(
    name = "sesame",
    version,
    about = "Mints signed SAML 2.0 responses for AWS sign-in with time-bound, tag-scoped Session Manager access",
    long_about = "sesame reads a person's entitlements (directory groups mapped to EC2 tag sets) and approved \
                  time windows, and signs a SAML response whose PrincipalTag attributes are real inside the \
                  window and unmatchable outside it.\n\nWithout --config or SESAME_CONFIG the embedded default \
                  (the demo under policies/, development keys in keys/) is used.",
    after_help = "Exit codes: 0 ok, 1 refused, 2 bad input or configuration, 3 a dependency failed."
)]
pub struct Cli {
    /// Configuration file (TOML). Default: the embedded demo configuration.
    #[arg(long, global = true, env = "SESAME_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Print the IdP metadata to upload to IAM (create-saml-provider).
    Metadata(metadata::MetadataArgs),
    /// Mint a signed SAML response for one user, instance and region.
    Mint(mint::MintArgs),
    /// The launcher's view: a person's entitlements, open or closed now (until when, or
    /// from when), and the instances each covers with their console links.
    Access(access::AccessArgs),
    /// Write the IAM permission and trust policies (and CloudFormation / Terraform).
    Policy(policy::PolicyArgs),
    /// Serve the minting API over mutual TLS (POST /v1/assertions, grants, metadata, metrics).
    Serve(serve::ServeArgs),
    /// Validate the configuration, keys and data sources; list every problem.
    Check(check::CheckArgs),
    /// Record, list and revoke approved windows (the embedded grants store).
    #[command(subcommand)]
    Grants(grants::GrantsCommand),
    /// Verify, search and show the assertion log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// The shared PostgreSQL's schema: migrate, status.
    #[command(subcommand)]
    Db(db::DbCommand),
    /// Session Manager sessions: list a person's, run the reaper once.
    #[command(subcommand)]
    Sessions(sessions::SessionsCommand),
}

/// Runs one parsed command; returns what to print on success.
pub fn run(cli: Cli) -> Result<(), Failure> {
    let config = cli.config.as_deref();
    match cli.command {
        Command::Keys(k) => keys::run(config, k),
        Command::Metadata(a) => metadata::run(config, a),
        Command::Mint(a) => mint::run(config, a),
        Command::Access(a) => access::run(config, a),
        Command::Serve(a) => serve::run(config, a),
        Command::Policy(a) => policy::run(config, a),
        Command::Check(a) => check::run(config, a),
        Command::Audit(a) => audit::run(config, a),
        Command::Grants(a) => grants::run(config, a),
        Command::Db(a) => db::run(config, a),
        Command::Sessions(a) => sessions::run(config, a),
    }
}
