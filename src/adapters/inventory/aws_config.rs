//! The inventory from AWS Config through the official AWS SDK for Rust (aws-sdk-config):
//! SelectResourceConfig in one account, or SelectAggregateResourceConfig through an
//! aggregator for many — Config instead of the EC2 APIs, which throttle at bank scale.
//! Every expression comes from `core::config_query` (tag conditions only as
//! `tags.tag = 'KEY=value'`, values checked first); pages of 100 with NextToken, at most
//! [`MAX_PAGES`]; answers reused for the configured TTL; any error fails closed (the
//! mint is refused with `inventory_unavailable`, nothing is guessed). Calls run on this
//! adapter's own runtime, so callers on the blocking pool may block on them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_config::error::{DisplayErrorContext, ProvideErrorMetadata};
use serde::Deserialize;

use crate::adapters::{Inventory, KnownInstance, LookupError};
use crate::config::AwsConfigSource;
use crate::core::config_query::{expression, Want, PAGE_LIMIT};
use crate::core::{InstanceId, Region};

/// At most this many pages (of [`PAGE_LIMIT`]) for one query: 10 000 instances.
pub const MAX_PAGES: usize = 100;

/// One row of a Config query: `SELECT resourceId, awsRegion, accountId, tags`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    resource_id: String,
    aws_region: String,
    #[serde(default)]
    account_id: Option<String>,
    #[serde(default)]
    tags: Vec<RowTag>,
}

#[derive(Deserialize)]
struct RowTag {
    key: String,
    #[serde(default)]
    value: String,
}

type Cached = (Instant, Vec<KnownInstance>);

pub struct ConfigInventory {
    rt: tokio::runtime::Runtime,
    client: aws_sdk_config::Client,
    aggregator: Option<String>,
    ttl: Duration,
    cache: Mutex<HashMap<String, Cached>>,
}

impl std::fmt::Debug for ConfigInventory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigInventory").field("aggregator", &self.aggregator).finish_non_exhaustive()
    }
}

fn unavailable(m: impl std::fmt::Display) -> LookupError {
    LookupError::Inventory(format!("AWS Config: {m}"))
}

impl ConfigInventory {
    pub fn new(s: &AwsConfigSource) -> Result<Self, LookupError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| unavailable(format!("runtime: {e}")))?;
        let timeout = Duration::from_millis(s.timeout_ms);
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(timeout)
            .operation_attempt_timeout(timeout)
            .operation_timeout(timeout.saturating_mul(s.attempts.max(1) + 1))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new(s.region.clone()))
            .timeout_config(timeouts)
            .retry_config(RetryConfig::standard().with_max_attempts(s.attempts.max(1)));
        if let Some(url) = &s.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = rt.block_on(loader.load());
        Ok(Self {
            rt,
            client: aws_sdk_config::Client::new(&sdk),
            aggregator: s.aggregator.clone(),
            ttl: Duration::from_secs(s.cache_seconds),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Every row of `expr`, page by page; from the cache within the TTL.
    fn select(&self, expr: &str) -> Result<Vec<KnownInstance>, LookupError> {
        let now = Instant::now();
        {
            let cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((at, rows)) = cache.get(expr) {
                if now.duration_since(*at) < self.ttl {
                    return Ok(rows.clone());
                }
            }
        }
        let rows = self.rt.block_on(self.fetch(expr))?;
        let mut cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.retain(|_, (at, _)| now.duration_since(*at) < self.ttl);
        if !self.ttl.is_zero() {
            cache.insert(expr.to_owned(), (now, rows.clone()));
        }
        Ok(rows)
    }

    async fn fetch(&self, expr: &str) -> Result<Vec<KnownInstance>, LookupError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let (results, next) = match &self.aggregator {
                Some(a) => {
                    let page = self
                        .client
                        .select_aggregate_resource_config()
                        .expression(expr)
                        .configuration_aggregator_name(a)
                        .limit(PAGE_LIMIT)
                        .set_next_token(token.take())
                        .send()
                        .await
                        .map_err(|e| unavailable(describe(&e, e.code())))?;
                    (page.results().to_vec(), page.next_token().map(str::to_owned))
                }
                None => {
                    let page = self
                        .client
                        .select_resource_config()
                        .expression(expr)
                        .limit(PAGE_LIMIT)
                        .set_next_token(token.take())
                        .send()
                        .await
                        .map_err(|e| unavailable(describe(&e, e.code())))?;
                    (page.results().to_vec(), page.next_token().map(str::to_owned))
                }
            };
            for r in &results {
                let row: Row = serde_json::from_str(r)
                    .map_err(|e| unavailable(format!("a result is not a row: {e}")))?;
                out.push(KnownInstance {
                    id: row.resource_id,
                    region: row.aws_region,
                    account: row.account_id,
                    tags: row.tags.into_iter().map(|t| (t.key, t.value)).collect(),
                });
            }
            match next {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => {
                    out.sort_by(|a, b| (&a.account, &a.region, &a.id).cmp(&(&b.account, &b.region, &b.id)));
                    return Ok(out);
                }
            }
        }
        Err(unavailable(format!("more than {MAX_PAGES} pages of {PAGE_LIMIT} instances for one query")))
    }
}

fn describe<E: std::error::Error + 'static>(e: &E, code: Option<&str>) -> String {
    match code {
        Some(c) => format!("{c}: {}", DisplayErrorContext(e)),
        None => DisplayErrorContext(e).to_string(),
    }
}

impl Inventory for ConfigInventory {
    fn tags(
        &self,
        instance: &InstanceId,
        region: &Region,
    ) -> Result<Option<HashMap<String, String>>, LookupError> {
        Ok(self.instance(instance, region)?.map(|i| i.tags))
    }

    fn instance(&self, instance: &InstanceId, region: &Region) -> Result<Option<KnownInstance>, LookupError> {
        let q = expression(Want::Instance(instance, region)).map_err(unavailable)?;
        let mut rows = self.select(&q)?;
        match rows.len() {
            0 => Ok(None),
            1 => Ok(rows.pop()),
            // One ID in one region in several accounts of an aggregator: which one is asked
            // for cannot be told, so fail closed.
            n => Err(unavailable(format!("{instance} in {region} is in {n} accounts"))),
        }
    }

    fn covering(&self, want: &[(&str, &str)]) -> Result<Vec<KnownInstance>, LookupError> {
        let q = expression(Want::Covering(want)).map_err(unavailable)?;
        self.select(&q)
    }
}
