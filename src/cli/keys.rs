//! `sesame keys generate`: a new RSA signing key (mode 0600) and self-signed certificate.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::{load_config, Failure};
use crate::keys::{generate, GenerateSpec};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate an RSA key and a self-signed X.509 certificate for signing assertions.
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// RSA key size in bits: 2048, 3072 or 4096.
    #[arg(long, default_value_t = 2048, value_parser = parse_bits)]
    pub bits: u32,
    /// Where to write the private key (PEM, PKCS#8, mode 0600). Default: keys.signing_key of the configuration.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Where to write the certificate (PEM). Default: keys.signing_cert of the configuration.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Subject common name of the certificate.
    #[arg(long, default_value = "sesame SAML signing")]
    pub cn: String,
    /// Certificate validity in days (1-3650).
    #[arg(long, default_value_t = 730, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,
    /// Replace existing files instead of refusing.
    #[arg(long)]
    pub force: bool,
}

fn parse_bits(s: &str) -> Result<u32, String> {
    match s {
        "2048" | "3072" | "4096" => s.parse().map_err(|_| String::new()),
        _ => Err("must be 2048, 3072 or 4096".into()),
    }
}

pub fn run(config: Option<&Path>, cmd: KeysCommand) -> Result<(), Failure> {
    let KeysCommand::Generate(a) = cmd;
    let (key_path, cert_path) = match (a.key, a.cert) {
        (Some(k), Some(c)) => (k, c),
        (k, c) => {
            let cfg = load_config(config)?;
            (k.unwrap_or(cfg.keys.signing_key), c.unwrap_or(cfg.keys.signing_cert))
        }
    };
    let spec =
        GenerateSpec { bits: a.bits, key_path, cert_path, common_name: a.cn, days: a.days, force: a.force };
    generate(&spec, crate::clock::now()).map_err(|e| Failure::new(3, e))?;
    eprintln!(
        "wrote {} ({}-bit RSA, mode 0600) and {}",
        spec.key_path.display(),
        spec.bits,
        spec.cert_path.display()
    );
    Ok(())
}
