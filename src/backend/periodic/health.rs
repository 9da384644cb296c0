//! Health checks of current keys (on the periodic tick, active node only): every
//! `health_check_interval` the current version of each key with a provider is tested at that
//! provider, the same key test `test/` makes (no tokens billed).
//!
//! - **When**: [`health_check_time`](super::plan::health_check_time), from the record alone
//!   (the due index asks it too, so an idle tick reads no record): the engine's last call with
//!   the key (test or check), else its promotion, plus the interval, plus a spread of up to a
//!   tenth of the interval fixed by the key's name and that time (keys created together do not
//!   all go in the same tick). Never
//!   before a whole interval has passed, so at most one call per key per interval, whatever
//!   else makes the tick open the key.
//! - **What is kept**: the result on the version ([`crate::rotation::HealthCheck`]: outcome,
//!   status, the provider's message, never a value) and a counter by outcome; one write per
//!   check. The engine's own calls are not use: usage-aware revocation and reports read them as
//!   the engine's ([`crate::rotation::Version::engine_call_time`]).
//! - **A refusal** (`bad_key`, `unfunded`; [`crate::rotation::is_refusal`]) starts a run of
//!   refusals: a `current_key_rejected` history event with the provider's answer, a warning in
//!   the log, and the key flagged (`keys/`, `overdue`, `report`, metric
//!   `ai_keys_current_key_rejected`) until a check passes or a new version is promoted. With
//!   `auto_rotate` the key is due for automatic rotation at once, with no grace for the refused
//!   version ([`super::plan::auto_rotation_time`], [`super::tick`]). An unavailable provider
//!   (429, 5xx, timeout) is no refusal: the next interval tries again.
//!
//! Crash safety: a check changes no version's state and calls no provider mutation; a crash
//! before its write only repeats the check on the next tick.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::plan::health_check_time;

use crate::backend::policy::Periods;
use crate::backend::provider_ops;
use crate::backend::shared::Shared;
use crate::backend::workflows::Locked;
use crate::framework::{Error, Storage};
use crate::rotation::{HealthCheck, TestOutcome, TestResult, VersionState};

/// Checks the key's current version if its check is due at `now`; whether the record changed.
pub(super) async fn check(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    locked: &mut Locked,
    periods: Periods,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let key = locked.key_ref();
    if health_check_time(&key.name, key, periods).is_none_or(|at| at > now) {
        return Ok(false);
    }
    let (Some(current), Some(provider)) = (key.versions.current(), key.provider.clone()) else {
        return Ok(false);
    };
    let Some(value) = current.value.clone() else {
        return Ok(false);
    };
    let number = current.number;
    let result = match provider_ops::test(shared, storage, Some(&provider), &value).await {
        Ok(result) => result,
        // The configuration could not be read (or was deleted): nothing is known of the key.
        Err(e) => TestResult {
            outcome: TestOutcome::ProviderUnavailable,
            status_code: None,
            detail: format!("provider {provider:?} could not be used: {e}"),
            time: Utc::now(),
        },
    };
    record(locked, number, &provider, result);
    Ok(true)
}

