//! Gemini API: probe `GET /v1beta/models` with the key in `x-goog-api-key` (never `?key=`:
//! URLs end up in logs). An invalid key is a 400 with `reason: API_KEY_INVALID`, not a 401.

use serde_json::Value;

use super::classify::{clean_token, common, token, Verdict};
use super::http::{secret_header, Reply};
use super::provider::Provider;
use super::ProviderConfig;

/// The Gemini API: key tests only.
pub(crate) struct Gemini;

impl Provider for Gemini {
    fn name(&self) -> &'static str {
        "gemini"
    }

    fn default_base_url(&self) -> Option<&'static str> {
        Some("https://generativelanguage.googleapis.com")
    }

    fn own_path_segment(&self) -> Option<&'static str> {
        Some("v1beta")
    }

    fn probe(
        &self,
        c: &reqwest::Client,
        _cfg: &ProviderConfig,
        base: &str,
        key: &str,
    ) -> reqwest::RequestBuilder {
        probe(c, base, key)
    }

    fn classify(&self, reply: &Reply) -> Verdict {
        classify_test(reply)
    }
}

/// The `ErrorInfo.reason` of a key Google does not accept.
pub(crate) const API_KEY_INVALID: &str = "API_KEY_INVALID";

/// The key-test request (one model is enough).
pub(super) fn probe(c: &reqwest::Client, base: &str, key: &str) -> reqwest::RequestBuilder {
    c.get(format!("{base}/v1beta/models?pageSize=1"))
        .header("x-goog-api-key", secret_header(key))
}

/// Classifies a `GET /v1beta/models` answer (`{"error":{"code","status","details":[{reason}]}}`):
/// 400 `API_KEY_INVALID` bad key; 401/403 (`PERMISSION_DENIED`: API disabled or key restricted)
/// bad key; 429 `RESOURCE_EXHAUSTED` and 5xx (`UNAVAILABLE`) transient; any other 400 unexpected.
pub(crate) fn classify_test(reply: &Reply) -> Verdict {
    let json = reply.json();
    let reason = reasons(json.as_ref()).next();
    if reply.status == 400 && reasons(json.as_ref()).any(|r| r == API_KEY_INVALID) {
        return Verdict::bad_key(400, Some(API_KEY_INVALID));
    }
    if (200..300).contains(&reply.status) && !reply.looks_like_json_object() {
        return Verdict::unexpected_body(reply.status);
    }
    let tok = reason
        .and_then(clean_token)
        .or_else(|| token(json.as_ref(), &["/error/status"]));
    common(reply, tok.as_deref())
}

/// The `reason`s of the `details` of a Google error body.
fn reasons(json: Option<&Value>) -> impl Iterator<Item = &str> {
    json.and_then(|j| j.pointer("/error/details"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("reason").and_then(Value::as_str))
}
