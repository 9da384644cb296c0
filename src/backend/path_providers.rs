//! `providers/`: how to reach an AI provider to test, create and revoke keys.

use std::sync::Arc;

use serde_json::json;

use super::fields::{NO_CONTROL_CHARACTERS, NO_CONTROL_CHARACTERS_MEANING};
use super::provider_ops;
use super::record;
use super::shared::{bind, Shared};
use crate::framework::{
    existence_check, generic_name_regex, Error, Field, FieldData, FieldType, HandlerResult,
    Operation, Path, Request, Response, Storage,
};
use crate::providers::{
    ProviderConfig, ProviderType, DEFAULT_TIMEOUT_SECS, MAX_API_VERSION_LEN, MAX_KEY_LIFETIME_SECS,
    MAX_PROJECT_ID_LEN, MAX_TIMEOUT_SECS, MAX_VERIFY_PATH_LEN,
};
use crate::rotation::SecretValue;

/// Longest `base_url`.
const MAX_BASE_URL_LEN: usize = 2048;
/// Longest `admin_key` (the same bound as a key value).
const MAX_ADMIN_KEY_LEN: usize = 4096;
/// `project_id`: a provider id's letters (the empty string removes it).
const PROJECT_ID_PATTERN: &str = "^[A-Za-z0-9_.-]*$";
/// `api_version`: letters, digits, `-` and `.` (the empty string removes it).
const API_VERSION_PATTERN: &str = "^[A-Za-z0-9.-]*$";
/// `verify_path`: `/` then printable ASCII but `?` and `#`, never two dots in a row (the empty
/// string removes it). Regex-lite has no lookahead, so a dot must be followed by another
/// character or end the path.
const VERIFY_PATH_PATTERN: &str =
    r"^(/([\x21\x22\x24-\x2d\x2f-\x3e\x40-\x7e]|\.[\x21\x22\x24-\x2d\x2f-\x3e\x40-\x7e])*\.?)?$";

