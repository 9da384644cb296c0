//! The notification outbox: history events a person should hear about, each kept in an entry of
//! its own (`notify/outbox/<millis>_<id>`) until every webhook that wants it has it.
//!
//! Written with the history: [`stage`] runs after the history pages and before the record that
//! points at them (`store.rs`), so a crash never stores an event without its outbox entry. A
//! crash between the two leaves an entry whose event the record never got: the deliverer asks
//! [`committed`] before it sends one, under the key's lock, and drops such leftovers. The entry's
//! id is derived from the key, its incarnation and the event's number, so writing the same event
//! again writes the same entry; a delivery repeated after a crash carries the same id (at least
//! once, de-duplicated by the receiver).
//!
//! What the entry means for whom, and the delivery state, belong to `notify/`; this file only
//! knows which history events are notified and how entries are stored.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::format::FORMAT;
use super::history::{self, Events, HistoryEvent};
use crate::framework::{put_json, Error, Storage};

/// Prefix of outbox entries.
pub(crate) const OUTBOX_PREFIX: &str = "notify/outbox/";
/// Prefix of the webhook configurations (`notify/`'s): no entry is written while there is none.
pub(crate) const NOTIFY_CONFIG_PREFIX: &str = "notify/config/";

/// Prefix of what the tick's notices remember per key (`notify/`'s notices, `<prefix><key>`):
/// removed with the key (`forget_notices`), and trusted only for the incarnation it names.
pub(crate) const NOTICES_PREFIX: &str = "notify/notices/";

/// Removes what the notices remember of key `name` (its delete; best effort, logged: a marker
/// left behind names the deleted incarnation, so a key created again under the name ignores
/// it).
pub(crate) async fn forget_notices(storage: &dyn Storage, name: &str) {
    if let Err(e) = storage.delete(&format!("{NOTICES_PREFIX}{name}")).await {
        tracing::warn!(key = %name, error = %e, "could not remove the key's notice marker; a key created again under the name ignores it");
    }
}

/// Counts the outbox writes of this process, so a deliverer that found the outbox empty lists
/// it again only once something was written since (or after a while: another node may have).
static WRITES: AtomicU64 = AtomicU64::new(0);

/// The number of outbox writes of this process so far.
pub(crate) fn writes() -> u64 {
    WRITES.load(Ordering::SeqCst)
}

/// History events that are notified (with [`notifies`]'s outcome rule for `usage_checked`).
pub(crate) const NOTIFIED_EVENTS: &[&str] = &[
    "staged",
    "tested",
    "promoted",
    "failed",
    "provider_revoked",
    "provider_revocation_manual",
    "current_key_rejected",
    "exposed",
    "grace_extended",
    "usage_checked",
];

/// Outcome of a `failed` event when nothing was staged: the new value could not be had (the
/// provider's create failed, or staging it was refused). Its version is the number the new
/// version was to get.
pub(crate) const OUTCOME_NOT_STAGED: &str = "not_staged";
/// Outcome of a `failed` event when the provider's key-expiry policy refused the create
/// (nothing staged, nothing created; notified as `key.provider_policy_refused`).
pub(crate) const OUTCOME_POLICY_REFUSED: &str = "provider_policy_refused";

/// What the version of a `failed` event is: `staged` (that version was staged, with a value,
/// and failed), `planned` (nothing was staged: the number the new version was to get); `None`
/// for other events, and for a `failed` event without a version (recorded by an earlier
/// release).
pub(crate) fn attempted(event: &HistoryEvent) -> Option<&'static str> {
    if event.event != "failed" || event.version.is_none() {
        return None;
    }
    Some(match event.outcome.as_deref() {
        Some(OUTCOME_NOT_STAGED | OUTCOME_POLICY_REFUSED) => "planned",
        _ => "staged",
    })
}

/// Whether a history event is notified: one of [`NOTIFIED_EVENTS`]; of the usage checks only
/// the one that found `max_grace` reached.
pub(crate) fn notifies(event: &HistoryEvent) -> bool {
    NOTIFIED_EVENTS.contains(&event.event.as_str())
        && (event.event != "usage_checked" || event.outcome.as_deref() == Some("max_grace"))
}

/// One webhook's delivery state for an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Target {
    /// The `notifications/` configuration.
    pub name: String,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not before this time (after a failure).
    pub next_attempt: Option<DateTime<Utc>>,
}

/// One outbox entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OutboxEntry {
    /// Storage format.
    pub format: u32,
    /// The stable event id (`webhook-id`, CloudEvents `id`).
    pub id: String,
    /// The key's name.
    pub key: String,
    /// Its incarnation.
    pub incarnation: u32,
    /// The history event's number; `None` for a notice the tick wrote (no history event).
    pub seq: Option<u64>,
    /// The event.
    pub event: HistoryEvent,
    /// Webhooks still to deliver to; `None` until the deliverer first saw the entry.
    pub targets: Option<Vec<Target>>,
}

impl OutboxEntry {
    /// An entry for `event` of `key`; `discriminator` makes the id (the history number, or what
    /// a notice is about).
    pub(crate) fn new(
        key: &str,
        incarnation: u32,
        seq: Option<u64>,
        discriminator: &str,
        event: HistoryEvent,
    ) -> OutboxEntry {
        OutboxEntry {
            format: FORMAT,
            id: event_id(key, incarnation, discriminator),
            key: key.to_string(),
            incarnation,
            seq,
            event,
            targets: None,
        }
    }

