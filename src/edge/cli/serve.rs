//! `sesame serve`: the plug-in hop for the access manager, over mutual TLS.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use clap::Args;

use super::common::{load_config, Failure};
use crate::audit::AuditLog;
use crate::config::server::Management;
use crate::edge::http::denials::{Denials, FLUSH};
use crate::edge::http::metrics::Metrics;
use crate::edge::http::state::State;
use crate::edge::http::{server, tls};
use crate::edge::{clock, trust, wiring};
use crate::keys::dev_tls::{self, DevTls};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen here instead of server.listen (e.g. 127.0.0.1:0 for any free port).
    #[arg(long, value_name = "IP:PORT")]
    pub listen: Option<String>,
    /// Development only: plain HTTP, loopback addresses only, every caller has every role.
    #[arg(long)]
    pub insecure_dev_http: bool,
}

fn fail(code: u8) -> impl Fn(String) -> Failure {
    move |m| Failure::new(code, m)
}

/// SIGHUP: load the (possibly rotated) signing key and certificate, swap them in, and
/// republish the metadata. On any error the current key stays.
fn reload_signing(st: &State) -> Result<(), String> {
    let now = clock::now();
    let (material, _) = wiring::load_keys(&st.config, now).map_err(|e| e.to_string())?;
    let signing = wiring::signing(&st.config, &material).map_err(|e| e.to_string())?;
    let metadata = trust::metadata(&st.config, &material, now).map_err(|e| e.to_string())?;
    st.minter.replace_signing(signing);
    if let Ok(mut m) = st.metadata.write() {
        *m = metadata;
    }
    Ok(())
}

pub fn run(config: Option<&Path>, a: ServeArgs) -> Result<(), Failure> {
    let mut cfg = load_config(config)?;
    if let Some(l) = &a.listen {
        cfg.server.listen =
            l.parse().map_err(|_| Failure::new(2, format!("--listen: must be IP:port (got {l:?})")))?;
    }
    if a.insecure_dev_http && !cfg.server.listen.ip().is_loopback() {
        return Err(Failure::new(2, "--insecure-dev-http: only on a loopback address (127.0.0.1 or ::1)"));
    }
    let filter = tracing_subscriber::EnvFilter::try_from_env("SESAME_LOG").unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).try_init();

    let now = clock::now();
    if let Some(dir) = &cfg.server.dev_tls_dir {
        let set = DevTls::in_dir(dir);
        if !set.server_cert.exists() && !set.ca_cert.exists() {
            dev_tls::generate(&set, "demo-access-manager", now, 365).map_err(|e| Failure::new(3, e))?;
            eprintln!("generated development TLS certificates in {}", dir.display());
        }
    }
    let (material, generated) = wiring::load_keys(&cfg, now).map_err(|e| Failure::new(3, e))?;
    if generated {
        eprintln!("generated a development signing key: {}", cfg.keys.signing_key.display());
    }
    let audit: Arc<dyn AuditLog> =
        wiring::open_audit(&cfg, &material, now).map_err(|e| Failure::new(3, e))?;
    let minter = wiring::minter(&cfg, &material, audit.clone()).map_err(|e| Failure::new(3, e))?;
    let metadata = trust::metadata(&cfg, &material, now).map_err(|e| Failure::new(3, e))?;
    let denials = Arc::new(Denials::default());
    let tls = if a.insecure_dev_http {
        None
    } else {
        let need = |v: &Option<std::path::PathBuf>, k: &str| {
            v.clone().ok_or_else(|| {
                Failure::new(2, format!("server.{k}: is required to serve over TLS (or set server.dev_tls_dir for development certificates)"))
            })
        };
        let files = tls::TlsFiles {
            cert: need(&cfg.server.tls_cert, "tls_cert")?,
            key: need(&cfg.server.tls_key, "tls_key")?,
            client_ca: need(&cfg.server.client_ca, "client_ca")?,
        };
        Some(tls::Reloadable::new(files, denials.clone(), clock::now).map_err(fail(3))?)
    };
    let listener = TcpListener::bind(cfg.server.listen)
        .map_err(|e| Failure::new(3, format!("{}: {e}", cfg.server.listen)))?;
    let addr = listener.local_addr().map_err(|e| Failure::new(3, e.to_string()))?;
    let management = match cfg.server.management {
        Management::Off => None,
        Management::At(m) => Some(TcpListener::bind(m).map_err(|e| Failure::new(3, format!("server.management_listen {m}: {e}")))?),
        Management::Default(m) => TcpListener::bind(m)
            .inspect_err(|e| tracing::warn!(address = %m, error = %e, "no management listener (the default address is taken); set server.management_listen"))
            .ok(),
    };
    let stop_reaper = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reaper = if cfg.reaper.enabled {
        Some(
            crate::edge::reaping::spawn(cfg.clone(), audit.clone(), stop_reaper.clone())
                .map_err(|e| Failure::new(3, e))?,
        )
    } else {
        None
    };
    let server_cfg = cfg.server.clone();
    let state = State {
        minter,
        audit: audit.clone(),
        clients: cfg.server.clients.clone(),
        metrics: Metrics::default(),
        metadata: std::sync::RwLock::new(metadata),
        config: cfg,
        insecure_dev: a.insecure_dev_http,
        denials: denials.clone(),
    };
    let system = actix_web::rt::System::new();
    let state = actix_web::web::Data::new(state);
    let (flusher, flush_log) = (denials.clone(), audit.clone());
    let result = system.block_on(async move {
        let server = server::build(state.clone(), listener, tls.as_ref(), &server_cfg)?;
        let mut management_addr = None;
        let mut management_handle = None;
        if let Some(l) = management {
            management_addr = l.local_addr().ok();
            let m = server::build_management(state.clone(), l)?;
            management_handle = Some(m.handle());
            actix_web::rt::spawn(m);
        }
        actix_web::rt::spawn(async move {
            loop {
                actix_web::rt::time::sleep(FLUSH).await;
                flusher.flush(flush_log.as_ref()).await;
            }
        });
        let tls_for_hup = tls.clone();
        actix_web::rt::spawn(async move {
            let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
                return;
            };
            while hup.recv().await.is_some() {
                if let Some(t) = &tls_for_hup {
                    match t.reload() {
                        Ok(()) => tracing::info!("reloaded TLS certificates and client CA"),
                        Err(e) => {
                            tracing::error!(error = %e, "TLS reload failed; keeping the current certificates")
                        }
                    }
                }
                let st = state.clone();
                match actix_web::web::block(move || reload_signing(&st)).await {
                    Ok(Ok(())) => tracing::info!("reloaded the signing key and metadata"),
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "signing key reload failed; keeping the current key")
                    }
                    Err(e) => tracing::error!(error = %e, "signing key reload did not run"),
                }
            }
        });
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {scheme}://{addr}");
        if let Some(m) = management_addr {
            let _ = writeln!(out, "management on http://{m}");
        }
        let _ = out.flush();
        drop(out);
        let result = server.await;
        // The management listener holds the state too: stop it so the log is sealed.
        if let Some(h) = management_handle {
            h.stop(false).await;
        }
        result
    });
    // The reaper finishes the job in hand, then denials counted since the last
    // interval are written and the log is sealed with the state.
    stop_reaper.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(r) = reaper {
        let _ = r.join();
    }
    denials.flush_now(audit.as_ref());
    if let Err(e) = audit.close() {
        tracing::error!(error = %e, "the audit log could not be sealed at shutdown");
    }
    drop(audit);
    result.map_err(|e| Failure::new(3, format!("server: {e}")))
}
