//! What a managed key is: its settings, versions, rotation state and counters ([`KeyState`]),
//! and the record that holds it with pointers to its history and remembered rotation ids
//! ([`KeyEntry`]). Storage I/O is `store.rs`'s; this file is the model.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::actor::Actor;
use super::format::{self, PREVIOUS_FORMAT};
use super::history::{Events, HistoryEvent, HistoryLog};
use super::replays::{self, Idempotency};
use crate::framework::{Error, Storage};
use crate::rotation::{Change, KeyVersions, Version, VersionState};

/// How many retired (revoked or failed) versions a record keeps besides its live ones.
pub(crate) const RETIRED_KEEP: usize = 10;

/// Automatic rotation bookkeeping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct AutoState {
    /// Consecutive failed automatic attempts.
    pub failures: u32,
    /// No automatic attempt before this time (back-off).
    pub next_attempt_time: Option<DateTime<Utc>>,
    /// Last time an overdue warning was logged.
    pub last_overdue_warning: Option<DateTime<Utc>>,
    /// The latest scheduled time (cron schedules) whose missed window was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missed_rotation_time: Option<DateTime<Utc>>,
}

/// Counters for `metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Stats {
    /// Promotions (rotations completed).
    pub rotations: u64,
    /// Test outcomes by name.
    pub test_outcomes: BTreeMap<String, u64>,
    /// Failed one-call rotations by trigger (`automatic`, `manual`).
    pub rotation_failures: BTreeMap<String, u64>,
    /// Grace windows postponed because the retiring key was still in use.
    #[serde(default)]
    pub grace_extensions: u64,
    /// The periodic health checks of the current key, by outcome.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub health_checks: BTreeMap<String, u64>,
    /// Key creates refused by the provider's key-expiry policy, by provider configuration.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provider_policy_refusals: BTreeMap<String, u64>,
}

impl Stats {
    /// Counts a key create provider `provider` refused under its key-expiry policy.
    pub(crate) fn count_policy_refusal(&mut self, provider: &str) {
        *self
            .provider_policy_refusals
            .entry(provider.to_string())
            .or_default() += 1;
    }

    /// Counts a failed one-call rotation (`rotate/` or automatic).
    pub(crate) fn count_rotation_failure(&mut self, actor: &Actor) {
        let trigger = if *actor == Actor::Scheduler {
            "automatic"
        } else {
            "manual"
        };
        *self
            .rotation_failures
            .entry(trigger.to_string())
            .or_default() += 1;
    }
}

/// A managed key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct KeyState {
    /// The key's name.
    pub name: String,
    /// Name under `providers/`, if any.
    #[serde(default)]
    pub provider: Option<String>,
    /// Name under `schedules/`.
    pub schedule: String,
    /// Override of the schedule's rotation period (seconds).
    #[serde(default)]
    pub rotation_period: Option<i64>,
    /// Override of the schedule's grace period (seconds).
    #[serde(default)]
    pub grace_period: Option<i64>,
    /// Override of the schedule's cadence with a cron expression (UTC); replaces
    /// `rotation_period` (see `cron_settings`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_schedule: Option<String>,
    /// Override of the schedule's rotation window (seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_window: Option<i64>,
    /// Override of the schedule's `usage_quiet_period` (seconds).
    #[serde(default)]
    pub usage_quiet_period: Option<i64>,
    /// Override of the schedule's `max_grace` (seconds).
    #[serde(default)]
    pub max_grace: Option<i64>,
    /// Override of the schedule's `health_check_interval` (seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_interval: Option<i64>,
    /// Override of the schedule's `expiry_warning` (seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_warning: Option<i64>,
    /// Rotate automatically when due.
    #[serde(default)]
    pub auto_rotate: bool,
    /// Owner, team, ticket.
    #[serde(default)]
    pub custom_metadata: BTreeMap<String, String>,
    /// The versions and their values.
    pub versions: KeyVersions,
    /// The last failed rotation, if the latest attempt failed.
    #[serde(default)]
    pub last_error: Option<String>,
    /// The previous release's remembered rotation ids (read to migrate them, never written:
    /// this release keeps them in entries of their own, see [`KeyEntry::replays`]).
    #[serde(default, skip_serializing)]
    pub idempotency: Vec<Idempotency>,
    /// Automatic rotation state.
    #[serde(default)]
    pub auto: AutoState,
    /// Counters.
    #[serde(default)]
    pub stats: Stats,
    /// The last leak reported for one of its current versions (`exposed`), kept for the record;
    /// in force only while [`KeyState::exposure`] says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed: Option<Exposure>,
}

