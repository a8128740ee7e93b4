//! The LDAP / Active Directory directory (DESIGN step 3) over ldap3 and rustls.
//!
//! - TLS: LDAPS or StartTLS, verified against a configured CA; plain LDAP only when
//!   the configuration says so explicitly;
//! - the user is found with a filter template whose `{user}` is replaced by the
//!   RFC 4515-escaped name (never string-built from raw input); zero or several
//!   matches are distinct errors; AD accounts with ACCOUNTDISABLE (userAccountControl
//!   bit 2) hold no entitlements;
//! - groups: Active Directory's in-chain rule (one query) or a bounded, cycle-safe
//!   breadth-first walk over `member`, or direct `memberOf` only;
//! - a small pool of bound connections, per-operation timeouts, a per-user cache with
//!   a short TTL (0 = no cache); any error fails the lookup — never stale or empty data.
//!
//! The adapter owns a small tokio runtime, so its synchronous [`Directory`] interface
//! can be called from any thread that is not itself running async tasks.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use rustls::ClientConfig;

use super::filter::Filter;
use crate::adapters::{Directory, LookupError, UserGroups};
use crate::config::model::{GroupMode, LdapConfig};
use crate::core::dn::{first_rdn_value, normalize_dn};
use crate::core::{DirGroup, UserName};

const IN_CHAIN: &str = "1.2.840.113556.1.4.1941";
const AD_CAPABILITY: &str = "1.2.840.113556.1.4.800";
const ACCOUNT_DISABLE: u64 = 0x2;

fn err(m: impl std::fmt::Display) -> LookupError {
    LookupError::Directory(m.to_string())
}

/// The user search filter: the template with `{user}` escaped (RFC 4515).
pub fn user_filter(template: &str, user: &str) -> String {
    Filter::template(template, user).to_string()
}

/// Counters for metrics and tests.
#[derive(Debug, Default)]
pub struct LdapStats {
    pub lookups: AtomicU64,
    pub cache_hits: AtomicU64,
    pub searches: AtomicU64,
}

struct Cached {
    at: Instant,
    groups: UserGroups,
}

struct Inner {
    cfg: LdapConfig,
    tls: Option<Arc<ClientConfig>>,
    pool: Vec<tokio::sync::Mutex<Option<Ldap>>>,
    next: AtomicUsize,
    is_ad: Mutex<Option<bool>>,
    cache: Mutex<HashMap<String, Cached>>,
    stats: LdapStats,
}

/// The LDAP directory adapter.
pub struct LdapDirectory {
    inner: Arc<Inner>,
    rt: Option<tokio::runtime::Runtime>,
}

fn tls_config(cfg: &LdapConfig) -> Result<Option<Arc<ClientConfig>>, LookupError> {
    let tls = cfg.url.starts_with("ldaps://") || cfg.starttls;
    if !tls {
        return Ok(None);
    }
    let ca = cfg.ca_file.as_ref().ok_or_else(|| err("TLS needs directory.ca_file"))?;
    let cfg = crate::tls_client::trusting(ca).map_err(err)?;
    Ok(Some(Arc::new(cfg)))
}

async fn search(
    inner: &Inner,
    ldap: &mut Ldap,
    base: &str,
    scope: Scope,
    filter: &str,
    attrs: &[&str],
) -> Result<Vec<SearchEntry>, LookupError> {
    inner.stats.searches.fetch_add(1, Ordering::Relaxed);
    let res = ldap
        .with_timeout(inner.cfg.timeout)
        .search(base, scope, filter, attrs.to_vec())
        .await
        .map_err(err)?;
    let (rs, _) = res.success().map_err(err)?;
    Ok(rs.into_iter().filter(|e| !e.is_ref() && !e.is_intermediate()).map(SearchEntry::construct).collect())
}

impl Inner {
    async fn connect(&self) -> Result<Ldap, LookupError> {
        let mut settings =
            LdapConnSettings::new().set_conn_timeout(self.cfg.timeout).set_starttls(self.cfg.starttls);
        if let Some(tls) = &self.tls {
            settings = settings.set_config(tls.clone());
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.cfg.url)
            .await
            .map_err(|e| err(format!("cannot connect to {}: {e}", self.cfg.url)))?;
        ldap3::drive!(conn);
        ldap.with_timeout(self.cfg.timeout)
            .simple_bind(&self.cfg.bind_dn, &self.cfg.bind_password)
            .await
            .and_then(|r| r.success())
            .map_err(|e| err(format!("bind as {} failed: {e}", self.cfg.bind_dn)))?;
        Ok(ldap)
    }

