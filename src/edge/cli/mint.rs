//! `sesame mint`: the whole request path on the configured sources, printed. Each
//! response is printed only after its audit record is durable.

use std::io::Write;
use std::path::Path;

use clap::{Args, ValueEnum};

use super::common::{instant, load_config, Failure};
use crate::edge::{clock, render, wiring};
use crate::service::mint::{MintError, MintInput, Minted};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The signed Response XML.
    Xml,
    /// The SAMLResponse form value (base64 of the XML), one line.
    Base64,
    /// {saml_response, relay_state, acs_url, assertion_id, response_id, decision}, one line.
    Json,
    /// An HTML page that posts the response to the ACS URL.
    Html,
}

#[derive(Debug, Args)]
pub struct MintArgs {
    /// The person's account name (becomes RoleSessionName and SourceIdentity).
    #[arg(long)]
    pub user: String,
    /// EC2 instance ID (i-…) or managed instance ID (mi-…).
    #[arg(long)]
    pub instance: String,
    /// AWS region of the instance, e.g. us-east-1.
    #[arg(long)]
    pub region: String,
    /// The account you expect the instance in: must be the one the inventory places it
    /// in; picks among the configured accounts only where the inventory does not say.
    #[arg(long, value_name = "ACCOUNT")]
    pub account_id: Option<String>,
    /// Name one role per account where an open set reaches an instance, so the console
    /// shows its role picker (needs an [inventory]; every open set is emitted).
    #[arg(long)]
    pub role_picker: bool,
    /// Pin "now" (RFC 3339, e.g. 2026-12-01T15:00:00Z) instead of reading the clock.
    /// The audit record still carries the real time and notes the pinned one.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Xml)]
    pub format: Format,
    /// Mint N responses for the same request (fresh IDs and sentinel each, one audit
    /// record each), one line per response; for load and crash tests. json or base64 only.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub count: u32,
}

fn exit_code(e: &MintError) -> u8 {
    match e {
        MintError::Input(_) => 2,
        MintError::UnknownUser(_) | MintError::Refused(_) => 1,
        MintError::Lookup(_) | MintError::Build(_) | MintError::Sign(_) | MintError::Audit(_) => 3,
    }
}

fn render(m: &Minted, format: Format) -> Vec<u8> {
    match format {
        Format::Xml => m.xml().to_vec(),
        Format::Base64 => (m.base64() + "\n").into_bytes(),
        Format::Json => (render::minted_text(m) + "\n").into_bytes(),
        Format::Html => render::html_form(m).into_bytes(),
    }
}

pub fn run(config: Option<&Path>, a: MintArgs) -> Result<(), Failure> {
    if a.count > 1 && !matches!(a.format, Format::Json | Format::Base64) {
        return Err(Failure::new(
            2,
            "--count: more than one response needs --format json or base64 (one line each)",
        ));
    }
    let cfg = load_config(config)?;
    let now = instant(a.at.as_deref())?;
    let (material, generated) = wiring::load_keys(&cfg, clock::now()).map_err(|e| Failure::new(3, e))?;
    if generated {
        eprintln!("generated a development signing key: {}", cfg.keys.signing_key.display());
    }
    let audit = wiring::open_audit(&cfg, &material, clock::now()).map_err(|e| Failure::new(3, e))?;
    let minter = wiring::minter(&cfg, &material, audit).map_err(|e| Failure::new(3, e))?;
    let input = MintInput {
        user: a.user,
        instance_id: a.instance,
        region: a.region,
        caller: Some(format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()))),
        request_id: None,
        account_id: a.account_id,
        role_picker: a.role_picker,
    };
    let mut out = std::io::stdout().lock();
    for _ in 0..a.count {
        let now = if a.at.is_some() { now } else { clock::now() };
        match minter.mint_input(&input, now, &clock::nonce()) {
            Ok(m) => {
                out.write_all(&render(&m, a.format))
                    .and_then(|()| out.flush())
                    .map_err(|e| Failure::new(3, format!("stdout: {e}")))?;
            }
            Err(e) => {
                if let (Format::Json, MintError::Refused(d)) = (a.format, &e) {
                    let body = serde_json::json!({"error": {"code": e.code(), "message": e.to_string()},
                                                  "decision": render::decision_json(d)});
                    let _ = out.write_all((body.to_string() + "\n").as_bytes()).and_then(|()| out.flush());
                }
                return Err(Failure::new(exit_code(&e), format!("{} [{}]", e, e.code())));
            }
        }
    }
    Ok(())
}
