//! The handlers: parse, authorize, call the library (blocking work on the blocking
//! pool), render. Each names the role it needs.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::auth::require;
use super::body::{self, BodyLimits};
use super::error::{refusal_status, ApiError};
use super::metrics::{Outcome, Snapshot};
use super::state::{request_id, State};
use crate::adapters::{GrantError, GrantStore};
use crate::audit::record::outcome;
use crate::config::server::Role;
use crate::core::text::clip;
use crate::core::UserName;
use crate::edge::clock;
use crate::edge::render::{grant_json, html_csp, html_form, html_refusal, minted_text, HTML_REFUSAL_CSP};
use crate::service::grants::{self, Actor, GrantRequest};
use crate::service::mint::{MintError, MintInput};

/// `POST /v1/assertions` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintBody {
    pub user: String,
    pub instance_id: String,
    pub region: String,
    /// Optional: the account the caller believes the instance is in; it must be the
    /// inventory's, and picks among the configured accounts only where it is silent.
    pub account_id: Option<String>,
    /// Optional: one Role value per account where an open set reaches an instance
    /// (the console's role picker).
    #[serde(default)]
    pub role_picker: bool,
    /// Optional caller correlation ID, kept in the audit record.
    pub correlation_id: Option<String>,
}

pub(super) fn limits(state: &State) -> BodyLimits {
    BodyLimits { max_bytes: state.config.server.max_body_bytes, timeout: state.config.server.body_timeout }
}

fn wants_html(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html") && !a.contains("application/json"))
}

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    web::block(f).await.map_err(|_| ApiError::Overloaded)?
}

/// Role: minter. Mints for the demo or real sources; the response leaves only after
/// its audit record is durable.
pub async fn mint(
    state: web::Data<State>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let caller = require(&state, &req, &[Role::Minter])?;
    let body: MintBody = body::json(&req, payload, limits(&state)).await?;
    let correlation = body.correlation_id.filter(|c| !c.is_empty()).map(|c| clip(&c, 128));
    let rid = request_id(&req).unwrap_or_default();
    let input = MintInput {
        user: body.user,
        instance_id: body.instance_id,
        region: body.region,
        caller: Some(caller.name),
        request_id: Some(match correlation {
            Some(c) => format!("{rid} correlation={c}"),
            None => rid,
        }),
        account_id: body.account_id,
        role_picker: body.role_picker,
    };
    let html = wants_html(&req);
    let (now, nonce) = (clock::now(), clock::nonce());
    // With local sources the work is CPU only (~0.3 ms, one RSA signature): done here,
    // on the async worker, which saves two thread hand-offs per request. A directory
    // or inventory that may wait on a network goes to the blocking pool.
    let pending = if state.minter.local() {
        state.minter.prepare(&input, now, &nonce)
    } else {
        let st = state.clone();
        blocking(move || Ok(st.minter.prepare(&input, now, &nonce))).await?
    };
    // Step 8 without holding a thread: the writer resolves the receipt after fdatasync.
    let result = pending.commit_async(state.minter.audit.as_ref()).await;
    let word = match &result {
        Ok(m) => outcome(m.decision()),
        Err(e) => e.outcome(),
    };
    state.metrics.decisions.get_or_create(&Outcome { outcome: word.to_owned() }).inc();
    if html {
        if let Err(MintError::Refused(d)) = &result {
            return Ok(HttpResponse::build(refusal_status(d.refusal.as_ref()))
                .content_type("text/html; charset=utf-8")
                .insert_header(("Cache-Control", "no-store"))
                .insert_header(("Content-Security-Policy", HTML_REFUSAL_CSP))
                .body(html_refusal(d)));
        }
    }
    let m = result?;
    if html {
        return Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Content-Security-Policy", html_csp(m.acs_url())))
            .body(html_form(&m)));
    }
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "no-store"))
        .body(minted_text(&m)))
}

/// Any authenticated caller: the IdP metadata for IAM.
pub async fn metadata(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    require(&state, &req, &[])?;
    Ok(HttpResponse::Ok()
        .content_type("application/samlmetadata+xml")
        .body(state.metadata.read().map(|m| m.clone()).unwrap_or_default()))
}

/// Any authenticated caller: the process is alive.
pub async fn healthz(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    require(&state, &req, &[])?;
    Ok(HttpResponse::Ok().json(json!({"status": "ok"})))
}

/// Any authenticated caller: key loaded, directory reachable, audit writable, grants open.
pub async fn readyz(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    require(&state, &req, &[])?;
    readiness(state).await
}

/// The management listener (plain HTTP, no client certificate): alive.
pub async fn management_healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The management listener: ready, as `/readyz` on the API listener says.
pub async fn management_readyz(state: web::Data<State>) -> Result<HttpResponse, ApiError> {
    readiness(state).await
}

