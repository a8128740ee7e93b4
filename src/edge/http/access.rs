//! `GET /v1/access?user=U[&limit=N][&page=T]` (role minter): the launcher's view of a
//! person's entitlements and the instances each covers, a page at a time; a thin
//! handler over `service::access`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::auth::require;
use super::error::ApiError;
use super::routes::blocking;
use super::state::State;
use crate::config::server::Role;
use crate::edge::clock;
use crate::edge::render::{access_json, AccessPage};
use crate::service::access::{access as view, Sources};

/// Entitlements per page unless `limit` says otherwise, and the most `limit` may ask.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 100;

#[derive(Debug, Deserialize)]
pub struct AccessQuery {
    user: Option<String>,
    limit: Option<String>,
    page: Option<String>,
}

fn bad(field: &str, message: &str) -> ApiError {
    ApiError::BadField { field: field.into(), message: format!("{field}: {message}") }
}

pub async fn access(
    state: web::Data<State>,
    req: HttpRequest,
    q: web::Query<AccessQuery>,
) -> Result<HttpResponse, ApiError> {
    require(&state, &req, &[Role::Minter])?;
    let q = q.into_inner();
    let user = q.user.ok_or_else(|| bad("user", "is required"))?;
    let limit = match q.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| bad("limit", "must be a whole number from 1 to 100"))?,
    };
    let offset = match q.page.as_deref() {
        None => 0,
        Some(s) => {
            s.parse::<usize>().map_err(|_| bad("page", "must be a next_page value this API returned"))?
        }
    };
    let (st, name) = (state.clone(), user.clone());
    let now = clock::now();
    let (entries, inventory) = blocking(move || Ok(view(&Sources::of(&st.minter), &name, now)?)).await?;
    if offset > entries.len() {
        return Err(bad("page", "is past the end of the list"));
    }
    let end = offset.saturating_add(limit).min(entries.len());
    let page = AccessPage {
        user: &user,
        at: now,
        console_url: &state.minter.console_url,
        inventory,
        entries: entries.get(offset..end).unwrap_or_default(),
        next_page: (end < entries.len()).then(|| end.to_string()),
    };
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(access_json(&page)))
}
