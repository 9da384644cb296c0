//! Recovery of a create intent: a key may exist at the provider that no version records (the
//! engine crashed, or lost the provider's answer, between the create and the stored version).
//!
//! Every key the provider lists under the intent's unique name (every page), plus the id the
//! intent recorded if the provider answered, is revoked unless a version of the key records it;
//! each revocation of such a key is told in the key's history (`unrecorded_key_revoked`).
//!
//! "Nothing was created" is the one conclusion that drops an intent without a revocation, and
//! provider lists can lie about it for a while: a new key may be missing from the first lists
//! (lag), from one answer only, or sit on a later page. So the intent is settled that way only
//! when
//!
//! - the create cannot still be in flight: the intent is older than two provider calls (the
//!   create, and the one retry after the engine's account was found gone), each bounded by the
//!   provider configuration's `timeout`, plus [`IN_FLIGHT_MARGIN`]; and
//! - lookups kept answering "nothing" for [`NOT_FOUND_PERIOD`], at least [`NOT_FOUND_LOOKUPS`]
//!   of them, [`LOOKUP_SPACING`] apart. The intent records when the streak began and how many
//!   lookups agreed; a lookup that finds a key, or fails, ends the streak. A "nothing" answer
//!   is not a failure: it schedules the next lookup without growing the back-off.
//!
//! No provider documents how long its list may lag behind a create (providers.md names none;
//! the lags seen are seconds). Fifteen minutes is two orders of magnitude beyond that, and
//! still short beside what keeping the intent costs (one list call every five minutes for a
//! quarter of an hour). A provider configuration that is gone keeps the intent, with back-off,
//! and an error in the log: its key may still exist, and nothing else remembers it.
//!
//! Tests cannot wait fifteen minutes: in builds with the `test-hooks` feature the tick hook's
//! `wal_settle_after` shortens the period, the spacing and the margin for one run
//! ([`Patience::of`]); the number of lookups stays. Release builds have no such input.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::super::provider_ops::{self, revoke_at, rewrite, CreateIntent};
use super::super::record::{self, Actor, KeyGuard};
use super::super::shared::Shared;
use super::super::workflows::Locked;
use super::{back_off, claim};
use crate::framework::{Error, Request, Storage, WalEntry, WalOutcome};

/// How long lookups by name must keep answering "nothing" before a create intent is settled as
/// "nothing was created" (see the module docs for the choice).
pub(super) const NOT_FOUND_PERIOD: Duration = Duration::from_secs(15 * 60);
/// The fewest lookups in a row that must answer "nothing" (the first one included).
pub(super) const NOT_FOUND_LOOKUPS: u32 = 3;
/// The wait between two lookups of a streak.
pub(super) const LOOKUP_SPACING: Duration = Duration::from_secs(5 * 60);
/// What an intent's age must exceed past its create's longest duration (two provider calls)
/// before any lookup is believed.
pub(super) const IN_FLIGHT_MARGIN: Duration = Duration::from_secs(60);

/// How long recovery waits before it believes that a create made nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Patience {
    /// The shortest streak of "nothing" answers, in time.
    pub period: Duration,
    /// The wait between two lookups of a streak.
    pub spacing: Duration,
    /// Past two provider timeouts, before a lookup is believed.
    pub margin: Duration,
}

impl Patience {
    /// The production values.
    pub(super) const PRODUCTION: Patience = Patience {
        period: NOT_FOUND_PERIOD,
        spacing: LOOKUP_SPACING,
        margin: IN_FLIGHT_MARGIN,
    };

    /// The values for the rollback run `req`: the production ones, unless the tick hook of a
    /// test build shortened them for this run.
    pub(super) fn of(req: &Request) -> Patience {
        #[cfg(feature = "test-hooks")]
        if let Some(settle) = req.wal_settle_after {
            return Patience::PRODUCTION.shortened(settle);
        }
        let _ = req;
        Patience::PRODUCTION
    }

