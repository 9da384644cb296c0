//! Federated keys: defining one (`keys/` with `federated=true`), deleting it, and what `creds/`
//! returns for it: a provider access token obtained by exchanging an assertion the mount's
//! issuer signs, reused from memory until two thirds of its life is spent, one exchange at a
//! time per key. Nothing here writes storage on a `creds/` read, so a standby serves it.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

use crate::backend::issuer::{self, Assertion, IssuerSettings, Keyring};
use crate::backend::provider_ops;
use crate::backend::record::{self, FederatedKey};
use crate::backend::shared::{CachedToken, Shared};
use crate::framework::{Error, Storage};
use crate::secret::SecretValue;

/// Default assertion lifetime: 5 minutes.
pub(crate) const DEFAULT_TOKEN_TTL: i64 = 300;
/// Shortest assertion lifetime: a minute.
pub(crate) const MIN_TOKEN_TTL: i64 = 60;
/// Longest assertion lifetime: 15 minutes (OpenRouter's ceiling; the others say "minutes").
pub(crate) const MAX_TOKEN_TTL: i64 = 900;
/// Longest `subject` or `audience`.
pub(crate) const MAX_CLAIM_LEN: usize = 256;

/// What a `keys/` write of a federated key gives (`None`: unchanged on update).
#[derive(Debug, Clone, Default)]
pub(crate) struct FederatedInput {
    /// `provider`.
    pub provider: Option<String>,
    /// `subject`.
    pub subject: Option<String>,
    /// `audience`.
    pub audience: Option<String>,
    /// `token_ttl`.
    pub token_ttl: Option<i64>,
    /// The provider's ids given (an empty string clears one).
    pub ids: BTreeMap<String, String>,
    /// `custom_metadata`.
    pub custom_metadata: Option<BTreeMap<String, String>>,
}

/// Creates (`creating`) or updates federated key `name`; checked whole before it is written.
pub(crate) async fn define(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    name: &str,
    input: FederatedInput,
    creating: bool,
) -> Result<FederatedKey, Error> {
    let _guard = shared.locks.lock(name).await;
    let existing = record::load_federated(storage, name).await?;
    if creating && existing.is_some() {
        return Err(Error::BadRequest(format!("key {name:?} already exists")));
    }
    if record::load(storage, name).await?.is_some() {
        return Err(Error::BadRequest(format!(
            "key {name:?} holds values: a key cannot become federated (delete it, or use another name)"
        )));
    }
    let Some(mut key) = existing.or_else(|| {
        creating.then(|| FederatedKey {
            name: name.to_string(),
            provider: String::new(),
            subject: String::new(),
            audience: String::new(),
            token_ttl: DEFAULT_TOKEN_TTL,
            ids: BTreeMap::new(),
            created_time: Utc::now(),
            custom_metadata: BTreeMap::new(),
        })
    }) else {
        return Err(Error::BadRequest(format!("key {name:?} does not exist")));
    };
    IssuerSettings::load(storage).await?.require_issuer()?;
    if let Some(p) = input.provider {
        key.provider = p;
    }
    if let Some(s) = input.subject {
        key.subject = s;
    }
    if let Some(a) = input.audience {
        key.audience = a;
    }
    if let Some(t) = input.token_ttl {
        key.token_ttl = t;
    }
    for (field, value) in input.ids {
        if value.is_empty() {
            key.ids.remove(&field);
        } else {
            key.ids.insert(field, value);
        }
    }
    if let Some(m) = input.custom_metadata {
        key.custom_metadata = m;
    }
    for (field, value) in [
        ("provider", &key.provider),
        ("subject", &key.subject),
        ("audience", &key.audience),
    ] {
        if value.is_empty() {
            return Err(Error::BadRequest(format!(
                "{field} is required for a federated key"
            )));
        }
    }
    if !(MIN_TOKEN_TTL..=MAX_TOKEN_TTL).contains(&key.token_ttl) {
        return Err(Error::BadRequest(format!(
            "token_ttl must be between {MIN_TOKEN_TTL}s and {MAX_TOKEN_TTL}s"
        )));
    }
    let cfg = provider_ops::federation_config(storage, &key.provider).await?;
    provider_ops::federation_ids(&cfg, &key.ids)?;
    record::save_federated(storage, &key).await?;
    shared.tokens.forget(name);
    tracing::info!(key = %name, provider = %key.provider, "federated key defined");
    Ok(key)
}

