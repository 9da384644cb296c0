//! Provider-side expiry of created keys (fake_provider.rs "What it follows"): OpenAI
//! `expires_in_seconds` (1 to 31,536,000) on `POST .../service_accounts` and
//! `POST .../service_accounts/{sa}/api_keys`, answered and shown as `expires_at` (Unix
//! seconds), under the organization's or project's expiration policy
//! ([`Switches::openai_key_policy`]: with one, the value "must be provided and must not exceed
//! that limit"); OpenRouter `expires_at` (ISO 8601, UTC, in the future) on `POST /api/v1/keys`,
//! shown as `expires_at` in its key objects. A key past its expiry is refused on its test
//! (`key_state.rs`). Kept apart from the key maps so the views only patch one field.
//!
//! [`Switches::openai_key_policy`]: super::Switches::openai_key_policy

use axum::response::Response;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde_json::Value;

use super::errors::{error, openai_invalid};
use super::switches::KeyPolicy;
use super::{Flavor, Inner, Kind};

/// OpenAI's largest `expires_in_seconds`.
pub(super) const OPENAI_MAX_EXPIRES_IN: i64 = 31_536_000;

/// The expiry (Unix seconds) an OpenAI create body asks for, or the 400 OpenAI answers (out of
/// range, or against `policy`).
pub(super) fn openai_requested(
    policy: KeyPolicy,
    body: &Value,
) -> Result<Option<i64>, Box<Response>> {
    let refuse = |msg: &str| Err(Box::new(openai_invalid("expires_in_seconds", msg)));
    match body.get("expires_in_seconds") {
        None | Some(Value::Null) if policy.requires_expiry() => refuse(
            "'expires_in_seconds' is required by the API key expiration policy of this organization or project.",
        ),
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(secs) if !(1..=OPENAI_MAX_EXPIRES_IN).contains(&secs) => refuse(
                "Invalid 'expires_in_seconds': expected an integer between 1 and 31536000.",
            ),
            Some(secs) => match policy.max_lifetime_secs {
                Some(max) if secs > max => refuse(&format!(
                    "'expires_in_seconds' exceeds the maximum API key lifetime of {max} seconds set by the expiration policy of this organization or project."
                )),
                _ => Ok(Some(Utc::now().timestamp() + secs)),
            },
            None => refuse(
                "Invalid 'expires_in_seconds': expected an integer between 1 and 31536000.",
            ),
        },
    }
}

/// The expiry (Unix seconds) an OpenRouter create body asks for, or the 400 OpenRouter answers.
pub(super) fn openrouter_requested(body: &Value) -> Result<Option<i64>, Box<Response>> {
    let bad = |msg: &str| {
        let response = error(Flavor::OpenRouter, 400, Kind::BadRequest, "", msg);
        Err(Box::new(response))
    };
    match body.get("expires_at") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) if t.timestamp() > Utc::now().timestamp() => Ok(Some(t.timestamp())),
            Ok(_) => bad("expires_at must be in the future"),
            Err(_) => bad("expires_at must be an ISO 8601 date-time"),
        },
        Some(_) => bad("expires_at must be an ISO 8601 date-time"),
    }
}

/// Records that key `id` expires at `at`.
pub(super) fn record(st: &mut Inner, id: &str, at: Option<i64>) {
    if let Some(at) = at {
        st.expires.insert(id.to_string(), at);
    }
}

/// OpenAI's `expires_at` of key `id`: Unix seconds, or null.
pub(super) fn openai_field(st: &Inner, id: &str) -> Value {
    st.expires.get(id).map_or(Value::Null, |t| Value::from(*t))
}

/// OpenRouter's `expires_at` of key `id`: ISO 8601 UTC, or null.
pub(super) fn openrouter_field(st: &Inner, id: &str) -> Value {
    st.expires
        .get(id)
        .and_then(|t| Utc.timestamp_opt(*t, 0).single())
        .map_or(Value::Null, |t| {
            Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true))
        })
}

/// `POST .../api_keys/{id}` `{expires_in_seconds?, scopes?}` ("Update project API key",
/// providers.md "Changing a live key"): moves an existing project key's expiry to
/// `expires_in_seconds` (1 to 31,536,000) from the request, under the same policy as a create
/// (`openai_requested`); answers the key object (only `redacted_value`, never the value). A
/// key the project does not have is OpenAI's 404; an expired key "cannot be updated": OpenAI's
/// reference names no error code for it, so the fake answers a 400 `invalid_request_error`
/// with `code: null` and no `param` (a caller can only read it as a refusal).
pub(super) async fn openai_update_key(
    axum::extract::State(s): axum::extract::State<super::Shared>,
    axum::extract::Path((project, id)): axum::extract::Path<(String, String)>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    use super::http::{bearer, body_json, respond};
    if let Err(r) = super::errors::gate(&s, &uri, Flavor::OpenAi, bearer(&headers), true).await {
        return r;
    }
    let body = body_json(&body);
    let prefix = format!("{project}/");
    let mut st = s.lock().unwrap();
    let Some(at) = st
        .minted
        .iter()
        .position(|k| k.active && k.id == id && k.owner.starts_with(&prefix))
    else {
        let msg = format!("No such API key: {id}");
        return error(Flavor::OpenAi, 404, Kind::NotFound, "", &msg);
    };
    let now = Utc::now().timestamp();
    if st.expires.get(&id).is_some_and(|t| *t <= now) {
        let e = serde_json::json!({"message": "This API key has expired and cannot be updated.",
            "type": "invalid_request_error", "param": null, "code": null});
        return respond(400, &[], serde_json::json!({ "error": e }));
    }
    if body.get("expires_in_seconds").is_some() {
        let policy = st.switches.openai_key_policy;
        match openai_requested(policy, &body) {
            Ok(asked) => match asked {
                Some(t) => record(&mut st, &id, Some(t)),
                None => {
                    st.expires.remove(&id);
                }
            },
            Err(r) => return *r,
        }
        st.expiry_updates
            .push((id.clone(), body["expires_in_seconds"].clone()));
    }
    let k = &st.minted[at];
    let mut view = super::admin::openai_view(k, &prefix);
    view["last_used_at"] = super::usage::openai_last_used(&st, &k.value);
    view["expires_at"] = openai_field(&st, &k.id);
    super::accounts::patch_view(&st, &mut view, k);
    respond(200, &[], view)
}

impl super::FakeProvider {
    /// The expiry updates answered so far: (key id, `expires_in_seconds` as sent), in order.
    pub fn expiry_updates(&self) -> Vec<(String, Value)> {
        self.lock().expiry_updates.clone()
    }
}
