//! Anthropic: probe `GET /v1/models` (`x-api-key` + `anthropic-version`); no create (keys are
//! made in the Console); revoke by setting the key `inactive` (recoverable, unlike `archived`;
//! a key already `archived` or `expired`, whose status Anthropic will not change, counts as
//! revoked); look one key up by id for its `partial_key_hint` and `status`.

use serde_json::{json, Value};

use super::classify::{
    admin_error, admin_failure, common, idempotent_may_retry, is_provider_not_found, token, Verdict,
};
use super::http::{secret_header, Exchange, HttpClient, Reply, Step};
use super::ownership::{interpret_lookup, short_field, timestamp, KeyRecord};
use super::provider::{AdminCall, Features, Provider, Settings};
use super::{ProviderConfig, ProviderError};

/// Anthropic: key tests; deactivating and looking up keys a person created, with an admin key.
pub(crate) struct Anthropic;

#[async_trait::async_trait]
impl Provider for Anthropic {
    fn name(&self) -> &'static str {
        "anthropic"
    }

    fn default_base_url(&self) -> Option<&'static str> {
        Some("https://api.anthropic.com")
    }

    fn own_path_segment(&self) -> Option<&'static str> {
        Some("v1")
    }

    fn settings(&self) -> Settings {
        Settings {
            admin_key: true,
            ..Settings::default()
        }
    }

    fn features(&self) -> Features {
        Features {
            revoke: true,
            lookup: true,
            ..Features::default()
        }
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

    async fn revoke(&self, call: &AdminCall<'_>, id: &str) -> Result<(), ProviderError> {
        revoke(&call.http, &call.base, call.admin, id).await
    }

    async fn lookup(
        &self,
        call: &AdminCall<'_>,
        id: &str,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        lookup(&call.http, &call.base, call.admin, id).await
    }
}

/// The API version header every Anthropic call carries.
pub(crate) const ANTHROPIC_VERSION: &str = "2023-06-01";

fn authed(request: reqwest::RequestBuilder, key: &str) -> reqwest::RequestBuilder {
    request
        .header("x-api-key", secret_header(key))
        .header("anthropic-version", ANTHROPIC_VERSION)
}

/// The key-test request (one model is enough).
pub(super) fn probe(c: &reqwest::Client, base: &str, key: &str) -> reqwest::RequestBuilder {
    authed(c.get(format!("{base}/v1/models?limit=1")), key)
}

/// Classifies a `GET /v1/models` answer: `{"type":"error","error":{"type":...}}` bodies;
/// 401 `authentication_error` / 403 `permission_error` bad key, 402 `billing_error` unfunded,
/// 429 `rate_limit_error`, 500 `api_error` and 529 `overloaded_error` transient.
pub(crate) fn classify_test(reply: &Reply) -> Verdict {
    let json = reply.json();
    let tok = token(json.as_ref(), &["/error/type"]);
    if reply.status == 402 {
        return Verdict::unfunded(402, "billing blocks its use", tok.as_deref());
    }
    if (200..300).contains(&reply.status) && !reply.looks_like_json_object() {
        return Verdict::unexpected_body(reply.status);
    }
    common(reply, tok.as_deref())
}

/// Looks up API key `id` (`GET /v1/organizations/api_keys/{id}`): `partial_key_hint`,
/// `status`, `expires_at`. `None` when Anthropic has no such key.
pub(super) async fn lookup(
    http: &HttpClient<'_>,
    base: &str,
    admin: &str,
    id: &str,
) -> Result<Option<KeyRecord>, ProviderError> {
    let url = format!("{base}/v1/organizations/api_keys/{id}");
    let (result, _) = http
        .exchange(
            |c| authed(c.get(&url), admin),
            |ex| {
                let retry = idempotent_may_retry(&ex);
                Step::judged(retry, interpret_lookup(ex, id, &["/error/type"], record))
            },
        )
        .await;
    result
}

/// The record in an Anthropic API key object.
pub(crate) fn record(json: &Value, id: &str) -> KeyRecord {
    KeyRecord {
        id: id.to_string(),
        hint: short_field(json, "/partial_key_hint"),
        status: short_field(json, "/status"),
        last_used_at: None,
        expires_at: timestamp(json.get("expires_at")),
    }
}

/// Sets API key `id` to `inactive` with the admin key. Anthropic refuses a status update of a
/// key that is `archived` (permanent) or `expired`: such a refusal, once a look-up shows the key
/// in one of those states (or gone), means the key is already unusable, which is what a
/// revocation wants.
pub(super) async fn revoke(
    http: &HttpClient<'_>,
    base: &str,
    admin: &str,
    id: &str,
) -> Result<(), ProviderError> {
    let url = format!("{base}/v1/organizations/api_keys/{id}");
    let body = json!({ "status": "inactive" });
    let (result, _) = http
        .exchange(
            |c| authed(c.post(&url), admin).json(&body),
            |ex| Step::judged(idempotent_may_retry(&ex), interpret_revoke(ex)),
        )
        .await;
    match result {
        Err(ProviderError::Rejected { status: 400, .. })
            if unusable(http, base, admin, id).await =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Whether a look-up shows key `id` gone, or `archived`, `expired` or `inactive`.
async fn unusable(http: &HttpClient<'_>, base: &str, admin: &str, id: &str) -> bool {
    match lookup(http, base, admin, id).await {
        Ok(None) => true,
        Ok(Some(record)) => is_unusable_status(record.status.as_deref()),
        Err(_) => false,
    }
}

/// `archived` (permanent), `expired` and `inactive` keys cannot authenticate.
pub(crate) fn is_unusable_status(status: Option<&str>) -> bool {
    matches!(status, Some("archived" | "expired" | "inactive"))
}

/// Reads an update answer: the key object with `status` `inactive`, or the provider's 404.
pub(crate) fn interpret_revoke(ex: Exchange) -> Result<(), ProviderError> {
    let reply = ex.map_err(|f| admin_failure(&f))?;
    let json = reply.json();
    if (200..300).contains(&reply.status) {
        let status = json
            .as_ref()
            .and_then(|j| j.get("status"))
            .and_then(Value::as_str);
        return match status {
            None => Ok(()),
            s if is_unusable_status(s) => Ok(()),
            Some(other) => Err(ProviderError::Protocol(format!(
                "the key is still {}",
                super::classify::clean_token(other).unwrap_or_else(|| "active".to_string())
            ))),
        };
    }
    if is_provider_not_found(&reply) {
        return Ok(());
    }
    let tok = token(json.as_ref(), &["/error/type"]);
    Err(admin_error(&reply, tok.as_deref(), "key"))
}