/// Deletes federated key `name`; `false` when there is none.
pub(crate) async fn remove(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    name: &str,
) -> Result<bool, Error> {
    let _guard = shared.locks.lock(name).await;
    if record::load_federated(storage, name).await?.is_none() {
        return Ok(false);
    }
    record::delete_federated(storage, name).await?;
    shared.tokens.forget(name);
    shared.tokens.forget_counts(name);
    tracing::info!(key = %name, "federated key deleted");
    Ok(true)
}

/// What `creds/` returns for a federated key.
pub(crate) struct IssuedToken {
    /// The provider access token.
    pub value: SecretValue,
    /// When it expires.
    pub expires: DateTime<Utc>,
    /// The key's provider.
    pub provider: String,
}

/// The token for federated key `name` (`None`: no such key): the cached one while it has more
/// than a third of its life left, else a fresh exchange, one at a time per key.
pub(crate) async fn creds(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    name: &str,
) -> Result<Option<IssuedToken>, Error> {
    let Some(key) = record::load_federated(storage, name).await? else {
        return Ok(None);
    };
    let cfg = provider_ops::federation_config(storage, &key.provider).await?;
    let ids = provider_ops::federation_ids(&cfg, &key.ids)?;
    let basis = basis(&key, &provider_ops::exchange_basis(&cfg));
    let slot = shared.tokens.slot(name);
    let mut cached = slot.lock().await;
    let now = Utc::now();
    if let Some(t) = cached
        .as_ref()
        .filter(|t| t.basis == basis && fresh(t, now))
    {
        return Ok(Some(IssuedToken {
            value: t.value.clone(),
            expires: t.expires,
            provider: key.provider,
        }));
    }
    let settings = IssuerSettings::load(storage).await?;
    let ring = Keyring::load(storage).await?;
    let assertion = Assertion {
        subject: key.subject.clone(),
        audience: key.audience.clone(),
        ttl: key.token_ttl,
    };
    let (jwt, _) = issuer::sign_assertion(&settings, &ring, &assertion, now)?;
    let token = match provider_ops::exchange_federated(shared, name, &cfg, &ids, &jwt).await {
        Ok(t) => t,
        Err((outcome, e)) => {
            shared
                .tokens
                .count(name, Utc::now(), Err((outcome, &e.to_string())));
            *cached = None;
            return Err(e);
        }
    };
    let obtained = Utc::now();
    shared.tokens.count(name, obtained, Ok(()));
    let expires = obtained + TimeDelta::seconds(token.expires_in);
    let issued = IssuedToken {
        value: token.value.clone(),
        expires,
        provider: key.provider.clone(),
    };
    *cached = Some(CachedToken {
        value: token.value,
        obtained,
        expires,
        basis,
    });
    Ok(Some(issued))
}

/// Whether a cached token may still be handed out at `now`: less than two thirds of its life
/// spent (so a reader always gets a third of it, and never one about to expire).
fn fresh(t: &CachedToken, now: DateTime<Utc>) -> bool {
    let life = t.expires - t.obtained;
    now < t.obtained + life * 2 / 3
}

/// What a token was obtained for: the definition and the provider's endpoint.
fn basis(key: &FederatedKey, endpoint: &str) -> String {
    let json = serde_json::to_string(key).unwrap_or_default();
    hex::encode(Sha256::digest(format!("{json}|{endpoint}").as_bytes()))
}
