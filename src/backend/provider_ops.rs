//! Everything the rotation paths ask of AI providers, in one place: provider settings, key
//! tests, and key creation under a write-ahead intent (the intents and their recovery live in
//! [`super::intents`]).

use std::sync::Arc;

use chrono::Utc;

use super::intents::{self, CreateIntent};
use super::store::KeyState;
use super::Shared;
use crate::framework::{get_json, put_json, Error, Storage};
use crate::providers::{ProviderConfig, ProviderError, ProviderType};
use crate::rotation::{SecretValue, TestOutcome, TestResult};

/// Prefix of provider entries.
pub const PROVIDERS_PREFIX: &str = "providers/";

/// Loads provider `name`.
pub async fn load(storage: &dyn Storage, name: &str) -> Result<Option<ProviderConfig>, Error> {
    Ok(get_json(storage, &format!("{PROVIDERS_PREFIX}{name}")).await?)
}

/// Stores provider `name`.
pub async fn save(storage: &dyn Storage, name: &str, cfg: &ProviderConfig) -> Result<(), Error> {
    Ok(put_json(storage, &format!("{PROVIDERS_PREFIX}{name}"), cfg).await?)
}

async fn require(storage: &dyn Storage, name: &str) -> Result<ProviderConfig, Error> {
    load(storage, name)
        .await?
        .ok_or_else(|| Error::BadRequest(format!("provider {name:?} does not exist")))
}

/// Whether provider `name` is configured.
pub async fn exists(storage: &dyn Storage, name: &str) -> Result<bool, Error> {
    Ok(load(storage, name).await?.is_some())
}

/// Whether provider `name` can create keys with its configured credentials.
pub async fn can_create(storage: &dyn Storage, name: &str) -> Result<bool, Error> {
    Ok(load(storage, name)
        .await?
        .is_some_and(|cfg| cfg.capabilities().create))
}

/// Tests `value` against the key's provider; `skipped` without one.
pub async fn test(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    provider: Option<&str>,
    value: &SecretValue,
) -> Result<TestResult, Error> {
    match provider {
        None => Ok(TestResult {
            outcome: TestOutcome::Skipped,
            status_code: None,
            detail: "no provider configured for this key".into(),
            time: Utc::now(),
        }),
        Some(p) => {
            let cfg = require(storage, p).await?;
            Ok(shared.providers.test_key(&cfg, value).await)
        }
    }
}

/// A provider error as an HTTP error: unavailable is 503, a refused admin call 502, a
/// configuration that cannot do it 400.
pub fn provider_error(action: &str, e: ProviderError) -> Error {
    match e {
        ProviderError::Unsupported(m) => Error::BadRequest(format!("{action}: {m}")),
        ProviderError::Unavailable { .. } => Error::Coded {
            status: 503,
            message: format!("{action}: {e}"),
        },
        other => Error::Coded {
            status: 502,
            message: format!("{action}: {other}"),
        },
    }
}

/// A key the provider created for a version about to be staged.
pub struct Created {
    /// Its value.
    pub value: SecretValue,
    /// The provider's id for it.
    pub provider_key_id: String,
    /// The WAL intent to settle once the version is stored.
    pub wal_id: String,
}

/// Asks the key's provider to create a key, under a WAL intent.
pub async fn create(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    key: &KeyState,
) -> Result<Created, Error> {
    let Some(provider) = key.provider.as_deref() else {
        return Err(Error::BadRequest(
            "value is required: the key has no provider that could create one".into(),
        ));
    };
    let cfg = require(storage, provider).await?;
    if !cfg.capabilities().create {
        return Err(Error::BadRequest(format!(
            "value is required: provider {provider:?} cannot create keys ({})",
            cfg.why_cannot_create()
        )));
    }
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let mut intent = CreateIntent {
        key: key.name.clone(),
        provider: provider.to_string(),
        name_at_provider: format!("ai-keys-{}-{}", key.name, &suffix[..12]),
        provider_key_id: None,
        retry: Default::default(),
    };
    // Before any side effect: on a standby this write fails with the read-only error, which
    // makes the server forward the request to the active node.
    let wal_id = intents::begin_create(storage, &intent).await?;
    match shared
        .providers
        .create_key(&cfg, &intent.name_at_provider)
        .await
    {
        Ok(created) => {
            intent.provider_key_id = Some(created.provider_key_id.clone());
            intents::note_created(storage, &wal_id, &intent).await?;
            Ok(Created {
                value: created.value,
                provider_key_id: created.provider_key_id,
                wal_id,
            })
        }
        Err(e) => {
            // A refusal means nothing was created; anything else may have created a key whose
            // answer was lost, so the intent stays for the tick to find and revoke it.
            if matches!(
                e,
                ProviderError::Unsupported(_) | ProviderError::Rejected { .. }
            ) {
                intents::settle(storage, Some(&wal_id)).await;
            }
            Err(provider_error("creating a key at the provider", e))
        }
    }
}

/// The provider type of provider `name`, if configured.
pub async fn kind_of(
    storage: &dyn Storage,
    name: Option<&str>,
) -> Result<Option<ProviderType>, Error> {
    match name {
        Some(n) => Ok(load(storage, n).await?.map(|c| c.kind)),
        None => Ok(None),
    }
}