pub(super) fn paths(shared: &Arc<Shared>) -> Vec<Path> {
    let types: Vec<&str> = ProviderType::ALL.iter().map(|t| t.as_str()).collect();
    vec![
        Path::new("providers/?")
            .operation(Operation::List, "List providers.", bind(shared, list))
            .help(LIST_SYNOPSIS, LIST_DESCRIPTION),
        Path::new(&format!("providers/{}", generic_name_regex("name")))
            .field(Field::new("name", FieldType::Name, "Name of the provider.").required())
            .field(Field::new(
                "type",
                FieldType::String,
                format!("Provider type, required on create: {}.", types.join(", ")),
            ).allowed(&types))
            .field(Field::new(
                "base_url",
                FieldType::String,
                "Scheme, host and optional path prefix of the provider's API, without the API version. Defaults per type; required for azure_openai and openai_compatible. https, except for loopback hosts (127.0.0.0/8, ::1, localhost); link-local and cloud metadata addresses are refused. Changing it (or type) needs admin_key in the same request.",
            ).max_len(MAX_BASE_URL_LEN))
            .field(
                Field::new(
                    "admin_key",
                    FieldType::String,
                    "Provider credential that can create or revoke keys (OpenAI admin key, Anthropic admin key, OpenRouter management key). Write-only. Empty or only whitespace is refused (400): remove a stored one with remove_admin_key=true.",
                )
                .sensitive()
                .max_len(MAX_ADMIN_KEY_LEN)
                .pattern(NO_CONTROL_CHARACTERS, NO_CONTROL_CHARACTERS_MEANING),
            )
            .field(Field::new(
                "remove_admin_key",
                FieldType::Bool,
                "true removes the stored admin_key (the provider can then only test keys). Not with admin_key in the same request.",
            ))
            .field(Field::new("project_id", FieldType::String, "openai: the project in which service-account keys are created. Changing it needs admin_key in the same request.")
                .max_len(MAX_PROJECT_ID_LEN)
                .pattern(PROJECT_ID_PATTERN, "must use only letters, digits, '_', '-' or '.' (for example proj_abc123)"))
            .field(Field::new("api_version", FieldType::String, "azure_openai: the api-version query parameter (default 2024-10-21).")
                .max_len(MAX_API_VERSION_LEN)
                .pattern(API_VERSION_PATTERN, "must look like 2024-10-21 or 2025-04-01-preview (letters, digits, '-' and '.')"))
            .field(Field::new("verify_path", FieldType::String, "openai_compatible: the path a key test calls (default /v1/models).")
                .max_len(MAX_VERIFY_PATH_LEN)
                .pattern(VERIFY_PATH_PATTERN, "must be a path starting with '/', without spaces, '?', '#' or '..' (for example /v1/models)"))
            .field(Field::new("token_url", FieldType::String, "openai, anthropic, openrouter: the token endpoint federated keys exchange their signed assertion at (https; http only for a loopback host). Default: the provider's documented one (/oauth/token on OpenAI's auth.openai.com host; <base_url>/v1/oauth/token; <base_url>/api/v1/oauth/token; with a custom base_url, OpenAI's is <base_url>/oauth/token). An empty string clears it.")
                .max_len(MAX_VERIFY_PATH_LEN))
            .field(Field::new("timeout", FieldType::Duration, "Timeout of each provider call (default 10s).").min(1).max(MAX_TIMEOUT_SECS))
            .field(Field::new("max_key_lifetime", FieldType::Duration, "The provider's key-lifetime policy for this organization or project (at most 365d; 0 removes it). Keys the engine creates here ask for no longer a life, and a key or schedule whose rotation period + grace_period + max_grace needs longer is refused at write time; lowering it below what a key using this provider needs is refused, naming the keys.").min(0).max(MAX_KEY_LIFETIME_SECS))
            .operation(Operation::Create, "Configure a provider.", bind(shared, write))
            .operation(Operation::Update, "Update a provider.", bind(shared, write))
            .operation(Operation::Read, "Read a provider (never its admin key).", bind(shared, read))
            .operation(Operation::Delete, "Delete a provider nothing belongs to any more.", bind(shared, delete))
            .existence(existence_check(|req: Request, d: FieldData| async move {
                let name = d.get_string("name").unwrap_or_default();
                Ok(provider_ops::load(req.storage.as_ref(), &name).await?.is_some())
            }))
            .help(SYNOPSIS, DESCRIPTION),
    ]
}

async fn list(_s: Arc<Shared>, req: Request, _d: FieldData) -> HandlerResult {
    let keys = req.storage.list(provider_ops::PROVIDERS_PREFIX).await?;
    Ok(Some(Response::with_data(json!({ "keys": keys }))))
}

fn provider_json(name: &str, cfg: &ProviderConfig) -> serde_json::Value {
    let caps = cfg.capabilities();
    json!({
        "name": name,
        "type": cfg.kind.as_str(),
        "base_url": cfg.base_url.clone().or_else(|| cfg.kind.default_base_url().map(str::to_string)),
        "project_id": cfg.project_id,
        "api_version": cfg.api_version,
        "verify_path": cfg.verify_path,
        "token_url": crate::providers::federation_token_url(cfg),
        "timeout": cfg.timeout_secs,
        "max_key_lifetime": cfg.max_key_lifetime_secs,
        "admin_key_set": cfg.admin_key.is_some(),
        "capabilities": { "test": caps.test, "create": caps.create, "revoke": caps.revoke },
    })
}

async fn read(_s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let storage = req.storage.as_ref();
    let Some(cfg) = provider_ops::load(storage, &name).await? else {
        return Ok(None);
    };
    Ok(Some(Response::with_data(
        shown(storage, &name, &cfg).await?,
    )))
}

/// A provider as reads and writes answer: its settings, the revocations still to be confirmed
/// there (deleted keys' included: only their intents remember those), as `key version N`, and
/// everything that still belongs to it (null when a record cannot be read to tell: the answer
/// of a write that succeeded never fails on it).
async fn shown(
    storage: &dyn Storage,
    name: &str,
    cfg: &ProviderConfig,
) -> Result<serde_json::Value, Error> {
    let mut data = provider_json(name, cfg);
    match provider_ops::belongings(storage, name).await {
        Ok(belongings) => {
            data["pending_revocations"] = json!(belongings.pending_revocations);
            data["belongings"] = belongings.json();
        }
        Err(e) => {
            tracing::warn!(provider = %name, error = %e, "could not list what still belongs to the provider");
            data["pending_revocations"] = serde_json::Value::Null;
            data["belongings"] = serde_json::Value::Null;
        }
    }
    Ok(data)
}