/// A leak of a key's current version, reported through `exposed`. Never holds the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Exposure {
    /// The version whose value leaked.
    pub version: u32,
    /// When it was reported.
    pub time: DateTime<Utc>,
    /// Where it was found (the report's `source`).
    pub source: String,
    /// Why it is believed leaked (the report's `reason`).
    pub reason: String,
}

/// What `keys/<name>` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct KeyEntry {
    /// Record format ([`format::FORMAT`], or [`format::WITHDRAWN_FORMAT`] while a version is
    /// withdrawn; absent, so 1, in the previous release's records).
    #[serde(default = "format::previous_format")]
    pub format: u32,
    /// The key.
    pub key: KeyState,
    /// Which history events exist (their pages are under `history/<name>/`).
    #[serde(default)]
    pub log: HistoryLog,
    /// Storage ids of remembered rotation ids, newest last.
    #[serde(default)]
    pub replays: Vec<String>,
    /// The previous release's history, oldest first (read, never written).
    #[serde(default, skip_serializing)]
    pub history: Vec<HistoryEvent>,
    /// Events recorded since the entry was loaded, written by [`save`].
    #[serde(skip)]
    pub unsaved: Vec<HistoryEvent>,
    /// Rotation ids remembered since the entry was loaded, written by [`save`].
    #[serde(skip)]
    pub unsaved_replays: Vec<Idempotency>,
    /// `history_limit` when the events were recorded.
    #[serde(skip)]
    history_limit: Option<i64>,
}

impl KeyEntry {
    /// A new record for `key`, continuing the history `log`.
    pub(crate) fn new(key: KeyState, log: HistoryLog) -> KeyEntry {
        KeyEntry {
            format: format::key_format(key.versions.withdrawn.is_some()),
            key,
            log,
            replays: Vec::new(),
            history: Vec::new(),
            unsaved: Vec::new(),
            unsaved_replays: Vec::new(),
            history_limit: None,
        }
    }

    /// Whether the previous release wrote this record (then `migrate` converts it).
    pub(crate) fn is_previous_format(&self) -> bool {
        self.format == PREVIOUS_FORMAT
    }

    /// Where this key's history is, as stored (a previous-release record holds it).
    pub(crate) fn events(&self) -> Events {
        if self.is_previous_format() {
            Events::List(self.history.clone())
        } else {
            Events::Pages(self.log)
        }
    }

    /// Appends events for `changes`, made by `actor` during `req_id`, keeping `limit` events.
    pub(crate) fn record(
        &mut self,
        changes: &[Change],
        actor: &Actor,
        request_id: Option<&str>,
        outcome: Option<&str>,
        now: DateTime<Utc>,
        limit: i64,
    ) {
        for c in changes {
            self.push(
                HistoryEvent {
                    time: now,
                    event: c.event.as_str().to_string(),
                    version: Some(c.version),
                    actor: actor.clone(),
                    request_id: request_id.filter(|s| !s.is_empty()).map(str::to_string),
                    outcome: outcome.map(str::to_string),
                    detail: c.detail.clone(),
                },
                limit,
            );
        }
    }

