//! `sesame metadata`: the IdP metadata document for IAM create-saml-provider.

use std::path::{Path, PathBuf};

use clap::Args;

use super::common::{emit, instant, load_config, Failure};
use crate::edge::{clock, trust, wiring};

#[derive(Debug, Args)]
pub struct MetadataArgs {
    /// Write to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Pin "now" (RFC 3339); validUntil = now + idp.metadata_valid_days.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
}

pub fn run(config: Option<&Path>, a: MetadataArgs) -> Result<(), Failure> {
    let cfg = load_config(config)?;
    let now = instant(a.at.as_deref())?;
    let (material, generated) = wiring::load_keys(&cfg, clock::now()).map_err(|e| Failure::new(3, e))?;
    if generated {
        eprintln!("generated a development signing key: {}", cfg.keys.signing_key.display());
    }
    let xml = trust::metadata(&cfg, &material, now).map_err(|e| Failure::new(3, e))?;
    emit(a.out.as_deref(), &xml)
}
