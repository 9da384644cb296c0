//! Federated keys at their provider: checking a definition against its provider configuration,
//! and the token exchange (a signed assertion for a short-lived access token). The caller signs
//! and caches; nothing here is stored.

use std::collections::BTreeMap;

use super::configs;
use crate::backend::shared::Shared;
use crate::framework::{Error, Storage};
use crate::providers::{
    federation_token_url, AccessToken, FederationIds, ProviderConfig, ProviderError,
    FEDERATION_ID_FIELDS,
};

/// The provider `name`'s configuration, which must support federation (a 400 naming the
/// field otherwise).
pub(crate) async fn federation_config(
    storage: &dyn Storage,
    name: &str,
) -> Result<ProviderConfig, Error> {
    let cfg = configs::load(storage, name)
        .await?
        .ok_or_else(|| Error::BadRequest(format!("provider: no provider named {name:?}")))?;
    if federation_token_url(&cfg).is_none() {
        return Err(Error::BadRequest(format!(
            "provider: federated keys are supported for openai, anthropic and openrouter providers, not {}",
            cfg.kind
        )));
    }
    Ok(cfg)
}

/// The ids as the provider client takes them, checked for `cfg`'s type (400 naming the field).
pub(crate) fn federation_ids(
    cfg: &ProviderConfig,
    ids: &BTreeMap<String, String>,
) -> Result<FederationIds, Error> {
    let mut out = FederationIds::default();
    for field in FEDERATION_ID_FIELDS {
        out.set(field, ids.get(field).cloned());
    }
    out.check(cfg.kind).map_err(Error::BadRequest)?;
    Ok(out)
}

/// What a cached token was obtained for, besides the definition: the endpoint and type.
pub(crate) fn exchange_basis(cfg: &ProviderConfig) -> String {
    format!(
        "{}|{}",
        cfg.kind,
        federation_token_url(cfg).unwrap_or_default()
    )
}

/// Exchanges `assertion` at `cfg`'s token endpoint. A refusal is `bad_key` (502: the provider
/// does not accept this key's assertion or rule), 429/5xx and no answer `provider_unavailable`
/// (503); the message names the key, the status and the OAuth error code, never a token. A
/// failure comes with its outcome (`bad_key`, `provider_unavailable`, `unsupported`).
pub(crate) async fn exchange(
    shared: &Shared,
    key: &str,
    cfg: &ProviderConfig,
    ids: &FederationIds,
    assertion: &str,
) -> Result<AccessToken, (&'static str, Error)> {
    shared
        .providers
        .exchange_federated(cfg, ids, assertion)
        .await
        .map_err(|e| {
            let (status, outcome) = match &e {
                ProviderError::Unsupported(_) => (400, "unsupported"),
                ProviderError::Rejected { .. } => (502, "bad_key"),
                ProviderError::Unavailable { .. } => (503, "provider_unavailable"),
                _ => (502, "provider_unavailable"),
            };
            tracing::warn!(key = %key, outcome, error = %e, "federated token exchange failed");
            let error = Error::Coded {
                status,
                message: format!("creds/{key}: token exchange failed ({outcome}): {e}"),
            };
            (outcome, error)
        })
}
