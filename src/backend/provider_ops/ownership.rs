//! Whether an operator-supplied `provider_key_id` belongs to the value it comes with, and
//! whether that makes the key the engine's to revoke.
//!
//! Two checks. The provider's record of the id (asked with the admin key) shows an ownership
//! hint (the key's first and last characters): a hint that does not match the value refuses an
//! obvious mistake (400), but a hint is public to anyone who can open the provider's console, so
//! it never proves anything. Where the provider has a possession proof (OpenRouter: `GET
//! /api/v1/key` with the value itself as bearer answers only for a valid key, with its `label`),
//! the key the value authenticates as must be the id's key ([`KeyRecord::same_key_as`]); only
//! then is the id proven ([`Ownership::Proven`]) and the key revoked at the provider when it
//! retires. Otherwise (Anthropic, OpenAI) the id is recorded as checked against the hint only,
//! and the key's retirement is a `manual` revocation. Messages name the id and the provider,
//! never the value or the hint.

use super::configs;
use crate::backend::shared::Shared;
use crate::framework::{Error, Storage};
use crate::providers::{KeyRecord, ProviderError};
use crate::rotation::SecretValue;

/// What the checks showed about an id that passed them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ownership {
    /// Possession of the value proved the id: the engine revokes the key when it retires.
    Proven,
    /// The provider's hint matched, and the provider has no possession proof: recorded, never
    /// revoked by the engine (`manual`).
    HintOnly,
}

/// Checks that the key provider `provider` knows as `id` is `value`. A 400 that says why when
/// it is not or cannot be checked (no provider, a provider that cannot look keys up, no admin
/// key, no such key, a record without a hint, a hint that does not match, a value the
/// provider's possession proof does not accept or names another key), a 503 when the provider
/// is unavailable. `Ok` says whether the id was proven or only matched its hint.
pub(crate) async fn verify_provider_key_id(
    shared: &Shared,
    storage: &dyn Storage,
    provider: Option<&str>,
    id: &str,
    value: &SecretValue,
) -> Result<Ownership, Error> {
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
    let unavailable = |e: ProviderError| Error::Coded {
        status: 503,
        message: format!(
            "provider_key_id {id:?}: cannot be checked with provider {provider:?} now ({e}); \
             nothing was changed, try again later"
        ),
    };
    let record = match shared.providers.lookup_key(&cfg, id).await {
        Ok(record) => record,
        Err(e @ ProviderError::Unavailable { .. }) => return Err(unavailable(e)),
        Err(e) => {
            return Err(refuse(format!(
                "cannot be checked with provider {provider:?} ({e}), and an id that cannot be \
                 checked is never recorded"
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
             and last characters differ)"
        )));
    }
    let identified = match shared.providers.identify_key(&cfg, value).await {
        Ok(found) => found,
        Err(ProviderError::Unsupported(_)) => {
            tracing::info!(
                provider,
                provider_key_id = id,
                "provider_key_id matches the provider's hint; no possession proof exists there, \
                 so the key is never revoked by the engine"
            );
            return Ok(Ownership::HintOnly);
        }
        Err(e @ ProviderError::Unavailable { .. }) => return Err(unavailable(e)),
        Err(e) => {
            return Err(refuse(format!(
                "provider {provider:?} could not say which key the value is ({e})"
            )))
        }
    };
    let ownership = proven(provider, id, &record, identified.as_ref()).map_err(refuse)?;
    // What the value authenticated as is described by its label (and expiry), which another
    // key may share: a look-alike key of someone else would then pass for the id. Proven only
    // when no other key at the provider shows the same label.
    let Some(label) = record.hint.as_deref() else {
        return Ok(Ownership::HintOnly);
    };
    let alike = match shared.providers.keys_with_hint(&cfg, label).await {
        Ok(ids) => ids.into_iter().filter(|other| other != id).count(),
        Err(e @ ProviderError::Unavailable { .. }) => return Err(unavailable(e)),
        Err(e) => {
            return Err(refuse(format!(
                "provider {provider:?} could not list its keys to tell whether another shows                  the same label ({e})"
            )))
        }
    };
    if alike > 0 {
        tracing::warn!(
            provider,
            provider_key_id = id,
            alike,
            "provider_key_id not proven: other keys at the provider show the same label, so              what the value authenticated as cannot be told from them; left to a person"
        );
        return Ok(Ownership::HintOnly);
    }
    Ok(ownership)
}

