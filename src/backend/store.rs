//! How a key lives in storage: its record (`keys/<name>`) holds its settings, its live versions
//! plus the newest retired ones, its rotation state and pointers to its history (`history.rs`)
//! and remembered rotation ids (`replays.rs`), which live in entries of their own. So reading a
//! key costs the same whatever its age, and no entry grows with it. Every state change is one
//! write of the record, after the history pages and rotation ids it points at.
//!
//! Records are checked when loaded: one from a newer release, or one that breaks the version
//! invariants, is refused with an error naming the key and is never rewritten.
//!
//! Writers of one key are serialized by a per-key lock held in the plugin; different keys never
//! wait for each other.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::history::{self, HistoryLog};
use super::records::{self, FORMAT, PREVIOUS_FORMAT};
use super::replays;
use crate::framework::{get_cached, put_json, Error, Request, Storage};
use crate::rotation::{Change, KeyVersions, Version, VersionState};

pub use super::history::HistoryEvent;
pub use super::key_locks::KeyLocks;
pub use super::replays::Idempotency;

/// Prefix of live key entries.
pub const KEYS_PREFIX: &str = "keys/";
/// How many retired (revoked or failed) versions a record keeps besides its live ones.
pub const RETIRED_KEEP: usize = 10;

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The engine itself, on its periodic tick.
    Scheduler,
    /// A Vault client.
    Client {
        /// Identity entity id (empty for tokens without an entity).
        entity_id: String,
        /// Token display name.
        display_name: String,
        /// Token accessor.
        accessor: String,
    },
}

impl Actor {
    /// The actor of a request.
    pub fn of(req: &Request) -> Actor {
        Actor::Client {
            entity_id: req.entity_id.clone(),
            display_name: req.display_name.clone(),
            accessor: req.client_token_accessor.clone(),
        }
    }

    /// The person behind the actor, for the two-person rule: `entity:<entity id>`, or `None` for
    /// the scheduler and for a client that cannot be told apart as a person (a token without an
    /// identity entity, such as the root token and tokens created from it, or a batch token,
    /// which has no accessor). Never the token accessor: two tokens of one entity are one person.
    pub fn identity(&self) -> Option<String> {
        match self {
            Actor::Scheduler => None,
            Actor::Client {
                entity_id,
                accessor,
                ..
            } => (!entity_id.is_empty() && !accessor.is_empty())
                .then(|| format!("{}{entity_id}", crate::rotation::ENTITY_PREFIX)),
        }
    }

    /// The identity a stage or promote needs while `require_separate_approver` is on: the
    /// entity (see [`Actor::identity`]), `None` for the scheduler, or a 403 for a client
    /// without one.
    pub fn approver(&self) -> Result<Option<String>, Error> {
        match (self, self.identity()) {
            (Actor::Scheduler, _) => Ok(None),
            (_, Some(id)) => Ok(Some(id)),
            (Actor::Client { entity_id, .. }, None) => {
                let why = if entity_id.is_empty() {
                    "this token has no identity entity (tokens from the token store, such as the \
                     root token and tokens created from it, have none)"
                } else {
                    "this is a batch token, which cannot be told apart from other tokens"
                };
                Err(Error::PermissionDenied(format!(
                    "require_separate_approver is set: the two-person rule needs to know who \
                     stages and who promotes, so stage/ and promote/ need a service token of an \
                     identity entity (log in through an auth method such as userpass); {why}"
                )))
            }
        }
    }
}

impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Actor::Scheduler => s.serialize_str("scheduler"),
            Actor::Client {
                entity_id,
                display_name,
                accessor,
            } => serde_json::json!({
                "entity_id": entity_id,
                "display_name": display_name,
                "accessor": accessor,
            })
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Actor, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Name(String),
            Client {
                #[serde(default)]
                entity_id: String,
                #[serde(default)]
                display_name: String,
                #[serde(default)]
                accessor: String,
            },
        }
        Ok(match Wire::deserialize(d)? {
            Wire::Name(n) if n == "scheduler" => Actor::Scheduler,
            Wire::Name(other) => {
                return Err(serde::de::Error::custom(format!("unknown actor {other:?}")))
            }
            Wire::Client {
                entity_id,
                display_name,
                accessor,
            } => Actor::Client {
                entity_id,
                display_name,
                accessor,
            },
        })
    }
}

