//! A key's history, outside its record: events numbered from 0 in the order they happened and
//! stored in fixed-size pages (`history/<name>/<page>`, [`PAGE_EVENTS`] events each), so
//! recording an event or reading a page of `history/` costs the same whatever the key's age, and
//! no storage entry grows with it.
//!
//! Which events exist is said by a [`HistoryLog`] (`first..next`): inside the key's record while
//! the key lives, in `history/<name>` once it is deleted. Pages are written before the record
//! that points at them, so a crash in between leaves only events past `next`, which readers
//! ignore and the next write overwrites.
//!
//! A key deleted and created again is a new key with a fresh history: each life of a name is an
//! *incarnation* (numbered from 1), and `history/<name>` keeps the newest [`KEPT_INCARNATIONS`]
//! deleted ones ([`Incarnation`]: its log, when and by whom it was deleted). Incarnations share
//! one numbering of events and one page namespace: a new incarnation's first event takes the
//! first page after every page of the ones before ([`fresh_log`]), so its writes and its trimming
//! never touch their pages. Delete writes the index before it removes the record, and create
//! writes the record last, so a crash between any two writes leaves either the key live with its
//! history (an index entry of its own incarnation is ignored and replaced by the next delete) or
//! the key deleted with its history archived (a create's pages past every log are ignored and
//! overwritten by the next create).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::actor::Actor;
use super::format::{self, FORMAT};
use crate::framework::{Error, Storage};

/// Prefix of history pages and of archived (deleted keys') history logs.
pub(super) const PREFIX: &str = "history/";
/// Deleted incarnations of a name kept in its index (the oldest leave, with their pages).
pub(crate) const KEPT_INCARNATIONS: usize = 10;
/// Events per page.
pub(super) const PAGE_EVENTS: u64 = 50;
/// Longest `detail` kept in an event (bytes), so a page stays far below Raft's entry limit.
pub(super) const MAX_DETAIL: usize = 1024;

/// One history event (api.md `history/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HistoryEvent {
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

impl HistoryEvent {
    /// Cuts `detail` to [`MAX_DETAIL`] bytes (on a character boundary).
    pub(crate) fn bounded(mut self) -> HistoryEvent {
        if self.detail.len() > MAX_DETAIL {
            let mut end = MAX_DETAIL;
            while !self.detail.is_char_boundary(end) {
                end -= 1;
            }
            self.detail.truncate(end);
            self.detail.push('…');
        }
        self
    }
}

/// Which events of a key's history exist: numbers `first..next`, of which incarnation of its
/// name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HistoryLog {
    /// The oldest event kept.
    pub first: u64,
    /// The number the next event gets.
    pub next: u64,
    /// Which life of the name these events belong to (1 when absent: every log the previous
    /// formats wrote, including one that continued a deleted key's history, is the first).
    #[serde(
        default = "first_incarnation",
        skip_serializing_if = "is_first_incarnation"
    )]
    pub incarnation: u32,
}

impl Default for HistoryLog {
    fn default() -> HistoryLog {
        HistoryLog {
            first: 0,
            next: 0,
            incarnation: first_incarnation(),
        }
    }
}

fn first_incarnation() -> u32 {
    1
}

fn is_first_incarnation(n: &u32) -> bool {
    *n == 1
}

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

/// An event with its number, as a page stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Numbered {
    seq: u64,
    #[serde(flatten)]
    event: HistoryEvent,
}

/// What `history/<name>/<page>` holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Page {
    #[serde(default = "format::previous_format")]
    format: u32,
    events: Vec<Numbered>,
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

fn page_path(name: &str, page: u64) -> String {
    format!("{PREFIX}{name}/{page}")
}

fn archive_path(name: &str) -> String {
    format!("{PREFIX}{name}")
}

async fn read_page(storage: &dyn Storage, name: &str, page: u64) -> Result<Vec<Numbered>, Error> {
    let path = page_path(name, page);
    Ok(format::get::<Page>(storage, &path)
        .await?
        .map(|p| p.events)
        .unwrap_or_default())
}

/// What [`append`] did: the log to store and the pages that fell out of it (to delete once the
/// log is stored).
pub(super) struct Appended {
    /// The log including the new events, trimmed to the limit.
    pub log: HistoryLog,
    /// Pages wholly before `log.first`.
    pub stale: Vec<String>,
}

