//! How a key lives in storage: one entry per key (`keys/<name>`) holding its settings, versions,
//! rotation state and history, so every state change is one atomic write. A deleted key's
//! history moves to `history/<name>` and comes back if the name is created again.
//!
//! Writers of one key are serialized by a per-key lock held in the plugin; different keys never
//! wait for each other.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::framework::{get_json, put_json, Error, Request, Storage};
use crate::rotation::{Change, KeyVersions};

/// Prefix of live key entries.
pub const KEYS_PREFIX: &str = "keys/";
/// Prefix of archived histories of deleted keys.
pub const ARCHIVE_PREFIX: &str = "history/";
/// How many idempotency records a key keeps.
const IDEMPOTENCY_KEEP: usize = 32;

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

/// One history event (api.md `history/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// When.
    pub time: DateTime<Utc>,
    /// `created`, `staged`, `tested`, `promoted`, `rolled_back`, `revoked`, `expired`, `failed`,
    /// `deleted` (plus `updated` for settings changes).
    pub event: String,
    /// The version concerned, if any.
    pub version: Option<u32>,
    /// Who.
    pub actor: Actor,
    /// The Vault request id, when a request caused it.
    pub request_id: Option<String>,
    /// Test outcome or result, when there is one.
    pub outcome: Option<String>,
    /// A short note; never key material.
    pub detail: String,
}

/// A remembered `rotation_id`: the same id with the same input returns the same result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Idempotency {
    /// The client's rotation id.
    pub rotation_id: String,
    /// `stage` or `rotate`.
    pub operation: String,
    /// SHA-256 of the operation's input.
    pub input_digest: String,
    /// The response data returned the first time.
    pub response: serde_json::Value,
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
}

/// Counters for `metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    /// Promotions (rotations completed).
    pub rotations: u64,
    /// Test outcomes by name.
    pub test_outcomes: BTreeMap<String, u64>,
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
    /// Remembered rotation ids, newest last.
    #[serde(default)]
    pub idempotency: Vec<Idempotency>,
    /// Automatic rotation state.
    #[serde(default)]
    pub auto: AutoState,
    /// Counters.
    #[serde(default)]
    pub stats: Stats,
}

impl KeyState {
    /// Remembers a rotation id's result, keeping the newest few.
    pub fn remember(&mut self, record: Idempotency) {
        self.idempotency
            .retain(|r| r.rotation_id != record.rotation_id);
        self.idempotency.push(record);
        let excess = self.idempotency.len().saturating_sub(IDEMPOTENCY_KEEP);
        self.idempotency.drain(..excess);
    }

    /// The remembered record for `rotation_id`.
    pub fn recall(&self, rotation_id: &str) -> Option<&Idempotency> {
        self.idempotency
            .iter()
            .find(|r| r.rotation_id == rotation_id)
    }
}

/// What `keys/<name>` holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyEntry {
    /// The key; `None` only transiently.
    pub key: Option<KeyState>,
    /// History, oldest first.
    #[serde(default)]
    pub history: Vec<HistoryEvent>,
}

impl KeyEntry {
    /// Appends events for `changes`, made by `actor` during `req_id`, then trims to `limit`.
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

    /// Appends one event and trims to `limit`.
    pub fn push(&mut self, event: HistoryEvent, limit: i64) {
        self.history.push(event);
        let limit = usize::try_from(limit.max(1)).unwrap_or(usize::MAX);
        let excess = self.history.len().saturating_sub(limit);
        self.history.drain(..excess);
    }
}

/// Storage key of a live key.
pub fn key_path(name: &str) -> String {
    format!("{KEYS_PREFIX}{name}")
}

/// Loads a live key's entry.
pub async fn load(storage: &dyn Storage, name: &str) -> Result<Option<KeyEntry>, Error> {
    Ok(get_json::<KeyEntry>(storage, &key_path(name))
        .await?
        .filter(|e| e.key.is_some()))
}

/// Loads a live key (without its history).
pub async fn load_key(storage: &dyn Storage, name: &str) -> Result<Option<KeyState>, Error> {
    Ok(load(storage, name).await?.and_then(|e| e.key))
}

/// Every live key (without histories), in name order.
pub async fn all_keys(storage: &dyn Storage) -> Result<Vec<KeyState>, Error> {
    let mut keys = Vec::new();
    for name in list_names(storage).await? {
        // A key deleted between the list and the read is simply not there.
        keys.extend(load_key(storage, &name).await?);
    }
    Ok(keys)
}

/// Loads a live key's entry or fails with a 400 naming it.
pub async fn load_existing(storage: &dyn Storage, name: &str) -> Result<KeyEntry, Error> {
    load(storage, name)
        .await?
        .ok_or_else(|| Error::BadRequest(format!("key {name:?} does not exist")))
}

/// Writes a live key's entry (one atomic write).
pub async fn save(storage: &dyn Storage, entry: &KeyEntry) -> Result<(), Error> {
    let name = &entry.key.as_ref().expect("saving a live key").name;
    Ok(put_json(storage, &key_path(name), entry).await?)
}

/// The archived history of a deleted key.
pub async fn load_archive(storage: &dyn Storage, name: &str) -> Result<Vec<HistoryEvent>, Error> {
    Ok(get_json(storage, &format!("{ARCHIVE_PREFIX}{name}"))
        .await?
        .unwrap_or_default())
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

/// Per-key write locks.
#[derive(Debug, Default)]
pub struct KeyLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl KeyLocks {
    /// Waits for exclusive write access to key `name`.
    pub async fn lock(&self, name: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self
            .locks
            .lock()
            .expect("key locks")
            .entry(name.to_string())
            .or_default()
            .clone();
        lock.lock_owned().await
    }

    /// Exclusive write access to key `name` if nobody holds it now.
    pub fn try_lock(&self, name: &str) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        let lock = self
            .locks
            .lock()
            .expect("key locks")
            .entry(name.to_string())
            .or_default()
            .clone();
        lock.try_lock_owned().ok()
    }
}
