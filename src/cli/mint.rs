//! `sesame mint`: the whole request path on the configured sources, printed.

use std::path::Path;

use clap::{Args, ValueEnum};

use super::{emit, instant, load_config, Failure};
use crate::app;
use crate::mint::MintError;
use crate::render;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// The signed Response XML.
    Xml,
    /// The SAMLResponse form value (base64 of the XML).
    Base64,
    /// {saml_response, relay_state, acs_url, assertion_id, response_id, decision}.
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
    /// Pin "now" (RFC 3339, e.g. 2026-12-01T15:00:00Z) instead of reading the clock.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Xml)]
    pub format: Format,
}

fn exit_code(e: &MintError) -> u8 {
    match e {
        MintError::Input(_) => 2,
        MintError::UnknownUser(_) | MintError::Refused(_) => 1,
        MintError::Lookup(_) | MintError::Build(_) | MintError::Sign(_) => 3,
    }
}

pub fn run(config: Option<&Path>, a: MintArgs) -> Result<(), Failure> {
    let cfg = load_config(config)?;
    let now = instant(a.at.as_deref())?;
    let (material, generated) = app::load_keys(&cfg, crate::clock::now()).map_err(|e| Failure::new(3, e))?;
    if generated {
        eprintln!("generated a development signing key: {}", cfg.keys.signing_key.display());
    }
    let minter = app::minter(&cfg, &material).map_err(|e| Failure::new(3, e))?;
    match minter.mint(&a.user, &a.instance, &a.region, now, &crate::clock::nonce()) {
        Ok(m) => {
            let out = match a.format {
                Format::Xml => m.xml.clone(),
                Format::Base64 => (m.base64() + "\n").into_bytes(),
                Format::Json => (render::minted_json(&m).to_string() + "\n").into_bytes(),
                Format::Html => render::html_form(&m).into_bytes(),
            };
            emit(None, &out)
        }
        Err(e) => {
            if let (Format::Json, MintError::Refused(d)) = (a.format, &e) {
                let body = serde_json::json!({"error": {"code": e.code(), "message": e.to_string()},
                                              "decision": render::decision_json(d)});
                emit(None, (body.to_string() + "\n").as_bytes())?;
            }
            Err(Failure::new(exit_code(&e), format!("{} [{}]", e, e.code())))
        }
    }
}