/// 200 `ready` or 503 `not_ready`, with each check's state.
async fn readiness(state: web::Data<State>) -> Result<HttpResponse, ApiError> {
    let st = state.clone();
    let checks = blocking(move || {
        let m = &st.minter;
        let d = m.directory.ready().err().map(|e| e.to_string());
        let a = st.audit.ready().err().map(|e| e.to_string());
        let g = m.grants.ready().err().map(|e| e.to_string());
        Ok(json!({"key": null, "directory": d, "audit": a, "grants": g}))
    })
    .await?;
    let failed: Vec<&str> =
        ["directory", "audit", "grants"].into_iter().filter(|k| !checks[*k].is_null()).collect();
    let body = json!({
        "status": if failed.is_empty() { "ready" } else { "not_ready" },
        "checks": {
            "key": "ok",
            "directory": checks["directory"].as_str().unwrap_or("ok"),
            "audit": checks["audit"].as_str().unwrap_or("ok"),
            "grants": checks["grants"].as_str().unwrap_or("ok"),
        }
    });
    Ok(if failed.is_empty() {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    })
}

/// Role: auditor or admin. Prometheus text format.
pub async fn metrics(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    require(&state, &req, &[Role::Auditor, Role::Admin])?;
    let (lookups, hits) = state.minter.directory.counters();
    let (records, fsyncs, secs) = state.audit.counters();
    let snap = Snapshot {
        directory_lookups: lookups,
        directory_cache_hits: hits,
        audit_records: records,
        audit_fsyncs: fsyncs,
        audit_fsync_seconds: secs,
    };
    let text = state
        .metrics
        .render(&snap)
        .map_err(|_| ApiError::Internal("metrics_failed", "cannot encode metrics".into()))?;
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(text))
}

pub(super) fn store(state: &State) -> Result<std::sync::Arc<dyn GrantStore>, ApiError> {
    state.minter.grant_store.clone().ok_or_else(|| GrantError::ReadOnly.into())
}

/// Role: approver. Records an approved window.
pub async fn add_grant(
    state: web::Data<State>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let caller = require(&state, &req, &[Role::Approver])?;
    let body: GrantRequest = body::json(&req, payload, limits(&state)).await?;
    let st = state.clone();
    let rid = request_id(&req);
    let g = blocking(move || {
        let now = clock::now();
        let actor = Actor { caller: &caller.name, request_id: rid.as_deref(), now, allow_past: false };
        let g = grants::add(
            store(&st)?.as_ref(),
            st.audit.as_ref(),
            &st.config.mapping,
            st.config.grants_max_seconds,
            &body,
            &actor,
        )?;
        Ok(grant_json(&g, now))
    })
    .await?;
    Ok(HttpResponse::Created().json(g))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub user: Option<String>,
}

/// Role: approver or auditor. Grants of one user (or all), revoked and expired included.
pub async fn list_grants(
    state: web::Data<State>,
    req: HttpRequest,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    require(&state, &req, &[Role::Approver, Role::Auditor])?;
    let user = q
        .into_inner()
        .user
        .map(|u| UserName::parse("user", &u))
        .transpose()
        .map_err(|e| ApiError::BadInput(e.to_string()))?;
    let st = state.clone();
    let list = blocking(move || {
        let now = clock::now();
        let all = store(&st)?.list(user.as_ref()).map_err(GrantError::Store)?;
        Ok(all.iter().map(|g| grant_json(g, now)).collect::<Vec<_>>())
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({"grants": list})))
}

type EndFn = fn(
    &dyn GrantStore,
    &dyn crate::audit::AuditLog,
    i64,
    &Actor<'_>,
) -> Result<crate::adapters::StoredGrant, GrantError>;

/// Ends grant `id` with `end` (revoke or release) for a caller with one of `roles`.
async fn end_grant(
    state: web::Data<State>,
    req: HttpRequest,
    id: web::Path<String>,
    roles: &[Role],
    end: EndFn,
) -> Result<HttpResponse, ApiError> {
    let caller = require(&state, &req, roles)?;
    let id: i64 = id.parse().map_err(|_| ApiError::BadInput("id: must be a grant number".into()))?;
    let st = state.clone();
    let rid = request_id(&req);
    let g = blocking(move || {
        let now = clock::now();
        let actor = Actor { caller: &caller.name, request_id: rid.as_deref(), now, allow_past: false };
        let g = end(store(&st)?.as_ref(), st.audit.as_ref(), id, &actor)?;
        Ok(grant_json(&g, now))
    })
    .await?;
    Ok(HttpResponse::Ok().json(g))
}

/// Role: approver or minter (the access manager, for the person). Ends a grant early
/// (`grant_released`); the reaper ends the sessions it allowed.
pub async fn release_grant(
    state: web::Data<State>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    end_grant(state, req, id, &[Role::Approver, Role::Minter], grants::release).await
}

/// Role: approver. Revokes a grant, effective for the next request.
pub async fn revoke_grant(
    state: web::Data<State>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    end_grant(state, req, id, &[Role::Approver], grants::revoke).await
}
