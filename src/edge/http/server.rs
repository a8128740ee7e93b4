//! The HTTP server on an already-bound listener: the edge middleware (request IDs, the
//! 401 for requests without a client certificate, metrics, one log line per request),
//! the routes, and TLS with the client certificate parsed once per connection.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, HttpMessage, HttpResponse, HttpServer, ResponseError};

use super::auth::{self, PeerCert};
use super::body::{Connections, Slot};
use super::error::ApiError;
use super::state::{RequestId, State};
use super::{metrics, routes, tls};
use crate::config::server::Server;
use crate::edge::clock;

fn valid_request_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

fn new_request_id() -> String {
    let n = clock::nonce();
    format!("req-{}", n.response_id().trim_start_matches("_R").get(..16).unwrap_or_default())
}

async fn edge(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let started = Instant::now();
    let rid = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|s| valid_request_id(s))
        .map_or_else(new_request_id, str::to_owned);
    req.extensions_mut().insert(RequestId(rid.clone()));
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let state = req.app_data::<web::Data<State>>().cloned();
    let anonymous = req.conn_data::<PeerCert>().is_none() && state.as_ref().is_some_and(|s| !s.insecure_dev);
    let limit = state.as_ref().map_or(usize::MAX, |s| s.config.server.max_connections_per_source);
    let crowded = req.conn_data::<Arc<Slot>>().is_some_and(|slot| slot.crowded(limit));
    let mut res = if crowded {
        req.into_response(ApiError::TooManyConnections(limit).error_response()).map_into_right_body()
    } else if anonymous {
        let (http, _) = req.parts();
        let err = match &state {
            Some(s) => match auth::caller(s, http) {
                Err(e) => e,
                Ok(_) => ApiError::Unauthenticated("a client certificate is required".into()),
            },
            None => ApiError::Internal("internal", "no state".into()),
        };
        req.into_response(err.error_response()).map_into_right_body()
    } else {
        next.call(req).await?.map_into_left_body()
    };
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&rid) {
        res.headers_mut().insert(actix_web::http::header::HeaderName::from_static("x-request-id"), v);
    }
    let status = res.status().as_u16();
    let elapsed = started.elapsed();
    if let Some(s) = &state {
        s.metrics.requests.get_or_create(&metrics::RouteStatus { route: route.clone(), status }).inc();
        s.metrics
            .latency
            .get_or_create(&metrics::Route { route: route.clone() })
            .observe(elapsed.as_secs_f64());
    }
    tracing::info!(request_id = %rid, method = %method, route = %route, status, duration_ms = elapsed.as_secs_f64() * 1e3, "request");
    Ok(res)
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// A route with its methods; another method gets 405 with `Allow`, as JSON.
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        let mut r = ApiError::MethodNotAllowed(allow.to_owned()).error_response();
        if let Ok(v) = actix_web::http::header::HeaderValue::from_str(allow) {
            r.headers_mut().insert(actix_web::http::header::ALLOW, v);
        }
        Ok::<_, actix_web::Error>(r)
    }))
}

/// Per connection: the client certificate's identities (parsed once), and a slot in
/// the count of its source's open connections.
fn on_connect(conns: &Arc<Connections>, conn: &dyn std::any::Any, ext: &mut actix_web::dev::Extensions) {
    use actix_tls::accept::rustls_0_23::TlsStream;
    use actix_web::rt::net::TcpStream;
    let tcp = if let Some(tls) = conn.downcast_ref::<TlsStream<TcpStream>>() {
        let (tcp, session) = tls.get_ref();
        if let Some(cert) = session.peer_certificates().and_then(|c| c.first()) {
            ext.insert(PeerCert::from_der(cert.as_ref()));
        }
        Some(tcp)
    } else {
        conn.downcast_ref::<TcpStream>()
    };
    if let Some(addr) = tcp.and_then(|t| t.peer_addr().ok()) {
        ext.insert(Arc::new(conns.open(addr.ip())));
    }
}

/// Builds the server on an already-bound listener; TLS unless `tls` is `None`
/// (development HTTP on loopback only — the caller checks).
pub fn build(
    data: web::Data<State>,
    listener: std::net::TcpListener,
    tls: Option<&Arc<tls::Reloadable>>,
    cfg: &Server,
) -> std::io::Result<actix_web::dev::Server> {
    let bad = |m: String| -> actix_web::Error { ApiError::BadInput(m).into() };
    let app = move || {
        let query = web::QueryConfig::default().error_handler(move |e, _| bad(e.to_string()));
        let path = web::PathConfig::default().error_handler(move |e, _| bad(e.to_string()));
        App::new()
            .app_data(data.clone())
            .app_data(query)
            .app_data(path)
            .wrap(from_fn(edge))
            .service(resource("/v1/assertions", "POST").route(web::post().to(routes::mint)))
            .service(resource("/v1/access", "GET").route(web::get().to(super::access::access)))
            .service(
                resource("/v1/grants", "GET, POST")
                    .route(web::post().to(routes::add_grant))
                    .route(web::get().to(routes::list_grants)),
            )
            .service(resource("/v1/grants/{id}", "DELETE").route(web::delete().to(routes::revoke_grant)))
            .service(resource("/v1/grants/{id}/release", "POST").route(web::post().to(routes::release_grant)))
            .service(resource("/v1/firecalls", "POST").route(web::post().to(super::firecalls::open)))
            .service(
                resource("/v1/firecalls/{id}/review", "POST").route(web::post().to(super::firecalls::review)),
            )
            .service(resource("/metadata", "GET").route(web::get().to(routes::metadata)))
            .service(resource("/healthz", "GET").route(web::get().to(routes::healthz)))
            .service(resource("/readyz", "GET").route(web::get().to(routes::readyz)))
            .service(resource("/metrics", "GET").route(web::get().to(routes::metrics)))
            .default_service(web::to(not_found))
    };
    let conns = Arc::new(Connections::default());
    let mut server = HttpServer::new(app)
        .on_connect(move |c, ext| on_connect(&conns, c, ext))
        .client_request_timeout(cfg.request_timeout)
        .keep_alive(cfg.keep_alive)
        .shutdown_timeout(cfg.shutdown_timeout.as_secs());
    if cfg.workers > 0 {
        server = server.workers(cfg.workers);
    }

    let server = match tls {
        Some(t) => {
            let sc = t.server_config().map_err(std::io::Error::other)?;
            server.listen_rustls_0_23(listener, sc)?
        }
        None => server.listen(listener)?,
    };
    Ok(server.run())
}

/// The management listener: plain HTTP, `/healthz` and `/readyz` only (for a load
/// balancer's health check, which has no client certificate); everything else is 404.
pub fn build_management(
    data: web::Data<State>,
    listener: std::net::TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    let app = move || {
        App::new()
            .app_data(data.clone())
            .service(resource("/healthz", "GET").route(web::get().to(routes::management_healthz)))
            .service(resource("/readyz", "GET").route(web::get().to(routes::management_readyz)))
            .default_service(web::to(not_found))
    };
    Ok(HttpServer::new(app)
        .workers(1)
        .client_request_timeout(std::time::Duration::from_secs(5))
        .shutdown_timeout(1)
        .disable_signals()
        .listen(listener)?
        .run())
}
