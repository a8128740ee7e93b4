//! `sesame policy`: the IAM documents for the configured tag columns and sets — the
//! role's permission policies (split to fit IAM's size limit), its trust policy, and on
//! request a CloudFormation template and Terraform JSON that create everything.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::Value;

use super::common::{load_config, Failure};
use crate::edge::{clock, trust, wiring};
use crate::iam::templates::{cloudformation, terraform, Stack};
use crate::iam::{iam_size, permission_policies, trust_policy, Scope, MANAGED_POLICY_LIMIT};

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Directory for the generated files.
    #[arg(long, value_name = "DIR", default_value = "policies/generated")]
    pub out_dir: PathBuf,
    /// Allow instances of any account (default: only the account of aws.role_arn).
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
}

fn write(dir: &Path, name: &str, v: &Value) -> Result<PathBuf, Failure> {
    std::fs::create_dir_all(dir).map_err(|e| Failure::new(3, format!("{}: {e}", dir.display())))?;
    let p = dir.join(name);
    let text = serde_json::to_string_pretty(v).map_err(|e| Failure::new(3, e.to_string()))? + "\n";
    std::fs::write(&p, text).map_err(|e| Failure::new(3, format!("{}: {e}", p.display())))?;
    Ok(p)
}

pub fn run(config: Option<&Path>, a: PolicyArgs) -> Result<(), Failure> {
    let cfg = load_config(config)?;
    let arn: Vec<&str> = cfg.aws.role_arn.split(':').collect();
    let partition = arn.get(1).copied().unwrap_or("aws").to_owned();
    let account = if a.any_account { "*".to_owned() } else { arn.get(4).copied().unwrap_or("*").to_owned() };
    let region = match a.region {
        Some(r) => {
            crate::core::Region::parse("--region", &r).map_err(|e| Failure::new(2, e))?.as_str().to_owned()
        }
        None => "*".into(),
    };
    let scope = Scope { account, region, partition };
    let spec = &cfg.mapping.spec;
    let perms = permission_policies(spec, &scope).map_err(|e| Failure::new(2, e))?;
    let trust = trust_policy(spec, &cfg.aws.provider_arn, &cfg.aws.acs_url);
    // Old split files would be attached by mistake: remove them first.
    if let Ok(entries) = std::fs::read_dir(&a.out_dir) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("permission-policy-") && n.ends_with(".json") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let t = write(&a.out_dir, "trust-policy.json", &trust)?;
    println!("{}: trust policy ({} characters)", t.display(), iam_size(&trust));
    for (i, p) in perms.iter().enumerate() {
        let f = write(&a.out_dir, &format!("permission-policy-{}.json", i + 1), p)?;
        println!("{}: {} characters of {MANAGED_POLICY_LIMIT}", f.display(), iam_size(p));
    }
    let reaper =
        crate::iam::reaper_policy(&scope, cfg.aws.revoke_credentials.then_some(cfg.aws.role_arn.as_str()));
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
        cfg.aws.role_arn
    );
    if a.cloudformation || a.terraform {
        let (material, _) = wiring::load_keys(&cfg, clock::now()).map_err(|e| Failure::new(3, e))?;
        let xml = trust::metadata(&cfg, &material, clock::now()).map_err(|e| Failure::new(3, e))?;
        let xml = String::from_utf8(xml).map_err(|e| Failure::new(3, e.to_string()))?;
        let stack = Stack {
            provider_name: cfg.aws.provider_arn.rsplit('/').next().unwrap_or("sesame"),
            role_name: cfg.aws.role_arn.rsplit('/').next().unwrap_or("sesame"),
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
    }
    Ok(())
}