    /// These values, none longer than `settle` (the spacing a third of it).
    #[cfg(any(test, feature = "test-hooks"))]
    pub(super) fn shortened(self, settle: Duration) -> Patience {
        Patience {
            period: self.period.min(settle),
            spacing: self.spacing.min(settle / 3),
            margin: self.margin.min(settle),
        }
    }

    /// Whether a create whose intent was written at `created_at` (Unix seconds), at a provider
    /// whose calls time out after `timeout`, may still be waiting for its answer at `now`.
    pub(super) fn may_be_in_flight(
        &self,
        created_at: i64,
        timeout: Duration,
        now: DateTime<Utc>,
    ) -> bool {
        let bound = timeout.saturating_mul(2).saturating_add(self.margin);
        let bound = i64::try_from(bound.as_secs()).unwrap_or(i64::MAX);
        now.timestamp().saturating_sub(created_at) <= bound
    }
}

/// What one lookup of a create intent concludes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// These keys exist under the name and no version records them: revoke them.
    Revoke(Vec<String>),
    /// Every key under the name is recorded by a version: nothing to undo.
    Recorded,
    /// Lookups answered "nothing" long enough: nothing was created.
    NothingCreated,
    /// "Nothing" so far, not for long enough: look again at the intent's next attempt time.
    LookAgain,
    /// The lookup failed: back off.
    Failed(String),
}

