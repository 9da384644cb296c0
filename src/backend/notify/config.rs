//! `notifications/<name>`: where events are delivered (`url`), how they are signed (`secret`,
//! write-only), which ones (`events`, `key_prefix`). Stored at `notify/config/<name>`.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::memo::Memo;
use crate::framework::{get_json, put_json, Error, Storage};
use crate::rotation::SecretValue;

/// Prefix of the configurations.
pub(crate) const CONFIG_PREFIX: &str = crate::backend::record::NOTIFY_CONFIG_PREFIX;

/// Counts the configuration writes of this process (see [`configured`]).
static CHANGES: AtomicU64 = AtomicU64::new(0);

/// Whether any webhook is configured on the mount: listed once, then again only after a
/// configuration write in this process or after a while ([`super::memo`]), so an idle tick
/// lists nothing.
pub(crate) async fn configured(storage: &dyn Storage, memo: &Memo) -> Result<bool, Error> {
    let changes = CHANGES.load(Ordering::SeqCst);
    if let Some(any) = memo.configured(changes) {
        return Ok(any);
    }
    let any = !names(storage).await?.is_empty();
    memo.set_configured(changes, any);
    Ok(any)
}

/// Most configurations a mount holds.
pub(crate) const MAX_CONFIGS: usize = 32;
/// Longest `url`.
pub(crate) const MAX_URL_LEN: usize = 2048;
/// Longest `secret` (`whsec_` and the base64 of at most 64 bytes).
pub(crate) const MAX_SECRET_LEN: usize = 100;
/// Longest `key_prefix`.
pub(crate) const MAX_KEY_PREFIX_LEN: usize = 128;
/// Fewest and most bytes of a signing secret (Standard Webhooks: 24 to 64).
const SECRET_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// The notification types a configuration may ask for (`events`), after
/// `io.openbao.ai-keys.`.
pub(crate) const TYPES: &[&str] = &[
    "rotation.staged",
    "rotation.tested",
    "rotation.promoted",
    "rotation.failed",
    "revocation.confirmed",
    "revocation.manual_required",
    "revocation.pending_long",
    "revocation.failed",
    "key.rejected",
    "key.exposed",
    "key.due_soon",
    "key.overdue",
    "key.provider_expiry_near",
    "key.provider_policy_refused",
    "grace.extended",
    "grace.max_reached",
];

/// One webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NotificationConfig {
    /// Where deliveries are POSTed.
    pub url: String,
    /// The Standard Webhooks signing secret (`whsec_<base64>`); never shown.
    pub secret: SecretValue,
    /// Types delivered; empty: all.
    #[serde(default)]
    pub events: Vec<String>,
    /// Only keys whose name starts with it, when set.
    #[serde(default)]
    pub key_prefix: Option<String>,
}

impl NotificationConfig {
    /// Whether this webhook wants a notification of type `ty` about key `key`.
    pub(crate) fn wants(&self, ty: &str, key: &str) -> bool {
        (self.events.is_empty() || self.events.iter().any(|e| e == ty))
            && self
                .key_prefix
                .as_deref()
                .is_none_or(|p| key.starts_with(p))
    }

    /// As reads show it: never the secret.
    pub(crate) fn json(&self, name: &str) -> serde_json::Value {
        serde_json::json!({
            "name": name,
            "url": self.url,
            "secret_set": true,
            "events": if self.events.is_empty() { TYPES.iter().map(|t| t.to_string()).collect() } else { self.events.clone() },
            "key_prefix": self.key_prefix,
        })
    }
}

/// Checks `url`: http(s), a host, no credentials, the providers' destination rules.
pub(crate) fn check_url(raw: &str) -> Result<(), Error> {
    let bad = |m: String| Error::BadRequest(m);
    let url = url::Url::parse(raw).map_err(|e| bad(format!("url is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(
            "url must start with https:// (or http:// for a loopback host)".into(),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("url must name a host".into()));
    }
    crate::providers::check_destination(&url, "url", "signed notifications").map_err(bad)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "url must not contain credentials (user:password@): the signature authenticates deliveries".into(),
        ));
    }
    if url.fragment().is_some() {
        return Err(bad("url must not contain a fragment ('#...')".into()));
    }
    Ok(())
}

/// Checks a signing secret: `whsec_` then standard base64 of 24 to 64 bytes. The message never
/// repeats it.
pub(crate) fn check_secret(raw: &str) -> Result<(), Error> {
    let bad = |m: &str| Error::BadRequest(format!("secret: {m}"));
    let Some(b64) = raw.strip_prefix("whsec_") else {
        return Err(bad("must start with whsec_ (a Standard Webhooks signing secret: whsec_ and the base64 of 24 to 64 random bytes)"));
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| {
            bad("must be whsec_ followed by standard base64 (A-Z, a-z, 0-9, +, /, = padding)")
        })?;
    if !SECRET_BYTES.contains(&bytes.len()) {
        return Err(bad(
            "must encode 24 to 64 bytes (for example whsec_ and `openssl rand -base64 32`)",
        ));
    }
    Ok(())
}

/// Checks `events`: known types, no repeats.
pub(crate) fn check_events(events: &[String]) -> Result<(), Error> {
    for (i, e) in events.iter().enumerate() {
        if !TYPES.contains(&e.as_str()) {
            return Err(Error::BadRequest(format!(
                "events: unknown type {e:?}; known types: {}",
                TYPES.join(", ")
            )));
        }
        if events[..i].contains(e) {
            return Err(Error::BadRequest(format!("events: {e:?} is listed twice")));
        }
    }
    Ok(())
}

/// One configuration, if it exists.
pub(crate) async fn load(
    storage: &dyn Storage,
    name: &str,
) -> Result<Option<NotificationConfig>, Error> {
    Ok(get_json(storage, &format!("{CONFIG_PREFIX}{name}")).await?)
}

/// Every configuration's name.
pub(crate) async fn names(storage: &dyn Storage) -> Result<Vec<String>, Error> {
    Ok(storage.list(CONFIG_PREFIX).await?)
}

/// Every configuration (an unreadable one is logged and left out).
pub(crate) async fn all(storage: &dyn Storage) -> Result<Vec<(String, NotificationConfig)>, Error> {
    let mut out = Vec::new();
    for name in names(storage).await? {
        match load(storage, &name).await {
            Ok(Some(cfg)) => out.push((name, cfg)),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(notification = %name, error = %e, "could not read a notification configuration")
            }
        }
    }
    Ok(out)
}

/// Stores a configuration.
pub(crate) async fn save(
    storage: &dyn Storage,
    name: &str,
    cfg: &NotificationConfig,
) -> Result<(), Error> {
    CHANGES.fetch_add(1, Ordering::SeqCst);
    Ok(put_json(storage, &format!("{CONFIG_PREFIX}{name}"), cfg).await?)
}

/// Removes a configuration (what is in the outbox for it is dropped when next tried).
pub(crate) async fn delete(storage: &dyn Storage, name: &str) -> Result<(), Error> {
    CHANGES.fetch_add(1, Ordering::SeqCst);
    Ok(storage.delete(&format!("{CONFIG_PREFIX}{name}")).await?)
}
