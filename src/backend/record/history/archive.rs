//! The deleted incarnations of a name (`history/<name>`): the index a delete writes, the
//! fresh log a create starts from, and which incarnation `history/` reads. The pages the
//! events live in are the parent's (see `history.rs` for how incarnations share them).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::super::actor::Actor;
use super::super::format::{self, FORMAT};
use super::*;
use crate::framework::{Error, Storage};

/// A deleted incarnation of a name: its log, and when and by whom it was deleted (unknown for
/// a key the previous formats archived until a create reads its `deleted` event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Incarnation {
    /// Its events.
    #[serde(flatten)]
    pub log: HistoryLog,
    /// When it was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_time: Option<DateTime<Utc>>,
    /// Who deleted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<Actor>,
}

impl Incarnation {
    /// An incarnation whose deletion is told by `last`, its newest event, if that is the
    /// `deleted` event.
    fn ended_by(log: HistoryLog, last: Option<&HistoryEvent>) -> Incarnation {
        let deleted = last.filter(|e| e.event == "deleted");
        Incarnation {
            log,
            deleted_time: deleted.map(|e| e.time),
            deleted_by: deleted.map(|e| e.actor.clone()),
        }
    }
}

/// What `history/<name>` holds once a key of that name was deleted: the deleted incarnations,
/// the newest one's fields at the top (where the format before incarnations kept its one log,
/// so a release that knows only that format still reads the newest).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Archive {
    format: u32,
    #[serde(flatten)]
    newest: Incarnation,
    /// Older deleted incarnations, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    earlier: Vec<Incarnation>,
}

/// An archive as stored: this release's index, or the previous release's full list.
pub(crate) enum StoredArchive {
    /// This release: the deleted incarnations, newest first (never empty); pages hold events.
    Incarnations(Vec<Incarnation>),
    /// The previous release: every event of one deleted key (incarnation 1), oldest first.
    Legacy(Vec<HistoryEvent>),
}

fn archive_path(name: &str) -> String {
    format!("{PREFIX}{name}")
}

/// A deleted key's archived history, if any.
pub(crate) async fn load_archive(
    storage: &dyn Storage,
    name: &str,
) -> Result<Option<StoredArchive>, Error> {
    let path = archive_path(name);
    let Some(raw) = storage.get(&path).await? else {
        return Ok(None);
    };
    let value: serde_json::Value = format::decode(&path, &raw)?;
    if value.is_array() {
        return Ok(Some(StoredArchive::Legacy(format::from_value(
            &path, value,
        )?)));
    }
    format::check_format(&path, &value)?;
    let archive: Archive = format::from_value(&path, value)?;
    let mut all = vec![archive.newest];
    all.extend(archive.earlier);
    Ok(Some(StoredArchive::Incarnations(all)))
}

/// Stores the deleted incarnations of `name` (newest first, not empty).
async fn save_index(storage: &dyn Storage, name: &str, all: &[Incarnation]) -> Result<(), Error> {
    let Some((newest, earlier)) = all.split_first() else {
        return Ok(());
    };
    let archive = Archive {
        format: FORMAT,
        newest: newest.clone(),
        earlier: earlier.to_vec(),
    };
    Ok(crate::framework::put_json(storage, &archive_path(name), &archive).await?)
}

