//! The admin endpoints that create, list and revoke keys: OpenAI projects and OpenRouter
//! management keys (Anthropic's status updates are in `anthropic.rs`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use super::errors::{error, gate, openai_invalid};
use super::http::{
    base62, bearer, body_json, hex, masked, note_mutation, openai_page, query, respond,
    stall_after_create,
};
use super::listing::{openai_page_size, openrouter_page_size, page, shown};
use super::switches::Listing;
use super::{accounts, expiry, Flavor, Kind, Minted, Shared};

/// Deactivates minted keys matching `pred`; returns how many.
fn deactivate(state: &Shared, pred: impl Fn(&Minted) -> bool) -> usize {
    let mut s = state.lock().unwrap();
    let gone: Vec<String> = s
        .minted
        .iter_mut()
        .filter(|k| k.active && pred(k))
        .map(|k| {
            k.active = false;
            k.value.clone()
        })
        .collect();
    for value in &gone {
        s.keys.remove(value);
    }
    gone.len()
}

fn insert(
    state: &Shared,
    id: String,
    value: String,
    owner: String,
    name: &str,
    created: bool,
) -> (String, String) {
    let mut s = state.lock().unwrap();
    s.keys.insert(value.clone());
    let listing = if created {
        Listing::created(&s.switches)
    } else {
        Listing::shown()
    };
    let m = Minted {
        id: id.clone(),
        value: value.clone(),
        active: true,
        owner,
        name: name.into(),
        created_at: chrono::Utc::now().timestamp(),
        disabled: false,
        listing,
    };
    s.minted.push(m);
    (id, value)
}

/// Registers a key a test made (shown in lists at once); returns `(id, value)`.
pub(super) fn mint(
    state: &Shared,
    id: String,
    value: String,
    owner: String,
    name: &str,
) -> (String, String) {
    insert(state, id, value, owner, name, false)
}

/// A key an admin call creates (shown in lists as [`super::Switches::list_lag`] says); returns
/// `(id, value)`.
pub(super) fn create(
    state: &Shared,
    id: String,
    value: String,
    owner: String,
    name: &str,
) -> (String, String) {
    insert(state, id, value, owner, name, true)
}

/// `POST .../service_accounts`: with `create_service_account_only`, the account alone (role
/// `none`); otherwise the account (role `member`) with its first key.
pub(super) async fn openai_create(
    State(s): State<Shared>,
    Path(project): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = gate(&s, &uri, Flavor::OpenAi, bearer(&headers), true).await {
        return r;
    }
    let body = body_json(&body);
    let Some(name) = body["name"].as_str().map(str::to_string) else {
        return openai_invalid("name", "Missing required parameter: 'name'.");
    };
    if body["create_service_account_only"] == json!(true) {
        if !body["expires_in_seconds"].is_null() {
            let msg =
                "'expires_in_seconds' cannot be set when 'create_service_account_only' is true.";
            return openai_invalid("expires_in_seconds", msg);
        }
        return accounts::create_only(&s, &project, &name);
    }
    let policy = s.lock().unwrap().switches.openai_key_policy;
    let expires = match expiry::openai_requested(policy, &body) {
        Ok(at) => at,
        Err(r) => return *r,
    };
    let sa = format!("svc_acct_{}", hex(24));
    accounts::register(&mut s.lock().unwrap(), &project, &sa, &name, "member");
    let value = format!("sk-svcacct-{}", base62(64));
    let (id, value) = create(
        &s,
        format!("key_{}", base62(16)),
        value,
        format!("{project}/{sa}"),
        &name,
    );
    expiry::record(&mut s.lock().unwrap(), &id, expires);
    stall_after_create(&s).await;
    if s.lock().unwrap().unavailable_after_create() {
        return error(Flavor::OpenAi, 503, Kind::Overloaded, "", "");
    }
    let now = chrono::Utc::now().timestamp();
    let expires_at = expiry::openai_field(&s.lock().unwrap(), &id);
    respond(
        200,
        &[("x-request-id", format!("req_{}", hex(32)))],
        json!({
        "object": "organization.project.service_account", "id": sa, "name": name, "role": "member", "created_at": now,
        "api_key": {"object": "organization.project.service_account.api_key", "value": value,
            "name": "Secret Key", "created_at": now, "id": id, "expires_at": expires_at}}),
    )
}

