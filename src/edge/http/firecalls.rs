//! `POST /v1/firecalls` (role minter: the access manager, for the person in an
//! incident) and `POST /v1/firecalls/{id}/review` (role approver): thin handlers over
//! `service::firecall`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::auth::require;
use super::body;
use super::error::ApiError;
use super::routes::{blocking, limits, store};
use super::state::{request_id, State};
use crate::config::server::Role;
use crate::edge::clock;
use crate::edge::render::grant_json;
use crate::service::firecall::{self, FirecallRequest};
use crate::service::grants::Actor;

pub async fn open(
    state: web::Data<State>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let caller = require(&state, &req, &[Role::Minter])?;
    let b: FirecallRequest = body::json(&req, payload, limits(&state)).await?;
    let st = state.clone();
    let rid = request_id(&req);
    let g = blocking(move || {
        let now = clock::now();
        let actor = Actor { caller: &caller.name, request_id: rid.as_deref(), now, allow_past: false };
        let cap = st.config.firecall_max_seconds;
        let g = firecall::open(store(&st)?.as_ref(), st.audit.as_ref(), &st.config.mapping, cap, &b, &actor)?;
        Ok(grant_json(&g, now))
    })
    .await?;
    Ok(HttpResponse::Created().json(g))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    pub note: String,
}

pub async fn review(
    state: web::Data<State>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let caller = require(&state, &req, &[Role::Approver])?;
    let id: i64 = id.parse().map_err(|_| ApiError::BadInput("id: must be a grant number".into()))?;
    let b: Review = body::json(&req, payload, limits(&state)).await?;
    let st = state.clone();
    let rid = request_id(&req);
    let g = blocking(move || {
        let now = clock::now();
        let actor = Actor { caller: &caller.name, request_id: rid.as_deref(), now, allow_past: false };
        let g = firecall::review(store(&st)?.as_ref(), st.audit.as_ref(), id, &b.note, &actor)?;
        Ok(grant_json(&g, now))
    })
    .await?;
    Ok(HttpResponse::Ok().json(g))
}
