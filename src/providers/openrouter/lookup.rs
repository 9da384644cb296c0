//! One OpenRouter key read: by hash with the management key (`GET /api/v1/keys/{hash}`), or as
//! the value itself describes it (`GET /api/v1/key`, the possession proof).

use serde_json::Value;

use super::super::classify::{admin_error, admin_failure, idempotent_may_retry};
use super::super::http::{Exchange, HttpClient, Step};
use super::super::ownership::{interpret_lookup, short_field, timestamp, KeyRecord};
use super::super::ProviderError;
use super::probe;

/// Looks up the key whose hash is `hash` (`GET /api/v1/keys/{hash}`): `label`, `disabled`,
/// `expires_at`. `None` when OpenRouter has no such key.
pub(super) async fn lookup(
    http: &HttpClient<'_>,
    base: &str,
    admin: &str,
    hash: &str,
) -> Result<Option<KeyRecord>, ProviderError> {
    let url = format!("{base}/api/v1/keys/{hash}");
    let (result, _) = http
        .exchange(
            |c| c.get(&url).bearer_auth(admin),
            |ex| {
                let retry = idempotent_may_retry(&ex);
                Step::judged(retry, interpret_lookup(ex, hash, &[], record))
            },
        )
        .await;
    result
}

/// The record in an OpenRouter key object (the API wraps it in `data`).
pub(crate) fn record(json: &Value, hash: &str) -> KeyRecord {
    let key = json.get("data").filter(|d| d.is_object()).unwrap_or(json);
    let status = key
        .get("disabled")
        .and_then(Value::as_bool)
        .map(|d| if d { "disabled" } else { "active" }.to_string());
    KeyRecord {
        id: hash.to_string(),
        hint: short_field(key, "/label"),
        status,
        last_used_at: None,
        expires_at: timestamp(key.get("expires_at")),
    }
}

/// The key `value` is, as OpenRouter describes it to a request made with the value itself
/// (`GET /api/v1/key`, the value as bearer): its `label` and `expires_at`. It answers only for a
/// valid key, so a forged value gets `None` (401 or 403).
pub(super) async fn identify(
    http: &HttpClient<'_>,
    base: &str,
    value: &str,
) -> Result<Option<KeyRecord>, ProviderError> {
    let (result, _) = http
        .exchange(
            |c| probe(c, base, value),
            |ex| Step::judged(idempotent_may_retry(&ex), interpret_identify(ex)),
        )
        .await;
    result
}

/// Reads a `GET /api/v1/key` answer for [`identify`].
pub(crate) fn interpret_identify(ex: Exchange) -> Result<Option<KeyRecord>, ProviderError> {
    let reply = ex.map_err(|f| admin_failure(&f))?;
    if matches!(reply.status, 401 | 403) {
        return Ok(None);
    }
    if !(200..300).contains(&reply.status) {
        return Err(admin_error(&reply, None, "key"));
    }
    match reply
        .json()
        .filter(|j| j.get("data").is_some_and(Value::is_object))
    {
        Some(json) => Ok(Some(record(&json, ""))),
        None => Err(ProviderError::Protocol(
            "GET /api/v1/key answered without a data object".to_string(),
        )),
    }
}