/// Records a check of version `number` that gave `result` at provider `provider`: on the
/// version, in the counters, and in the history when a run of refusals starts
/// (`current_key_rejected`, or `previous_key_rejected` for a previous version) or ends
/// (`current_key_accepted`).
fn record(locked: &mut Locked, number: u32, provider: &str, result: TestResult) {
    let outcome = result.outcome.as_str();
    *locked
        .key()
        .stats
        .health_checks
        .entry(outcome.to_string())
        .or_default() += 1;
    let name = locked.key_ref().name.clone();
    let auto_rotate = locked.key_ref().auto_rotate;
    let Some(version) = locked.key().versions.versions.get_mut(&number) else {
        return;
    };
    let current = version.state == VersionState::Current;
    let previous = version.health_check.take();
    let check = HealthCheck::after(previous.as_ref(), result.clone());
    let newly_rejected = check.newly_rejected(previous.as_ref());
    let accepted_again = previous
        .as_ref()
        .is_some_and(|p| p.rejected_since.is_some())
        && check.rejected_since.is_none();
    version.health_check = Some(check);
    let answer = answer(&result);
    if newly_rejected && current {
        let next = if auto_rotate {
            "auto_rotate: rotating now, with no grace for this version"
        } else {
            "rotate the key (rotate/ or the four steps); it stays flagged until a new version is promoted"
        };
        tracing::warn!(key = %name, version = number, outcome, provider = %provider, "provider refused the current key at its health check");
        let detail = format!(
            "provider {provider:?} refused the current key at its health check: {answer}; {next}"
        );
        locked.note("current_key_rejected", Some(number), Some(outcome), &detail);
    } else if newly_rejected {
        tracing::warn!(key = %name, version = number, outcome, provider = %provider, "provider refused a previous version still in its grace window");
        let detail = format!(
            "provider {provider:?} refused this previous version, still in its grace window: {answer}; applications still using it fail"
        );
        locked.note(
            "previous_key_rejected",
            Some(number),
            Some(outcome),
            &detail,
        );
    } else if accepted_again && current {
        tracing::info!(key = %name, version = number, provider = %provider, "provider accepts the current key again");
        let detail = format!("provider {provider:?} accepts the current key again: {answer}");
        locked.note("current_key_accepted", Some(number), Some(outcome), &detail);
    } else if result.outcome == TestOutcome::ProviderUnavailable {
        tracing::info!(key = %name, version = number, provider = %provider, "health check: provider unavailable; next interval tries again");
    }
}

/// What one test of a live version found (`reconcile`).
pub(crate) struct VersionCheck {
    /// The version.
    pub version: u32,
    /// Its state (`current` or `previous`).
    pub state: &'static str,
    /// What the provider said.
    pub outcome: TestOutcome,
}

/// Tests key `name`'s current version and its previous one still in its grace window at the
/// key's provider now, whatever the interval (`reconcile`). Unless `dry_run`, records each
/// answer as a health check and, when the provider refuses the current key of a key with
/// `auto_rotate`, rotates it at once with no grace, as the tick does. Returns what each test
/// found and whether a rotation ran (and its error, if it failed).
pub(crate) async fn check_live_versions(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    name: &str,
    request_id: Option<String>,
    dry_run: bool,
) -> Result<(Vec<VersionCheck>, Option<Result<(), String>>), Error> {
    let actor = crate::backend::record::Actor::Scheduler;
    let mut locked = match Locked::open_as(shared, storage, name, actor, request_id).await {
        Ok(l) => l,
        // Deleted meanwhile.
        Err(Error::BadRequest(_)) => return Ok((Vec::new(), None)),
        Err(e) => return Err(e),
    };
    let now = Utc::now();
    let key = locked.key_ref();
    let Some(provider) = key.provider.clone() else {
        return Ok((Vec::new(), None));
    };
    let live: Vec<_> = [key.versions.current(), key.versions.previous_in_grace(now)]
        .into_iter()
        .flatten()
        .filter_map(|v| Some((v.number, v.state.as_str(), v.value.clone()?)))
        .collect();
    let mut found = Vec::new();
    let mut results = Vec::new();
    for (number, state, value) in live {
        let result = provider_ops::test(shared, storage, Some(&provider), &value).await?;
        found.push(VersionCheck {
            version: number,
            state,
            outcome: result.outcome,
        });
        results.push((number, result));
    }
    if dry_run || results.is_empty() {
        return Ok((found, None));
    }
    for (number, result) in results {
        record(&mut locked, number, &provider, result);
    }
    locked.commit(shared, storage).await?;
    let key = locked.key_ref();
    let rejected = key
        .versions
        .current()
        .is_some_and(|v| v.rejected_since().is_some());
    if !(rejected && key.auto_rotate && key.versions.pending().is_none()) {
        return Ok((found, None));
    }
    let rotated = super::auto::auto_rotate(shared, storage, locked, now).await;
    Ok((found, Some(rotated)))
}

/// The provider's answer as the history says it: outcome, status and message (never a value:
/// key tests report the provider's error message only).
fn answer(result: &TestResult) -> String {
    let status = result
        .status_code
        .map(|c| format!(" (HTTP {c})"))
        .unwrap_or_default();
    if result.detail.is_empty() {
        format!("{}{status}", result.outcome)
    } else {
        format!("{}{status}: {}", result.outcome, result.detail)
    }
}
