//! The engine's own account at a provider (an OpenAI project service account holding every key
//! the engine creates there): finding it again by name, creating it, reading it, and giving it
//! the role its keys need to call the API ([`Features::account`](super::Features)).
//!
//! OpenAI creates an account made with `create_service_account_only` without a role (`none`),
//! and its keys cannot make API requests until it is given one; an account created the ordinary
//! way gets `member` (OpenAI API reference, "Create project service account" and "Update project
//! service account"; guide "API keys and service accounts"). The engine creates the account
//! alone, so no key exists that nothing records, and then sets its role to `member`.

use super::config::{self, ProviderConfig};
use super::registry::provider;
use super::{ProviderError, Providers};

/// The engine's account as the provider shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountState {
    /// The provider's id for it.
    pub id: String,
    /// Its role in the project (OpenAI: `owner`, `member` or `none`), if the answer said.
    pub role: Option<String>,
}

impl AccountState {
    /// Whether keys created in the account can call the API: it has a role (`member` or
    /// `owner`). `none`, or no role in the answer, means not yet.
    pub fn keys_can_call_api(&self) -> bool {
        matches!(self.role.as_deref(), Some("member" | "owner"))
    }
}

impl Providers {
    /// The engine's account named `name` at the provider, if it exists: how an account whose
    /// creation answer was lost is found again.
    pub async fn find_account(
        &self,
        cfg: &ProviderConfig,
        name: &str,
    ) -> Result<Option<AccountState>, ProviderError> {
        cfg.validate().map_err(ProviderError::Unsupported)?;
        let call = self.admin_call(cfg, cfg.capabilities().create, config::why_cannot_create)?;
        let result = provider(cfg.kind).find_account(&call, name).await;
        result.map_err(|e| e.redacted(&[call.admin]))
    }

    /// Creates the engine's account named `name` at the provider, with no key in it. OpenAI
    /// gives it no role: [`Providers::grant_account_role`] must follow before its keys work.
    pub async fn create_account(
        &self,
        cfg: &ProviderConfig,
        name: &str,
    ) -> Result<AccountState, ProviderError> {
        cfg.validate().map_err(ProviderError::Unsupported)?;
        let call = self.admin_call(cfg, cfg.capabilities().create, config::why_cannot_create)?;
        let result = provider(cfg.kind).create_account(&call, name).await;
        let result = result.map_err(|e| e.redacted(&[call.admin]));
        match &result {
            Ok(a) => {
                tracing::info!(provider = cfg.kind.as_str(), account = %a.id, role = ?a.role, "created the engine's account at the provider")
            }
            Err(e) => {
                tracing::warn!(provider = cfg.kind.as_str(), error = %e, "creating the engine's account failed")
            }
        }
        result
    }

    /// The engine's account `id` as the provider shows it now; `None` when it is gone.
    pub async fn get_account(
        &self,
        cfg: &ProviderConfig,
        id: &str,
    ) -> Result<Option<AccountState>, ProviderError> {
        cfg.validate().map_err(ProviderError::Unsupported)?;
        let call = self.admin_call(cfg, cfg.capabilities().create, config::why_cannot_create)?;
        config::check_provider_key_id(id).map_err(ProviderError::Unsupported)?;
        let result = provider(cfg.kind).get_account(&call, id).await;
        result.map_err(|e| e.redacted(&[call.admin]))
    }

    /// Gives the engine's account `id` the role its keys need to call the API (OpenAI:
    /// `member`, what an account created the ordinary way gets). Idempotent.
    pub async fn grant_account_role(
        &self,
        cfg: &ProviderConfig,
        id: &str,
    ) -> Result<AccountState, ProviderError> {
        cfg.validate().map_err(ProviderError::Unsupported)?;
        let call = self.admin_call(cfg, cfg.capabilities().create, config::why_cannot_create)?;
        config::check_provider_key_id(id).map_err(ProviderError::Unsupported)?;
        let result = provider(cfg.kind).grant_account_role(&call, id).await;
        let result = result.map_err(|e| e.redacted(&[call.admin]));
        match &result {
            Ok(a) => {
                tracing::info!(provider = cfg.kind.as_str(), account = %a.id, role = ?a.role, "gave the engine's account its role at the provider")
            }
            Err(e) => {
                tracing::warn!(provider = cfg.kind.as_str(), account = id, error = %e, "giving the engine's account its role failed")
            }
        }
        result
    }
}
