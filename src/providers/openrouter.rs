//! OpenRouter: probe `GET /api/v1/key` (Bearer), whose `data.limit_remaining` tells whether
//! the key can still spend (never `/models`: OpenRouter serves it without a key); create with
//! `POST /api/v1/keys`, delete with `DELETE /api/v1/keys/{hash}` and look one key up (its
//! `label`) with `GET /api/v1/keys/{hash}`, using a management key. `GET /api/v1/key` with a
//! value as bearer also names the key the value is (its `label`): the possession proof of an
//! imported key's hash.

mod listing;
mod lookup;

use serde_json::{json, Value};

use super::classify::{
    admin_error, admin_failure, common, create_may_retry, idempotent_may_retry,
    is_provider_not_found, Verdict,
};
use super::http::{Exchange, HttpClient, Reply, Step};
use super::ownership::{timestamp, KeyRecord};
use super::provider::{AdminCall, CreateRequest, Features, Provider, Settings};
use super::{CreatedKey, KeyUsage, ProviderConfig, ProviderError};
pub(super) use listing::for_each_key;
use listing::{find_by_label, find_by_name};
use lookup::{identify, lookup};

/// OpenRouter: key tests; creating, deleting and looking up keys with a management key.
pub(crate) struct OpenRouter;

#[async_trait::async_trait]
impl Provider for OpenRouter {
    fn name(&self) -> &'static str {
        "openrouter"
    }

    fn default_base_url(&self) -> Option<&'static str> {
        Some("https://openrouter.ai")
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
            create: true,
            revoke: true,
            lookup: true,
            last_used: true,
            expiry: true,
            max_expiry_secs: None,
            // `PATCH /api/v1/keys/{hash}` cannot change `expires_at` (providers.md).
            update_expiry: false,
            account: false,
        }
    }

    fn admin_needs(&self) -> &'static str {
        "admin_key (a management key)"
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

    async fn create(
        &self,
        call: &AdminCall<'_>,
        req: &CreateRequest<'_>,
    ) -> Result<CreatedKey, ProviderError> {
        let expires_at = req
            .expires_in_secs
            .and_then(chrono::TimeDelta::try_seconds)
            .and_then(|d| chrono::Utc::now().checked_add_signed(d));
        create(&call.http, &call.base, call.admin, req.name, expires_at).await
    }

    async fn revoke(&self, call: &AdminCall<'_>, id: &str) -> Result<(), ProviderError> {
        revoke(&call.http, &call.base, call.admin, id).await
    }

    async fn identify(
        &self,
        http: &HttpClient<'_>,
        base: &str,
        value: &str,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        identify(http, base, value).await
    }

    async fn lookup(
        &self,
        call: &AdminCall<'_>,
        id: &str,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        lookup(&call.http, &call.base, call.admin, id).await
    }

    /// OpenRouter reports no last-use time, only the key's spend (`usage`, USD): rising
    /// between two readings means the key is in use.
    async fn last_used(&self, call: &AdminCall<'_>, hash: &str) -> Result<KeyUsage, ProviderError> {
        let url = format!("{}/api/v1/keys/{hash}", call.base);
        let json = call
            .http
            .admin_json(|c| c.get(&url).bearer_auth(call.admin), &["/error/message"])
            .await?;
        super::usage::spend(&json)
    }

    async fn find_by_name(
        &self,
        call: &AdminCall<'_>,
        name: &str,
    ) -> Result<Vec<String>, ProviderError> {
        find_by_name(&call.http, &call.base, call.admin, name).await
    }

    async fn find_by_hint(
        &self,
        call: &AdminCall<'_>,
        hint: &str,
    ) -> Result<Vec<String>, ProviderError> {
        find_by_label(&call.http, &call.base, call.admin, hint).await
    }

    async fn list_named(
        &self,
        call: &AdminCall<'_>,
        prefix: &str,
        _account: Option<&str>,
    ) -> Result<Vec<(String, String)>, ProviderError> {
        super::engine_keys::openrouter(call, prefix).await
    }
}
use crate::secret::{validate_key_value, SecretValue};

/// The key-test request.
pub(super) fn probe(c: &reqwest::Client, base: &str, key: &str) -> reqwest::RequestBuilder {
    c.get(format!("{base}/api/v1/key")).bearer_auth(key)
}

