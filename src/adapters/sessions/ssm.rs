//! Session Manager through the official AWS SDK for Rust (aws-config, aws-sdk-ssm):
//! the standard credential chain, one client per region (built from one shared SDK
//! configuration), connect/attempt/operation timeouts, the SDK's standard retries
//! (throttling and 5xx, with backoff), and an endpoint override for the tests'
//! loopback stand-in only. Calls run on this adapter's own single-thread runtime, so
//! the reaper's thread may block on them; no AWS error panics.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ssm::types::{SessionFilter, SessionFilterKey, SessionState};

use crate::adapters::{ActiveSession, SessionError, SessionManager};
use crate::core::Region;

/// At most this many pages of DescribeSessions for one principal (200 each).
const MAX_PAGES: usize = 50;

/// How the SDK is set up (from `[reaper]`).
#[derive(Debug, Clone)]
pub struct SsmSettings {
    pub timeout: Duration,
    /// SDK attempts per call (standard retry mode: throttling and 5xx retried).
    pub attempts: u32,
    pub initial_backoff: Duration,
    /// For the tests' stand-in only.
    pub endpoint_url: Option<String>,
}

pub struct SsmSessions {
    rt: tokio::runtime::Runtime,
    sdk: SdkConfig,
    clients: Mutex<HashMap<String, aws_sdk_ssm::Client>>,
}

impl std::fmt::Debug for SsmSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsmSessions").field("endpoint", &self.sdk.endpoint_url()).finish_non_exhaustive()
    }
}

pub(super) fn error<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    e: SdkError<E, R>,
) -> SessionError {
    match e.code() {
        Some(code) => {
            SessionError { code: code.to_owned(), message: e.message().unwrap_or_default().to_owned() }
        }
        None => {
            let code = match &e {
                SdkError::TimeoutError(_) => "timeout",
                SdkError::DispatchFailure(_) => "unreachable",
                SdkError::ResponseError(_) => "bad_response",
                SdkError::ConstructionFailure(_) => "bad_request",
                _ => "error",
            };
            SessionError { code: code.to_owned(), message: DisplayErrorContext(&e).to_string() }
        }
    }
}

impl SsmSessions {
    /// The SDK configuration (credentials, timeouts, retries) other clients share.
    pub fn sdk(&self) -> &SdkConfig {
        &self.sdk
    }

    pub fn new(s: &SsmSettings) -> Result<Self, SessionError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| SessionError { code: "runtime".into(), message: e.to_string() })?;
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(s.timeout)
            .operation_attempt_timeout(s.timeout)
            .operation_timeout(s.timeout.saturating_mul(s.attempts.max(1) + 1))
            .build();
        let retry = RetryConfig::standard()
            .with_max_attempts(s.attempts.max(1))
            .with_initial_backoff(s.initial_backoff);
        // A region for the loader only (so it never asks instance metadata); every call
        // names its own region.
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .timeout_config(timeouts)
            .retry_config(retry);
        if let Some(url) = &s.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = rt.block_on(loader.load());
        Ok(Self { rt, sdk, clients: Mutex::new(HashMap::new()) })
    }

    fn client(&self, region: &Region) -> aws_sdk_ssm::Client {
        let mut clients = self.clients.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        clients
            .entry(region.as_str().to_owned())
            .or_insert_with(|| {
                let conf = aws_sdk_ssm::config::Builder::from(&self.sdk)
                    .region(aws_config::Region::new(region.as_str().to_owned()))
                    .build();
                aws_sdk_ssm::Client::from_conf(conf)
            })
            .clone()
    }
}

impl SessionManager for SsmSessions {
    fn active(&self, region: &Region, owner: &str) -> Result<Vec<ActiveSession>, SessionError> {
        let client = self.client(region);
        let filter = SessionFilter::builder()
            .key(SessionFilterKey::Owner)
            .value(owner)
            .build()
            .map_err(|e| SessionError { code: "bad_request".into(), message: e.to_string() })?;
        self.rt.block_on(async {
            let mut out = Vec::new();
            let mut token: Option<String> = None;
            for _ in 0..MAX_PAGES {
                let page = client
                    .describe_sessions()
                    .state(SessionState::Active)
                    .filters(filter.clone())
                    .max_results(200)
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(error)?;
                for s in page.sessions() {
                    out.push(ActiveSession {
                        id: s.session_id().unwrap_or_default().to_owned(),
                        target: s.target().unwrap_or_default().to_owned(),
                        owner: s.owner().unwrap_or_default().to_owned(),
                    });
                }
                match page.next_token() {
                    Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                    _ => return Ok(out),
                }
            }
            Err(SessionError {
                code: "too_many_sessions".into(),
                message: format!("more than {} pages of sessions for {owner}", MAX_PAGES),
            })
        })
    }

    fn terminate(&self, region: &Region, session_id: &str) -> Result<(), SessionError> {
        let client = self.client(region);
        self.rt.block_on(async {
            client.terminate_session().session_id(session_id).send().await.map(drop).map_err(error)
        })
    }
}
