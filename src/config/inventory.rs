//! `[inventory] kind = "aws-config"` validated: the region asked, an aggregator name,
//! the stand-in's endpoint (loopback or https only), cache and timeouts in range.

use super::model::{AwsConfigSource, Source};
use super::problems::Problems;
use super::raw::RawInventory;

/// `[inventory] kind = "aws-config"`: every field checked, the problems named.
pub fn aws_config_source(p: &mut Problems, inv: &RawInventory) -> Source {
    let region = match inv.region.as_deref() {
        Some(r) if crate::core::Region::parse("inventory.region", r).is_ok() => r.to_owned(),
        Some(r) => {
            p.push("inventory.region", format!("{r:?} is not an AWS region (like us-east-1)"));
            String::new()
        }
        None => {
            p.push(
                "inventory.region",
                "is required with kind = \"aws-config\" (the region asked, or the aggregator's)",
            );
            String::new()
        }
    };
    let aggregator = inv.aggregator.clone();
    if let Some(a) = &aggregator {
        let ok = (1..=256).contains(&a.len())
            && a.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
        if !ok {
            p.push(
                "inventory.aggregator",
                "must be 1-256 characters of letters, digits, - and _ (an aggregator name)",
            );
        }
    }
    if let Some(u) = &inv.endpoint_url {
        if !(u.starts_with("http://127.0.0.1:")
            || u.starts_with("http://[::1]:")
            || u.starts_with("https://"))
        {
            p.push("inventory.endpoint_url", "must be https://…, or http:// on loopback (a test stand-in)");
        }
    }
    let num = |p: &mut Problems, k: &str, v: Option<i64>, default: i64, lo: i64, hi: i64| -> i64 {
        match v {
            None => default,
            Some(n) if (lo..=hi).contains(&n) => n,
            Some(n) => {
                p.push(format!("inventory.{k}"), format!("must be {lo}-{hi} (got {n})"));
                default
            }
        }
    };
    let cache = num(p, "cache_seconds", inv.cache_seconds, 300, 0, 86_400);
    let timeout = num(p, "timeout_ms", inv.timeout_ms, 3_000, 100, 60_000);
    let attempts = num(p, "attempts", inv.attempts, 3, 1, 10);
    Source::AwsConfig(Box::new(AwsConfigSource {
        region,
        aggregator,
        endpoint_url: inv.endpoint_url.clone(),
        cache_seconds: u64::try_from(cache).unwrap_or(300),
        timeout_ms: u64::try_from(timeout).unwrap_or(3_000),
        attempts: u32::try_from(attempts).unwrap_or(3),
    }))
}
