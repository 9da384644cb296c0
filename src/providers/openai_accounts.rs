//! OpenAI keys inside the engine's one service account (providers.md "Create key via API"):
//! the engine creates a key-less service account once per configuration
//! (`create_service_account_only`), gives it the role `member` (OpenAI creates such an account
//! with role `none`, and "if you create only the service account, assign the roles it needs
//! before it makes model requests": guide "API keys and service accounts"; `POST
//! .../service_accounts/{sa}` with `role` is "Update project service account"), finds it again
//! by its unique name (`GET .../service_accounts`, whose items show the `role`), creates each
//! rotated key in it (`POST .../service_accounts/{sa}/api_keys`) and revokes by deleting just
//! that key, so no empty service accounts pile up.
//!
//! Keys of the previous release each have a service account of their own, named
//! `ai-keys-<key>-<suffix>`, created the ordinary way (so with role `member`). Such a key is
//! revoked like any other, by deleting just the key: the engine never deletes a service account
//! (a person may have made one of that name, holding other keys), so the previous release's
//! emptied accounts are left for a person to remove.

use serde_json::{json, Value};

use super::classify::{
    admin_error, admin_error_expiry, admin_failure, create_may_retry, idempotent_may_retry,
    is_provider_not_found, token,
};
use super::http::{Exchange, HttpClient, Step};
use super::openai::{interpret_revoke, MAX_EXPIRES_IN_SECONDS};
use super::ownership::timestamp;
use super::provider::{AdminCall, CreateRequest};
use super::{AccountState, CreatedKey, ProviderError};
use crate::secret::{validate_key_value, SecretValue};

/// The role the engine gives its account: what an account created the ordinary way gets, and
/// what its keys need to call the API.
const KEY_ROLE: &str = "member";
/// Most list pages read when looking an account up by name.
const MAX_LIST_PAGES: usize = 50;
const ERROR_POINTERS: [&str; 2] = ["/error/code", "/error/type"];

fn projects(call: &AdminCall<'_>) -> String {
    format!("{}/v1/organization/projects/{}", call.base, call.project())
}

fn is_id(id: &str) -> bool {
    super::config::check_provider_key_id(id).is_ok()
}

/// The project's service account named `name` with its role, paging with `after` (100 a page).
pub(super) async fn find(
    call: &AdminCall<'_>,
    name: &str,
) -> Result<Option<AccountState>, ProviderError> {
    let mut after: Option<String> = None;
    for _ in 0..MAX_LIST_PAGES {
        let mut url = format!("{}/service_accounts?limit=100", projects(call));
        if let Some(cursor) = &after {
            url.push_str(&format!("&after={cursor}"));
        }
        let page = call
            .http
            .admin_json(|c| c.get(&url).bearer_auth(call.admin), &ERROR_POINTERS)
            .await?;
        let accounts = page.get("data").and_then(Value::as_array);
        let found = accounts.into_iter().flatten().find_map(|a| {
            let named = a.get("name").and_then(Value::as_str) == Some(name);
            named.then(|| account_state(a))?
        });
        if found.is_some() {
            return Ok(found);
        }
        let more = page.get("has_more").and_then(Value::as_bool) == Some(true);
        match page.get("last_id").and_then(Value::as_str) {
            Some(last) if more && is_id(last) => after = Some(last.to_string()),
            _ => return Ok(None),
        }
    }
    Err(ProviderError::Protocol(format!(
        "no service account named {name:?} in the first {MAX_LIST_PAGES} pages"
    )))
}

/// A service account object's `id` (when usable) and `role`.
fn account_state(a: &Value) -> Option<AccountState> {
    let id = a.get("id").and_then(Value::as_str).filter(|i| is_id(i))?;
    Some(AccountState {
        id: id.to_string(),
        role: a
            .get("role")
            .and_then(Value::as_str)
            .and_then(super::classify::clean_token),
    })
}

/// Creates a key-less service account named `name` (OpenAI gives it role `none`). A key the
/// answer brings anyway (an API that ignored `create_service_account_only`) is deleted at once.
pub(super) async fn create(
    call: &AdminCall<'_>,
    name: &str,
) -> Result<AccountState, ProviderError> {
    let url = format!("{}/service_accounts", projects(call));
    let body = json!({ "name": name, "create_service_account_only": true });
    let (result, _) = call
        .http
        .exchange(
            |c| c.post(&url).bearer_auth(call.admin).json(&body),
            |ex| Step::judged(create_may_retry(&ex), interpret_account(ex)),
        )
        .await;
    let (account, stray_key) = result?;
    if let Some(key) = stray_key {
        delete_key(call, &key).await?;
    }
    Ok(account)
}

