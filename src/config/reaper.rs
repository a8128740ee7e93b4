//! The `[reaper]` section: whether `sesame serve` ends Session Manager sessions when
//! their window ends or their grant is revoked, how often it looks, how hard it tries,
//! and the AWS SDK's limits. Off by default (it needs AWS credentials). And
//! `[webhook]`: the signed notices it sends (URL, secret file, lead time).

use std::time::Duration;

use std::path::Path;

use super::model::{Reaper, Webhook};
use super::problems::Problems;
use super::raw::{RawReaper, RawWebhook};

fn dur_ms(p: &mut Problems, at: &str, v: Option<i64>, default: i64, lo: i64, hi: i64) -> Duration {
    Duration::from_millis(u64::try_from(p.number(at, v, default, lo, hi)).unwrap_or(0))
}

pub fn reaper(p: &mut Problems, r: RawReaper) -> Reaper {
    let interval = p.number("reaper.interval_seconds", r.interval_seconds, 10, 1, 3600);
    let endpoint_url = r.endpoint_url.clone();
    for (at, v) in
        [("reaper.endpoint_url", &r.endpoint_url), ("reaper.iam_endpoint_url", &r.iam_endpoint_url)]
    {
        let Some(u) = v else { continue };
        let ok = (u.starts_with("http://127.0.0.1:")
            || u.starts_with("http://[::1]:")
            || u.starts_with("https://"))
            && u.len() <= 256;
        if !ok {
            p.push(
                at,
                format!(
                    "must be https://… or a loopback http://127.0.0.1:PORT (a test stand-in) (got {u:?})"
                ),
            );
        }
    }
    Reaper {
        enabled: r.enabled.unwrap_or(false),
        interval: Duration::from_secs(u64::try_from(interval).unwrap_or(10)),
        rounds: u32::try_from(p.number("reaper.rounds", r.rounds, 5, 1, 20)).unwrap_or(5),
        round_wait: dur_ms(p, "reaper.round_wait_ms", r.round_wait_ms, 1000, 10, 60_000),
        retry_after_seconds: p.number("reaper.retry_after_seconds", r.retry_after_seconds, 60, 1, 3600),
        max_session_hours: p.number("reaper.max_session_hours", r.max_session_hours, 24, 1, 24),
        timeout: dur_ms(p, "reaper.timeout_ms", r.timeout_ms, 5000, 100, 60_000),
        sdk_attempts: u32::try_from(p.number("reaper.sdk_attempts", r.sdk_attempts, 3, 1, 10)).unwrap_or(3),
        endpoint_url,
        iam_endpoint_url: r.iam_endpoint_url,
    }
}

/// HTTPS anywhere, plain HTTP only to loopback (a local bridge or the tests).
fn url_ok(u: &str) -> bool {
    let loopback = ["http://127.0.0.1:", "http://127.0.0.1/", "http://[::1]:", "http://localhost:"];
    u.len() <= 2048
        && !u.chars().any(char::is_whitespace)
        && (u.starts_with("https://") || loopback.iter().any(|p| u.starts_with(p)))
}

pub fn webhook(p: &mut Problems, r: RawWebhook, base: &Path) -> Option<Webhook> {
    let url = p.required("webhook.url", r.url.clone());
    if !url.is_empty() && !url_ok(&url) {
        p.push(
            "webhook.url",
            format!("must be https://…, or http:// to 127.0.0.1, [::1] or localhost (got {url:?})"),
        );
    }
    let secret = match &r.secret_file {
        None => {
            p.push("webhook.secret_file", "is required: the HMAC-SHA256 key receivers verify notices with");
            Vec::new()
        }
        Some(f) => match crate::secrets::read_line(&base.join(f)) {
            Ok(s) if s.len() >= 16 => s.into_bytes(),
            Ok(_) => {
                p.push("webhook.secret_file", "the secret must be at least 16 characters");
                Vec::new()
            }
            Err(e) => {
                p.push("webhook.secret_file", e.to_string());
                Vec::new()
            }
        },
    };
    Some(Webhook {
        url,
        secret,
        lead_seconds: p.number("webhook.lead_seconds", r.lead_seconds, 600, 0, 86_400),
        timeout: dur_ms(p, "webhook.timeout_ms", r.timeout_ms, 5000, 100, 60_000),
        attempts: u32::try_from(p.number("webhook.attempts", r.attempts, 5, 1, 20)).unwrap_or(5),
    })
}
