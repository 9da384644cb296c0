//! OpenAI service accounts as objects of their own (fake_provider.rs "What it follows"): an
//! account made with `create_service_account_only` holds no key and has role `none`, one made
//! the ordinary way has role `member`; `GET .../service_accounts` lists them (`limit`, `after`,
//! `has_more`); `GET` and `POST .../service_accounts/{sa}` read and update one (`role`
//! `member` or `owner`); `POST .../service_accounts/{sa}/api_keys` creates a key in one
//! (`value` once, `expires_at`); deleting an account deletes its keys. Accounts a test registers
//! (or the engine creates) are tracked, so a test can count empty ones, read their roles, put
//! a person's keys in one (a hand-made `ai-keys-x` holding several) and see which were deleted.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use super::admin::{create, mint};
use super::errors::{error, gate, openai_invalid};
use super::http::{
    base62, bearer, body_json, hex, openai_page, query, respond, stall_after_create,
};
use super::listing::openai_page_size;
use super::{expiry, FakeProvider, Flavor, Inner, Kind, Minted, Shared};

/// One service account.
pub(super) struct Account {
    pub id: String,
    pub project: String,
    pub name: String,
    /// `owner`, `member` or `none`.
    pub role: String,
    pub deleted: bool,
}

fn view(a: &Account) -> Value {
    json!({"object": "organization.project.service_account", "id": a.id, "name": a.name,
        "role": a.role, "created_at": 1711471533})
}

/// Registers service account `id` named `name` in `project`, with `role`.
pub(super) fn register(st: &mut Inner, project: &str, id: &str, name: &str, role: &str) {
    st.accounts.push(Account {
        id: id.to_string(),
        project: project.to_string(),
        name: name.to_string(),
        role: role.to_string(),
        deleted: false,
    });
}

fn live<'a>(st: &'a Inner, project: &str, id: &str) -> Option<&'a Account> {
    st.accounts
        .iter()
        .find(|a| !a.deleted && a.project == project && a.id == id)
}

/// The account that owns created key `k`, if the fake tracks it.
pub(super) fn owner_of<'a>(st: &'a Inner, k: &Minted) -> Option<&'a Account> {
    let (project, sa) = k.owner.split_once('/')?;
    st.accounts
        .iter()
        .find(|a| a.project == project && a.id == sa)
}

fn no_such_account(id: &str) -> Response {
    let msg = format!("No such service account: {id}");
    error(Flavor::OpenAi, 404, Kind::NotFound, "", &msg)
}

fn request_id() -> [(&'static str, String); 1] {
    [("x-request-id", format!("req_{}", hex(32)))]
}

/// `POST .../service_accounts` with `create_service_account_only: true`: the account alone,
/// with role `none` and `api_key: null`.
pub(super) fn create_only(s: &Shared, project: &str, name: &str) -> Response {
    let id = format!("svc_acct_{}", hex(24));
    let mut st = s.lock().unwrap();
    register(&mut st, project, &id, name, "none");
    let mut answer = view(st.accounts.last().expect("registered"));
    answer["api_key"] = Value::Null;
    respond(200, &request_id(), answer)
}

/// `GET .../service_accounts`: the project's accounts, `limit` a page, after the `after` id.
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
    let size = match openai_page_size(&st, &uri) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    let all: Vec<&Account> = st
        .accounts
        .iter()
        .filter(|a| !a.deleted && a.project == project)
        .collect();
    let start = query(&uri, "after")
        .and_then(|a| all.iter().position(|k| k.id == a))
        .map_or(0, |i| i + 1);
    let page: Vec<Value> = all.iter().skip(start).take(size).map(|a| view(a)).collect();
    let more = start + page.len() < all.len();
    openai_page(page, more)
}