/// Archives the history of a key being deleted (its log as stored, `by` deleting it at `time`)
/// in the index of `name`'s deleted incarnations, keeping the newest [`KEPT_INCARNATIONS`] and
/// deleting the pages of one that leaves. Entries of the same or a later incarnation are
/// leftovers of this key (an interrupted delete of it, or the previous release's archive it
/// continued) and are replaced. Writing it again writes the same index.
pub(crate) async fn archive(
    storage: &dyn Storage,
    name: &str,
    log: HistoryLog,
    by: &Actor,
    time: DateTime<Utc>,
) -> Result<(), Error> {
    let earlier = match load_archive(storage, name).await? {
        Some(StoredArchive::Incarnations(all)) => all,
        // Only ever a leftover: a key created after it started a fresh history and converted it.
        Some(StoredArchive::Legacy(_)) | None => Vec::new(),
    };
    let mut all = vec![Incarnation {
        log,
        deleted_time: Some(time),
        deleted_by: Some(by.clone()),
    }];
    all.extend(
        earlier
            .into_iter()
            .filter(|i| i.log.incarnation < log.incarnation),
    );
    let gone = all.split_off(all.len().min(KEPT_INCARNATIONS));
    save_index(storage, name, &all).await?;
    for old in gone {
        let pages: Vec<String> = (old.log.first / PAGE_EVENTS..old.log.next.div_ceil(PAGE_EVENTS))
            .map(|p| page_path(name, p))
            .collect();
        delete_stale(storage, name, &pages).await;
    }
    Ok(())
}

/// The log of a new key named `name`: empty, of the incarnation after every deleted one, its
/// first event on the first page after theirs. A previous-release list is first stored as pages
/// and every archive converted to an index naming who deleted it (from its `deleted` event).
/// Idempotent: a create interrupted before its record was stored gets the same log again.
pub(crate) async fn fresh_log(storage: &dyn Storage, name: &str) -> Result<HistoryLog, Error> {
    let (mut deleted, mut converted) = match load_archive(storage, name).await? {
        None => (Vec::new(), false),
        Some(StoredArchive::Incarnations(all)) => (all, false),
        Some(StoredArchive::Legacy(events)) => {
            let log = import(storage, name, &events).await?;
            (vec![Incarnation::ended_by(log, events.last())], true)
        }
    };
    for old in deleted.iter_mut().filter(|i| i.deleted_time.is_none()) {
        let (last, _) = page(storage, name, old.log, None, 1).await?;
        *old = Incarnation::ended_by(old.log, last.first());
        converted = true;
    }
    if converted {
        save_index(storage, name, &deleted).await?;
    }
    let incarnation = deleted
        .iter()
        .map(|i| i.log.incarnation)
        .max()
        .map_or(1, |n| n.saturating_add(1));
    let after = deleted.iter().map(|i| i.log.next).max().unwrap_or(0);
    let start = after.div_ceil(PAGE_EVENTS).saturating_mul(PAGE_EVENTS);
    Ok(HistoryLog {
        first: start,
        next: start,
        incarnation,
    })
}

/// Where one incarnation's events are.
pub(crate) enum Events {
    /// In pages, numbered `log.first..log.next`.
    Pages(HistoryLog),
    /// In a previous-release list, oldest first (always the first incarnation).
    List(Vec<HistoryEvent>),
}

impl Events {
    /// The incarnation these events belong to.
    fn incarnation(&self) -> u32 {
        match self {
            Events::Pages(log) => log.incarnation,
            Events::List(_) => first_incarnation(),
        }
    }
}

/// The incarnation of a name that `history/` reads.
pub(crate) struct Found {
    /// Its number.
    pub incarnation: u32,
    /// Its events.
    pub events: Events,
    /// The deleted incarnation before it, if one is kept.
    pub previous: Option<Incarnation>,
}

