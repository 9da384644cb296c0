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
