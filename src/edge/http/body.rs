//! Request bodies and connections, bounded: a JSON body must be `application/json`, at
//! most `server.max_body_bytes`, and arrive whole within `server.body_timeout_ms` (a
//! stalled body gets 408, not a hung worker); a type error names the field
//! (`user: invalid type: integer 123, expected a string`). Each source address may hold
//! at most `server.max_connections_per_source` connections.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Limits for [`json`].
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_bytes: usize,
    pub timeout: Duration,
}

/// Reads and parses a JSON body within `limits`.
pub async fn json<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    limits: BodyLimits,
) -> Result<T, ApiError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_bytes as u64) {
        return Err(ApiError::BodyTooLarge(limits.max_bytes));
    }
    let read = payload.to_bytes_limited(limits.max_bytes);
    let body = match tokio::time::timeout(limits.timeout, read).await {
        Err(_) => return Err(ApiError::BodyTimeout(limits.timeout)),
        Ok(Err(_)) => return Err(ApiError::BodyTooLarge(limits.max_bytes)),
        Ok(Ok(Err(e))) => return Err(ApiError::BadInput(format!("body: {e}"))),
        Ok(Ok(Ok(b))) => b,
    };
    parse(&body)
}

/// Parses JSON, naming the field a type error is in.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner().to_string();
        // serde_json appends " at line L column C"; the field says where.
        let message = inner.split(" at line ").next().unwrap_or(&inner).to_owned();
        match path.as_str() {
            "." | "" => ApiError::BadInput(format!("body: {message}")),
            field => ApiError::BadField { field: field.to_owned(), message },
        }
    })
}

/// Open connections per source address.
#[derive(Debug, Default)]
pub struct Connections {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection, counted until it is dropped with the connection.
#[derive(Debug)]
pub struct Slot {
    conns: Arc<Connections>,
    ip: IpAddr,
}

impl Connections {
    pub fn open(self: &Arc<Self>, ip: IpAddr) -> Slot {
        if let Ok(mut m) = self.open.lock() {
            *m.entry(ip).or_insert(0) += 1;
        }
        Slot { conns: self.clone(), ip }
    }
}

impl Slot {
    /// Whether this connection's source holds more than `limit` connections now.
    pub fn crowded(&self, limit: usize) -> bool {
        self.conns.open.lock().is_ok_and(|m| m.get(&self.ip).is_some_and(|n| *n > limit))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut m) = self.conns.open.lock() {
            if let Some(n) = m.get_mut(&self.ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    m.remove(&self.ip);
                }
            }
        }
    }
}
