//! Everything the rotation paths ask of AI providers, in one place, with the crash safety
//! around each provider mutation (api.md "Automatic work"):
//!
//! - **create**: a WAL intent naming the key-to-be is written *before* the provider call (so a
//!   standby fails on its read-only storage before any side effect), updated with the provider's
//!   id as soon as it answers, and deleted once the version is stored. An intent still there on a
//!   tick means a crash or failure in between: the key is looked up (by id, else by the unique
//!   name it was created under) and revoked unless a version records it.
//! - **revoke**: an intent per retired provider key is written when the version is retired, and
//!   deleted once the provider confirms. The tick retries what is left, and never revokes a key
//!   whose version is live again (an intent written by an operation that then failed to save).

use std::sync::Arc;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::store::{self, KeyState};
use super::Shared;
use crate::framework::{get_json, put_json, wal_delete, wal_put, Error, Storage, WAL_PREFIX};
use crate::providers::{ProviderConfig, ProviderError, ProviderType};
use crate::rotation::{Change, SecretValue, TestOutcome, TestResult, VersionState};

/// Prefix of provider entries.
pub const PROVIDERS_PREFIX: &str = "providers/";
/// WAL kind of a key being created at a provider.
pub const WAL_CREATE: &str = "provider_create";
/// WAL kind of a retired key to revoke at a provider.
pub const WAL_REVOKE: &str = "provider_revoke";

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

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CreateIntent {
    key: String,
    provider: String,
    name_at_provider: String,
    #[serde(default)]
    provider_key_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RevokeIntent {
    key: String,
    provider: String,
    version: u32,
    provider_key_id: String,
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
            "value is required: provider {provider:?} cannot create keys (it needs an admin_key{})",
            if cfg.kind == ProviderType::Openai {
                " and project_id"
            } else {
                ""
            }
        )));
    }
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let mut intent = CreateIntent {
        key: key.name.clone(),
        provider: provider.to_string(),
        name_at_provider: format!("ai-keys-{}-{}", key.name, &suffix[..12]),
        provider_key_id: None,
    };
    // Before any side effect: on a standby this write fails with the read-only error, which
    // makes the server forward the request to the active node.
    let wal_id = wal_put(
        storage,
        WAL_CREATE,
        &serde_json::to_value(&intent).expect("json"),
    )
    .await?;
    match shared
        .providers
        .create_key(&cfg, &intent.name_at_provider)
        .await
    {
        Ok(created) => {
            intent.provider_key_id = Some(created.provider_key_id.clone());
            rewrite_wal(storage, &wal_id, WAL_CREATE, &intent).await?;
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
                wal_delete(storage, &wal_id).await?;
            }
            Err(provider_error("creating a key at the provider", e))
        }
    }
}

async fn rewrite_wal<T: Serialize>(
    storage: &dyn Storage,
    id: &str,
    kind: &str,
    data: &T,
) -> Result<(), Error> {
    let entry = crate::framework::WalEntry {
        kind: kind.to_string(),
        data: serde_json::to_value(data).expect("json"),
        created_at: Utc::now().timestamp(),
    };
    Ok(put_json(storage, &format!("{WAL_PREFIX}{id}"), &entry).await?)
}

/// Settles a create intent once the version recording the key is stored.
pub async fn settle(storage: &dyn Storage, wal_id: Option<&str>) {
    if let Some(id) = wal_id {
        if let Err(e) = wal_delete(storage, id).await {
            tracing::warn!(error = %e, "could not settle a create intent; the tick will");
        }
    }
}

