//! `sesame policy`: the IAM documents for the configured tag columns and sets — the
//! role's permission policies (split to fit IAM's size limit), its trust policy, and on
//! request a CloudFormation template and Terraform JSON that create everything. With
//! more accounts, each listed account's documents go to `accounts/<id>/`, and
//! `--stackset` writes one template for a CloudFormation StackSet across accounts.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::Value;

use super::common::{load_config, Failure};
use crate::core::accounts::RolePair;
use crate::edge::{clock, trust, wiring};
use crate::iam::templates::{cloudformation, stackset, terraform, Stack, ACCOUNT_MARKER};
use crate::iam::{iam_size, permission_policies, trust_policy, Scope, MANAGED_POLICY_LIMIT};

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Directory for the generated files.
    #[arg(long, value_name = "DIR", default_value = "policies/generated")]
    pub out_dir: PathBuf,
    /// Allow instances of any account (default: only the role's own account).
    #[arg(long)]
    pub any_account: bool,
    /// Limit to one region (default: every region).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Also write a CloudFormation template (sesame-cloudformation.json) with the SAML
    /// provider created from the current metadata.
    #[arg(long)]
    pub cloudformation: bool,
    /// Also write Terraform JSON (sesame.tf.json).
    #[arg(long)]
    pub terraform: bool,
    /// Also write a CloudFormation template for a StackSet (sesame-stackset.json): the
    /// provider, role and policies in every account it is deployed to, each policy
    /// scoped to that account.
    #[arg(long)]
    pub stackset: bool,
}

fn write(dir: &Path, name: &str, v: &Value) -> Result<PathBuf, Failure> {
    std::fs::create_dir_all(dir).map_err(|e| Failure::new(3, format!("{}: {e}", dir.display())))?;
    let p = dir.join(name);
    let text = serde_json::to_string_pretty(v).map_err(|e| Failure::new(3, e.to_string()))? + "\n";
    std::fs::write(&p, text).map_err(|e| Failure::new(3, format!("{}: {e}", p.display())))?;
    Ok(p)
}

/// Removes split files of an earlier run: they would be attached by mistake.
fn clear_split(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("permission-policy-") && n.ends_with(".json") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// One account's trust and permission policies into `dir`.
fn account_files(dir: &Path, trust: &Value, perms: &[Value]) -> Result<(), Failure> {
    clear_split(dir);
    let t = write(dir, "trust-policy.json", trust)?;
    println!("{}: trust policy ({} characters)", t.display(), iam_size(trust));
    for (i, p) in perms.iter().enumerate() {
        let f = write(dir, &format!("permission-policy-{}.json", i + 1), p)?;
        println!("{}: {} characters of {MANAGED_POLICY_LIMIT}", f.display(), iam_size(p));
    }
    Ok(())
}

fn name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or("sesame")
}

pub fn run(config: Option<&Path>, a: PolicyArgs) -> Result<(), Failure> {
    let cfg = load_config(config)?;
    let accounts = &cfg.aws.accounts;
    let partition = accounts.home.role_arn.split(':').nth(1).unwrap_or("aws").to_owned();
    let region = match a.region {
        Some(r) => {
            crate::core::Region::parse("--region", &r).map_err(|e| Failure::new(2, e))?.as_str().to_owned()
        }
        None => "*".into(),
    };
    let scope_of = |account: &str| Scope {
        account: if a.any_account { "*".to_owned() } else { account.to_owned() },
        region: region.clone(),
        partition: partition.clone(),
    };
    let spec = &cfg.mapping.spec;
    let documents = |pair: &RolePair| -> Result<(Value, Vec<Value>), Failure> {
        let perms = permission_policies(spec, &scope_of(&pair.account)).map_err(|e| Failure::new(2, e))?;
        Ok((trust_policy(spec, &pair.provider_arn, &cfg.aws.acs_url), perms))
    };
    // The home account's documents at the top, as with one account.
    let (trust, perms) = documents(&accounts.home)?;
    account_files(&a.out_dir, &trust, &perms)?;
    if accounts.listed.len() > 1 {
        for pair in accounts.listed.values() {
            let (t, p) = documents(pair)?;
            account_files(&a.out_dir.join("accounts").join(&pair.account), &t, &p)?;
            println!("  for {} (trusting {})", pair.role_arn, pair.provider_arn);
        }
    }
    let scope = scope_of(&accounts.home.account);
    let reaper = crate::iam::reaper_policy(
        &scope,
        cfg.aws.revoke_credentials.then_some(accounts.home.role_arn.as_str()),
    );
    let r = write(&a.out_dir, "reaper-policy.json", &reaper)?;
    println!(
        "{}: the session reaper's policy, for the principal sesame serve runs as ({} characters)",
        r.display(),
        iam_size(&reaper)
    );
    println!(
        "{} sets x {} tags: attach the {} permission polic{} as managed policies to {}",
        spec.max_sets(),
        spec.columns().len(),
        perms.len(),
        if perms.len() == 1 { "y" } else { "ies" },
        accounts.home.role_arn
    );
    if a.cloudformation || a.terraform || a.stackset {
        let (material, _) = wiring::load_keys(&cfg, clock::now()).map_err(|e| Failure::new(3, e))?;
        let xml = trust::metadata(&cfg, &material, clock::now()).map_err(|e| Failure::new(3, e))?;
        let xml = String::from_utf8(xml).map_err(|e| Failure::new(3, e.to_string()))?;
        let stack = Stack {
            provider_name: name(&accounts.home.provider_arn),
            role_name: name(&accounts.home.role_arn),
            max_session_seconds: cfg.policy.role_max_session,
            metadata_xml: &xml,
            trust: &trust,
            permissions: &perms,
        };
        if a.cloudformation {
            println!(
                "{}",
                write(&a.out_dir, "sesame-cloudformation.json", &cloudformation(&stack))?.display()
            );
        }
        if a.terraform {
            println!("{}", write(&a.out_dir, "sesame.tf.json", &terraform(&stack))?.display());
        }
        if a.stackset {
            // One template for every account: the names of the template's pair if there is
            // one (else the home account's); accounts listed with other names are named.
            let names = accounts.template.as_ref().map_or_else(
                || (name(&accounts.home.role_arn).to_owned(), name(&accounts.home.provider_arn).to_owned()),
                |t| (name(&t.role_arn).to_owned(), name(&t.provider_arn).to_owned()),
            );
            let perms =
                permission_policies(spec, &scope_of(ACCOUNT_MARKER)).map_err(|e| Failure::new(2, e))?;
            let set = Stack { role_name: &names.0, provider_name: &names.1, permissions: &perms, ..stack };
            println!("{}", write(&a.out_dir, "sesame-stackset.json", &stackset(&set))?.display());
            for p in accounts
                .listed
                .values()
                .filter(|p| (name(&p.role_arn), name(&p.provider_arn)) != (&names.0[..], &names.1[..]))
            {
                eprintln!(
                    "note: account {} is configured with role {} and provider {}, the StackSet creates role/{} and saml-provider/{}",
                    p.account, name(&p.role_arn), name(&p.provider_arn), names.0, names.1
                );
            }
        }
    }
    Ok(())
}