/// Reads a service-account create answer: the account, and the id of a key it came with.
pub(crate) fn interpret_account(
    ex: Exchange,
) -> Result<(AccountState, Option<String>), ProviderError> {
    let reply = ex.map_err(|f| admin_failure(&f))?;
    let json = reply.json();
    if !(200..300).contains(&reply.status) {
        let tok = token(json.as_ref(), &ERROR_POINTERS);
        return Err(admin_error(&reply, tok.as_deref(), "project"));
    }
    let stray = json
        .as_ref()
        .and_then(|j| j.pointer("/api_key/id"))
        .and_then(Value::as_str)
        .filter(|i| is_id(i))
        .map(str::to_string);
    match json.as_ref().and_then(account_state) {
        Some(account) => Ok((account, stray)),
        None => Err(ProviderError::Protocol(
            "the service account was created without a usable id".to_string(),
        )),
    }
}

/// Service account `id` (`GET .../service_accounts/{id}`); `None` when OpenAI has no such
/// account in the project.
pub(super) async fn get(
    call: &AdminCall<'_>,
    id: &str,
) -> Result<Option<AccountState>, ProviderError> {
    let url = format!("{}/service_accounts/{id}", projects(call));
    let (result, _) = call
        .http
        .exchange(
            |c| c.get(&url).bearer_auth(call.admin),
            |ex| Step::judged(idempotent_may_retry(&ex), interpret_get(ex)),
        )
        .await;
    result
}

fn interpret_get(ex: Exchange) -> Result<Option<AccountState>, ProviderError> {
    let reply = ex.map_err(|f| admin_failure(&f))?;
    if is_provider_not_found(&reply) {
        return Ok(None);
    }
    interpret_state(Ok(reply)).map(Some)
}

/// Gives service account `id` the role `member` (`POST .../service_accounts/{id}` with `role`,
/// "Update project service account"), what an account created the ordinary way has, so its keys
/// can call the API. Idempotent.
pub(super) async fn grant_role(
    call: &AdminCall<'_>,
    id: &str,
) -> Result<AccountState, ProviderError> {
    let url = format!("{}/service_accounts/{id}", projects(call));
    let body = json!({ "role": KEY_ROLE });
    let (result, _) = call
        .http
        .exchange(
            |c| c.post(&url).bearer_auth(call.admin).json(&body),
            |ex| Step::judged(idempotent_may_retry(&ex), interpret_state(ex)),
        )
        .await;
    let account = result?;
    if account.keys_can_call_api() {
        Ok(account)
    } else {
        Err(ProviderError::Protocol(format!(
            "service account {id} still has no role its keys can use"
        )))
    }
}

/// Reads a service account object (retrieve or update answer).
fn interpret_state(ex: Exchange) -> Result<AccountState, ProviderError> {
    let reply = ex.map_err(|f| admin_failure(&f))?;
    let json = reply.json();
    if !(200..300).contains(&reply.status) {
        let tok = token(json.as_ref(), &ERROR_POINTERS);
        return Err(admin_error(&reply, tok.as_deref(), "service account"));
    }
    json.as_ref().and_then(account_state).ok_or_else(|| {
        ProviderError::Protocol("the service account answer has no usable id".to_string())
    })
}

/// Creates key `req.name` in service account `account` (with `expires_in_seconds` when asked).
/// A 404 means the account is gone (`Rejected` with status 404).
pub(super) async fn create_key(
    call: &AdminCall<'_>,
    account: &str,
    req: &CreateRequest<'_>,
) -> Result<CreatedKey, ProviderError> {
    if !is_id(account) {
        return Err(ProviderError::Unsupported(
            "the recorded service account id is not a valid id".to_string(),
        ));
    }
    let url = format!("{}/service_accounts/{account}/api_keys", projects(call));
    let mut body = json!({ "name": req.name });
    if let Some(secs) = req.expires_in_secs {
        body["expires_in_seconds"] = json!(secs.clamp(1, MAX_EXPIRES_IN_SECONDS));
    }
    let (result, _) = call
        .http
        .exchange(
            |c| c.post(&url).bearer_auth(call.admin).json(&body),
            |ex| Step::judged(create_may_retry(&ex), interpret_key(ex)),
        )
        .await;
    result
}

