//! `sesame check`: validate configuration, keys and data sources; with `--user`, resolve
//! one user through the directory and print the groups found and the tag sets they map to.

use std::path::Path;

use clap::Args;

use super::common::{load_config, Failure};
use crate::adapters::directory::ldap::LdapDirectory;
use crate::adapters::UserGroups;
use crate::config::{directory, Config, Source};
use crate::core::UserName;
use crate::edge::{clock, wiring};
use crate::keys;

/// `check` warns when the signing certificate expires within this many days.
pub const EXPIRY_WARNING_DAYS: i32 = 30;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Also resolve this user in the directory: groups found and the tag sets they map to.
    #[arg(long)]
    pub user: Option<String>,
}

fn summary(cfg: &Config) {
    println!("configuration: {} — ok", cfg.source_name);
    let spec = &cfg.mapping.spec;
    let cols: Vec<String> =
        spec.columns().iter().map(|c| format!("{}→{}", c.ec2_key.as_str(), c.principal.as_str())).collect();
    println!(
        "  tag columns: {}; at most {} sets ({} session tags of AWS's 50)",
        cols.join(", "),
        spec.max_sets(),
        spec.max_sets() * spec.columns().len()
    );
    let names: Vec<&str> = cfg.mapping.entitlements.iter().map(|e| e.group.as_str()).collect();
    println!("  entitlements: {}; pattern rules: {}", names.join(", "), cfg.mapping.rules.len());
    for w in directory::warnings(&cfg.directory) {
        println!("warning: {w}");
    }
}

fn resolve(cfg: &Config, user: &str, problems: &mut Vec<String>) {
    let user = match UserName::parse("--user", user) {
        Ok(u) => u,
        Err(e) => return problems.push(e.to_string()),
    };
    let dir = match wiring::directory(&cfg.directory) {
        Ok(d) => d,
        Err(e) => return problems.push(e.to_string()),
    };
    match dir.groups(&user) {
        Err(e) => problems.push(e.to_string()),
        Ok(UserGroups::Unknown) => problems.push(format!("user {user}: not found in the directory")),
        Ok(UserGroups::Disabled) => println!("user {user}: account disabled — no entitlements"),
        Ok(UserGroups::Member(groups)) => {
            println!("user {user}: {} groups", groups.len());
            for g in &groups {
                println!(
                    "  group {} {}",
                    g.name,
                    if g.dn.is_empty() { String::new() } else { format!("({})", g.dn) }
                );
            }
            let (ents, bad) = cfg.mapping.map(&groups);
            for e in &ents {
                let tags: Vec<String> = cfg
                    .mapping
                    .spec
                    .columns()
                    .iter()
                    .zip(&e.values)
                    .map(|(c, v)| format!("{}={}", c.ec2_key.as_str(), v.as_str()))
                    .collect();
                println!("  tag set {}: {}", e.group, tags.join(", "));
            }
            for b in bad {
                println!("  not mapped: {b}");
            }
            if ents.is_empty() {
                println!("  no group maps to a tag set");
            }
        }
    }
}

pub fn run(config: Option<&Path>, a: CheckArgs) -> Result<(), Failure> {
    let cfg = load_config(config)?;
    summary(&cfg);
    let mut problems = Vec::new();
    let k = &cfg.keys;
    if k.generate_if_missing && !k.signing_key.exists() && !k.signing_cert.exists() {
        println!("keys: {} will be generated on first use (development key)", k.signing_key.display());
    } else {
        match keys::load(&k.signing_key, &k.signing_cert) {
            Ok(m) => {
                println!(
                    "keys: {} ({}-bit RSA) matches {} — ok",
                    k.signing_key.display(),
                    m.key.bits(),
                    k.signing_cert.display()
                );
                match crate::keys::rotation::days_left(&m.cert, clock::now()) {
                    Ok(d) if d < 0 => problems.push(format!("{}: the signing certificate expired {} days ago", k.signing_cert.display(), -d)),
                    Ok(d) if d < EXPIRY_WARNING_DAYS => println!(
                        "warning: {}: the signing certificate expires in {d} days; rotate now (`sesame keys rotate`, see README)",
                        k.signing_cert.display()
                    ),
                    Ok(d) => println!("  certificate valid for {d} more days"),
                    Err(e) => problems.push(e.to_string()),
                }
                let slots = crate::keys::rotation::Slots::of(&k.signing_key, &k.signing_cert);
                if slots.next_key.exists() {
                    println!(
                        "  rotation: a next key is published ({}); promote it once IAM has the metadata",
                        slots.next_key.display()
                    );
                }
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    if let Source::Ldap(l) = &cfg.directory {
        match LdapDirectory::new((**l).clone()).and_then(|d| d.probe()) {
            Ok(ad) => println!(
                "directory: {} — connected and bound as {} ({})",
                l.url,
                l.bind_dn,
                if ad { "Active Directory" } else { "LDAPv3" }
            ),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if let Err(e) = wiring::check_sources(&cfg) {
        problems.push(e.to_string());
    }
    for p in &k.publish_certs {
        if let Err(e) = keys::load_cert(p) {
            problems.push(e.to_string());
        }
    }
    if let Some(user) = &a.user {
        resolve(&cfg, user, &mut problems);
    }
    if problems.is_empty() {
        println!(
            "data sources: directory, grants, inventory — ok; audit log {} writable",
            cfg.audit.dir.display()
        );
        Ok(())
    } else {
        let list: Vec<String> = problems.iter().map(|p| format!("  - {p}")).collect();
        Err(Failure::new(2, format!("problems:\n{}", list.join("\n"))))
    }
}