/// Automatic rotation bookkeeping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AutoState {
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
pub struct Stats {
    /// Promotions (rotations completed).
    pub rotations: u64,
    /// Test outcomes by name.
    pub test_outcomes: BTreeMap<String, u64>,
    /// Failed one-call rotations by trigger (`automatic`, `manual`).
    pub rotation_failures: BTreeMap<String, u64>,
    /// Grace windows postponed because the retiring key was still in use.
    #[serde(default)]
    pub grace_extensions: u64,
}

impl Stats {
    /// Counts a failed one-call rotation (`rotate/` or automatic).
    pub fn count_rotation_failure(&mut self, actor: &Actor) {
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
pub struct KeyState {
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
}

/// What `keys/<name>` holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyEntry {
    /// Record format ([`records::FORMAT`]; absent, so 1, in the previous release's records).
    #[serde(default = "records::previous_format")]
    pub format: u32,
    /// The key; `None` only transiently.
    pub key: Option<KeyState>,
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
    pub fn new(key: KeyState, log: HistoryLog) -> KeyEntry {
        KeyEntry {
            format: FORMAT,
            key: Some(key),
            log,
            ..KeyEntry::default()
        }
    }

    /// Whether the previous release wrote this record (then `migrate` converts it).
    pub fn is_previous_format(&self) -> bool {
        self.format == PREVIOUS_FORMAT
    }

    /// Appends events for `changes`, made by `actor` during `req_id`, keeping `limit` events.
    pub fn record(
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

    /// Appends one event, keeping `limit` events (older ones leave when the entry is saved).
    pub fn push(&mut self, event: HistoryEvent, limit: i64) {
        self.unsaved.push(event.bounded());
        self.history_limit = Some(limit);
    }

    /// Remembers a rotation id's result (stored with the entry).
    pub fn remember(&mut self, record: Idempotency) {
        self.unsaved_replays
            .retain(|r| r.rotation_id != record.rotation_id);
        self.unsaved_replays.push(record);
    }

    /// The remembered record for `rotation_id`.
    pub async fn recall(
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
        let name = &self.key.as_ref().expect("a live key").name;
        replays::recall(storage, name, &self.replays, rotation_id).await
    }
}

/// Whether a retired version's metadata may leave the key's record once newer retired versions
/// make it one of more than [`RETIRED_KEEP`]. The one place that decides what a record keeps.
pub fn trimmable(v: &Version) -> bool {
    matches!(v.state, VersionState::Revoked | VersionState::Failed)
        && !v
            .provider_revocation
            .as_ref()
            .is_some_and(|r| r.is_pending())
}

/// Drops the oldest trimmable retired versions beyond the newest [`RETIRED_KEEP`] retired ones.
/// Live versions always stay; `next_version` is untouched, so numbers never repeat.
pub fn trim_retired(versions: &mut KeyVersions) {
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

/// Storage key of a live key.
pub fn key_path(name: &str) -> String {
    format!("{KEYS_PREFIX}{name}")
}

/// Reads a key's record as stored (this or the previous format), without checking its versions.
/// For `history/` and reports, which act on nothing; `None` if there is no such key.
pub async fn read(storage: &dyn Storage, name: &str) -> Result<Option<KeyEntry>, Error> {
    Ok(read_shared(storage, name, true)
        .await?
        .map(|e| e.as_ref().clone()))
}

/// [`read`], shared with the storage's cache of decoded records (see
/// [`crate::framework::get_cached`]): a warm read costs no round trip to the host and no
/// decoding. `keep`: whether a record read from storage may be cached (scans over every key
/// pass false). The cache holds records as stored, never views: whatever depends on the time
/// (grace windows) is judged by the reader.
pub async fn read_shared(
    storage: &dyn Storage,
    name: &str,
    keep: bool,
) -> Result<Option<Arc<KeyEntry>>, Error> {
    let path = key_path(name);
    let entry = get_cached(storage, &path, keep, |raw| decode(name, &path, raw)).await?;
    Ok(entry.filter(|e| e.key.is_some()))
}

/// A stored record, decoded and its format checked.
fn decode(name: &str, path: &str, raw: &[u8]) -> Result<KeyEntry, Error> {
    let format = records::format_in(path, raw)?;
    if format > u64::from(FORMAT) {
        return Err(Error::Internal(format!(
            "key {name:?} is stored in format {format}, newer than this plugin understands \
             ({FORMAT}); its record was left untouched: run the plugin release that wrote it"
        )));
    }
    records::from_slice(path, raw)
}

/// Refuses a record that breaks the version invariants; it is left as stored for an operator.
pub fn check(name: &str, entry: &KeyEntry) -> Result<(), Error> {
    let Some(key) = &entry.key else {
        return Ok(());
    };
    key.versions.check_invariants().map_err(|e| {
        tracing::error!(key = %name, error = %e, "stored key record is inconsistent; refusing to use it");
        Error::Internal(format!(
            "key {name:?} has an inconsistent stored record ({}); it is refused and left \
             untouched for an operator to repair",
            match e {
                crate::rotation::RotationError::Inconsistent { detail } => detail,
                other => other.to_string(),
            }
        ))
    })
}

/// Loads a live key's record, checked (see [`check`]).
pub async fn load(storage: &dyn Storage, name: &str) -> Result<Option<KeyEntry>, Error> {
    Ok(load_shared(storage, name)
        .await?
        .map(|e| e.as_ref().clone()))
}

/// [`load`], shared with the cache (see [`read_shared`]): for reads that change nothing.
pub async fn load_shared(
    storage: &dyn Storage,
    name: &str,
) -> Result<Option<Arc<KeyEntry>>, Error> {
    load_with(storage, name, true).await
}

/// [`load`]; `keep` false leaves the record cache's hot entries in place (a scan).
pub(super) async fn load_with(
    storage: &dyn Storage,
    name: &str,
    keep: bool,
) -> Result<Option<Arc<KeyEntry>>, Error> {
    let entry = read_shared(storage, name, keep).await?;
    if let Some(e) = &entry {
        check(name, e)?;
    }
    Ok(entry)
}

/// Loads a live key (without its history), checked.
pub async fn load_key(storage: &dyn Storage, name: &str) -> Result<Option<KeyState>, Error> {
    Ok(load(storage, name).await?.and_then(|e| e.key))
}

/// Loads a live key's entry or fails with a 400 naming it.
pub async fn load_existing(storage: &dyn Storage, name: &str) -> Result<KeyEntry, Error> {
    load(storage, name)
        .await?
        .ok_or_else(|| Error::BadRequest(format!("key {name:?} does not exist")))
}

/// Writes a live key: its new history events and rotation ids first, then its record (trimmed
/// of old retired versions), then deletes what fell out of the history and the remembered ids.
/// Saving the same entry again writes the same data.
pub async fn save(storage: &dyn Storage, entry: &KeyEntry) -> Result<(), Error> {
    write(storage, entry).await.map(|_| ())
}

/// [`save`], returning the record as stored.
pub async fn write(storage: &dyn Storage, entry: &KeyEntry) -> Result<KeyEntry, Error> {
    let key = entry.key.as_ref().expect("saving a live key");
    let name = key.name.clone();
    let limit = entry.history_limit.unwrap_or(i64::MAX);
    let appended = history::append(storage, &name, entry.log, &entry.unsaved, limit).await?;
    let (ids, evicted) =
        replays::store(storage, &name, &entry.replays, &entry.unsaved_replays).await?;
    let mut stored = KeyEntry::new(key.clone(), appended.log);
    stored.replays = ids;
    if let Some(k) = stored.key.as_mut() {
        trim_retired(&mut k.versions);
    }
    put_json(storage, &key_path(&name), &stored).await?;
    history::delete_stale(storage, &name, &appended.stale).await;
    replays::forget(storage, &name, &evicted).await;
    Ok(stored)
}

/// Names of every live key.
pub async fn list_names(storage: &dyn Storage) -> Result<Vec<String>, Error> {
    let mut names: Vec<String> = storage
        .list(KEYS_PREFIX)
        .await?
        .into_iter()
        .filter(|k| !k.ends_with('/'))
        .collect();
    names.sort();
    Ok(names)
}