    /// A bound connection from the pool (reconnecting a slot that failed before).
    async fn conn(&self) -> Result<(usize, Ldap), LookupError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.pool.len().max(1);
        let slot = self.pool.get(i).ok_or_else(|| err("empty connection pool"))?;
        let mut guard = slot.lock().await;
        if let Some(l) = guard.as_ref() {
            return Ok((i, l.clone()));
        }
        let l = self.connect().await?;
        *guard = Some(l.clone());
        Ok((i, l))
    }

    async fn drop_conn(&self, i: usize) {
        if let Some(slot) = self.pool.get(i) {
            *slot.lock().await = None;
        }
    }

    async fn is_ad(&self, ldap: &mut Ldap) -> Result<bool, LookupError> {
        if let Ok(g) = self.is_ad.lock() {
            if let Some(v) = *g {
                return Ok(v);
            }
        }
        let root = search(self, ldap, "", Scope::Base, "(objectClass=*)", &["supportedCapabilities"]).await?;
        let ad = root
            .first()
            .and_then(|e| e.attrs.get("supportedCapabilities"))
            .is_some_and(|v| v.iter().any(|c| c == AD_CAPABILITY));
        if let Ok(mut g) = self.is_ad.lock() {
            *g = Some(ad);
        }
        Ok(ad)
    }

    fn group(&self, e: SearchEntry) -> DirGroup {
        let name = e
            .attrs
            .get("cn")
            .and_then(|v| v.first().cloned())
            .or_else(|| first_rdn_value(&e.dn))
            .unwrap_or_default();
        let attrs = e.attrs.into_iter().map(|(k, v)| (k.to_lowercase(), v)).collect();
        DirGroup { dn: e.dn, name, attrs }
    }

    async fn lookup(&self, ldap: &mut Ldap, user: &str) -> Result<UserGroups, LookupError> {
        let filter = user_filter(&self.cfg.user_filter, user);
        let users = search(
            self,
            ldap,
            &self.cfg.user_base,
            Scope::Subtree,
            &filter,
            &["memberOf", "userAccountControl", "cn"],
        )
        .await?;
        let u = match users.as_slice() {
            [] => return Ok(UserGroups::Unknown),
            [u] => u,
            many => return Err(LookupError::AmbiguousUser { user: user.to_owned(), count: many.len() }),
        };
        let uac = u
            .attrs
            .get("userAccountControl")
            .and_then(|v| v.first())
            .and_then(|s| s.trim().parse::<i64>().ok());
        if uac.is_some_and(|f| (f as u64) & ACCOUNT_DISABLE != 0) {
            return Ok(UserGroups::Disabled);
        }
        let attrs: Vec<&str> = self.cfg.group_attributes.iter().map(String::as_str).collect();
        let mode = match self.cfg.groups {
            GroupMode::Auto if self.is_ad(ldap).await? => GroupMode::InChain,
            GroupMode::Auto => GroupMode::Walk,
            m => m,
        };
        let entries = match mode {
            GroupMode::InChain => {
                if !self.is_ad(ldap).await? {
                    return Err(err("directory.groups = \"in_chain\" needs Active Directory; this server does not support the in-chain rule (it would silently match nothing)"));
                }
                let f = Filter::And(vec![
                    Filter::Configured(self.cfg.group_filter.clone()),
                    Filter::Extensible("member", IN_CHAIN, u.dn.clone()),
                ]);
                search(self, ldap, &self.cfg.group_base, Scope::Subtree, &f.to_string(), &attrs).await?
            }
            GroupMode::MemberOf => {
                let mut out = Vec::new();
                for dn in u.attrs.get("memberOf").cloned().unwrap_or_default() {
                    out.extend(search(self, ldap, &dn, Scope::Base, "(objectClass=*)", &attrs).await?);
                }
                out
            }
            GroupMode::Walk | GroupMode::Auto => self.walk(ldap, &u.dn, &attrs).await?,
        };
        let mut seen = HashSet::new();
        let groups = entries
            .into_iter()
            .filter(|e| seen.insert(normalize_dn(&e.dn).unwrap_or_else(|| e.dn.to_lowercase())))
            .map(|e| self.group(e))
            .collect();
        Ok(UserGroups::Member(groups))
    }

    /// Breadth-first over `member`: one OR search per level, a visited set against
    /// cycles, bounded by `max_depth` levels and `max_groups` groups.
    async fn walk(
        &self,
        ldap: &mut Ldap,
        user_dn: &str,
        attrs: &[&str],
    ) -> Result<Vec<SearchEntry>, LookupError> {
        let mut seen: HashSet<String> = HashSet::new();
        let mut out = Vec::new();
        let mut frontier = vec![user_dn.to_owned()];
        for _ in 0..self.cfg.max_depth {
            if frontier.is_empty() {
                break;
            }
            let members = frontier.iter().map(|d| Filter::Eq("member", d.clone())).collect();
            let f = Filter::And(vec![Filter::Configured(self.cfg.group_filter.clone()), Filter::Or(members)]);
            let found =
                search(self, ldap, &self.cfg.group_base, Scope::Subtree, &f.to_string(), attrs).await?;
            frontier = Vec::new();
            for e in found {
                let key = normalize_dn(&e.dn).unwrap_or_else(|| e.dn.to_lowercase());
                if seen.insert(key) {
                    frontier.push(e.dn.clone());
                    out.push(e);
                }
            }
            if out.len() > self.cfg.max_groups {
                return Err(err(format!(
                    "more than {} groups for one user (directory.max_groups)",
                    self.cfg.max_groups
                )));
            }
        }
        Ok(out)
    }
}

