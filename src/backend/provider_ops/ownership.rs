//! Whether an operator-supplied `provider_key_id` belongs to the value it comes with: the engine
//! revokes or deactivates at a provider only keys it created or keys whose provider record
//! matches the value it manages, so a mistyped or foreign id can never switch off someone
//! else's key.
//!
//! The check asks the provider for its record of the id (with the admin key) and compares the
//! record's ownership hint (the key's first and last characters) with the value. Messages name
//! the id and the provider, never the value or the hint.

use super::configs;
use crate::backend::shared::Shared;
use crate::framework::{Error, Storage};
use crate::providers::ProviderError;
use crate::rotation::SecretValue;

/// Checks that the key provider `provider` knows as `id` is `value`. A 400 that says why when
/// it is not or cannot be checked (no provider, a provider that cannot look keys up, no admin
/// key, no such key, a record without a hint), a 503 when the provider is unavailable. `Ok`
/// means the id may be recorded as verified, and so revoked there later.
pub(crate) async fn verify_provider_key_id(
    shared: &Shared,
    storage: &dyn Storage,
    provider: Option<&str>,
    id: &str,
    value: &SecretValue,
) -> Result<(), Error> {
    let refuse = |why: String| Error::BadRequest(format!("provider_key_id {id:?}: {why}"));
    let Some(provider) = provider else {
        return Err(refuse(
            "the key has no provider, so nothing can check that this id is the given value; \
             set provider (one with an admin_key) or leave provider_key_id out"
                .into(),
        ));
    };
    let Some(cfg) = configs::load(storage, provider).await? else {
        return Err(refuse(format!("provider {provider:?} does not exist")));
    };
    let record = match shared.providers.lookup_key(&cfg, id).await {
        Ok(record) => record,
        Err(e @ ProviderError::Unavailable { .. }) => {
            return Err(Error::Coded {
                status: 503,
                message: format!(
                    "provider_key_id {id:?}: cannot be checked with provider {provider:?} now \
                     ({e}); nothing was changed, try again later"
                ),
            })
        }
        Err(e) => {
            return Err(refuse(format!(
                "cannot be checked with provider {provider:?} ({e}), and an id that cannot be \
                 checked is never recorded: the engine deactivates only keys it can show are \
                 this key's"
            )))
        }
    };
    let Some(record) = record else {
        return Err(refuse(format!(
            "provider {provider:?} has no key with this id"
        )));
    };
    if record.hint.is_none() {
        return Err(refuse(format!(
            "provider {provider:?} shows no part of that key, so it cannot be checked against \
             the value"
        )));
    }
    if !record.matches(value) {
        tracing::warn!(
            provider,
            provider_key_id = id,
            "provider_key_id refused: the provider's key is not the given value"
        );
        return Err(refuse(format!(
            "the key with this id at provider {provider:?} is not the given value (its first \
             and last characters differ); the engine deactivates only keys it can show are \
             this key's"
        )));
    }
    tracing::info!(
        provider,
        provider_key_id = id,
        "provider_key_id verified against the value"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use crate::rotation::{KeyVersions, SecretValue};

    /// A key whose version 1 carries `id-1`, replaced by version 2 with no grace: what the state
    /// machine says to revoke at the provider for that retirement (the same rule for every
    /// provider type).
    fn revoked_on_promotion(engine_created: bool, verified: bool) -> Vec<(u32, String)> {
        let now = Utc::now();
        let value = |v: &str| SecretValue::new(v.to_string());
        let (mut versions, _) = KeyVersions::create(value("sk-old-0123456789"), now, now);
        let v1 = versions.versions.get_mut(&1).expect("v1");
        v1.provider_key_id = Some("id-1".into());
        v1.engine_created = engine_created;
        v1.provider_key_verified = verified;
        versions
            .stage(value("sk-new-0123456789"), now, None, None, false)
            .expect("stage");
        let changes = versions
            .promote(now, 0, true, None, false)
            .expect("promote");
        versions.provider_revocations(&changes)
    }

    #[test]
    fn an_id_recorded_without_verification_is_never_revoked() {
        // A record from the previous release: an operator-supplied, unverified id (even for
        // Anthropic, whose operator ids were revoked before).
        assert_eq!(revoked_on_promotion(false, false), []);
    }

    #[test]
    fn created_and_verified_ids_are_revoked() {
        for (created, verified) in [(true, false), (false, true), (true, true)] {
            assert_eq!(
                revoked_on_promotion(created, verified),
                [(1, "id-1".to_string())],
                "{created} {verified}"
            );
        }
    }
}