fn text(d: &FieldData, field: &str) -> Option<Option<String>> {
    d.is_set(field).then(|| {
        d.get_string(field)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    })
}

async fn write(_s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let lifetime_given = d.is_set("max_key_lifetime");
    let name = d.get_string("name").unwrap_or_default();
    let storage = req.storage.as_ref();
    let existing = provider_ops::load(storage, &name).await?;
    let kind = match d.get_string("type").filter(|_| d.is_set("type")) {
        Some(t) => Some(ProviderType::parse(t.trim()).ok_or_else(|| {
            let types: Vec<&str> = ProviderType::ALL.iter().map(|t| t.as_str()).collect();
            Error::BadRequest(format!("type: must be one of {}", types.join(", ")))
        })?),
        None => None,
    };
    let before = existing.clone();
    let mut cfg = match (existing, kind) {
        (Some(mut cfg), kind) => {
            if let Some(k) = kind {
                cfg.kind = k;
            }
            cfg
        }
        (None, Some(kind)) => ProviderConfig::new(kind),
        (None, None) => {
            return Err(Error::BadRequest(
                "type is required to create a provider".into(),
            ))
        }
    };
    if let Some(v) = text(&d, "base_url") {
        cfg.base_url = v.map(|u| u.trim_end_matches('/').to_string());
    }
    if let Some(v) = text(&d, "project_id") {
        cfg.project_id = v;
    }
    if let Some(v) = text(&d, "api_version") {
        cfg.api_version = v;
    }
    if let Some(v) = text(&d, "verify_path") {
        cfg.verify_path = v;
    }
    if let Some(v) = text(&d, "token_url") {
        cfg.token_url = v;
    }
    if d.is_set("timeout") {
        cfg.timeout_secs = d.get_duration("timeout").unwrap_or(DEFAULT_TIMEOUT_SECS);
    }
    if lifetime_given {
        cfg.max_key_lifetime_secs = d.get_duration("max_key_lifetime").filter(|s| *s > 0);
    }
    let remove_admin_key = d.get_bool("remove_admin_key").unwrap_or(false);
    if let Some(k) = d.get_string("admin_key") {
        if remove_admin_key {
            return Err(Error::BadRequest(
                "admin_key and remove_admin_key=true cannot be given together: give the new admin key, or remove the stored one".into(),
            ));
        }
        // Never blank here (the field is a secret: the framework refuses an empty one).
        crate::rotation::validate_key_value(&k)
            .map_err(|e| Error::BadRequest(format!("admin_key: {e}")))?;
        cfg.admin_key = Some(SecretValue::new(k));
    } else if remove_admin_key {
        cfg.admin_key = None;
    }
    cfg.validate().map_err(Error::BadRequest)?;
    if let Some(before) = &before {
        check_admin_key_binding(before, &cfg, d.is_set("admin_key") || remove_admin_key)?;
        check_keys_keep_what_they_need(storage, &name, before, &cfg).await?;
        if let Some(max) = cfg.max_key_lifetime_secs.filter(|_| lifetime_given) {
            provider_ops::check_lifetime_of_users(storage, &name, max).await?;
        }
    }
    provider_ops::save(storage, &name, &cfg).await?;
    tracing::info!(provider = %name, kind = cfg.kind.as_str(), "provider configured");
    Ok(Some(Response::with_data(
        shown(storage, &name, &cfg).await?,
    )))
}

