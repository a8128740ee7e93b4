//! Signed webhooks: each notice is POSTed as JSON with
//! `X-Sesame-Timestamp: <unix seconds>` and
//! `X-Sesame-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`, so a
//! receiver checks the body and its age with the shared secret (and drops a replay
//! by the notice's `id`). Retried with backoff on errors and non-2xx answers, each
//! attempt bounded by the timeout; HTTPS, or plain HTTP to loopback only.

use std::time::Duration;

use chrono::{DateTime, Utc};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

use crate::adapters::{Notice, Notifier, NotifyError};
use crate::core::text::hex;

pub struct Webhook {
    url: String,
    secret: Vec<u8>,
    attempts: u32,
    backoff: Duration,
    client: reqwest::blocking::Client,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook").field("url", &self.url).finish_non_exhaustive()
    }
}

/// `v1=<hex>` over `"<timestamp>.<body>"`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> Result<String, NotifyError> {
    let fail = |e: openssl::error::ErrorStack| NotifyError(format!("HMAC: {e}"));
    let key = PKey::hmac(secret).map_err(fail)?;
    let mut s = Signer::new(MessageDigest::sha256(), &key).map_err(fail)?;
    s.update(timestamp.to_string().as_bytes()).map_err(fail)?;
    s.update(b".").map_err(fail)?;
    s.update(body).map_err(fail)?;
    Ok(format!("v1={}", hex(&s.sign_to_vec().map_err(fail)?)))
}

impl Webhook {
    pub fn new(url: &str, secret: Vec<u8>, timeout: Duration, attempts: u32) -> Result<Self, NotifyError> {
        let client = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| NotifyError(format!("webhook client: {e}")))?;
        Ok(Self {
            url: url.to_owned(),
            secret,
            attempts: attempts.max(1),
            backoff: Duration::from_millis(200),
            client,
        })
    }
}

impl Notifier for Webhook {
    fn send(&self, n: &Notice, now: DateTime<Utc>) -> Result<(), NotifyError> {
        let body = serde_json::to_vec(n).map_err(|e| NotifyError(e.to_string()))?;
        let ts = now.timestamp();
        let sig = signature(&self.secret, ts, &body)?;
        let mut wait = self.backoff;
        let mut last = NotifyError("not sent".into());
        for attempt in 0..self.attempts {
            if attempt > 0 {
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(10));
            }
            let r = self
                .client
                .post(&self.url)
                .header("Content-Type", "application/json")
                .header("X-Sesame-Timestamp", ts.to_string())
                .header("X-Sesame-Signature", &sig)
                .header("X-Sesame-Event", &n.event)
                .body(body.clone())
                .send();
            match r {
                Ok(resp) if resp.status().is_success() => return Ok(()),
                Ok(resp) => last = NotifyError(format!("{} answered {}", self.url, resp.status())),
                Err(e) => last = NotifyError(format!("{}: {e}", self.url)),
            }
        }
        Err(NotifyError(format!("after {} attempts: {}", self.attempts, last.0)))
    }
}
