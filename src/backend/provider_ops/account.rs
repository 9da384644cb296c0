//! The engine's own account at a provider (an OpenAI service account holding the keys the
//! engine creates), created on first use and recorded in the provider's configuration.
//!
//! Durable across crashes: a unique name is stored in the configuration before the provider is
//! asked to create the account, and an account whose id was not recorded is found again by that
//! name, never created twice. The account is created alone (OpenAI `create_service_account_only`,
//! so no key exists that nothing records) and without a role, then given the role its keys need
//! to call the API; its id and role are recorded only once it has that role. A record with an id
//! but no role was written by an earlier build, which never gave the account a role: the account
//! is read again and given one before any key is created in it. Serialized per provider by a lock
//! beside the keys' locks.

use std::sync::Arc;

use super::configs::{provider_error, require, save, PROVIDERS_PREFIX};
use crate::backend::shared::Shared;
use crate::framework::{Error, Storage};
use crate::providers::{AccountState, EngineAccount, ProviderConfig};

const ACTION: &str = "preparing the engine's service account at the provider";

/// The id of the engine's account at provider `provider`, created (and given its role) on
/// first use.
pub(super) async fn engine_account(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    provider: &str,
) -> Result<String, Error> {
    let _guard = shared.locks.lock(&account_lock(provider)).await;
    let mut cfg = require(storage, provider).await?;
    let account = match cfg.current_engine_account().cloned() {
        Some(EngineAccount {
            id: Some(id),
            role: Some(_),
            ..
        }) => return Ok(id),
        Some(
            account @ EngineAccount {
                id: Some(_),
                role: None,
                ..
            },
        ) => {
            let id = account.id.clone().unwrap_or_default();
            let seen = shared
                .providers
                .get_account(&cfg, &id)
                .await
                .map_err(|e| provider_error(ACTION, e))?;
            match seen {
                Some(state) => {
                    let state = with_role(shared, &cfg, state).await?;
                    return record(storage, provider, account, state).await;
                }
                // Deleted at the provider: a new account, under a new name.
                None => new_name(storage, provider, &mut cfg).await?,
            }
        }
        Some(account) => account,
        None => new_name(storage, provider, &mut cfg).await?,
    };
    let found = shared
        .providers
        .find_account(&cfg, &account.name)
        .await
        .map_err(|e| provider_error(ACTION, e))?;
    let state = match found {
        Some(state) => state,
        None => shared
            .providers
            .create_account(&cfg, &account.name)
            .await
            .map_err(|e| provider_error(ACTION, e))?,
    };
    let state = with_role(shared, &cfg, state).await?;
    record(storage, provider, account, state).await
}

/// `state`, given the role its keys need first if it lacks one.
async fn with_role(
    shared: &Arc<Shared>,
    cfg: &ProviderConfig,
    state: AccountState,
) -> Result<AccountState, Error> {
    if state.keys_can_call_api() {
        return Ok(state);
    }
    shared
        .providers
        .grant_account_role(cfg, &state.id)
        .await
        .map_err(|e| provider_error(ACTION, e))
}

/// Stores a fresh unique account name in `cfg` (before the provider is asked for anything).
async fn new_name(
    storage: &dyn Storage,
    provider: &str,
    cfg: &mut ProviderConfig,
) -> Result<EngineAccount, Error> {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let account = EngineAccount {
        name: format!("vault-ai-keys-{provider}-{}", &suffix[..12]),
        id: None,
        role: None,
        scope: cfg.account_scope(),
    };
    cfg.engine_account = Some(account.clone());
    save(storage, provider, cfg).await?;
    Ok(account)
}

/// Records the account's id and role; its id.
async fn record(
    storage: &dyn Storage,
    provider: &str,
    account: EngineAccount,
    state: AccountState,
) -> Result<String, Error> {
    // Re-read: only the account field changes, whatever else was written meanwhile.
    let mut cfg = require(storage, provider).await?;
    cfg.engine_account = Some(EngineAccount {
        id: Some(state.id.clone()),
        role: state.role.clone(),
        ..account
    });
    save(storage, provider, &cfg).await?;
    tracing::info!(provider, account = %state.id, role = ?state.role, "recorded the engine's account at the provider");
    Ok(state.id)
}

/// Drops the recorded engine account of provider `provider` (it is gone at the provider).
pub(super) async fn forget_account(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    provider: &str,
) -> Result<(), Error> {
    let _guard = shared.locks.lock(&account_lock(provider)).await;
    let mut cfg = require(storage, provider).await?;
    cfg.engine_account = None;
    save(storage, provider, &cfg).await
}

/// The lock name of provider `name`'s account (key names cannot contain `/`).
fn account_lock(name: &str) -> String {
    format!("{PROVIDERS_PREFIX}{name}")
}
