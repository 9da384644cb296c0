//! Shared answer classification (providers.md "Classification rule", api.md `test/` outcomes).
//!
//! Every provider's classifier reduces an answer to the HTTP status plus the provider's error
//! type or code (a short token checked against a strict alphabet), never the message or the
//! body, so details cannot carry key material a provider echoes back.

use serde_json::Value;

use super::http::{Failure, Reply};
use super::ProviderError;
use crate::key_test::TestOutcome;

/// Longest error token kept from a provider's answer.
const MAX_TOKEN_LEN: usize = 48;

/// What a key test concluded, before it becomes a [`crate::key_test::TestResult`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// The outcome to record.
    pub outcome: TestOutcome,
    /// The provider's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Short explanation without key material.
    pub detail: String,
    /// Whether another attempt may give a different answer (rate limit, 5xx, timeout).
    pub transient: bool,
}

impl Verdict {
    fn new(outcome: TestOutcome, status: Option<u16>, detail: String, transient: bool) -> Self {
        Self {
            outcome,
            status,
            detail,
            transient,
        }
    }

    /// The provider accepted the key.
    pub(super) fn passed(status: u16) -> Self {
        Self::new(
            TestOutcome::Passed,
            Some(status),
            format!("provider accepted the key (HTTP {status})"),
            false,
        )
    }

    /// The provider rejected the key.
    pub(super) fn bad_key(status: u16, token: Option<&str>) -> Self {
        Self::new(
            TestOutcome::BadKey,
            Some(status),
            format!("provider rejected the key (HTTP {status}{})", suffix(token)),
            false,
        )
    }

    /// The key is valid but out of quota or credit; retrying will not help.
    pub(super) fn unfunded(status: u16, why: &str, token: Option<&str>) -> Self {
        Self::new(
            TestOutcome::Unfunded,
            Some(status),
            format!("key is valid but {why} (HTTP {status}{})", suffix(token)),
            false,
        )
    }

    /// The answer says nothing about the key (not retried unless `transient`).
    pub(super) fn unavailable(status: Option<u16>, detail: String) -> Self {
        Self::new(TestOutcome::ProviderUnavailable, status, detail, false)
    }

    /// A rate limit, 5xx or overload: retried.
    pub(super) fn transient(status: u16, token: Option<&str>) -> Self {
        let what = match status {
            429 => "provider is rate limiting",
            529 => "provider is overloaded",
            408 => "provider timed out the request",
            _ => "provider error",
        };
        Self::new(
            TestOutcome::ProviderUnavailable,
            Some(status),
            format!("{what} (HTTP {status}{})", suffix(token)),
            true,
        )
    }

    /// A status that does not belong to this probe: most likely a wrong `base_url`.
    pub(super) fn unexpected(status: u16) -> Self {
        Self::unavailable(
            Some(status),
            format!("unexpected status {status} from provider (check base_url)"),
        )
    }

    /// A 2xx whose body is not what the provider sends: most likely a wrong `base_url`.
    pub(super) fn unexpected_body(status: u16) -> Self {
        Self::unavailable(
            Some(status),
            format!("unexpected answer (HTTP {status}) from provider (check base_url)"),
        )
    }

    /// No answer: timeout or connection error (retried).
    pub(super) fn from_failure(failure: &Failure) -> Self {
        let mut v = Self::unavailable(None, failure_detail(failure));
        v.transient = true;
        v
    }
}

fn suffix(token: Option<&str>) -> String {
    token.map(|t| format!(", {t}")).unwrap_or_default()
}

/// A human description of a call that got no answer.
pub(crate) fn failure_detail(failure: &Failure) -> String {
    match failure {
        Failure::Timeout(t) => format!("provider did not answer within {}s", t.as_secs().max(1)),
        Failure::Connect => "could not connect to provider (check base_url)".to_string(),
        Failure::Other => "request to provider failed (TLS or protocol error)".to_string(),
    }
}

/// Whether a status means "try again later": 408, 429, 5xx, and Anthropic's 529.
pub(crate) fn is_transient_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..=599).contains(&status)
}

/// The rule shared by every provider once its special cases are handled: 2xx passed, 401/403
/// bad key, 402 unfunded, 408/429/5xx transient, anything else unexpected.
pub(crate) fn common(reply: &Reply, token: Option<&str>) -> Verdict {
    match reply.status {
        200..=299 => Verdict::passed(reply.status),
        401 | 403 => Verdict::bad_key(reply.status, token),
        402 => Verdict::unfunded(402, "billing blocks its use", token),
        s if is_transient_status(s) => Verdict::transient(s, token),
        s => Verdict::unexpected(s),
    }
}