    /// How many events the history keeps, as `history_limit` was when events were recorded
    /// (unbounded when none were).
    pub(crate) fn history_limit(&self) -> i64 {
        self.history_limit.unwrap_or(i64::MAX)
    }

    /// Appends one event, keeping `limit` events (older ones leave when the entry is saved).
    pub(crate) fn push(&mut self, event: HistoryEvent, limit: i64) {
        self.unsaved.push(event.bounded());
        self.history_limit = Some(limit);
    }

    /// Remembers a rotation id's result (stored with the entry).
    pub(crate) fn remember(&mut self, record: Idempotency) {
        self.unsaved_replays
            .retain(|r| r.rotation_id != record.rotation_id);
        self.unsaved_replays.push(record);
    }

    /// The remembered record for `rotation_id`.
    pub(crate) async fn recall(
        &self,
        storage: &dyn Storage,
        rotation_id: &str,
    ) -> Result<Option<Idempotency>, Error> {
        if let Some(r) = self
            .unsaved_replays
            .iter()
            .find(|r| r.rotation_id == rotation_id)
        {
            return Ok(Some(r.clone()));
        }
        replays::recall(storage, &self.key.name, &self.replays, rotation_id).await
    }
}

/// Whether a retired version's metadata may leave the key's record once newer retired versions
/// make it one of more than [`RETIRED_KEEP`]. The one place that decides what a record keeps:
/// never a version whose revocation is pending, or left to a person and not acknowledged (the
/// metric, the report and the alert read it from the record).
pub(super) fn trimmable(v: &Version) -> bool {
    matches!(v.state, VersionState::Revoked | VersionState::Failed)
        && !v
            .provider_revocation
            .as_ref()
            .is_some_and(|r| r.is_pending() || r.is_unacknowledged_manual())
}

/// Drops the oldest trimmable retired versions beyond the newest [`RETIRED_KEEP`] retired ones.
/// Live versions always stay; `next_version` is untouched, so numbers never repeat.
pub(super) fn trim_retired(versions: &mut KeyVersions) {
    let retired = |v: &Version| matches!(v.state, VersionState::Revoked | VersionState::Failed);
    let old: Vec<u32> = versions
        .versions
        .values()
        .rev()
        .filter(|v| retired(v))
        .skip(RETIRED_KEEP)
        .filter(|v| trimmable(v))
        .map(|v| v.number)
        .collect();
    for number in old {
        versions.versions.remove(&number);
    }
}

/// What a key sets of its periods, borrowed from its record or its digest: its schedule and
/// the overrides of it (`None` inherits the schedule's).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Overrides<'a> {
    pub schedule: &'a str,
    pub rotation_period: Option<i64>,
    pub grace_period: Option<i64>,
    pub rotation_schedule: Option<&'a str>,
    pub rotation_window: Option<i64>,
    pub usage_quiet_period: Option<i64>,
    pub max_grace: Option<i64>,
    pub health_check_interval: Option<i64>,
    pub expiry_warning: Option<i64>,
}

impl KeyState {
    /// The leak in force: the reported version is still current, or it was withdrawn and no
    /// version has been promoted since. A promotion of a new value ends it.
    pub(crate) fn exposure(&self) -> Option<&Exposure> {
        self.exposed.as_ref().filter(|e| {
            self.versions.current_version() == Some(e.version)
                || self.versions.withdrawn == Some(e.version)
        })
    }

    /// This key's [`Overrides`].
    pub(crate) fn overrides(&self) -> Overrides<'_> {
        Overrides {
            schedule: &self.schedule,
            rotation_period: self.rotation_period,
            grace_period: self.grace_period,
            rotation_schedule: self.rotation_schedule.as_deref(),
            rotation_window: self.rotation_window,
            usage_quiet_period: self.usage_quiet_period,
            max_grace: self.max_grace,
            health_check_interval: self.health_check_interval,
            expiry_warning: self.expiry_warning,
        }
    }
}
