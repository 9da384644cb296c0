//! One OpenAI project API key read by id with the admin key, for its `redacted_value`,
//! `last_used_at` and `expires_at`.

use serde_json::Value;

use super::super::classify::idempotent_may_retry;
use super::super::http::{HttpClient, Step};
use super::super::ownership::{interpret_lookup, short_field, timestamp, KeyRecord};
use super::super::ProviderError;

/// Looks up project API key `id` (`GET /v1/organization/projects/{p}/api_keys/{id}`):
/// `redacted_value`, `last_used_at`, `expires_at`. `None` when OpenAI has no such key in the
/// project.
pub(super) async fn lookup(
    http: &HttpClient<'_>,
    base: &str,
    admin: &str,
    project: &str,
    id: &str,
) -> Result<Option<KeyRecord>, ProviderError> {
    let url = format!("{base}/v1/organization/projects/{project}/api_keys/{id}");
    let pointers = ["/error/code", "/error/type"];
    let (result, _) = http
        .exchange(
            |c| c.get(&url).bearer_auth(admin),
            |ex| {
                let retry = idempotent_may_retry(&ex);
                Step::judged(retry, interpret_lookup(ex, id, &pointers, record))
            },
        )
        .await;
    result
}

/// The record in an OpenAI project API key object.
pub(crate) fn record(json: &Value, id: &str) -> KeyRecord {
    KeyRecord {
        id: id.to_string(),
        hint: short_field(json, "/redacted_value"),
        status: None,
        last_used_at: timestamp(json.get("last_used_at")),
        expires_at: timestamp(json.get("expires_at")),
    }
}
