//! The admin endpoints that create, list and revoke keys: OpenAI projects, Anthropic key
//! status, OpenRouter management keys.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use super::errors::{error, gate};
use super::http::{
    anthropic_hint, base62, bearer, body_json, header, hex, masked, note_mutation, openai_page,
    query, respond, stall_after_create,
};
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

/// Mints a key; returns `(id, value)`.
pub(super) fn mint(
    state: &Shared,
    id: String,
    value: String,
    owner: String,
    name: &str,
) -> (String, String) {
    let mut s = state.lock().unwrap();
    s.keys.insert(value.clone());
    let m = Minted {
        id: id.clone(),
        value: value.clone(),
        active: true,
        owner,
        name: name.into(),
    };
    s.minted.push(m);
    (id, value)
}

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
        return error(
            Flavor::OpenAi,
            400,
            Kind::BadRequest,
            "",
            "Missing required parameter: 'name'.",
        );
    };
    let expires = match expiry::openai_requested(&body) {
        Ok(at) => at,
        Err(r) => return *r,
    };
    if body["create_service_account_only"] == json!(true) {
        return accounts::create_only(&s, &project, &name);
    }
    let sa = format!("svc_acct_{}", hex(24));
    accounts::register(&mut s.lock().unwrap(), &project, &sa, &name);
    let value = format!("sk-svcacct-{}", base62(64));
    let (id, value) = mint(
        &s,
        format!("key_{}", base62(16)),
        value,
        format!("{project}/{sa}"),
        &name,
    );
    expiry::record(&mut s.lock().unwrap(), &id, expires);
    stall_after_create(&s).await;
    let now = chrono::Utc::now().timestamp();
    respond(
        200,
        &[("x-request-id", format!("req_{}", hex(32)))],
        json!({
        "object": "organization.project.service_account", "id": sa, "name": name, "role": "member", "created_at": now,
        "api_key": {"object": "organization.project.service_account.api_key", "value": value,
            "name": "Secret Key", "created_at": now, "id": id}}),
    )
}

/// `GET .../api_keys`: the project's active keys, at most 2 a page (`limit` is only a maximum),
/// with the `after` cursor.
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
    let st = s.lock().unwrap();
    // Like the real list, visibility follows membership unless `owner_project_access=any`:
    // keys owned by service accounts are left out by default (providers.md).
    let any = query(&uri, "owner_project_access") == Some("any");
    let all: Vec<&Minted> = st
        .minted
        .iter()
        .filter(|k| k.active && k.owner.starts_with(&prefix) && any)
        .collect();
    let start = query(&uri, "after")
        .and_then(|a| all.iter().position(|k| k.id == a))
        .map_or(0, |i| i + 1);
    let page: Vec<Value> = all.iter().skip(start).take(2).map(|k| {
        let mut view = json!({
        "object": "organization.project.api_key", "redacted_value": masked(&k.value), "name": "Secret Key",
        "created_at": 1711471533, "last_used_at": null, "expires_at": expiry::openai_field(&st, &k.id), "id": k.id, "owner": {"type": "service_account",
        "service_account": {"id": &k.owner[prefix.len()..], "name": k.name, "role": "member", "created_at": 1711471533}}});
        accounts::patch_view(&st, &mut view, k, &project);
        view
    }).collect();
    let more = start + page.len() < all.len();
    openai_page(page, more)
}

pub(super) fn openai_view(k: &Minted, prefix: &str) -> Value {
    json!({"object": "organization.project.api_key", "redacted_value": masked(&k.value), "name": "Secret Key",
        "created_at": 1711471533, "last_used_at": 1711471534, "id": k.id, "owner": {"type": "service_account",
        "service_account": {"id": &k.owner[prefix.len()..], "name": k.name, "role": "member", "created_at": 1711471533}}})
}

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

pub(super) fn anthropic_view(id: &str, value: &str, status: &str) -> Value {
    json!({"type": "api_key", "id": id,
        "name": "Staged key", "created_at": "2026-01-05T10:00:00Z", "created_by": {"id": "user_01WCz1FkmYMm4gnmykNKUu3Q", "type": "user"},
        "expires_at": null, "partial_key_hint": anthropic_hint(value), "status": status, "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ"})
}

pub(super) async fn anthropic_update(
    State(s): State<Shared>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    note_mutation(&s, &id);
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
    let bad = |msg: &str| error(Flavor::Anthropic, 400, Kind::BadRequest, "", msg);
    if header(&headers, "anthropic-version").is_none() {
        return bad("anthropic-version: header is required");
    }
    let wanted = body_json(&body)["status"].as_str().map(str::to_string);
    let mut st = s.lock().unwrap();
    let Some((value, status)) = st.anthropic.get(&id).cloned() else {
        return error(
            Flavor::Anthropic,
            404,
            Kind::NotFound,
            "",
            "API key not found",
        );
    };
    let new = match wanted.as_deref() {
        None => status.clone(),
        Some(w @ ("active" | "inactive" | "archived")) if status != "archived" => w.to_string(),
        Some(_) => return bad("invalid status transition"),
    };
    if new == "active" {
        st.keys.insert(value.clone())
    } else {
        st.keys.remove(&value)
    };
    st.anthropic
        .insert(id.clone(), (value.clone(), new.clone()));
    respond(
        200,
        &[("request-id", format!("req_011C{}", base62(20)))],
        anthropic_view(&id, &value, &new),
    )
}

pub(super) fn openrouter_view(k: &Minted, limit: Option<f64>) -> Value {
    json!({"hash": k.id, "name": k.name, "label": masked(&k.value), "disabled": false, "limit": limit,
        "limit_remaining": limit, "limit_reset": null, "usage": 0, "usage_daily": 0, "usage_weekly": 0, "usage_monthly": 0,
        "created_at": "2026-01-05T10:00:00Z", "updated_at": null, "expires_at": null})
}

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
    let (hash, value) = mint(
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
    respond(201, &[], json!({"data": data, "key": value}))
}

/// `GET /api/v1/keys`: the management key's keys, 2 a page, paged by `offset`.
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
    let st = s.lock().unwrap();
    let keys = st
        .minted
        .iter()
        .filter(|k| k.active && k.owner == "openrouter");
    let page: Vec<Value> = keys
        .skip(offset)
        .take(2)
        .map(|k| {
            let mut view = openrouter_view(k, st.limits.get(&k.value).copied().flatten());
            view["expires_at"] = expiry::openrouter_field(&st, &k.id);
            view
        })
        .collect();
    respond(200, &[], json!({ "data": page }))
}

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
