//! `sesame keys generate`: a new RSA signing key (mode 0600) and self-signed certificate.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::common::{load_config, Failure};
use crate::edge::clock;
use crate::keys::{generate, GenerateSpec};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate an RSA key and a self-signed X.509 certificate for signing assertions.
    Generate(GenerateArgs),
    /// Rotation step 1: create the next key (<key>.next); metadata then publishes it.
    Rotate(RotateArgs),
    /// Rotation step 2, after IAM has the new metadata: the next key signs from now on
    /// (SIGHUP a running server); the old one stays published as <cert>.previous.
    Promote,
    /// Rotation step 3, after the longest session has ended: delete the previous key,
    /// keep its certificate as <cert>.retired-<time> for auditors.
    Retire,
    /// Show every key slot with its certificate fingerprint and expiry.
    Status,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// RSA key size in bits: 2048, 3072 or 4096.
    #[arg(long, default_value_t = 2048, value_parser = parse_bits)]
    pub bits: u32,
    /// Certificate validity in days (1-3650).
    #[arg(long, default_value_t = 730, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,
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

fn slot_line(name: &str, cert: &Path) {
    match crate::keys::load_cert(cert) {
        Ok(c) => {
            let fp =
                c.to_der().map(|d| crate::core::text::hex(&openssl::sha::sha256(&d))).unwrap_or_default();
            let left = crate::keys::rotation::days_left(&c, clock::now())
                .map(|d| format!("{d} days left"))
                .unwrap_or_default();
            println!("{name:9} {} sha256:{} ({left})", cert.display(), fp.get(..16).unwrap_or_default());
        }
        Err(_) => println!("{name:9} {} (none)", cert.display()),
    }
}

pub fn run(config: Option<&Path>, cmd: KeysCommand) -> Result<(), Failure> {
    let a = match cmd {
        KeysCommand::Generate(a) => a,
        other => {
            let cfg = load_config(config)?;
            let slots = crate::keys::rotation::Slots::of(&cfg.keys.signing_key, &cfg.keys.signing_cert);
            let now = clock::now();
            match other {
                KeysCommand::Rotate(r) => {
                    crate::keys::rotation::rotate(&slots, r.bits, r.days, now)
                        .map_err(|e| Failure::new(3, e))?;
                    println!("next key {} created; publish the metadata (`sesame metadata`) to IAM, then `sesame keys promote`", slots.next_key.display());
                }
                KeysCommand::Promote => {
                    crate::keys::rotation::promote(&slots).map_err(|e| Failure::new(3, e))?;
                    println!("the next key now signs; SIGHUP a running `sesame serve`; retire the previous key after the longest session has ended");
                }
                KeysCommand::Retire => {
                    let kept = crate::keys::rotation::retire(&slots, now).map_err(|e| Failure::new(3, e))?;
                    println!(
                        "previous key deleted; its certificate is kept as {}; publish the metadata again",
                        kept.display()
                    );
                }
                KeysCommand::Status | KeysCommand::Generate(_) => {
                    slot_line("current", &slots.cert);
                    slot_line("next", &slots.next_cert);
                    slot_line("previous", &slots.previous_cert);
                    for r in slots.retired() {
                        slot_line("retired", &r);
                    }
                }
            }
            return Ok(());
        }
    };
    let (key_path, cert_path) = match (a.key, a.cert) {
        (Some(k), Some(c)) => (k, c),
        (k, c) => {
            let cfg = load_config(config)?;
            (k.unwrap_or(cfg.keys.signing_key), c.unwrap_or(cfg.keys.signing_cert))
        }
    };
    let spec =
        GenerateSpec { bits: a.bits, key_path, cert_path, common_name: a.cn, days: a.days, force: a.force };
    generate(&spec, clock::now()).map_err(|e| Failure::new(3, e))?;
    eprintln!(
        "wrote {} ({}-bit RSA, mode 0600) and {}",
        spec.key_path.display(),
        spec.bits,
        spec.cert_path.display()
    );
    Ok(())
}
