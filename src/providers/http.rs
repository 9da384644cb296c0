//! The shared HTTP client and the retry policy of every provider call.
//!
//! One [`reqwest::Client`] per process: rustls with aws-lc-rs (reqwest's `rustls` feature),
//! HTTP/2 where the server offers it, redirects never followed (a redirect would carry a key
//! header to wherever the answer points). Each call has the provider's timeout; a call is tried
//! at most [`MAX_ATTEMPTS`] times, only when the caller's judge says the answer is transient,
//! with jittered back-off between [`BACKOFF_MIN`] and [`BACKOFF_MAX`], and never past a total
//! budget of one timeout for the whole call (all attempts and waits).

use std::time::Duration;

use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue};
use tokio::time::Instant;

use super::classify::{admin_error, admin_failure, idempotent_may_retry, token};
use super::ProviderError;

/// Attempts per call, the first included (so at most 2 retries).
pub(crate) const MAX_ATTEMPTS: u32 = 3;
/// Shortest wait before a retry.
pub(crate) const BACKOFF_MIN: Duration = Duration::from_millis(200);
/// Longest wait before a retry (also caps a provider's `retry-after`).
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// Most of a response body that is read; the rest is ignored.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// A provider's answer: status, headers and (the start of) the body.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Up to 256 KiB of the body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON, if it is JSON.
    pub(super) fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// Whether the body starts like a JSON object (survives truncation of long lists).
    pub(super) fn looks_like_json_object(&self) -> bool {
        self.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
    }
}

/// A call that got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No (complete) answer within the timeout.
    Timeout(Duration),
    /// The connection could not be made; the request was not sent.
    Connect,
    /// Anything else (TLS, protocol, body read).
    Other,
}

/// The result of one attempt.
pub(crate) type Exchange = Result<Reply, Failure>;

/// A judge's decision on one attempt.
pub(crate) enum Step<T> {
    /// Final: return it.
    Done(T),
    /// Transient: try again if the policy allows, else return it.
    Retry(T),
}

impl<T> Step<T> {
    /// `Retry(value)` when `transient`, else `Done(value)`.
    pub(super) fn judged(transient: bool, value: T) -> Self {
        if transient {
            Self::Retry(value)
        } else {
            Self::Done(value)
        }
    }
}

/// Builds the process-wide client.
pub(crate) fn build_client() -> Result<reqwest::Client, ProviderError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            "vault-plugin-secrets-ai-keys/",
            env!("CARGO_PKG_VERSION")
        ))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .map_err(|_| ProviderError::Protocol("could not initialise the TLS client".to_string()))
}

/// A header value holding a secret: marked sensitive so no `Debug` of a request shows it.
pub(crate) fn secret_header(value: &str) -> HeaderValue {
    let mut v = HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static(""));
    v.set_sensitive(true);
    v
}

/// The shared client with one configuration's timeout.
pub(crate) struct HttpClient<'a> {
    client: &'a reqwest::Client,
    timeout: Duration,
}

impl<'a> HttpClient<'a> {
    /// Binds `client` to a per-call `timeout`.
    pub(super) fn new(client: &'a reqwest::Client, timeout: Duration) -> Self {
        Self { client, timeout }
    }

    /// The longest a whole call (all attempts and waits) may take: one timeout, so whoever
    /// waits behind a provider call (a key's lock, the tick) waits at most that.
    pub(super) fn budget(&self) -> Duration {
        self.timeout
    }

    /// Sends the request `build` makes, asks `judge` about each attempt, retries while the
    /// judge says `Retry` and the policy allows; returns the last judgement and the number of
    /// attempts made.
    pub(super) async fn exchange<T>(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        mut judge: impl FnMut(Exchange) -> Step<T>,
    ) -> (T, u32) {
        let deadline = Instant::now() + self.budget();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let per_call = self
                .timeout
                .min(deadline.saturating_duration_since(Instant::now()));
            let exchange = send(build(self.client), per_call).await;
            let hint = exchange.as_ref().ok().and_then(retry_after);
            if let Ok(reply) = &exchange {
                tracing::debug!(status = reply.status, attempt, "provider answered");
            } else {
                tracing::debug!(attempt, "provider call failed");
            }
            match judge(exchange) {
                Step::Done(value) => return (value, attempt),
                Step::Retry(value) => {
                    let wait = backoff(attempt, hint);
                    let time_left = deadline.saturating_duration_since(Instant::now());
                    // Not worth a retry that could not get a reasonable share of the timeout.
                    if attempt >= MAX_ATTEMPTS || wait + self.timeout / 2 > time_left {
                        return (value, attempt);
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

impl HttpClient<'_> {
    /// An idempotent admin read (a list page): 2xx JSON, or the error, with the provider's
    /// error token taken from `error_pointers`. Retried like any idempotent call.
    pub(super) async fn admin_json(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        error_pointers: &[&str],
    ) -> Result<serde_json::Value, ProviderError> {
        let judge = |ex: Exchange| {
            let retry = idempotent_may_retry(&ex);
            let result = ex.map_err(|f| admin_failure(&f)).and_then(|reply| {
                let json = reply.json();
                match json {
                    Some(json) if (200..300).contains(&reply.status) => Ok(json),
                    Some(_) | None if (200..300).contains(&reply.status) => Err(
                        ProviderError::Protocol("a list answer that is not JSON".to_string()),
                    ),
                    _ => {
                        let tok = token(json.as_ref(), error_pointers);
                        Err(admin_error(&reply, tok.as_deref(), "list"))
                    }
                }
            });
            Step::judged(retry, result)
        };
        self.exchange(build, judge).await.0
    }
}

async fn send(request: reqwest::RequestBuilder, timeout: Duration) -> Exchange {
    let fail = |e: reqwest::Error| {
        if e.is_timeout() {
            Failure::Timeout(timeout)
        } else if e.is_connect() {
            Failure::Connect
        } else {
            Failure::Other
        }
    };
    let mut response = request.timeout(timeout).send().await.map_err(fail)?;
    let status = response.status().as_u16();
    let headers = std::mem::take(response.headers_mut());
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(fail)? {
        let room = MAX_BODY_BYTES - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_BODY_BYTES {
            break;
        }
    }
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// The provider's requested wait (`retry-after-ms`, or `retry-after` in seconds).
pub(crate) fn retry_after(reply: &Reply) -> Option<Duration> {
    let header = |name: &str| {
        reply
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|n| n.is_finite() && *n >= 0.0)
    };
    header("retry-after-ms")
        .map(|ms| ms / 1000.0)
        .or_else(|| header("retry-after"))
        .map(|secs| Duration::from_secs_f64(secs.min(3600.0)))
}

/// The wait before retry number `attempt` (1-based): jittered, growing, within
/// [`BACKOFF_MIN`, `BACKOFF_MAX`], and at least the provider's hint where that fits.
pub(crate) fn backoff(attempt: u32, hint: Option<Duration>) -> Duration {
    let floor = BACKOFF_MIN * attempt.clamp(1, 2);
    let ceiling = (BACKOFF_MAX / 2) * attempt.clamp(1, 2);
    let jittered = rand::rng().random_range(floor..=ceiling);
    jittered.max(hint.unwrap_or_default()).min(BACKOFF_MAX)
}
