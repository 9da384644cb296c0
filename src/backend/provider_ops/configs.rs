//! Provider configurations as stored (`providers/<name>`), and how a provider error becomes an
//! HTTP error: what the other provider-operation files share.

use crate::framework::{get_json, put_json, Error, Storage};
use crate::providers::{ProviderConfig, ProviderError};

/// Prefix of provider entries.
pub(crate) const PROVIDERS_PREFIX: &str = "providers/";

/// Loads provider `name`.
pub(crate) async fn load(
    storage: &dyn Storage,
    name: &str,
) -> Result<Option<ProviderConfig>, Error> {
    Ok(get_json(storage, &format!("{PROVIDERS_PREFIX}{name}")).await?)
}

/// Stores provider `name`.
pub(crate) async fn save(
    storage: &dyn Storage,
    name: &str,
    cfg: &ProviderConfig,
) -> Result<(), Error> {
    Ok(put_json(storage, &format!("{PROVIDERS_PREFIX}{name}"), cfg).await?)
}

pub(super) async fn require(storage: &dyn Storage, name: &str) -> Result<ProviderConfig, Error> {
    load(storage, name)
        .await?
        .ok_or_else(|| Error::BadRequest(format!("provider {name:?} does not exist")))
}

/// Whether provider `name` is configured.
pub(crate) async fn exists(storage: &dyn Storage, name: &str) -> Result<bool, Error> {
    Ok(load(storage, name).await?.is_some())
}

/// A provider error as an HTTP error: unavailable is 503, a refused admin call 502, a
/// configuration that cannot do it 400.
pub(crate) fn provider_error(action: &str, e: ProviderError) -> Error {
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