/// Classifies a `GET /api/v1/key` answer. Errors are `{"error":{"code": N, "message"}}` with
/// nothing beyond the status worth keeping: 401 bad key, 402 unfunded, 429/5xx transient. A
/// 2xx must carry `data`; a non-null `data.limit_remaining` at or below 0 is unfunded.
pub(crate) fn classify_test(reply: &Reply) -> Verdict {
    if !(200..300).contains(&reply.status) {
        return common(reply, None);
    }
    let json = reply.json();
    let Some(data) = json
        .as_ref()
        .and_then(|j| j.get("data"))
        .filter(|d| d.is_object())
    else {
        return Verdict::unexpected_body(reply.status);
    };
    match data.get("limit_remaining").and_then(Value::as_f64) {
        Some(left) if left <= 0.0 => Verdict::unfunded(
            reply.status,
            "its credit limit is used up (limit_remaining 0)",
            None,
        ),
        _ => Verdict::passed(reply.status),
    }
}

/// Creates a key named `name`, expiring at `expires_at` (`expires_at`, ISO 8601 UTC) when
/// given; returns `key`, `data.hash` and `data.expires_at`.
pub(super) async fn create(
    http: &HttpClient<'_>,
    base: &str,
    admin: &str,
    name: &str,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<CreatedKey, ProviderError> {
    let url = format!("{base}/api/v1/keys");
    let mut body = json!({ "name": name });
    if let Some(t) = expires_at {
        body["expires_at"] = json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    let (result, _) = http
        .exchange(
            |c| c.post(&url).bearer_auth(admin).json(&body),
            |ex| Step::judged(create_may_retry(&ex), interpret_create(ex)),
        )
        .await;
    result
}

/// Reads a create answer (`201 {"data": {"hash", ...}, "key": "sk-or-v1-..."}`).
pub(crate) fn interpret_create(ex: Exchange) -> Result<CreatedKey, ProviderError> {
    let reply = ex.map_err(|f| admin_failure(&f))?;
    if !(200..300).contains(&reply.status) {
        return Err(admin_error(&reply, None, "management key"));
    }
    let json = reply.json();
    let field = |p: &str| {
        json.as_ref()
            .and_then(|j| j.pointer(p))
            .and_then(Value::as_str)
    };
    match (field("/key"), field("/data/hash")) {
        (Some(value), Some(hash)) if validate_key_value(value).is_ok() && !hash.is_empty() => {
            Ok(CreatedKey {
                value: SecretValue::new(value.to_string()),
                provider_key_id: hash.to_string(),
                expires_at: json
                    .as_ref()
                    .and_then(|j| timestamp(j.pointer("/data/expires_at"))),
            })
        }
        (_, hash) => Err(ProviderError::Protocol(format!(
            "the created key came without a usable key and data.hash (hash {})",
            hash.and_then(super::classify::clean_token)
                .unwrap_or_else(|| "unknown".to_string())
        ))),
    }
}

fn is_id(id: &str) -> bool {
    super::config::check_provider_key_id(id).is_ok()
}

/// Deletes the key whose hash is `hash`.
pub(super) async fn revoke(
    http: &HttpClient<'_>,
    base: &str,
    admin: &str,
    hash: &str,
) -> Result<(), ProviderError> {
    let url = format!("{base}/api/v1/keys/{hash}");
    let (result, _) = http
        .exchange(
            |c| c.delete(&url).bearer_auth(admin),
            |ex| Step::judged(idempotent_may_retry(&ex), interpret_revoke(ex)),
        )
        .await;
    result
}

/// Reads a delete answer: 2xx with `deleted` not false, or the provider's own 404.
pub(crate) fn interpret_revoke(ex: Exchange) -> Result<(), ProviderError> {
    let reply = ex.map_err(|f| admin_failure(&f))?;
    if (200..300).contains(&reply.status) {
        let deleted = reply.json().and_then(|j| j.get("deleted").cloned());
        if deleted == Some(Value::Bool(false)) {
            return Err(ProviderError::Protocol(
                "the key was not deleted".to_string(),
            ));
        }
        return Ok(());
    }
    if is_provider_not_found(&reply) {
        return Ok(());
    }
    Err(admin_error(&reply, None, "key"))
}