/// `GET .../service_accounts/{sa}`: one account.
pub(super) async fn openai_get_account(
    State(s): State<Shared>,
    Path((project, sa)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = gate(&s, &uri, Flavor::OpenAi, bearer(&headers), true).await {
        return r;
    }
    let st = s.lock().unwrap();
    match live(&st, &project, &sa) {
        Some(a) => respond(200, &request_id(), view(a)),
        None => no_such_account(&sa),
    }
}

/// `POST .../service_accounts/{sa}` `{name?, role?: "member" | "owner"}`: the updated account.
pub(super) async fn openai_update_account(
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
    let role = match body.get("role") {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) if r == "member" || r == "owner" => Some(r.clone()),
        Some(_) => {
            let msg = "Invalid value for 'role': expected one of 'member' or 'owner'.";
            return openai_invalid("role", msg);
        }
    };
    let name = body.get("name").and_then(Value::as_str).map(str::to_string);
    let mut st = s.lock().unwrap();
    let Some(account) = st
        .accounts
        .iter_mut()
        .find(|a| !a.deleted && a.project == project && a.id == sa)
    else {
        return no_such_account(&sa);
    };
    if let Some(role) = role {
        account.role = role;
    }
    if let Some(name) = name {
        account.name = name;
    }
    respond(200, &request_id(), view(account))
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
    let policy = s.lock().unwrap().switches.openai_key_policy;
    let expires = match expiry::openai_requested(policy, &body) {
        Ok(at) => at,
        Err(r) => return *r,
    };
    let name = body["name"].as_str().unwrap_or("Secret Key").to_string();
    if live(&s.lock().unwrap(), &project, &sa).is_none() {
        return no_such_account(&sa);
    }
    let value = format!("sk-svcacct-{}", base62(64));
    let (id, value) = create(
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
    if s.lock().unwrap().unavailable_after_create() {
        return error(Flavor::OpenAi, 503, Kind::Overloaded, "", "");
    }
    let now = chrono::Utc::now().timestamp();
    let expires_at = expiry::openai_field(&s.lock().unwrap(), &id);
    respond(
        200,
        &request_id(),
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

/// A key object's `name` and owner `service_account` `name` and `role` as OpenAI shows them:
/// the key's own name for a key made in an account, and the account's name and role.
pub(super) fn patch_view(st: &Inner, view: &mut Value, k: &Minted) {
    if let Some(name) = st.key_names.get(&k.id) {
        view["name"] = json!(name);
    }
    if let Some(a) = owner_of(st, k) {
        view["owner"]["service_account"]["name"] = json!(a.name);
        view["owner"]["service_account"]["role"] = json!(a.role);
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

impl FakeProvider {
    /// Registers a key made at OpenAI by a person in `project` (not by the engine): valid, with
    /// project API key id `id`.
    pub fn add_openai_key(&self, project: &str, id: &str, value: &str) {
        let owner = format!("{project}/svc_acct_person");
        mint(
            &self.state,
            id.into(),
            value.into(),
            owner,
            "made by a person",
        );
    }

    /// The live OpenAI service accounts of `project`: `(id, name, active keys)`.
    pub fn service_accounts(&self, project: &str) -> Vec<(String, String, usize)> {
        summary(&self.lock(), project)
    }

    /// Registers a key as the previous release created it: alone in a service account named
    /// `account_name` in `project` (made the ordinary way, so with role `member`), with project
    /// API key id `id`. Returns the account's id.
    pub fn add_legacy_openai_key(
        &self,
        project: &str,
        account_name: &str,
        id: &str,
        value: &str,
    ) -> String {
        let sa = format!("svc_acct_legacy_{id}");
        // Created the ordinary way: role `member`.
        register(&mut self.lock(), project, &sa, account_name, "member");
        let owner = format!("{project}/{sa}");
        mint(&self.state, id.into(), value.into(), owner, account_name);
        sa
    }

    /// Registers a key a person made in service account `sa` of `project` (an account holds any
    /// number of keys): valid, with project API key id `id`.
    pub fn add_openai_account_key(&self, project: &str, sa: &str, id: &str, value: &str) {
        let owner = format!("{project}/{sa}");
        mint(
            &self.state,
            id.into(),
            value.into(),
            owner,
            "made by a person",
        );
    }

    /// The ids of `project`'s service accounts that were deleted.
    pub fn deleted_service_accounts(&self, project: &str) -> Vec<String> {
        let st = self.lock();
        st.accounts
            .iter()
            .filter(|a| a.deleted && a.project == project)
            .map(|a| a.id.clone())
            .collect()
    }

    /// The role (`owner`, `member`, `none`) of live service account `sa` of `project`.
    pub fn service_account_role(&self, project: &str, sa: &str) -> Option<String> {
        live(&self.lock(), project, sa).map(|a| a.role.clone())
    }

    /// Registers a key-less service account named `name` in `project` with `role`, as someone
    /// (or an earlier build of the engine) made it; returns its id.
    pub fn add_openai_account(&self, project: &str, name: &str, role: &str) -> String {
        let id = format!("svc_acct_{}", hex(24));
        register(&mut self.lock(), project, &id, name, role);
        id
    }
}
