//! `sesame check`: validate configuration, keys and data sources; print what was found.

use std::path::Path;

use clap::Args;

use super::{load_config, Failure};
use crate::app;
use crate::keys;

#[derive(Debug, Args)]
pub struct CheckArgs {}

pub fn run(config: Option<&Path>, _a: CheckArgs) -> Result<(), Failure> {
    let cfg = load_config(config)?;
    println!("configuration: {} — ok", cfg.source_name);
    println!(
        "  tag columns: {}; at most {} sets ({} session tags of AWS's 50)",
        cfg.mapping
            .spec
            .columns()
            .iter()
            .map(|c| format!("{}→{}", c.ec2_key.as_str(), c.principal.as_str()))
            .collect::<Vec<_>>()
            .join(", "),
        cfg.mapping.spec.max_sets(),
        cfg.mapping.spec.max_sets() * cfg.mapping.spec.columns().len()
    );
    println!(
        "  entitlements: {}",
        cfg.mapping.entitlements.iter().map(|e| e.group.as_str()).collect::<Vec<_>>().join(", ")
    );
    let mut problems = Vec::new();
    let k = &cfg.keys;
    if k.generate_if_missing && !app::exists(&k.signing_key) && !app::exists(&k.signing_cert) {
        println!("keys: {} will be generated on first use (development key)", k.signing_key.display());
    } else {
        match keys::load(&k.signing_key, &k.signing_cert) {
            Ok(m) => {
                let bits = m.key.bits();
                println!(
                    "keys: {} ({bits}-bit RSA) matches {} — ok",
                    k.signing_key.display(),
                    k.signing_cert.display()
                );
                let _ = m;
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    if let Err(e) = app::check_sources(&cfg) {
        problems.push(e.to_string());
    }
    for p in &k.publish_certs {
        if let Err(e) = keys::load_cert(p) {
            problems.push(e.to_string());
        }
    }
    if problems.is_empty() {
        println!(
            "data sources: directory, grants, inventory — ok; audit log {} writable",
            cfg.audit.dir.display()
        );
        Ok(())
    } else {
        Err(Failure::new(
            2,
            format!(
                "problems:\n{}",
                problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
            ),
        ))
    }
}
