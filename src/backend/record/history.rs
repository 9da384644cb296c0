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
//! deleted ones (`history/archive.rs`: each one's log, when and by whom it was deleted).
//! Incarnations share one numbering of events and one page namespace: a new incarnation's first
//! event takes the first page after every page of the ones before ([`fresh_log`]), so its writes
//! and its trimming never touch their pages. Delete writes the index before it removes the record,
//! and create writes the record last, so a crash between any two writes leaves either the key live
//! with its history (an index entry of its own incarnation is ignored and replaced by the next
//! delete) or the key deleted with its history archived (a create's pages past every log are
//! ignored and overwritten by the next create).

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

fn page_path(name: &str, page: u64) -> String {
    format!("{PREFIX}{name}/{page}")
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

mod archive;

pub(super) use archive::migrate_archive;
pub(crate) use archive::{append_to_deleted, archive, find, fresh_log, Events};
#[cfg(test)]
use archive::{load_archive, Incarnation, StoredArchive};

#[cfg(test)]
mod tests;