/// Whether the key the value authenticated as (`identified`, `None` when the provider refused
/// the value) is the id's key (`record`); the refusal's reason when not.
fn proven(
    provider: &str,
    id: &str,
    record: &KeyRecord,
    identified: Option<&KeyRecord>,
) -> Result<Ownership, String> {
    let Some(identified) = identified else {
        tracing::warn!(
            provider,
            provider_key_id = id,
            "provider_key_id refused: the provider does not accept the value"
        );
        return Err(format!(
            "provider {provider:?} does not accept the given value as a key, so possession of \
             it proves nothing; a value that only looks like the key (its console hint) is not \
             the key"
        ));
    };
    if !record.same_key_as(identified) {
        tracing::warn!(
            provider,
            provider_key_id = id,
            "provider_key_id refused: the value is a different key at the provider"
        );
        return Err(format!(
            "the given value is a key at provider {provider:?}, but not the one with this id"
        ));
    }
    tracing::info!(
        provider,
        provider_key_id = id,
        "provider_key_id proven by possession of the value"
    );
    Ok(Ownership::Proven)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::{proven, Ownership};
    use crate::providers::KeyRecord;
    use crate::rotation::{KeyVersions, SecretValue};

    /// How version 1 carrying `id-1` came to be: created by the engine, its id matched the
    /// provider's hint, its id proven by possession of the value.
    #[derive(Clone, Copy, Debug)]
    struct Came {
        created: bool,
        hint: bool,
        proven: bool,
    }

    /// Version 1 replaced by version 2 with no grace: what the state machine revokes at the
    /// provider, and what it leaves to a person (the same rule for every provider type).
    fn retired_on_promotion(came: Came) -> (Vec<(u32, String)>, Vec<u32>) {
        let now = Utc::now();
        let value = |v: &str| SecretValue::new(v.to_string());
        let (mut versions, _) = KeyVersions::create(value("sk-old-0123456789"), now, now);
        let v1 = versions.versions.get_mut(&1).expect("v1");
        v1.provider_key_id = Some("id-1".into());
        v1.engine_created = came.created;
        v1.provider_key_verified = came.hint;
        v1.possession_proven = came.proven;
        versions
            .stage(value("sk-new-0123456789"), now, None, None, false)
            .expect("stage");
        let changes = versions
            .promote(now, 0, true, None, false)
            .expect("promote");
        (
            versions.provider_revocations(&changes),
            versions.manual_revocations(&changes),
        )
    }

    #[test]
    fn an_id_only_its_hint_matched_is_never_revoked_and_left_to_a_person() {
        // Also a record from an earlier release, which revoked hint-checked ids.
        for hint in [false, true] {
            let came = Came {
                created: false,
                hint,
                proven: false,
            };
            assert_eq!(retired_on_promotion(came), (vec![], vec![1]), "{came:?}");
        }
    }

    #[test]
    fn created_and_possession_proven_ids_are_revoked() {
        for (created, proven) in [(true, false), (false, true), (true, true)] {
            let came = Came {
                created,
                hint: !created,
                proven,
            };
            assert_eq!(
                retired_on_promotion(came),
                (vec![(1, "id-1".to_string())], vec![]),
                "{came:?}"
            );
        }
    }

    fn record(label: Option<&str>, expires: Option<i64>) -> KeyRecord {
        KeyRecord {
            id: "h".into(),
            hint: label.map(str::to_string),
            status: None,
            last_used_at: None,
            expires_at: expires.and_then(|t| Utc.timestamp_opt(t, 0).single()),
        }
    }

    #[test]
    fn possession_proves_an_id_only_when_the_value_is_that_key() {
        let claimed = record(Some("sk-or-v1-0e6...1c96"), Some(1_900_000_000));
        let same = record(Some("sk-or-v1-0e6...1c96"), Some(1_900_000_000));
        assert_eq!(
            proven("or", "h", &claimed, Some(&same)),
            Ok(Ownership::Proven)
        );
        // A forged value the provider does not accept.
        let forged = proven("or", "h", &claimed, None).unwrap_err();
        assert!(
            forged.contains("does not accept the given value"),
            "{forged}"
        );
        // A real key, but another one: another label, or the same label and another expiry.
        for other in [
            record(Some("sk-or-v1-aaa...bbbb"), Some(1_900_000_000)),
            record(Some("sk-or-v1-0e6...1c96"), Some(1_800_000_000)),
            record(None, None),
        ] {
            let refused = proven("or", "h", &claimed, Some(&other)).unwrap_err();
            assert!(refused.contains("not the one with this id"), "{refused}");
        }
    }
}