/// Finds incarnation `wanted` of `name` (default: the live key's, else the newest deleted one);
/// `live` is the live key's history if it exists ([`super::KeyEntry::events`]). `None` if the
/// name has no such incarnation kept. Archived entries of the live incarnation or later are
/// leftovers and not shown.
pub(crate) async fn find(
    storage: &dyn Storage,
    name: &str,
    live: Option<Events>,
    wanted: Option<u32>,
) -> Result<Option<Found>, Error> {
    let live_incarnation = live.as_ref().map(Events::incarnation);
    let deleted: Vec<(Incarnation, Events)> = match load_archive(storage, name).await? {
        None => Vec::new(),
        Some(StoredArchive::Incarnations(all)) => all
            .into_iter()
            .map(|i| {
                let events = Events::Pages(i.log);
                (i, events)
            })
            .collect(),
        Some(StoredArchive::Legacy(events)) => {
            let log = HistoryLog {
                first: 0,
                next: events.len() as u64,
                incarnation: first_incarnation(),
            };
            vec![(
                Incarnation::ended_by(log, events.last()),
                Events::List(events),
            )]
        }
    };
    let mut deleted: Vec<(Incarnation, Events)> = deleted
        .into_iter()
        .filter(|(i, _)| live_incarnation.is_none_or(|n| i.log.incarnation < n))
        .collect();
    deleted.sort_by_key(|(i, _)| std::cmp::Reverse(i.log.incarnation));
    if let Some(events) = live {
        let incarnation = events.incarnation();
        if wanted.is_none_or(|n| n == incarnation) {
            return Ok(Some(Found {
                incarnation,
                events,
                previous: deleted.into_iter().next().map(|(i, _)| i),
            }));
        }
    }
    let at = match wanted {
        None => 0,
        Some(n) => match deleted.iter().position(|(i, _)| i.log.incarnation == n) {
            Some(at) => at,
            None => return Ok(None),
        },
    };
    let mut rest = deleted.into_iter().skip(at);
    let Some((this, events)) = rest.next() else {
        return Ok(None);
    };
    Ok(Some(Found {
        incarnation: this.log.incarnation,
        events,
        previous: rest.next().map(|(i, _)| i),
    }))
}

/// Converts a previous-release archive (`history/<name>` holding the whole list) to pages and an
/// index; returns whether it did. The caller leaves alone the archive of a name that has a live
/// key (the live record's history is the complete one; the next delete replaces the archive).
pub(crate) async fn migrate_archive(storage: &dyn Storage, name: &str) -> Result<bool, Error> {
    let Some(StoredArchive::Legacy(events)) = load_archive(storage, name).await? else {
        return Ok(false);
    };
    let log = import(storage, name, &events).await?;
    save_index(
        storage,
        name,
        &[Incarnation {
            log,
            deleted_time: None,
            deleted_by: None,
        }],
    )
    .await?;
    Ok(true)
}

/// Appends `events` to the kept history of deleted incarnation `incarnation` of `name` (what
/// happens to a deleted key after its record is gone: a revocation its delete left pending and
/// recovery confirmed later, a manual revocation acknowledged). Call under the name's lock.
/// Whether they were written: not when the incarnation is no longer kept, or when they would
/// reach a page a later incarnation of the name starts on (incarnations share one page
/// numbering: a deleted one may grow only inside its last page once a later one exists).
/// The pages are written before the index that counts them, as for a live key. `live` is the
/// incarnation of the name's live key, if one exists.
pub(crate) async fn append_to_deleted(
    storage: &dyn Storage,
    name: &str,
    incarnation: u32,
    live: Option<u32>,
    events: &[HistoryEvent],
) -> Result<bool, Error> {
    // An archived entry of the live incarnation (or a later one) is a leftover of an
    // interrupted delete: the live key's log owns those pages.
    if events.is_empty() || live.is_some_and(|n| n <= incarnation) {
        return Ok(events.is_empty());
    }
    let Some(StoredArchive::Incarnations(mut all)) = load_archive(storage, name).await? else {
        return Ok(false);
    };
    let Some(at) = all.iter().position(|i| i.log.incarnation == incarnation) else {
        return Ok(false);
    };
    let log = all[at].log;
    let later = live.is_some_and(|n| n > incarnation)
        || all.iter().any(|i| i.log.incarnation > incarnation);
    let count = events.len() as u64;
    let last_seq = log.next.saturating_add(count).saturating_sub(1);
    if later && last_seq / PAGE_EVENTS != log.next.saturating_sub(1) / PAGE_EVENTS {
        tracing::warn!(key = %name, incarnation, "a deleted key's history page is full and a later key of the name follows it; events not kept");
        return Ok(false);
    }
    let appended = append(storage, name, log, events, i64::MAX).await?;
    super::super::outbox::stage(storage, name, incarnation, log.next, events).await?;
    all[at].log = appended.log;
    save_index(storage, name, &all).await?;
    Ok(true)
}