/// Reads a service-account key create answer: `value`, `id` and `expires_at`.
pub(crate) fn interpret_key(ex: Exchange) -> Result<CreatedKey, ProviderError> {
    let reply = ex.map_err(|f| admin_failure(&f))?;
    let json = reply.json();
    if !(200..300).contains(&reply.status) {
        let tok = token(json.as_ref(), &ERROR_POINTERS);
        return Err(admin_error_expiry(
            &reply,
            tok.as_deref(),
            "service account",
        ));
    }
    let field = |p: &str| {
        json.as_ref()
            .and_then(|j| j.pointer(p))
            .and_then(Value::as_str)
    };
    match (field("/value"), field("/id")) {
        (Some(value), Some(id)) if validate_key_value(value).is_ok() && is_id(id) => {
            Ok(CreatedKey {
                value: SecretValue::new(value.to_string()),
                provider_key_id: id.to_string(),
                expires_at: json.as_ref().and_then(|j| timestamp(j.get("expires_at"))),
            })
        }
        _ => Err(ProviderError::Protocol(
            "the service account key was created without a usable value and id".to_string(),
        )),
    }
}

/// Sets project key `id` to expire `expires_in_secs` from now ("Update project API key",
/// `POST .../api_keys/{id}` with `expires_in_seconds`, 1 to 31,536,000, counted from the
/// request; service-account keys included). The answer is the key object (with `expires_at`
/// and only `redacted_value`); the expiry it shows is returned. OpenAI refuses a value its
/// organization's or project's key-expiry policy does not allow
/// ([`ProviderError::ExpiryPolicy`]) and any update of an expired key; a key it does not have
/// is `Rejected` with status 404. Idempotent (the same request sets the same end again), so
/// retried on transient failures.
pub(super) async fn update_expiry(
    call: &AdminCall<'_>,
    id: &str,
    expires_in_secs: i64,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ProviderError> {
    let url = format!("{}/api_keys/{id}", projects(call));
    let body = json!({ "expires_in_seconds": expires_in_secs.clamp(1, MAX_EXPIRES_IN_SECONDS) });
    let (result, _) = call
        .http
        .exchange(
            |c| c.post(&url).bearer_auth(call.admin).json(&body),
            |ex| Step::judged(idempotent_may_retry(&ex), interpret_update(ex)),
        )
        .await;
    result
}

/// Reads a key update answer: the key object's `expires_at` (Unix seconds, or null).
pub(crate) fn interpret_update(
    ex: Exchange,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ProviderError> {
    let reply = ex.map_err(|f| admin_failure(&f))?;
    let json = reply.json();
    if !(200..300).contains(&reply.status) {
        let tok = token(json.as_ref(), &ERROR_POINTERS);
        return Err(admin_error_expiry(&reply, tok.as_deref(), "key"));
    }
    match json.as_ref() {
        Some(j) if j.get("id").and_then(Value::as_str).is_some_and(is_id) => {
            Ok(timestamp(j.get("expires_at")))
        }
        _ => Err(ProviderError::Protocol(
            "the key update answer is not a key object".to_string(),
        )),
    }
}

/// Revokes project key `id` by deleting that key alone: its service account and the account's
/// other keys stay. Never an account, whatever its name: the engine's own account holds its
/// other keys, and one named like the previous release's (`ai-keys-...`) may be a person's with
/// keys of their own. (The previous release created one account per key but recorded no
/// account id, so no record can show an account is the engine's for that key alone.) A key
/// OpenAI no longer has is already revoked; where OpenAI refuses to delete a service account's
/// key (an earlier API), the error stands and the revocation stays pending.
pub(super) async fn revoke(call: &AdminCall<'_>, id: &str) -> Result<(), ProviderError> {
    delete_key(call, id).await
}

/// Deletes project key `id` (an account's other keys and the account stay).
pub(super) async fn delete_key(call: &AdminCall<'_>, id: &str) -> Result<(), ProviderError> {
    let url = format!("{}/api_keys/{id}", projects(call));
    delete(call, &url).await
}

async fn delete(call: &AdminCall<'_>, url: &str) -> Result<(), ProviderError> {
    let http: &HttpClient<'_> = &call.http;
    let (result, _) = http
        .exchange(
            |c| c.delete(url).bearer_auth(call.admin),
            |ex| Step::judged(idempotent_may_retry(&ex), interpret_revoke(ex)),
        )
        .await;
    result
}

#[cfg(test)]
mod tests;
