//! Listing the keys the engine made at a provider, for `reconcile` (after a restore, keys made
//! since the snapshot have no record): every key whose name starts with the engine's naming
//! prefix, as `(id, name)`, every list page read (a list longer than the page bound is an
//! error, never a partial answer, since what is missing could be taken for "not there").
//!
//! - OpenRouter: `GET /api/v1/keys?include_disabled=true&offset=N` (management key).
//! - OpenAI: `GET /v1/organization/projects/{p}/api_keys?owner_project_access=any&after=...`
//!   (admin key), only keys owned by the engine's own service account `account`, or (the
//!   previous release's one account per key) by a service account named with the prefix.

use serde_json::Value;

use super::config::check_provider_key_id;
use super::error::ProviderError;
use super::provider::AdminCall;

/// Most list pages read.
const MAX_PAGES: usize = 50;

fn id_of(k: &Value, field: &str) -> Option<String> {
    k.get(field)?
        .as_str()
        .filter(|i| check_provider_key_id(i).is_ok())
        .map(str::to_string)
}

fn too_many() -> ProviderError {
    ProviderError::Protocol(format!(
        "more than {MAX_PAGES} list pages: cannot tell every key the engine made"
    ))
}

/// OpenRouter keys named with `prefix`, disabled ones included.
pub(super) async fn openrouter(
    call: &AdminCall<'_>,
    prefix: &str,
) -> Result<Vec<(String, String)>, ProviderError> {
    let mut found: Vec<(String, String)> = Vec::new();
    let what = "key the engine made";
    super::openrouter::for_each_key(&call.http, &call.base, call.admin, what, |k| {
        let name = k.get("name").and_then(Value::as_str).unwrap_or_default();
        if let Some(hash) = id_of(k, "hash").filter(|_| name.starts_with(prefix)) {
            if !found.iter().any(|(h, _)| *h == hash) {
                found.push((hash, name.to_string()));
            }
        }
    })
    .await?;
    Ok(found)
}

/// OpenAI project API keys of the engine's service account `account` named with `prefix`, or
/// owned by a service account named with it (then that account's name is the key's name).
pub(super) async fn openai(
    call: &AdminCall<'_>,
    prefix: &str,
    account: Option<&str>,
) -> Result<Vec<(String, String)>, ProviderError> {
    let mut found: Vec<(String, String)> = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut url = format!(
            "{}/v1/organization/projects/{}/api_keys?limit=100&owner_project_access=any",
            call.base,
            call.project()
        );
        if let Some(cursor) = &after {
            url.push_str(&format!("&after={cursor}"));
        }
        let page = call
            .http
            .admin_json(
                |c| c.get(&url).bearer_auth(call.admin),
                &["/error/code", "/error/type"],
            )
            .await?;
        for k in page
            .get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let owner_id = k
                .pointer("/owner/service_account/id")
                .and_then(Value::as_str);
            let owner_name = k
                .pointer("/owner/service_account/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let name = k.get("name").and_then(Value::as_str).unwrap_or_default();
            let named = if account.is_some() && owner_id == account && name.starts_with(prefix) {
                Some(name)
            } else if owner_name.starts_with(prefix) {
                Some(owner_name)
            } else {
                None
            };
            if let (Some(name), Some(id)) = (named, id_of(k, "id")) {
                if !found.iter().any(|(i, _)| *i == id) {
                    found.push((id, name.to_string()));
                }
            }
        }
        let more = page.get("has_more").and_then(Value::as_bool) == Some(true);
        match id_of(&page, "last_id").filter(|_| more) {
            Some(cursor) => after = Some(cursor),
            None => return Ok(found),
        }
    }
    Err(too_many())
}