/// The first JSON-pointer value in `json` that is a clean token (letters, digits, `_ . -`,
/// starting with a letter or digit, at most 48 characters); numbers count as tokens.
pub(crate) fn token(json: Option<&Value>, pointers: &[&str]) -> Option<String> {
    let json = json?;
    pointers.iter().find_map(|p| match json.pointer(p)? {
        Value::String(s) => clean_token(s),
        Value::Number(n) => clean_token(&n.to_string()),
        _ => None,
    })
}

/// `s` if it is a clean token (see [`token`]).
pub(crate) fn clean_token(s: &str) -> Option<String> {
    let ok = !s.is_empty()
        && s.len() <= MAX_TOKEN_LEN
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    ok.then(|| s.to_string())
}

/// Removes from `text` every word that contains one of `secrets` or is a long piece of one,
/// a last guard against a provider (or impostor) echoing a key into an error code.
pub(crate) fn redact(text: &str, secrets: &[&str]) -> String {
    let leaks = |word: &str| {
        secrets
            .iter()
            .filter(|s| !s.is_empty())
            .any(|secret| word.contains(secret) || (word.len() >= 6 && secret.contains(word)))
    };
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_whitespace() || matches!(c, ',' | '(' | ')' | ':' | ';' | '"' | '\'') {
            out.push_str(if leaks(&word) { "[redacted]" } else { &word });
            word.clear();
            out.push(c);
        } else {
            word.push(c);
        }
    }
    out.pop();
    out
}

/// The error for an admin call the provider answered with a non-2xx status. `what` names the
/// object (for 404s): "project", "key".
pub(crate) fn admin_error(reply: &Reply, token: Option<&str>, what: &str) -> ProviderError {
    let status = reply.status;
    let t = suffix(token);
    match status {
        401 | 403 => ProviderError::Rejected {
            status,
            detail: format!("the provider refused the admin key{t}"),
        },
        404 => ProviderError::Rejected {
            status,
            detail: format!("{what} not found at the provider (check base_url{})", {
                if what == "project" {
                    " and project_id"
                } else {
                    ""
                }
            }),
        },
        s if is_transient_status(s) => ProviderError::Unavailable {
            status: Some(s),
            detail: format!("HTTP {s}{t}"),
        },
        400..=499 => ProviderError::Rejected {
            status,
            detail: format!("request refused{t}"),
        },
        s => ProviderError::Protocol(format!("unexpected status {s} (check base_url)")),
    }
}

/// [`admin_error`], except that an OpenAI-shaped 400 naming `expires_in_seconds` as its
/// `param` is the provider's key-expiry policy (or range) refusing the expiry.
pub(crate) fn admin_error_expiry(reply: &Reply, token: Option<&str>, what: &str) -> ProviderError {
    let json = reply.json();
    let param = json
        .as_ref()
        .and_then(|j| j.pointer("/error/param"))
        .and_then(serde_json::Value::as_str);
    if reply.status == 400 && param == Some("expires_in_seconds") {
        return ProviderError::ExpiryPolicy {
            status: 400,
            detail: format!("expires_in_seconds refused{}", suffix(token)),
        };
    }
    admin_error(reply, token, what)
}

/// The error for an admin call that got no answer.
pub(crate) fn admin_failure(failure: &Failure) -> ProviderError {
    ProviderError::Unavailable {
        status: None,
        detail: failure_detail(failure),
    }
}

/// Whether a 404 to a revoke was answered by the provider's API (a JSON error body) rather
/// than by something else at a wrong `base_url`: only then is the key already gone.
pub(crate) fn is_provider_not_found(reply: &Reply) -> bool {
    reply.status == 404 && reply.json().is_some_and(|j| j.get("error").is_some())
}

/// Retry decision for a create: only where the provider certainly made nothing (429, 529,
/// connection refused); never after a timeout or a 5xx, which may have created a key. A 503 is
/// one of those: a gateway or an overloaded server can answer it after the key was made, and a
/// retry would make a second key under the same name.
pub(crate) fn create_may_retry(exchange: &Result<Reply, Failure>) -> bool {
    match exchange {
        Ok(reply) => matches!(reply.status, 429 | 529),
        Err(failure) => *failure == Failure::Connect,
    }
}

/// Retry decision for an idempotent admin call (revoke): any transient status or failure.
pub(crate) fn idempotent_may_retry(exchange: &Result<Reply, Failure>) -> bool {
    match exchange {
        Ok(reply) => is_transient_status(reply.status),
        Err(Failure::Timeout(_) | Failure::Connect) => true,
        Err(Failure::Other) => false,
    }
}