/// Provider keys retired by `changes` that the engine should revoke: only keys it can show are
/// this key's, those it created and those whose operator-supplied id was verified against the
/// value with the provider when it was given (whatever the provider type). An id recorded
/// without that check (by an earlier release) is never revoked.
pub fn to_revoke(
    key: &KeyState,
    changes: &[Change],
    _kind: Option<ProviderType>,
) -> Vec<(u32, String)> {
    let mut out = key.versions.provider_revocations(changes);
    for c in changes.iter().filter(|c| c.event.destroys_value()) {
        if let Some(v) = key.versions.get(c.version) {
            if let Some(id) = &v.provider_key_id {
                if v.provider_key_verified
                    && v.value.is_none()
                    && !out.iter().any(|(n, _)| *n == v.number)
                {
                    out.push((v.number, id.clone()));
                }
            }
        }
    }
    out
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

/// Writes a revoke intent per retired provider key (call after the retirement is stored), then
/// revokes each at the provider and settles its intent. Failures stay for the tick.
pub async fn revoke_retired(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    key: &str,
    provider: Option<&str>,
    retired: Vec<(u32, String)>,
) {
    let Some(provider) = provider else {
        return;
    };
    for (version, provider_key_id) in retired {
        let intent = RevokeIntent {
            key: key.to_string(),
            provider: provider.to_string(),
            version,
            provider_key_id,
        };
        let id = match wal_put(
            storage,
            WAL_REVOKE,
            &serde_json::to_value(&intent).expect("json"),
        )
        .await
        {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(key, version, error = %e, "could not record a revocation intent");
                continue;
            }
        };
        match revoke_now(shared, storage, &intent).await {
            Ok(()) => settle(storage, Some(&id)).await,
            Err(e) => {
                tracing::warn!(key, version, error = %e, "revocation at the provider failed; the periodic tick will retry")
            }
        }
    }
}

async fn revoke_now(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    intent: &RevokeIntent,
) -> Result<(), Error> {
    let Some(cfg) = load(storage, &intent.provider).await? else {
        tracing::error!(key = %intent.key, provider = %intent.provider, "provider is gone; cannot revoke the retired key there");
        return Ok(());
    };
    shared
        .providers
        .revoke_key(&cfg, &intent.provider_key_id)
        .await
        .map_err(|e| provider_error("revoking a key at the provider", e))
}

/// The WAL rollback handler: finishes or undoes provider mutations a crash or failure left
/// behind. Runs under the key's lock, so it never races the operation that wrote the intent.
pub async fn recover(
    shared: Arc<Shared>,
    storage: Arc<dyn Storage>,
    kind: String,
    data: serde_json::Value,
) -> Result<(), Error> {
    let storage = storage.as_ref();
    match kind.as_str() {
        WAL_CREATE => {
            let intent: CreateIntent = serde_json::from_value(data)
                .map_err(|e| Error::Internal(format!("bad create intent: {e}")))?;
            let _guard = shared.locks.lock(&intent.key).await;
            let Some(cfg) = load(storage, &intent.provider).await? else {
                tracing::error!(key = %intent.key, provider = %intent.provider, "provider is gone; cannot clean up an unrecorded key");
                return Ok(());
            };
            // The id first (from the intent, else by the unique name the key was created under),
            // then whether a version records that id: the intent may have been read before the
            // operation that wrote it stored its version and learned the id.
            let id = match intent.provider_key_id.clone() {
                Some(id) => Some(id),
                None => shared
                    .providers
                    .find_key_by_name(&cfg, &intent.name_at_provider)
                    .await
                    .map_err(|e| provider_error("looking up an unrecorded key", e))?,
            };
            let Some(id) = id else {
                return Ok(());
            };
            let recorded = store::load_key(storage, &intent.key)
                .await?
                .is_some_and(|k| {
                    k.versions
                        .versions
                        .values()
                        .any(|v| v.provider_key_id.as_deref() == Some(id.as_str()))
                });
            if recorded {
                return Ok(());
            }
            shared
                .providers
                .revoke_key(&cfg, &id)
                .await
                .map_err(|e| provider_error("revoking an unrecorded key", e))?;
            tracing::warn!(key = %intent.key, provider_key_id = %id, "revoked a key created at the provider but never recorded");
            Ok(())
        }
        WAL_REVOKE => {
            let intent: RevokeIntent = serde_json::from_value(data)
                .map_err(|e| Error::Internal(format!("bad revoke intent: {e}")))?;
            let _guard = shared.locks.lock(&intent.key).await;
            let live = store::load_key(storage, &intent.key)
                .await?
                .and_then(|k| k.versions.get(intent.version).cloned())
                .is_some_and(|v| {
                    v.provider_key_id.as_deref() == Some(intent.provider_key_id.as_str())
                        && matches!(
                            v.state,
                            VersionState::Pending | VersionState::Current | VersionState::Previous
                        )
                });
            if live {
                // The retirement that wrote this intent was never stored.
                return Ok(());
            }
            revoke_now(&shared, storage, &intent).await
        }
        other => {
            tracing::error!(kind = other, "unknown WAL entry kind; dropping it");
            Ok(())
        }
    }
}
