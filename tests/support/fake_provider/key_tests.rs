//! The key-test endpoints: each provider's model list (OpenRouter: its key info).

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use super::errors::{error, gate};
use super::http::{base62, bearer, header, hex, masked, query, record, respond};
use super::{Flavor, Kind, Shared};

fn model_list() -> Value {
    json!({"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"}]})
}

pub(super) async fn models(State(s): State<Shared>, uri: Uri, headers: HeaderMap) -> Response {
    if let Some(key) = header(&headers, "x-api-key") {
        if header(&headers, "anthropic-version").is_none() {
            record(&s, &uri);
            let msg = "anthropic-version: header is required";
            return error(Flavor::Anthropic, 400, Kind::BadRequest, key, msg);
        }
        return match gate(&s, &uri, Flavor::Anthropic, Some(key), false).await {
            Err(r) => r,
            Ok(_) => respond(
                200,
                &[("request-id", format!("req_011C{}", base62(20)))],
                json!({
                "data": [{"type": "model", "id": "claude-sonnet-4-5", "display_name": "Claude Sonnet 4.5", "created_at": "2025-09-29T00:00:00Z"}],
                "has_more": true, "first_id": "claude-sonnet-4-5", "last_id": "claude-sonnet-4-5"}),
            ),
        };
    }
    match gate(&s, &uri, Flavor::OpenAi, bearer(&headers), false).await {
        Err(r) => r,
        Ok(_) => respond(
            200,
            &[("x-request-id", format!("req_{}", hex(32)))],
            model_list(),
        ),
    }
}

pub(super) async fn gemini_models(
    State(s): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    // The real API also takes `?key=`; the engine must not use it (see `uris`).
    let key = header(&headers, "x-goog-api-key").or_else(|| query(&uri, "key"));
    match gate(&s, &uri, Flavor::Gemini, key, false).await {
        Err(r) => r,
        Ok(_) => respond(
            200,
            &[],
            json!({"models": [{"name": "models/gemini-2.5-flash",
            "displayName": "Gemini 2.5 Flash", "supportedGenerationMethods": ["generateContent"]}], "nextPageToken": "Ch9tb2RlbHM"}),
        ),
    }
}

pub(super) async fn azure_models(
    State(s): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if query(&uri, "api-version").is_none() {
        record(&s, &uri);
        return error(Flavor::Azure, 404, Kind::NotFound, "", "Resource not found");
    }
    match gate(&s, &uri, Flavor::Azure, header(&headers, "api-key"), false).await {
        Err(r) => r,
        Ok(_) => respond(200, &[("apim-request-id", hex(32))], model_list()),
    }
}

pub(super) async fn openrouter_key(
    State(s): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let key = match gate(&s, &uri, Flavor::OpenRouter, bearer(&headers), false).await {
        Err(r) => return r,
        Ok(key) => key,
    };
    let remaining = s.lock().unwrap().limits.get(&key).copied().flatten();
    let limit = remaining.map(|r| r.max(0.0) + 5.0);
    respond(
        200,
        &[],
        json!({"data": {"label": masked(&key), "limit": limit, "usage": 5.0,
        "limit_remaining": remaining, "limit_reset": null, "is_free_tier": false,
        "is_provisioning_key": false, "rate_limit": {"requests": 1000, "interval": "10s"}}}),
    )
}