/// Judges `lookup` (the ids the provider lists under the intent's name, or why it could not
/// tell) at `now`, given the ids the key's versions record, and updates the intent's streak and
/// schedule accordingly (a failure's back-off is left to the caller).
pub(super) fn judge(
    intent: &mut CreateIntent,
    lookup: Result<Vec<String>, String>,
    recorded: &[String],
    now: DateTime<Utc>,
    patience: Patience,
) -> Verdict {
    let listed = match lookup {
        Ok(ids) => ids,
        Err(e) => {
            intent.reset_not_found();
            return Verdict::Failed(e);
        }
    };
    let mut ids = listed;
    let known = intent.provider_key_id.iter().chain(&intent.unrevoked_ids);
    for id in known {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    if ids.is_empty() {
        let since = *intent.not_found_since.get_or_insert(now);
        intent.not_found_lookups = intent.not_found_lookups.saturating_add(1);
        intent.retry.attempts = 0;
        let period = TimeDelta::from_std(patience.period).unwrap_or(TimeDelta::MAX);
        if intent.not_found_lookups >= NOT_FOUND_LOOKUPS && now - since >= period {
            return Verdict::NothingCreated;
        }
        let spacing = TimeDelta::from_std(patience.spacing).unwrap_or(TimeDelta::MAX);
        intent.retry.next_attempt_time = Some(now + spacing);
        return Verdict::LookAgain;
    }
    intent.reset_not_found();
    let unrecorded: Vec<String> = ids.into_iter().filter(|i| !recorded.contains(i)).collect();
    match unrecorded.is_empty() {
        true => Verdict::Recorded,
        false => Verdict::Revoke(unrecorded),
    }
}

/// Settles create intent `id` (see the module docs).
pub(super) async fn recover_create(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    id: &str,
    entry: &WalEntry,
    patience: Patience,
) -> Result<WalOutcome, Error> {
    let mut intent: CreateIntent = provider_ops::decode(entry)?;
    let now = Utc::now();
    let guard = match claim(shared, storage, id, &intent.key, &intent.retry, now).await? {
        Ok(guard) => guard,
        Err(outcome) => return Ok(outcome),
    };
    let Some(cfg) = provider_ops::load(storage, &intent.provider).await? else {
        // Its key may exist, and only this intent remembers it: keep it for the provider's
        // return (deleting a provider is refused while intents name it).
        tracing::error!(key = %intent.key, provider = %intent.provider, "the provider of an unfinished create is gone; keeping its intent, since a key may exist there that nothing else remembers");
        intent.retry.failed(now);
        return back_off(
            storage,
            id,
            entry,
            &intent,
            "provider configuration is gone",
        )
        .await;
    };
    if patience.may_be_in_flight(entry.created_at, cfg.timeout(), now) {
        return Ok(WalOutcome::Later);
    }
    // A configuration that points elsewhere now cannot say what the create left where it was
    // sent: its "nothing here" would settle the intent while a key may live at the origin.
    if let Some(why) = intent.place.as_ref().and_then(|place| {
        provider_ops::mismatch(&intent.provider, place, &provider_ops::place_of(&cfg))
    }) {
        intent.retry.failed(now);
        return back_off(storage, id, entry, &intent, &why).await;
    }
    let lookup = shared
        .providers
        .find_key_by_name(&cfg, &intent.name_at_provider)
        .await
        .map_err(|e| provider_ops::provider_error("looking up an unrecorded key", e).to_string());
    let key = record::load_key(storage, &intent.key).await?;
    let recorded: Vec<String> = key
        .iter()
        .flat_map(|k| k.versions.versions.values())
        .filter_map(|v| v.provider_key_id.clone())
        .collect();
    match judge(&mut intent, lookup, &recorded, now, patience) {
        Verdict::Recorded => Ok(WalOutcome::Settled),
        Verdict::LookAgain => {
            tracing::info!(key = %intent.key, provider = %intent.provider, lookups = intent.not_found_lookups, "no key under an unfinished create's name yet; looking again before concluding that none was made");
            rewrite(storage, id, &entry.kind, &intent, entry.created_at).await?;
            Ok(WalOutcome::Later)
        }
        Verdict::Failed(e) => {
            intent.retry.failed(now);
            back_off(storage, id, entry, &intent, &e).await
        }
        Verdict::NothingCreated => {
            tracing::info!(key = %intent.key, provider = %intent.provider, lookups = intent.not_found_lookups, "an unfinished create made no key at the provider; its intent is settled");
            let detail = format!(
                "an interrupted create made no key at provider {:?} ({} lookups by name found none)",
                intent.provider, intent.not_found_lookups
            );
            let note = Note {
                event: "unfinished_create_settled",
                outcome: "nothing_created",
                detail,
            };
            tell_history(shared, storage, &intent.key, key.is_some(), guard, &[note]).await;
            Ok(WalOutcome::Settled)
        }
        Verdict::Revoke(ids) => {
            let mut notes = Vec::new();
            let mut failed = Vec::new();
            for key_id in ids {
                match revoke_at(
                    shared,
                    storage,
                    &intent.provider,
                    &key_id,
                    intent.place.as_ref(),
                )
                .await
                {
                    Ok(()) => {
                        tracing::warn!(key = %intent.key, provider_key_id = %key_id, "revoked a key created at the provider but never recorded");
                        notes.push(Note {
                            event: "unrecorded_key_revoked",
                            outcome: "revoked",
                            detail: format!(
                                "revoked key {key_id} at provider {:?}: created by an operation that never recorded it",
                                intent.provider
                            ),
                        });
                    }
                    Err(e) => failed.push((key_id, e)),
                }
            }
            tell_history(shared, storage, &intent.key, key.is_some(), guard, &notes).await;
            let Some((_, error)) = failed.first().cloned() else {
                return Ok(WalOutcome::Settled);
            };
            intent.unrevoked_ids = failed.into_iter().map(|(i, _)| i).collect();
            intent.retry.failed(now);
            back_off(storage, id, entry, &intent, &error).await
        }
    }
}

/// A history event recovery records on the key.
struct Note {
    event: &'static str,
    outcome: &'static str,
    detail: String,
}

/// Records `notes` in the history of `key` (when it exists), as the scheduler. Best effort: a
/// key whose record cannot be written keeps what happened in the log only.
async fn tell_history(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    key: &str,
    exists: bool,
    guard: KeyGuard,
    notes: &[Note],
) {
    if !exists || notes.is_empty() {
        return;
    }
    let result = async {
        let mut locked =
            Locked::with_guard(shared, storage, key, Actor::Scheduler, None, guard).await?;
        for n in notes {
            locked.note(n.event, None, Some(n.outcome), &n.detail);
        }
        locked.save(storage).await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(key, error = %e, "could not record recovery's work in the key's history");
    }
}

#[cfg(test)]
mod tests;
