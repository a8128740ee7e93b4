//! `[server]` validated: listener, TLS files, timeouts, and the allowed client
//! identities with their roles.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::problems::Problems;
use super::raw::RawServer;

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// POST /v1/assertions
    Minter,
    /// POST/DELETE /v1/grants, GET /v1/grants
    Approver,
    /// GET /v1/grants, GET /metrics
    Auditor,
    /// GET /metrics
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "minter" => Some(Role::Minter),
            "approver" => Some(Role::Approver),
            "auditor" => Some(Role::Auditor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Role::Minter => "minter",
            Role::Approver => "approver",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }
}

/// One allowed client certificate identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// `cn:…`, `dns:…`, `uri:…` or `email:…`.
    pub identity: String,
    pub roles: Vec<Role>,
}

/// The plain-HTTP listener for load-balancer health checks (`/healthz`, `/readyz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Management {
    Off,
    /// The default (127.0.0.1:9090): if it cannot be bound, `serve` warns and goes on.
    Default(SocketAddr),
    /// Configured: a failure to bind stops `serve`.
    At(SocketAddr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub listen: SocketAddr,
    pub management: Management,
    /// Required by `sesame serve` (unless --insecure-dev-http), not by other commands.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub client_ca: Option<PathBuf>,
    pub dev_tls_dir: Option<PathBuf>,
    pub request_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub max_body_bytes: usize,
    /// The whole body must arrive within this, or the request gets 408 `body_timeout`.
    pub body_timeout: Duration,
    /// Idle keep-alive connections close after this (0: no keep-alive).
    pub keep_alive: Duration,
    /// Open connections one source address may hold; past it, 429 and the connection closes.
    pub max_connections_per_source: usize,
    pub workers: usize,
    pub clients: Vec<Client>,
}

fn num(p: &mut Problems, at: &str, v: Option<i64>, default: i64, lo: i64, hi: i64) -> u64 {
    u64::try_from(p.number(at, v, default, lo, hi)).unwrap_or(0)
}

pub fn server(p: &mut Problems, r: RawServer, base: &Path) -> Server {
    let listen_text = r.listen.unwrap_or_else(|| "127.0.0.1:8443".into());
    let listen = listen_text.parse::<SocketAddr>().unwrap_or_else(|_| {
        p.push(
            "server.listen",
            format!("must be IP:port such as 127.0.0.1:8443 or [::1]:8443 (got {listen_text:?})"),
        );
        SocketAddr::from(([127, 0, 0, 1], 8443))
    });
    let management = match r.management_listen.as_deref() {
        None => Management::Default(SocketAddr::from(([127, 0, 0, 1], 9090))),
        Some("off") => Management::Off,
        Some(t) => match t.parse::<SocketAddr>() {
            Ok(a) => Management::At(a),
            Err(_) => {
                p.push(
                    "server.management_listen",
                    format!("must be IP:port such as 127.0.0.1:9090, or \"off\" (got {t:?})"),
                );
                Management::Off
            }
        },
    };
    let dev = r.dev_tls_dir.map(|d| base.join(d));
    let file = |v: Option<String>, dev_name: &str| -> Option<PathBuf> {
        match (v, &dev) {
            (Some(f), _) => Some(base.join(f)),
            (None, Some(d)) => Some(d.join(dev_name)),
            (None, None) => None,
        }
    };
    let tls_cert = file(r.tls_cert, "server.crt");
    let tls_key = file(r.tls_key, "server.key");
    let client_ca = file(r.client_ca, "ca.crt");
    let mut clients = Vec::new();
    for (i, c) in r.client.into_iter().enumerate() {
        let at = format!("server.client[{i}]");
        let ok = ["cn:", "dns:", "uri:", "email:"]
            .iter()
            .any(|k| c.identity.strip_prefix(k).is_some_and(|v| !v.is_empty()));
        if !ok {
            p.push(
                format!("{at}.identity"),
                format!("must be cn:<name>, dns:<name>, uri:<uri> or email:<address> (got {:?})", c.identity),
            );
        }
        let mut roles = Vec::new();
        for r in &c.roles {
            match Role::parse(r) {
                Some(role) => roles.push(role),
                None => p.push(
                    format!("{at}.roles"),
                    format!("unknown role {r:?}; roles are minter, approver, auditor, admin"),
                ),
            }
        }
        if clients.iter().any(|k: &Client| k.identity == c.identity) {
            p.push(format!("{at}.identity"), format!("{:?} is listed twice", c.identity));
        }
        clients.push(Client { identity: c.identity, roles });
    }
    Server {
        listen,
        management,
        tls_cert,
        tls_key,
        client_ca,
        dev_tls_dir: dev,
        request_timeout: Duration::from_millis(num(
            p,
            "server.request_timeout_ms",
            r.request_timeout_ms,
            5000,
            100,
            120_000,
        )),
        shutdown_timeout: Duration::from_secs(num(
            p,
            "server.shutdown_timeout_seconds",
            r.shutdown_timeout_seconds,
            30,
            1,
            600,
        )),
        max_body_bytes: usize::try_from(num(
            p,
            "server.max_body_bytes",
            r.max_body_bytes,
            16_384,
            256,
            1_048_576,
        ))
        .unwrap_or(16_384),
        body_timeout: Duration::from_millis(num(
            p,
            "server.body_timeout_ms",
            r.body_timeout_ms,
            5000,
            100,
            120_000,
        )),
        keep_alive: Duration::from_secs(num(p, "server.keep_alive_seconds", r.keep_alive_seconds, 5, 0, 300)),
        max_connections_per_source: usize::try_from(num(
            p,
            "server.max_connections_per_source",
            r.max_connections_per_source,
            64,
            1,
            100_000,
        ))
        .unwrap_or(64),
        workers: usize::try_from(num(p, "server.workers", r.workers, 0, 0, 256)).unwrap_or(0),
        clients,
    }
}