/// Writes `events` after `log` (numbers `log.next..`) and trims the log to `limit` events.
/// Writing the same events after the same log again writes the same pages.
pub(super) async fn append(
    storage: &dyn Storage,
    name: &str,
    log: HistoryLog,
    events: &[HistoryEvent],
    limit: i64,
) -> Result<Appended, Error> {
    if events.is_empty() {
        return Ok(Appended {
            log,
            stale: Vec::new(),
        });
    }
    let mut seq = log.next;
    let mut page_no = seq / PAGE_EVENTS;
    // Events of this page already on record (an interrupted write may have left later ones).
    let mut page: Vec<Numbered> = read_page(storage, name, page_no)
        .await?
        .into_iter()
        .filter(|e| e.seq < log.next)
        .collect();
    for event in events {
        if seq / PAGE_EVENTS != page_no {
            write_page(storage, name, page_no, std::mem::take(&mut page)).await?;
            page_no = seq / PAGE_EVENTS;
        }
        page.push(Numbered {
            seq,
            event: event.clone(),
        });
        seq += 1;
    }
    write_page(storage, name, page_no, page).await?;
    let limit = u64::try_from(limit.max(1)).unwrap_or(u64::MAX);
    let first = log.first.max(seq.saturating_sub(limit));
    let stale = (log.first / PAGE_EVENTS..first / PAGE_EVENTS)
        .map(|p| page_path(name, p))
        .collect();
    Ok(Appended {
        log: HistoryLog {
            first,
            next: seq,
            ..log
        },
        stale,
    })
}

async fn write_page(
    storage: &dyn Storage,
    name: &str,
    page: u64,
    events: Vec<Numbered>,
) -> Result<(), Error> {
    let stored = Page {
        format: FORMAT,
        events,
    };
    Ok(crate::framework::put_json(storage, &page_path(name, page), &stored).await?)
}

/// The `next_after` cursor of `history/` for events before number `seq` (opaque to clients).
pub(crate) fn cursor(seq: u64) -> String {
    format!("e{seq}")
}

/// The event number a cursor stands for.
pub(crate) fn parse_cursor(cursor: &str) -> Option<u64> {
    cursor.strip_prefix('e')?.parse().ok()
}

/// Deletes pages that fell out of a stored log (best effort: a page left over is never read).
pub(super) async fn delete_stale(storage: &dyn Storage, name: &str, stale: &[String]) {
    for path in stale {
        if let Err(e) = storage.delete(path).await {
            tracing::warn!(key = %name, error = %e, "could not delete an old history page");
        }
    }
}

/// One page of `history/`: up to `limit` events before the cursor `before` (newest first),
/// and the cursor of the next page if older events remain.
pub(crate) async fn page(
    storage: &dyn Storage,
    name: &str,
    log: HistoryLog,
    before: Option<u64>,
    limit: u64,
) -> Result<(Vec<HistoryEvent>, Option<u64>), Error> {
    let start = before.unwrap_or(log.next).min(log.next);
    let end = start.saturating_sub(limit).max(log.first);
    if start <= end {
        return Ok((Vec::new(), None));
    }
    let mut events = Vec::new();
    for page_no in (end / PAGE_EVENTS..=(start - 1) / PAGE_EVENTS).rev() {
        let mut found: Vec<Numbered> = read_page(storage, name, page_no)
            .await?
            .into_iter()
            .filter(|e| (end..start).contains(&e.seq))
            .collect();
        found.sort_by_key(|e| std::cmp::Reverse(e.seq));
        events.extend(found.into_iter().map(|e| e.event));
    }
    Ok((events, (end > log.first).then_some(end)))
}

/// The previous release's whole-history list, paged the same way (events numbered from 0).
pub(crate) fn legacy_page(
    events: &[HistoryEvent],
    before: Option<u64>,
    limit: u64,
) -> (Vec<HistoryEvent>, Option<u64>) {
    let next = events.len() as u64;
    let start = before.unwrap_or(next).min(next);
    let end = start.saturating_sub(limit);
    let page = events[end as usize..start as usize]
        .iter()
        .rev()
        .cloned()
        .collect();
    (page, (end > 0).then_some(end))
}

/// Stores a previous-release history list as pages (numbers from 0); the log pointing at them.
/// Idempotent: the same list always gives the same pages.
pub(super) async fn import(
    storage: &dyn Storage,
    name: &str,
    events: &[HistoryEvent],
) -> Result<HistoryLog, Error> {
    let appended = append(storage, name, HistoryLog::default(), events, i64::MAX).await?;
    Ok(appended.log)
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
pub(super) async fn migrate_archive(storage: &dyn Storage, name: &str) -> Result<bool, Error> {
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

#[cfg(test)]
mod tests;
