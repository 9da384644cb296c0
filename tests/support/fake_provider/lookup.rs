//! The one-key lookups (providers.md "Usage, expiry and ownership lookups"): each provider's
//! record of a key, with its ownership hint and never its value; a deleted or unknown key is
//! the provider's own 404.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde_json::json;

use super::admin::{openai_view, openrouter_view};
use super::anthropic::anthropic_view;
use super::errors::{error, gate};
use super::http::{base62, bearer, header, respond};
use super::{expiry, Flavor, Kind, Shared};

/// `GET .../api_keys/{id}`: one of the project's keys (a deleted key is a 404, as at OpenAI).
pub(super) async fn openai_get_key(
    State(s): State<Shared>,
    Path((project, id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&s, &uri, Flavor::OpenAi, bearer(&headers), true).await {
        return r;
    }
    let prefix = format!("{project}/");
    let st = s.lock().unwrap();
    match st
        .minted
        .iter()
        .find(|k| k.active && k.id == id && k.owner.starts_with(&prefix))
    {
        Some(k) => {
            let mut view = openai_view(k, &prefix);
            view["last_used_at"] = super::usage::openai_last_used(&st, &k.value);
            view["expires_at"] = expiry::openai_field(&st, &k.id);
            super::accounts::patch_view(&st, &mut view, k);
            respond(200, &[], view)
        }
        None => error(
            Flavor::OpenAi,
            404,
            Kind::NotFound,
            "",
            &format!("No such API key: {id}"),
        ),
    }
}

/// `GET /v1/organizations/api_keys/{id}`: the key's record, never its value.
pub(super) async fn anthropic_get(
    State(s): State<Shared>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(
        &s,
        &uri,
        Flavor::Anthropic,
        header(&headers, "x-api-key"),
        true,
    )
    .await
    {
        return r;
    }
    if header(&headers, "anthropic-version").is_none() {
        let msg = "anthropic-version: header is required";
        return error(Flavor::Anthropic, 400, Kind::BadRequest, "", msg);
    }
    let st = s.lock().unwrap();
    match st.anthropic.get(&id) {
        Some((value, status)) => respond(
            200,
            &[("request-id", format!("req_011C{}", base62(20)))],
            anthropic_view(&st, &id, value, status),
        ),
        None => error(
            Flavor::Anthropic,
            404,
            Kind::NotFound,
            "",
            "API key not found",
        ),
    }
}

/// `GET /api/v1/keys/{hash}`: one key of the management key (a deleted key is a 404).
pub(super) async fn openrouter_get(
    State(s): State<Shared>,
    Path(hash): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&s, &uri, Flavor::OpenRouter, bearer(&headers), true).await {
        return r;
    }
    let st = s.lock().unwrap();
    match st
        .minted
        .iter()
        .find(|k| k.active && k.id == hash && k.owner == "openrouter")
    {
        Some(k) => {
            let limit = st.limits.get(&k.value).copied().flatten();
            let mut view = openrouter_view(k, limit);
            view["usage"] = super::usage::openrouter_usage(&st, &k.value);
            view["expires_at"] = expiry::openrouter_field(&st, &k.id);
            respond(200, &[], json!({ "data": view }))
        }
        None => error(Flavor::OpenRouter, 404, Kind::NotFound, "", "Key not found"),
    }
}
