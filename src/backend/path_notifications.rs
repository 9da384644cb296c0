//! `notifications/`: webhooks that receive the events a person should hear about.

use std::sync::Arc;

use serde_json::json;

use super::fields::{NO_CONTROL_CHARACTERS, NO_CONTROL_CHARACTERS_MEANING};
use super::notify::{self, NotificationConfig};
use super::shared::{bind, Shared};
use crate::framework::{
    existence_check, generic_name_regex, Error, Field, FieldData, FieldType, HandlerResult,
    Operation, Path, Request, Response,
};
use crate::rotation::SecretValue;

/// `key_prefix`: the letters of key names.
const KEY_PREFIX_PATTERN: &str = "^[A-Za-z0-9_.-]*$";

pub(super) fn paths(shared: &Arc<Shared>) -> Vec<Path> {
    vec![
        Path::new("notifications/?")
            .operation(Operation::List, "List notification webhooks.", bind(shared, list))
            .help(LIST_SYNOPSIS, LIST_DESCRIPTION),
        Path::new(&format!("notifications/{}", generic_name_regex("name")))
            .field(Field::new("name", FieldType::Name, "Name of the webhook.").required())
            .field(Field::new(
                "url",
                FieldType::String,
                "Where each event is POSTed, required on create. https, except for loopback hosts (127.0.0.0/8, ::1, localhost); link-local and cloud metadata addresses are refused.",
            ).max_len(notify::MAX_URL_LEN).pattern(NO_CONTROL_CHARACTERS, NO_CONTROL_CHARACTERS_MEANING))
            .field(
                Field::new(
                    "secret",
                    FieldType::String,
                    "Standard Webhooks signing secret, required on create: whsec_ and the base64 of 24 to 64 random bytes. Write-only: reads show secret_set.",
                )
                .sensitive()
                .max_len(notify::MAX_SECRET_LEN),
            )
            .field(Field::new(
                "events",
                FieldType::StringList,
                format!("Event types delivered (default: all): {}.", notify::TYPES.join(", ")),
            ).max_len(notify::TYPES.len() * 40))
            .field(Field::new(
                "key_prefix",
                FieldType::String,
                "Only events of keys whose name starts with this (default: every key; the empty string removes it).",
            ).max_len(notify::MAX_KEY_PREFIX_LEN).pattern(KEY_PREFIX_PATTERN, "must use only letters, digits, '_', '-' or '.'"))
            .operation(Operation::Create, "Configure a webhook.", bind(shared, write))
            .operation(Operation::Update, "Update a webhook.", bind(shared, write))
            .operation(Operation::Read, "Read a webhook (never its secret).", bind(shared, read))
            .operation(Operation::Delete, "Delete a webhook.", bind(shared, delete))
            .existence(existence_check(|req: Request, d: FieldData| async move {
                let name = d.get_string("name").unwrap_or_default();
                Ok(notify::load_config(req.storage.as_ref(), &name).await?.is_some())
            }))
            .help(SYNOPSIS, DESCRIPTION),
    ]
}

async fn list(_s: Arc<Shared>, req: Request, _d: FieldData) -> HandlerResult {
    let keys = notify::config_names(req.storage.as_ref()).await?;
    Ok(Some(Response::with_data(json!({ "keys": keys }))))
}

async fn read(_s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    Ok(notify::load_config(req.storage.as_ref(), &name)
        .await?
        .map(|cfg| Response::with_data(cfg.json(&name))))
}

async fn write(_s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let storage = req.storage.as_ref();
    let existing = notify::load_config(storage, &name).await?;
    let url = d
        .get_string("url")
        .filter(|_| d.is_set("url"))
        .map(|u| u.trim().to_string());
    let secret = d.get_string("secret").filter(|_| d.is_set("secret"));
    if let Some(u) = &url {
        notify::check_url(u)?;
    }
    if let Some(s) = &secret {
        notify::check_secret(s)?;
    }
    let events = if d.is_set("events") {
        let events = d.get_list("events").unwrap_or_default();
        notify::check_events(&events)?;
        Some(events)
    } else {
        None
    };
    let mut cfg = match existing {
        Some(cfg) => cfg,
        None => {
            let (Some(url), Some(secret)) = (url.clone(), secret.clone()) else {
                return Err(Error::BadRequest(
                    "url and secret are required to create a webhook".into(),
                ));
            };
            if notify::config_names(storage).await?.len() >= notify::MAX_CONFIGS {
                return Err(Error::BadRequest(format!(
                    "name: a mount holds at most {} webhooks; delete one first",
                    notify::MAX_CONFIGS
                )));
            }
            NotificationConfig {
                url,
                secret: SecretValue::new(secret),
                events: Vec::new(),
                key_prefix: None,
            }
        }
    };
    if let Some(u) = url {
        cfg.url = u;
    }
    if let Some(s) = secret {
        cfg.secret = SecretValue::new(s);
    }
    if let Some(e) = events {
        cfg.events = e;
    }
    if d.is_set("key_prefix") {
        cfg.key_prefix = d.get_string("key_prefix").filter(|p| !p.is_empty());
    }
    notify::save_config(storage, &name, &cfg).await?;
    tracing::info!(notification = %name, "notification webhook configured");
    Ok(Some(Response::with_data(cfg.json(&name))))
}

async fn delete(_s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    notify::delete_config(req.storage.as_ref(), &name).await?;
    Ok(None)
}

const LIST_SYNOPSIS: &str = "List notification webhooks.";
const LIST_DESCRIPTION: &str = "Lists the names of every notification webhook.";
const SYNOPSIS: &str = "Deliver events a person should hear about to a webhook.";
const DESCRIPTION: &str = "\
Each event (a rotation staged, tested, promoted or failed; a revocation confirmed, left to a \
person or pending too long; a current key rejected by its provider or exposed; a key due soon, \
overdue or expiring at its provider; a grace window extended or at max_grace) is delivered at least once to every webhook \
whose events and key_prefix match, from a durable outbox on the active node, as a CloudEvents 1.0 \
JSON event (content-type application/cloudevents+json) signed with the Standard Webhooks headers \
webhook-id, webhook-timestamp and webhook-signature (HMAC-SHA256 with the secret). The same \
event always carries the same id: receivers de-duplicate by it. Failed deliveries are retried \
with exponential back-off (30 s doubling to 1 h, 24 attempts) and never block a rotation. \
url must be https (http only for loopback hosts); link-local and cloud metadata addresses are \
refused. The secret is write-only. A mount holds at most 32 webhooks. Deliveries never carry a \
key value.";

#[cfg(test)]
mod tests;