impl LdapDirectory {
    /// Builds the adapter; connects lazily on first use (`sesame check` connects at once).
    pub fn new(cfg: LdapConfig) -> Result<Self, LookupError> {
        let tls = tls_config(&cfg)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sesame-ldap")
            .enable_all()
            .build()
            .map_err(|e| err(format!("cannot start the LDAP runtime: {e}")))?;
        let pool = (0..cfg.pool_size.max(1)).map(|_| tokio::sync::Mutex::new(None)).collect();
        let inner = Inner {
            cfg,
            tls,
            pool,
            next: AtomicUsize::new(0),
            is_ad: Mutex::new(None),
            cache: Mutex::new(HashMap::new()),
            stats: LdapStats::default(),
        };
        Ok(Self { inner: Arc::new(inner), rt: Some(rt) })
    }

    pub fn stats(&self) -> &LdapStats {
        &self.inner.stats
    }

    /// Runs `f` on the adapter's runtime and waits, bounded by twice the configured
    /// timeout plus one second (connect + operation).
    fn run<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = Result<T, LookupError>> + Send + 'static,
    ) -> Result<T, LookupError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let rt = self.rt.as_ref().ok_or_else(|| err("the LDAP runtime has stopped"))?;
        rt.spawn(async move {
            let _ = tx.send(f.await);
        });
        let limit = self.inner.cfg.timeout * 2 + Duration::from_secs(1);
        rx.recv_timeout(limit).map_err(|_| err(format!("no answer within {} ms", limit.as_millis())))?
    }

    /// Connects and binds (for `sesame check`); reports whether the server is AD.
    pub fn probe(&self) -> Result<bool, LookupError> {
        let inner = self.inner.clone();
        self.run(async move {
            let (i, mut ldap) = inner.conn().await?;
            let r = inner.is_ad(&mut ldap).await;
            if r.is_err() {
                inner.drop_conn(i).await;
            }
            r
        })
    }

    /// Looks a user up with a raw (unvalidated) name; used by `groups` and by tests of
    /// the escaping, which must see hostile names reach the server harmlessly.
    pub fn lookup_raw(&self, user: &str) -> Result<UserGroups, LookupError> {
        let inner = self.inner.clone();
        let user = user.to_owned();
        self.run(async move {
            let (i, mut ldap) = inner.conn().await?;
            let r = inner.lookup(&mut ldap, &user).await;
            if r.is_err() {
                inner.drop_conn(i).await;
            }
            r
        })
    }
}

impl Drop for LdapDirectory {
    fn drop(&mut self) {
        // Dropping a runtime from async code panics; let its threads finish on their own.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Directory for LdapDirectory {
    fn ready(&self) -> Result<(), LookupError> {
        let inner = self.inner.clone();
        self.run(async move {
            let (i, mut ldap) = inner.conn().await?;
            let r = search(&inner, &mut ldap, "", Scope::Base, "(objectClass=*)", &["1.1"]).await.map(drop);
            if r.is_err() {
                inner.drop_conn(i).await;
            }
            r
        })
    }

    fn counters(&self) -> (u64, u64) {
        (
            self.inner.stats.lookups.load(Ordering::Relaxed),
            self.inner.stats.cache_hits.load(Ordering::Relaxed),
        )
    }

    fn groups(&self, user: &UserName) -> Result<UserGroups, LookupError> {
        let inner = &self.inner;
        inner.stats.lookups.fetch_add(1, Ordering::Relaxed);
        let key = user.as_str().to_lowercase();
        let ttl = inner.cfg.cache_ttl;
        if !ttl.is_zero() {
            if let Ok(cache) = inner.cache.lock() {
                if let Some(c) = cache.get(&key).filter(|c| c.at.elapsed() < ttl) {
                    inner.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(c.groups.clone());
                }
            }
        }
        let groups = self.lookup_raw(user.as_str())?;
        if !ttl.is_zero() {
            if let Ok(mut cache) = inner.cache.lock() {
                cache.retain(|_, c| c.at.elapsed() < ttl);
                cache.insert(key, Cached { at: Instant::now(), groups: groups.clone() });
            }
        }
        Ok(groups)
    }
}
