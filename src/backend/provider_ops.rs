//! Everything the rotation paths ask of AI providers, in one place: does a provider exist, can it
//! create keys, test a value, create a key, revoke retired keys.

use std::sync::Arc;

use chrono::Utc;

use super::Shared;
use crate::framework::{Error, Storage};
use crate::rotation::{SecretValue, TestOutcome, TestResult};

/// Prefix of provider entries.
pub const PROVIDERS_PREFIX: &str = "providers/";

/// Whether provider `name` is configured.
pub async fn exists(storage: &dyn Storage, name: &str) -> Result<bool, Error> {
    Ok(storage
        .get(&format!("{PROVIDERS_PREFIX}{name}"))
        .await?
        .is_some())
}

/// Whether provider `name` can create keys with its configured credentials.
pub async fn can_create(_storage: &dyn Storage, _name: &str) -> Result<bool, Error> {
    Ok(false)
}

/// Tests `value` against the key's provider; `skipped` without one.
pub async fn test(
    _shared: &Arc<Shared>,
    _storage: &dyn Storage,
    provider: Option<&str>,
    _value: &SecretValue,
) -> Result<TestResult, Error> {
    match provider {
        None => Ok(TestResult {
            outcome: TestOutcome::Skipped,
            status_code: None,
            detail: "no provider configured for this key".into(),
            time: Utc::now(),
        }),
        Some(p) => Err(Error::BadRequest(format!(
            "provider {p:?}: provider tests are not available in this build"
        ))),
    }
}

/// Revokes at the provider the keys a change retired (best effort, logged).
pub async fn revoke_retired(
    _shared: &Arc<Shared>,
    _storage: &dyn Storage,
    key: &str,
    _provider: Option<&str>,
    retired: Vec<(u32, String)>,
) {
    for (version, _id) in retired {
        tracing::warn!(
            key,
            version,
            "provider revocation is not available in this build"
        );
    }
}

/// Asks the key's provider to create a key: (value, provider key id).
pub async fn create(
    _shared: &Arc<Shared>,
    _storage: &dyn Storage,
    key: &super::store::KeyState,
) -> Result<(SecretValue, String), Error> {
    Err(Error::BadRequest(match &key.provider {
        None => "value is required: the key has no provider that could create one".into(),
        Some(p) => format!("value is required: provider {p:?} cannot create keys"),
    }))
}