/// `GET .../api_keys`: the project's active keys, `limit` a page (default 20), after the `after`
/// id, as far as lag lets each show.
pub(super) async fn openai_list(
    State(s): State<Shared>,
    Path(project): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&s, &uri, Flavor::OpenAi, bearer(&headers), true).await {
        return r;
    }
    let prefix = format!("{project}/");
    let mut st = s.lock().unwrap();
    let size = match openai_page_size(&st, &uri) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    // Like the real list, visibility follows membership unless `owner_project_access=any`:
    // keys owned by service accounts are left out by default (providers.md).
    let any = query(&uri, "owner_project_access") == Some("any");
    let candidates: Vec<usize> = (0..st.minted.len())
        .filter(|&i| {
            let k = &st.minted[i];
            k.active && k.owner.starts_with(&prefix) && any
        })
        .collect();
    let shown = shown(&mut st, &candidates);
    let (indices, more) = page(&mut st, &shown, query(&uri, "after"), 0, size);
    let data: Vec<Value> = indices
        .into_iter()
        .map(|i| {
            let k = &st.minted[i];
            let mut view = openai_view(k, &prefix);
            view["last_used_at"] = super::usage::openai_last_used(&st, &k.value);
            view["expires_at"] = expiry::openai_field(&st, &k.id);
            accounts::patch_view(&st, &mut view, k);
            view
        })
        .collect();
    openai_page(data, more)
}

/// A project API key object (`patch_view` adds the owner's name and role where tracked).
pub(super) fn openai_view(k: &Minted, prefix: &str) -> Value {
    json!({"object": "organization.project.api_key", "redacted_value": masked(&k.value), "name": "Secret Key",
        "created_at": k.created_at, "last_used_at": null, "expires_at": null, "id": k.id, "owner_project_access": "active",
        "owner": {"type": "service_account",
        "service_account": {"id": &k.owner[prefix.len()..], "name": k.name, "role": "member", "created_at": 1711471533}}})
}

