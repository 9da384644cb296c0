//! OpenAI's project API key list (`GET .../api_keys`, 100 a page, `owner_project_access=any`):
//! the keys named like a create, or owned by a service account so named (crash recovery).

use serde_json::Value;

use super::super::http::HttpClient;
use super::super::ProviderError;
use super::is_id;

/// Most list pages read when looking a key up by name.
const MAX_LIST_PAGES: usize = 50;

/// The ids of every project API key named `name` or owned by a service account named `name`,
/// following the `after` cursor (100 per page) through every page (at most 50: a project with
/// more keys than that is an error, never a "not found").
pub(super) async fn find_by_name(
    http: &HttpClient<'_>,
    base: &str,
    admin: &str,
    project: &str,
    name: &str,
) -> Result<Vec<String>, ProviderError> {
    let mut after: Option<String> = None;
    let mut found = Vec::new();
    for _ in 0..MAX_LIST_PAGES {
        // `any`: without it the list follows membership rules that can hide keys the engine
        // created (providers.md), and a lookup would wrongly conclude nothing was created.
        let mut url = format!(
            "{base}/v1/organization/projects/{project}/api_keys?limit=100&owner_project_access=any"
        );
        if let Some(cursor) = &after {
            url.push_str(&format!("&after={cursor}"));
        }
        let page = http
            .admin_json(
                |c| c.get(&url).bearer_auth(admin),
                &["/error/code", "/error/type"],
            )
            .await?;
        let (ids, next) = scan_key_page(&page, name);
        for id in ids {
            if !found.contains(&id) {
                found.push(id);
            }
        }
        match next {
            Some(cursor) => after = Some(cursor),
            None => return Ok(found),
        }
    }
    Err(ProviderError::Protocol(format!(
        "more than {MAX_LIST_PAGES} pages of project API keys: cannot tell every key named {name:?}"
    )))
}

/// One page of `GET .../api_keys`: the ids of the keys named `name` (keys of the engine's
/// service account) or owned by a service account named `name` (the previous release's one
/// account per key), and the cursor of the next page (when `has_more`).
pub(crate) fn scan_key_page(page: &Value, name: &str) -> (Vec<String>, Option<String>) {
    let keys = page.get("data").and_then(Value::as_array);
    let found = keys
        .into_iter()
        .flatten()
        .filter(|k| {
            let owner = k
                .pointer("/owner/service_account/name")
                .and_then(Value::as_str);
            let own_name = k.get("name").and_then(Value::as_str);
            owner == Some(name) || own_name == Some(name)
        })
        .filter_map(|k| {
            k.get("id")?
                .as_str()
                .filter(|i| is_id(i))
                .map(str::to_string)
        })
        .collect();
    let more = page.get("has_more").and_then(Value::as_bool) == Some(true);
    let next = page
        .get("last_id")
        .and_then(Value::as_str)
        .filter(|i| is_id(i))
        .map(str::to_string);
    (found, next.filter(|_| more))
}
