//! A key's history, outside its record: events numbered from 0 in the order they happened and
//! stored in fixed-size pages (`history/<name>/<page>`, [`PAGE_EVENTS`] events each), so
//! recording an event or reading a page of `history/` costs the same whatever the key's age, and
//! no storage entry grows with it.
//!
//! Which events exist is said by a [`HistoryLog`] (`first..next`): inside the key's record while
//! the key lives, in `history/<name>` once it is deleted (a key created again continues it).
//! Pages are written before the record that points at them, so a crash in between leaves only
//! events past `next`, which readers ignore and the next write overwrites.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::actor::Actor;
use super::format::{self, FORMAT};
use crate::framework::{Error, Storage};

/// Prefix of history pages and of archived (deleted keys') history logs.
pub(super) const PREFIX: &str = "history/";
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

/// Which events of a key's history exist: numbers `first..next`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HistoryLog {
    /// The oldest event kept.
    pub first: u64,
    /// The number the next event gets.
    pub next: u64,
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

/// What `history/<name>` holds once the key is deleted.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Archive {
    format: u32,
    #[serde(flatten)]
    log: HistoryLog,
}

/// An archive as stored: this release's index, or the previous release's full list.
pub(crate) enum StoredArchive {
    /// This release: the pages hold the events.
    Log(HistoryLog),
    /// The previous release: every event, oldest first.
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
        log: HistoryLog { first, next: seq },
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
    Ok(Some(StoredArchive::Log(archive.log)))
}

/// Archives a deleted key's log.
pub(crate) async fn save_archive(
    storage: &dyn Storage,
    name: &str,
    log: HistoryLog,
) -> Result<(), Error> {
    let archive = Archive {
        format: FORMAT,
        log,
    };
    Ok(crate::framework::put_json(storage, &archive_path(name), &archive).await?)
}

/// The archived history of `name` as a log, importing a previous-release list into pages first
/// (for a key created again, which continues it).
pub(crate) async fn adopt_archive(storage: &dyn Storage, name: &str) -> Result<HistoryLog, Error> {
    Ok(match load_archive(storage, name).await? {
        None => HistoryLog::default(),
        Some(StoredArchive::Log(log)) => log,
        Some(StoredArchive::Legacy(events)) => import(storage, name, &events).await?,
    })
}

/// Forgets the archive of `name` (its pages now belong to the live key).
pub(crate) async fn drop_archive(storage: &dyn Storage, name: &str) -> Result<(), Error> {
    Ok(storage.delete(&archive_path(name)).await?)
}

/// Converts a previous-release archive (`history/<name>` holding the whole list) to pages and an
/// index; returns whether it did. The caller leaves alone the archive of a name that has a live
/// key (the live record's history is the complete one; the next delete replaces the archive).
pub(super) async fn migrate_archive(storage: &dyn Storage, name: &str) -> Result<bool, Error> {
    let Some(StoredArchive::Legacy(events)) = load_archive(storage, name).await? else {
        return Ok(false);
    };
    let log = import(storage, name, &events).await?;
    save_archive(storage, name, log).await?;
    Ok(true)
}

#[cfg(test)]
mod tests;