/// A stored admin key is bound to the place it was given for (host, provider type and account
/// scope: OpenAI's `project_id`): an update that points the provider elsewhere must give the
/// admin key again (or `remove_admin_key=true` to drop it), so whoever can only update
/// `providers/` cannot make the engine send it to their own host, nor turn it on another
/// project's keys.
fn check_admin_key_binding(
    before: &ProviderConfig,
    after: &ProviderConfig,
    admin_key_replaced: bool,
) -> Result<(), Error> {
    if admin_key_replaced || before.admin_key.is_none() {
        return Ok(());
    }
    let mut moved = Vec::new();
    if before.kind != after.kind {
        moved.push("type");
    }
    if before.effective_base_url() != after.effective_base_url() {
        moved.push("base_url");
    }
    if before.project_id != after.project_id
        && provider_ops::place_of(before).scope != provider_ops::place_of(after).scope
    {
        moved.push("project_id");
    }
    if moved.is_empty() {
        return Ok(());
    }
    Err(Error::BadRequest(format!(
        "admin_key: changing {} needs admin_key in the same request (or remove_admin_key=true \
         to remove it): the stored admin key is never sent to a host, provider type or project \
         it was not given for",
        moved.join(" and ")
    )))
}

/// An update may not take away what keys rely on: `auto_rotate` keys need a provider that can
/// create keys (admin key, type, project).
async fn check_keys_keep_what_they_need(
    storage: &dyn crate::framework::Storage,
    name: &str,
    before: &ProviderConfig,
    after: &ProviderConfig,
) -> Result<(), Error> {
    if !before.capabilities().create || after.capabilities().create {
        return Ok(());
    }
    let users = record::names_where(storage, |k| {
        k.auto_rotate && k.provider.as_deref() == Some(name)
    })
    .await?;
    if users.is_empty() {
        return Ok(());
    }
    Err(Error::BadRequest(format!(
        "provider {name:?} would no longer be able to create keys, which these auto_rotate keys \
         need: {}; turn auto_rotate off on them (or point them at another provider) first",
        users.join(", ")
    )))
}

async fn delete(_s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let storage = req.storage.as_ref();
    // Keys that name it, live versions living there, revocations it still owes and create
    // intents it may have answered all need its settings: nothing else could reach those keys.
    let belongings = provider_ops::belongings(storage, &name).await?;
    if let Some(why) = belongings.refusal(&name) {
        return Err(Error::BadRequest(why));
    }
    storage
        .delete(&format!("{}{name}", provider_ops::PROVIDERS_PREFIX))
        .await?;
    if belongings.warnings.is_empty() {
        return Ok(None);
    }
    let mut response = Response::with_data(json!({}));
    response.warnings = belongings.warnings;
    Ok(Some(response))
}

const LIST_SYNOPSIS: &str = "List AI providers.";
const LIST_DESCRIPTION: &str = "Lists the names of every configured provider.";
const SYNOPSIS: &str = "Configure how to reach an AI provider.";
const DESCRIPTION: &str = "\
A provider tells the engine how to test keys (openai, anthropic, gemini, azure_openai, \
openrouter, openai_compatible) and, with an admin_key, how to create keys (openai service-account \
keys in project_id, openrouter keys) and revoke or deactivate them (openai, openrouter, \
anthropic). Reads never return the admin key: they show admin_key_set and capabilities (test, \
create, revoke with the configured credentials) and what still belongs to the provider \
(belongings: keys that use it, federated_keys whose creds/ exchange there, live versions whose keys live there, pending_revocations, create \
intents, manual_revocations nobody acknowledged, deleted keys' included as key version N \
(deleted, incarnation I)); a provider cannot be deleted while anything belongs to it. \
base_url must be https (http only for loopback hosts); link-local and cloud metadata addresses are \
refused. A stored admin_key is bound to where it was given: changing base_url, type or \
project_id needs admin_key in the same request. An empty admin_key (or one of only whitespace, such as an unset \
shell variable) is refused with a 400 and changes nothing; remove_admin_key=true removes the \
stored one. max_key_lifetime states the provider's key-lifetime policy (see its field); a \
value that keys using the provider cannot live within is refused, naming them. An update that would leave auto_rotate keys with a provider that \
cannot create keys is refused, listing them. Write access here is as sensitive as reading creds/ \
of every key that uses the provider: key tests send the key to base_url.";

#[cfg(test)]
mod tests;