    /// Where it is stored: ordered by the event's time then number, so a listing is oldest
    /// first and one operation's events keep their order.
    pub(crate) fn path(&self) -> String {
        let millis = self.event.time.timestamp_millis().max(0);
        let seq = self.seq.unwrap_or(0);
        format!("{OUTBOX_PREFIX}{millis:013}_{seq:012}_{}", self.id)
    }
}

/// A stable id from the key, its incarnation and what the event is (its history number):
/// `evt_` and 32 hex digits (safe in a header whatever the key's name).
pub(crate) fn event_id(key: &str, incarnation: u32, discriminator: &str) -> String {
    let mut h = Sha256::new();
    h.update(key.as_bytes());
    h.update([0]);
    h.update(incarnation.to_string().as_bytes());
    h.update([0]);
    h.update(discriminator.as_bytes());
    format!("evt_{}", &hex::encode(h.finalize())[..32])
}

/// The time an outbox entry's name says it was recorded.
pub(crate) fn recorded_at(path_name: &str) -> Option<DateTime<Utc>> {
    let millis: i64 = path_name.split('_').next()?.parse().ok()?;
    DateTime::from_timestamp_millis(millis)
}

/// Writes an outbox entry for each notified event of `events`, numbered from `first_seq`, of
/// `key` incarnation `incarnation` (call after the history pages, before the record). Nothing
/// is written while no webhook is configured (one listing, only for a write that has a
/// notified event).
pub(crate) async fn stage(
    storage: &dyn Storage,
    key: &str,
    incarnation: u32,
    first_seq: u64,
    events: &[HistoryEvent],
) -> Result<(), Error> {
    if !events.iter().any(notifies) || storage.list(NOTIFY_CONFIG_PREFIX).await?.is_empty() {
        return Ok(());
    }
    for (i, event) in events.iter().enumerate() {
        if !notifies(event) {
            continue;
        }
        let seq = first_seq + i as u64;
        let entry = OutboxEntry::new(key, incarnation, Some(seq), &seq.to_string(), event.clone());
        put(storage, &entry).await?;
    }
    Ok(())
}

/// Writes a notice (an event no history page holds: `seq` none, always committed) about `key`
/// incarnation `incarnation`, its id made from `discriminator`, unless no webhook is
/// configured. Whether it was written.
pub(crate) async fn stage_notice(
    storage: &dyn Storage,
    key: &str,
    incarnation: u32,
    discriminator: &str,
    event: HistoryEvent,
) -> Result<bool, Error> {
    if storage.list(NOTIFY_CONFIG_PREFIX).await?.is_empty() {
        return Ok(false);
    }
    let entry = OutboxEntry::new(key, incarnation, None, discriminator, event);
    put(storage, &entry).await?;
    Ok(true)
}

/// Stores an entry (new, or its delivery state changed).
pub(crate) async fn put(storage: &dyn Storage, entry: &OutboxEntry) -> Result<(), Error> {
    WRITES.fetch_add(1, Ordering::SeqCst);
    Ok(put_json(storage, &entry.path(), entry).await?)
}

/// Whether the event of an entry is in the key's stored history (the record that points at it
/// was written), judged as stored: call under the key's lock, with `live` the live key's
/// history if it exists (`store::outbox_committed` reads it). Notices (no number) always are.
/// An event already trimmed from the history (older than what it keeps) counts as stored.
pub(crate) async fn committed(
    storage: &dyn Storage,
    entry: &OutboxEntry,
    live: Option<Events>,
) -> Result<bool, Error> {
    let Some(seq) = entry.seq else {
        return Ok(true);
    };
    let found = history::find(storage, &entry.key, live, Some(entry.incarnation)).await?;
    let Some(found) = found else {
        return Ok(false);
    };
    let log = match found.events {
        Events::Pages(log) => log,
        // The previous release's list: never written with an outbox entry.
        Events::List(_) => return Ok(false),
    };
    if seq >= log.next {
        return Ok(false);
    }
    if seq < log.first {
        return Ok(true);
    }
    let (events, _) = history::page(storage, &entry.key, log, Some(seq + 1), 1).await?;
    Ok(events.first() == Some(&entry.event))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::record::Actor;

    fn event(kind: &str, outcome: Option<&str>) -> HistoryEvent {
        HistoryEvent {
            time: Utc::now(),
            event: kind.into(),
            version: Some(1),
            actor: Actor::Scheduler,
            request_id: None,
            outcome: outcome.map(str::to_string),
            detail: String::new(),
        }
    }

    #[test]
    fn only_events_for_people_are_notified() {
        assert!(notifies(&event("promoted", None)));
        assert!(notifies(&event("exposed", None)));
        assert!(notifies(&event("usage_checked", Some("max_grace"))));
        assert!(!notifies(&event("usage_checked", Some("unused"))));
        assert!(!notifies(&event("created", None)));
        assert!(!notifies(&event("updated", None)));
    }

    #[test]
    fn ids_are_stable_and_differ_by_key_incarnation_and_number() {
        let a = event_id("k", 1, "5");
        assert_eq!(a, event_id("k", 1, "5"));
        assert!(a.starts_with("evt_") && a.len() == 36);
        assert_ne!(a, event_id("k", 2, "5"));
        assert_ne!(a, event_id("k", 1, "6"));
        assert_ne!(a, event_id("k1", 1, "5"));
    }

    #[test]
    fn paths_sort_by_time_and_name_it() {
        let mut e = OutboxEntry::new("k", 1, Some(0), "0", event("promoted", None));
        e.event.time = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        let path = e.path();
        let name = path.strip_prefix(OUTBOX_PREFIX).unwrap();
        assert!(name.starts_with("1700000000123_000000000000_evt_"));
        assert_eq!(recorded_at(name), Some(e.event.time));
    }
}
