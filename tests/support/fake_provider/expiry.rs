//! Provider-side expiry of created keys (providers.md "Expiry at creation"): OpenAI
//! `expires_in_seconds` (1 to 31,536,000) on `POST .../service_accounts` and
//! `POST .../service_accounts/{sa}/api_keys`, answered and shown as `expires_at` (Unix
//! seconds); OpenRouter `expires_at` (ISO 8601, UTC, in the future) on `POST /api/v1/keys`,
//! shown as `expires_at` in its key objects. Kept apart from the key maps so the views only
//! patch one field.

use axum::response::Response;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde_json::Value;

use super::errors::error;
use super::{Flavor, Inner, Kind};

/// OpenAI's largest `expires_in_seconds`.
pub(super) const OPENAI_MAX_EXPIRES_IN: i64 = 31_536_000;

/// The expiry (Unix seconds) an OpenAI create body asks for, or the 400 OpenAI answers.
pub(super) fn openai_requested(body: &Value) -> Result<Option<i64>, Box<Response>> {
    match body.get("expires_in_seconds") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(secs) if (1..=OPENAI_MAX_EXPIRES_IN).contains(&secs) => {
                Ok(Some(Utc::now().timestamp() + secs))
            }
            _ => Err(Box::new(error(
                Flavor::OpenAi,
                400,
                Kind::BadRequest,
                "",
                "Invalid 'expires_in_seconds': expected an integer between 1 and 31536000.",
            ))),
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
