//! OpenAI service accounts as objects of their own (providers.md "Create key via API"): a
//! service account made with `create_service_account_only` holds no key; `GET
//! .../service_accounts` lists them (2 a page, `after` cursor, `has_more`); `POST
//! .../service_accounts/{sa}/api_keys` creates a key in one (`value` once, `expires_at`);
//! deleting a service account deletes its keys; deleting a key leaves its account (the newest
//! reference's behaviour). Accounts a test registers (or the engine creates) are tracked, so a
//! test can count empty ones.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use super::admin::mint;
use super::errors::{error, gate};
use super::http::{
    base62, bearer, body_json, hex, openai_page, query, respond, stall_after_create,
};
use super::{expiry, Flavor, Inner, Kind, Minted, Shared};

/// One service account.
pub(super) struct Account {
    pub id: String,
    pub project: String,
    pub name: String,
    pub deleted: bool,
}

fn view(a: &Account) -> Value {
    json!({"object": "organization.project.service_account", "id": a.id, "name": a.name,
        "role": "member", "created_at": 1711471533})
}

/// Registers service account `id` named `name` in `project`.
pub(super) fn register(st: &mut Inner, project: &str, id: &str, name: &str) {
    st.accounts.push(Account {
        id: id.to_string(),
        project: project.to_string(),
        name: name.to_string(),
        deleted: false,
    });
}

fn live<'a>(st: &'a Inner, project: &str, id: &str) -> Option<&'a Account> {
    st.accounts
        .iter()
        .find(|a| !a.deleted && a.project == project && a.id == id)
}

fn no_such_account(id: &str) -> Response {
    let msg = format!("No such service account: {id}");
    error(Flavor::OpenAi, 404, Kind::NotFound, "", &msg)
}

/// `POST .../service_accounts` with `create_service_account_only: true`: the account alone.
pub(super) fn create_only(s: &Shared, project: &str, name: &str) -> Response {
    let id = format!("svc_acct_{}", hex(24));
    let mut st = s.lock().unwrap();
    register(&mut st, project, &id, name);
    let account = st.accounts.last().expect("registered");
    respond(
        200,
        &[("x-request-id", format!("req_{}", hex(32)))],
        view(account),
    )
}

/// `GET .../service_accounts`: the project's accounts, 2 a page, with the `after` cursor.
pub(super) async fn openai_list_accounts(
    State(s): State<Shared>,
    Path(project): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&s, &uri, Flavor::OpenAi, bearer(&headers), true).await {
        return r;
    }
    let st = s.lock().unwrap();
    let all: Vec<&Account> = st
        .accounts
        .iter()
        .filter(|a| !a.deleted && a.project == project)
        .collect();
    let start = query(&uri, "after")
        .and_then(|a| all.iter().position(|k| k.id == a))
        .map_or(0, |i| i + 1);
    let page: Vec<Value> = all.iter().skip(start).take(2).map(|a| view(a)).collect();
    let more = start + page.len() < all.len();
    openai_page(page, more)
}

/// `POST .../service_accounts/{sa}/api_keys` `{name?, scopes?, expires_in_seconds?}`.
pub(super) async fn openai_create_account_key(
    State(s): State<Shared>,
    Path((project, sa)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = gate(&s, &uri, Flavor::OpenAi, bearer(&headers), true).await {
        return r;
    }
    let body = body_json(&body);
    let expires = match expiry::openai_requested(&body) {
        Ok(at) => at,
        Err(r) => return *r,
    };
    let name = body["name"].as_str().unwrap_or("Secret Key").to_string();
    if live(&s.lock().unwrap(), &project, &sa).is_none() {
        return no_such_account(&sa);
    }
    let value = format!("sk-svcacct-{}", base62(64));
    let (id, value) = mint(
        &s,
        format!("key_{}", base62(16)),
        value,
        format!("{project}/{sa}"),
        &name,
    );
    {
        let mut st = s.lock().unwrap();
        expiry::record(&mut st, &id, expires);
        st.key_names.insert(id.clone(), name.clone());
    }
    stall_after_create(&s).await;
    let now = chrono::Utc::now().timestamp();
    let expires_at = expiry::openai_field(&s.lock().unwrap(), &id);
    respond(
        200,
        &[("x-request-id", format!("req_{}", hex(32)))],
        json!({"object": "organization.project.service_account.api_key", "id": id, "name": name,
            "value": value, "created_at": now, "expires_at": expires_at}),
    )
}

/// Deletes service account `sa` of `project` (the caller deactivates its keys); `None` when
/// it is a tracked account that does not exist (any more), which is a 404.
pub(super) fn delete(st: &mut Inner, project: &str, sa: &str) -> Option<Response> {
    let tracked = st
        .accounts
        .iter_mut()
        .filter(|a| a.project == project && a.id == sa)
        .collect::<Vec<_>>();
    if tracked.is_empty() {
        return None;
    }
    let mut found = false;
    for a in tracked {
        found |= !a.deleted;
        a.deleted = true;
    }
    (!found).then(|| no_such_account(sa))
}

/// A key object's `name` and owner `service_account.name` as OpenAI shows them: the key's own
/// name for a key made in an account, and the account's name.
pub(super) fn patch_view(st: &Inner, view: &mut Value, k: &Minted, project: &str) {
    if let Some(name) = st.key_names.get(&k.id) {
        view["name"] = json!(name);
    }
    let sa = k.owner.strip_prefix(&format!("{project}/")).unwrap_or("");
    if let Some(a) = st
        .accounts
        .iter()
        .find(|a| a.project == project && a.id == sa)
    {
        view["owner"]["service_account"]["name"] = json!(a.name);
    }
}

/// The project's live service accounts with the number of active keys each holds.
pub(super) fn summary(st: &Inner, project: &str) -> Vec<(String, String, usize)> {
    st.accounts
        .iter()
        .filter(|a| !a.deleted && a.project == project)
        .map(|a| {
            let owner = format!("{project}/{}", a.id);
            let keys = st
                .minted
                .iter()
                .filter(|k| k.active && k.owner == owner)
                .count();
            (a.id.clone(), a.name.clone(), keys)
        })
        .collect()
}
