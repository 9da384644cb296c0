//! OpenRouter's key list (`GET /api/v1/keys`, paged by `offset`, disabled keys included): keys
//! by name (crash recovery), by `label` (possession proofs) and every key (`reconcile`).

use serde_json::Value;

use super::super::http::HttpClient;
use super::super::ProviderError;
use super::is_id;

/// Most list pages read when looking a key up by name.
const MAX_LIST_PAGES: usize = 50;

/// The hashes of the keys named `name` (disabled keys included), from every page.
pub(super) async fn find_by_name(
    http: &HttpClient<'_>,
    base: &str,
    admin: &str,
    name: &str,
) -> Result<Vec<String>, ProviderError> {
    let what = format!("key named {name:?}");
    list_hashes(http, base, admin, &what, |k| {
        k.get("name").and_then(Value::as_str) == Some(name)
    })
    .await
}

/// The hashes of the keys whose `label` (the console's hint) is `label`, disabled keys
/// included, from every page: a possession proof compares labels, so it proves a hash only when
/// no other key shows the same one.
pub(super) async fn find_by_label(
    http: &HttpClient<'_>,
    base: &str,
    admin: &str,
    label: &str,
) -> Result<Vec<String>, ProviderError> {
    list_hashes(http, base, admin, "key with that label", |k| {
        k.get("label").and_then(Value::as_str) == Some(label)
    })
    .await
}

/// The hashes of the listed keys `wanted` picks, paging by `offset` until an empty page; more
/// than [`MAX_LIST_PAGES`] pages is an error, never a partial answer.
async fn list_hashes(
    http: &HttpClient<'_>,
    base: &str,
    admin: &str,
    what: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Result<Vec<String>, ProviderError> {
    let mut found: Vec<String> = Vec::new();
    for_each_key(http, base, admin, what, |k| {
        let hash = k.get("hash").and_then(Value::as_str).filter(|h| is_id(h));
        if let Some(hash) = hash.filter(|_| wanted(k)) {
            if !found.iter().any(|f| f == hash) {
                found.push(hash.to_string());
            }
        }
    })
    .await?;
    Ok(found)
}

/// Calls `each` with every listed key object, disabled ones included, paging by `offset` until
/// an empty page; more than [`MAX_LIST_PAGES`] pages is an error (`what`: what the caller
/// could not tell then), never a partial answer.
pub(in crate::providers) async fn for_each_key(
    http: &HttpClient<'_>,
    base: &str,
    admin: &str,
    what: &str,
    mut each: impl FnMut(&Value),
) -> Result<(), ProviderError> {
    let mut offset = 0;
    for _ in 0..MAX_LIST_PAGES {
        let url = format!("{base}/api/v1/keys?include_disabled=true&offset={offset}");
        let page = http
            .admin_json(|c| c.get(&url).bearer_auth(admin), &[])
            .await?;
        let keys = page
            .get("data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if keys.is_empty() {
            return Ok(());
        }
        keys.iter().for_each(&mut each);
        offset += keys.len();
    }
    Err(ProviderError::Protocol(format!(
        "more than {MAX_LIST_PAGES} pages of keys: cannot tell every {what}"
    )))
}