/// `DELETE .../api_keys/{id}`: deletes the key, leaving its account (the newest reference); with
/// [`super::Switches::openai_delete_refuses_service_account_keys`], refuses keys owned by a
/// service account (every key here is), as the earlier reference did.
pub(super) async fn openai_delete_key(
    State(s): State<Shared>,
    Path((project, id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    note_mutation(&s, &id);
    if let Err(r) = gate(&s, &uri, Flavor::OpenAi, bearer(&headers), true).await {
        return r;
    }
    let prefix = format!("{project}/");
    let (exists, refuses) = {
        let st = s.lock().unwrap();
        let exists = st
            .minted
            .iter()
            .any(|k| k.active && k.id == id && k.owner.starts_with(&prefix));
        (
            exists,
            st.switches.openai_delete_refuses_service_account_keys,
        )
    };
    if exists && refuses {
        let msg = "API keys owned by a service account cannot be deleted here; delete the service account instead.";
        return openai_invalid("api_key_id", msg);
    }
    if deactivate(&s, |k| k.id == id && k.owner.starts_with(&prefix)) == 0 {
        return error(
            Flavor::OpenAi,
            404,
            Kind::NotFound,
            "",
            &format!("No such API key: {id}"),
        );
    }
    respond(
        200,
        &[],
        json!({"object": "organization.project.api_key.deleted", "id": id, "deleted": true}),
    )
}

/// `DELETE .../service_accounts/{id}`: the account and its keys.
pub(super) async fn openai_delete_sa(
    State(s): State<Shared>,
    Path((project, id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&s, &uri, Flavor::OpenAi, bearer(&headers), true).await {
        return r;
    }
    let owner = format!("{project}/{id}");
    let tracked = accounts::delete(&mut s.lock().unwrap(), &project, &id);
    if let Some(missing) = tracked {
        return missing;
    }
    let known = s.lock().unwrap().accounts.iter().any(|a| a.id == id);
    if deactivate(&s, |k| k.owner == owner) == 0 && !known {
        return error(
            Flavor::OpenAi,
            404,
            Kind::NotFound,
            "",
            &format!("No such service account: {id}"),
        );
    }
    respond(
        200,
        &[],
        json!({"object": "organization.project.service_account.deleted", "id": id, "deleted": true}),
    )
}

/// An OpenRouter key object.
pub(super) fn openrouter_view(k: &Minted, limit: Option<f64>) -> Value {
    let created = chrono::DateTime::from_timestamp(k.created_at, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    json!({"hash": k.id, "name": k.name, "label": masked(&k.value), "disabled": k.disabled, "limit": limit,
        "limit_remaining": limit, "limit_reset": null, "include_byok_in_limit": false, "usage": 0, "usage_daily": 0,
        "usage_weekly": 0, "usage_monthly": 0, "byok_usage": 0, "byok_usage_daily": 0, "byok_usage_weekly": 0,
        "byok_usage_monthly": 0, "created_at": created, "updated_at": null, "expires_at": null})
}

/// `POST /api/v1/keys` `{name, limit?, expires_at?}`: 201 with `data` and `key` (once).
pub(super) async fn openrouter_create(
    State(s): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = gate(&s, &uri, Flavor::OpenRouter, bearer(&headers), true).await {
        return r;
    }
    let body = body_json(&body);
    let Some(name) = body["name"].as_str() else {
        return error(
            Flavor::OpenRouter,
            400,
            Kind::BadRequest,
            "",
            "name is required",
        );
    };
    let limit = body["limit"].as_f64();
    let expires = match expiry::openrouter_requested(&body) {
        Ok(at) => at,
        Err(r) => return *r,
    };
    let (hash, value) = create(
        &s,
        hex(64),
        format!("sk-or-v1-{}", hex(64)),
        "openrouter".into(),
        name,
    );
    let data = {
        let mut st = s.lock().unwrap();
        st.limits.insert(value.clone(), limit);
        expiry::record(&mut st, &hash, expires);
        let mut view = openrouter_view(st.minted.last().unwrap(), limit);
        view["expires_at"] = expiry::openrouter_field(&st, &hash);
        view
    };
    stall_after_create(&s).await;
    if s.lock().unwrap().unavailable_after_create() {
        return error(Flavor::OpenRouter, 503, Kind::Overloaded, "", "");
    }
    respond(201, &[], json!({"data": data, "key": value}))
}

/// `GET /api/v1/keys?include_disabled=&offset=`: the management key's keys, newest first,
/// disabled ones only with `include_disabled=true`, a page at a time from `offset`.
pub(super) async fn openrouter_list(
    State(s): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&s, &uri, Flavor::OpenRouter, bearer(&headers), true).await {
        return r;
    }
    let offset: usize = query(&uri, "offset")
        .and_then(|o| o.parse().ok())
        .unwrap_or(0);
    let disabled_too = query(&uri, "include_disabled") == Some("true");
    let mut st = s.lock().unwrap();
    let size = openrouter_page_size(&st);
    let candidates: Vec<usize> = (0..st.minted.len())
        .rev()
        .filter(|&i| {
            let k = &st.minted[i];
            k.active && k.owner == "openrouter" && (disabled_too || !k.disabled)
        })
        .collect();
    let shown = shown(&mut st, &candidates);
    let (indices, _) = page(&mut st, &shown, None, offset, size);
    let data: Vec<Value> = indices
        .into_iter()
        .map(|i| {
            let k = &st.minted[i];
            let mut view = openrouter_view(k, st.limits.get(&k.value).copied().flatten());
            view["expires_at"] = expiry::openrouter_field(&st, &k.id);
            view
        })
        .collect();
    respond(200, &[], json!({ "data": data }))
}

/// `DELETE /api/v1/keys/{hash}`.
pub(super) async fn openrouter_delete(
    State(s): State<Shared>,
    Path(hash): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    note_mutation(&s, &hash);
    if let Err(r) = gate(&s, &uri, Flavor::OpenRouter, bearer(&headers), true).await {
        return r;
    }
    if deactivate(&s, |k| k.id == hash && k.owner == "openrouter") == 0 {
        return error(Flavor::OpenRouter, 404, Kind::NotFound, "", "Key not found");
    }
    respond(200, &[], json!({"deleted": true}))
}
