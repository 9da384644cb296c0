//! Everything the rotation paths ask of AI providers, in one place: provider settings, key
//! tests, and key creation under a write-ahead intent (the intents live in `intents.rs`, their
//! recovery in `crate::backend::recovery`).

use std::sync::Arc;

use chrono::Utc;

use super::account::{engine_account, forget_account};
use super::configs::{load, provider_error, require};
use super::intents::{self, CreateIntent};
use super::origin::{mismatch, origin_of, place_of};
use crate::backend::policy::{self, Periods};
use crate::backend::record::KeyState;
use crate::backend::shared::Shared;
use crate::framework::{Error, Storage};
use crate::providers::{CreateRequest, ProviderError, ProviderType};
use crate::rotation::{Origin, Place, SecretValue, TestOutcome, TestResult};

/// Whether provider `name` can create keys with its configured credentials.
pub(crate) async fn can_create(storage: &dyn Storage, name: &str) -> Result<bool, Error> {
    Ok(load(storage, name)
        .await?
        .is_some_and(|cfg| cfg.capabilities().create))
}

/// Tests `value` against the key's provider; `skipped` without one.
pub(crate) async fn test(
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

/// A key the provider created for a version about to be staged.
pub(crate) struct Created {
    /// Its value.
    pub value: SecretValue,
    /// The provider's id for it.
    pub provider_key_id: String,
    /// The WAL intent to settle once the version is stored.
    pub wal_id: String,
    /// When it expires at the provider on its own, if it does.
    pub expires_at: Option<chrono::DateTime<Utc>>,
    /// Where it lives: the place of the configuration that created it, and its id.
    pub origin: Origin,
}

/// What a created key's provider-side lifetime adds past everything the engine plans, so a
/// rotation a little late never meets a dead key.
pub(super) const EXPIRY_MARGIN_SECS: i64 = 24 * 3600;

/// The provider-side lifetime, in seconds, of a key created now for a key with these periods:
/// its rotation period (for a cron schedule, the longest interval between scheduled times plus
/// the window), plus its grace period, plus its `max_grace` (the most that usage-aware
/// revocation and `extend/` may keep it past the planned grace end), plus
/// [`EXPIRY_MARGIN_SECS`]. Rotation is due one rotation period after creation, so it always
/// comes first. Where the provider limits the lifetime (`max`), a longer one is cut to the
/// limit only if the rotation still comes a margin before it; otherwise the key gets none.
pub(super) fn provider_lifetime_secs(periods: &Periods, max: Option<i64>) -> Option<i64> {
    let lifetime = periods
        .rotation_period
        .checked_add(periods.grace_period)?
        .checked_add(periods.max_grace)?
        .checked_add(EXPIRY_MARGIN_SECS)?;
    match max {
        Some(max) if lifetime > max => {
            (periods.rotation_period.saturating_add(EXPIRY_MARGIN_SECS) <= max).then_some(max)
        }
        _ => Some(lifetime),
    }
}

/// The provider-side lifetime a created key asks for: [`provider_lifetime_secs`] under the
/// type's limit `type_max`, or, where the configuration states the provider's key-lifetime
/// policy (`max_key_lifetime`), the planned life with its margin cut to stay within the policy
/// (write-time checks keep rotation + grace + max_grace within it), never none: a policy
/// makes an expiry required.
pub(super) fn requested_lifetime_secs(
    periods: &Periods,
    type_max: Option<i64>,
    policy: Option<i64>,
) -> Option<i64> {
    match policy {
        Some(policy) => {
            let max = type_max.map_or(policy, |m| m.min(policy));
            provider_lifetime_secs(periods, None)
                .map(|l| l.min(max))
                .or(Some(max))
        }
        None => provider_lifetime_secs(periods, type_max),
    }
}

/// Why [`create`] gave no key.
#[derive(Debug)]
pub(crate) enum CreateFailure {
    /// The provider refused the created key's lifetime under its key-expiry policy
    /// ([`ProviderError::ExpiryPolicy`], which the provider client reports): nothing was
    /// created. The error is a 502 saying so and what to configure.
    PolicyRefused(Error),
    /// Anything else: refusals, outages, bad settings.
    Other(Error),
}

impl CreateFailure {
    /// Whether the provider's key-expiry policy refused the create.
    pub(crate) fn is_policy_refusal(&self) -> bool {
        matches!(self, Self::PolicyRefused(_))
    }
}

impl From<Error> for CreateFailure {
    fn from(e: Error) -> Self {
        Self::Other(e)
    }
}

impl From<CreateFailure> for Error {
    fn from(f: CreateFailure) -> Self {
        match f {
            CreateFailure::PolicyRefused(e) | CreateFailure::Other(e) => e,
        }
    }
}

/// Asks the key's provider to create a key, under a WAL intent.
pub(crate) async fn create(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    key: &KeyState,
) -> Result<Created, CreateFailure> {
    let Some(provider) = key.provider.as_deref() else {
        return Err(Error::BadRequest(
            "value is required: the key has no provider that could create one".into(),
        )
        .into());
    };
    let cfg = require(storage, provider).await?;
    if !cfg.capabilities().create {
        return Err(Error::BadRequest(format!(
            "value is required: provider {provider:?} cannot create keys ({})",
            cfg.why_cannot_create()
        ))
        .into());
    }
    let features = cfg.kind.features();
    let lifetime = if features.expiry {
        let periods = policy::periods(&shared.schedules, storage, key).await?;
        let lifetime = requested_lifetime_secs(
            &periods,
            features.max_expiry_secs,
            cfg.max_key_lifetime_secs,
        );
        if lifetime.is_none() {
            tracing::warn!(key = %key.name, provider, "rotation period longer than the provider allows a key to live: the created key gets no provider-side expiry");
        }
        lifetime
    } else {
        None
    };
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    // The mount's tag, then 12 random hex digits: `reconcile` revokes only its own mount's.
    let name_at_provider = format!(
        "ai-keys-{}-{}{}",
        key.name,
        shared.naming_tag,
        &suffix[..12]
    );
    let mut intent = CreateIntent::new(&key.name, provider, name_at_provider);
    intent.place = Some(place_of(&cfg));
    let account = match features.account {
        true => Some(engine_account(shared, storage, provider).await?),
        false => None,
    };
    // Written before the provider is asked: on a standby this write fails with the read-only
    // error, which makes the server forward the request to the active node.
    let wal_id = intents::begin_create(storage, &intent).await?;
    let mut request = CreateRequest {
        name: &intent.name_at_provider,
        expires_in_secs: lifetime,
        account: account.as_deref(),
    };
    let mut result = shared.providers.create(&cfg, &request).await;
    if account.is_some() && matches!(result, Err(ProviderError::Rejected { status: 404, .. })) {
        // The engine's account is gone at the provider (deleted by hand): make a new one.
        tracing::warn!(
            provider,
            "the engine's account is gone at the provider; creating a new one"
        );
        forget_account(shared, storage, provider).await?;
        let fresh = engine_account(shared, storage, provider).await?;
        request.account = Some(&fresh);
        result = shared.providers.create(&cfg, &request).await;
    }
    match result {
        Ok(created) => {
            intent.provider_key_id = Some(created.provider_key_id.clone());
            intents::note_created(storage, &wal_id, &intent).await?;
            Ok(Created {
                origin: origin_of(&cfg, &created.provider_key_id),
                value: created.value,
                provider_key_id: created.provider_key_id,
                wal_id,
                expires_at: created.expires_at,
            })
        }
        Err(e) => {
            // A refusal means nothing was created; anything else may have created a key whose
            // answer was lost, so the intent stays for the tick to find and revoke it.
            if matches!(
                e,
                ProviderError::Unsupported(_)
                    | ProviderError::Rejected { .. }
                    | ProviderError::ExpiryPolicy { .. }
            ) {
                intents::settle(storage, Some(&wal_id)).await;
            }
            if e.is_expiry_policy() {
                let asked = lifetime.map_or("no expiry".to_string(), |s| format!("{s}s"));
                return Err(CreateFailure::PolicyRefused(Error::Coded {
                    status: 502,
                    message: format!(
                        "creating a key at the provider: key-expiry policy refusal: provider \
                         {provider:?} refused the created key's lifetime ({asked}) under its \
                         key-expiry policy, so nothing was created: {e}; set max_key_lifetime \
                         on providers/{provider} to the policy's limit (the engine then asks \
                         within it) and check the key's periods fit"
                    ),
                }));
            }
            Err(provider_error("creating a key at the provider", e).into())
        }
    }
}

/// The provider type of provider `name`, if configured.
pub(crate) async fn kind_of(
    storage: &dyn Storage,
    name: Option<&str>,
) -> Result<Option<ProviderType>, Error> {
    match name {
        Some(n) => Ok(load(storage, n).await?.map(|c| c.kind)),
        None => Ok(None),
    }
}

/// Revokes `provider_key_id` at provider configuration `provider`, only if the configuration
/// points at `origin`, the place where the key lives (docs/security.md, "Where a key lives").
/// `Ok` means the provider confirmed: it revoked the key, or its own 404 said the key is gone,
/// which counts only from the key's origin.
///
/// Without a recorded origin (a record or intent of an earlier release) the key is looked up
/// first: only a key this configuration finds is revoked and confirmed; a 404 confirms nothing,
/// since the configuration may point elsewhere than where the key was created. The error is a
/// short message for the record (never key material); no error sends anything to a place that
/// is not the key's.
pub(crate) async fn revoke_at(
    shared: &Shared,
    storage: &dyn Storage,
    provider: &str,
    provider_key_id: &str,
    origin: Option<&Place>,
) -> Result<(), String> {
    let cfg = load(storage, provider)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("provider {provider:?} no longer exists"))?;
    let revoke = || async {
        shared
            .providers
            .revoke_key(&cfg, provider_key_id)
            .await
            .map_err(|e| provider_error("revoking a key at the provider", e).to_string())
    };
    match origin {
        Some(origin) => match mismatch(provider, origin, &place_of(&cfg)) {
            Some(why) => Err(why),
            None => revoke().await,
        },
        None => match shared.providers.lookup_key(&cfg, provider_key_id).await {
            Ok(Some(_)) => revoke().await,
            Ok(None) => Err(format!(
                "origin unknown: provider {provider:?} answers that it has no key \
                 {provider_key_id}, but where this key was created was not recorded (a record of \
                 an earlier release), so that answer does not show it revoked; check where it was \
                 created and revoke it there by hand"
            )),
            Err(e) => Err(provider_error(
                "origin unknown; looking the key up at the provider before revoking it",
                e,
            )
            .to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX_GRACE: i64 = 7 * 24 * 3600;

    fn periods(rotation: i64, grace: i64) -> Periods {
        Periods {
            rotation_period: rotation,
            grace_period: grace,
            rotation_window: 3600,
            rotation_schedule: None,
            usage_quiet_period: 3600,
            max_grace: MAX_GRACE,
            health_check_interval: 3600,
            expiry_warning: 14 * 24 * 3600,
        }
    }

    #[test]
    fn a_created_key_outlives_its_rotation_grace_and_max_grace() {
        let day = 24 * 3600;
        let p = periods(30 * day, day);
        let expected = 30 * day + day + MAX_GRACE + EXPIRY_MARGIN_SECS;
        assert_eq!(provider_lifetime_secs(&p, None), Some(expected));
        assert_eq!(provider_lifetime_secs(&p, Some(365 * day)), Some(expected));
        // Longer than the provider allows: cut to its limit while rotation still comes first.
        let long = periods(360 * day, day);
        assert_eq!(
            provider_lifetime_secs(&long, Some(365 * day)),
            Some(365 * day)
        );
        // A rotation period the limit cannot cover: no expiry rather than an early death.
        let longer = periods(365 * day, day);
        assert_eq!(provider_lifetime_secs(&longer, Some(365 * day)), None);
        assert_eq!(provider_lifetime_secs(&periods(i64::MAX, 1), None), None);
    }

    /// With a stated key-lifetime policy the margin is cut to stay within it, a life within it
    /// is asked as planned, and the type's own limit still holds.
    #[test]
    fn a_stated_policy_cuts_the_margin_and_never_asks_beyond_it() {
        let day = 24 * 3600;
        let year = 365 * day;
        // 22.5d + 2h + 7d fits in 30d; with the 1-day margin it would not: cut to 30d.
        let p = periods(540 * 3600, 2 * 3600);
        assert_eq!(
            requested_lifetime_secs(&p, Some(year), Some(30 * day)),
            Some(30 * day)
        );
        // Well within: the planned life with its margin.
        let short = periods(10 * day, day);
        let planned = 10 * day + day + MAX_GRACE + EXPIRY_MARGIN_SECS;
        assert_eq!(
            requested_lifetime_secs(&short, Some(year), Some(30 * day)),
            Some(planned)
        );
        // A policy above the type's limit: the type's limit.
        let long = periods(400 * day, day);
        assert_eq!(
            requested_lifetime_secs(&long, Some(year), Some(2 * year)),
            Some(year)
        );
        // No policy: as before.
        assert_eq!(
            requested_lifetime_secs(&short, Some(year), None),
            Some(planned)
        );
    }
}
