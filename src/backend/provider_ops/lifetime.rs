//! Provider key-lifetime policies known before they bite: a provider configuration may state
//! the organization's or project's `max_key_lifetime`. A key at that provider must be able to
//! live its whole planned life there (rotation period + grace period + `max_grace`, the most
//! usage-aware revocation and `extend/` may keep it), so a key, schedule or provider write
//! that would need longer is refused with a 400 naming both numbers, and the keys the engine
//! creates there ask for no longer a life (`calls.rs`).

use super::configs::load;
use crate::backend::policy::{self, Periods, Schedule};
use crate::backend::record::{self, KeyState};
use crate::framework::{Error, Storage};
use crate::rotation::usage::short_duration;

/// The provider-side life a key with `periods` needs: rotation period + grace period +
/// `max_grace`.
pub(crate) fn needed_secs(periods: &Periods) -> i64 {
    periods
        .rotation_period
        .saturating_add(periods.grace_period)
        .saturating_add(periods.max_grace)
}

fn refusal(key: &str, provider: &str, needed: i64, max: i64) -> String {
    format!(
        "key {key:?} needs keys that live {needed}s ({}: rotation period + grace_period + \
         max_grace) at provider {provider:?}, longer than its max_key_lifetime of {max}s ({}); \
         shorten the key's periods or raise max_key_lifetime",
        short_duration(needed),
        short_duration(max)
    )
}

/// Refuses (400) key `key` under `schedule` when its provider states a `max_key_lifetime`
/// shorter than the life its periods need.
pub(crate) async fn check_key(
    storage: &dyn Storage,
    key: &KeyState,
    schedule: &Schedule,
) -> Result<(), Error> {
    let Some(provider) = key.provider.as_deref() else {
        return Ok(());
    };
    let Some(max) = load(storage, provider)
        .await?
        .and_then(|c| c.max_key_lifetime_secs)
    else {
        return Ok(());
    };
    let needed = needed_secs(&policy::periods_under(schedule, &key.overrides())?);
    match needed > max {
        true => Err(Error::BadRequest(refusal(&key.name, provider, needed, max))),
        false => Ok(()),
    }
}

/// Refuses (400) writing schedule `name` as `schedule` when a key using it would then need a
/// longer life than its provider's `max_key_lifetime`, naming every such key.
pub(crate) async fn check_schedule_users(
    storage: &dyn Storage,
    name: &str,
    schedule: &Schedule,
) -> Result<(), Error> {
    // A record the engine refuses is left out: it neither rotates nor creates keys until it is
    // repaired, and the reports already name it (`ai_keys_records_refused`).
    let (users, _refused) = record::names_where_noting(storage, |k| *k.schedule == *name).await?;
    let mut refused = Vec::new();
    for user in users {
        let Some(key) = record::load_key(storage, &user).await? else {
            continue;
        };
        if let Err(Error::BadRequest(why)) = check_key(storage, &key, schedule).await {
            refused.push(why);
        }
    }
    match refused.is_empty() {
        true => Ok(()),
        false => Err(Error::BadRequest(format!(
            "schedule {name:?}: {}",
            refused.join("; ")
        ))),
    }
}

/// Refuses (400) a `max_key_lifetime` of `max` seconds for provider `provider` while keys using
/// it need longer, naming each with both numbers.
pub(crate) async fn check_provider_users(
    storage: &dyn Storage,
    provider: &str,
    max: i64,
) -> Result<(), Error> {
    // Refused records are left out, as in `check_schedule_users`.
    let (users, _refused) =
        record::names_where_noting(storage, |k| k.provider.as_deref() == Some(provider)).await?;
    let mut refused = Vec::new();
    for user in users {
        let Some(key) = record::load_key(storage, &user).await? else {
            continue;
        };
        let schedule = policy::require_schedule(storage, "schedule", &key.schedule).await?;
        let needed = needed_secs(&policy::periods_under(&schedule, &key.overrides())?);
        if needed > max {
            refused.push(refusal(&key.name, provider, needed, max));
        }
    }
    match refused.is_empty() {
        true => Ok(()),
        false => Err(Error::BadRequest(format!(
            "max_key_lifetime: {}",
            refused.join("; ")
        ))),
    }
}
