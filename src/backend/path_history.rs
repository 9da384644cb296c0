//! `history/:name`: a key's history, newest first, in pages; also of a deleted key.

use std::sync::Arc;

use serde_json::{json, Value};

use super::record::{self, HistoryEvent, HistoryEvents};
use super::shared::{bind, Shared};
use super::view;
use crate::framework::{
    generic_name_regex, Error, Field, FieldData, FieldType, HandlerResult, Operation, Path,
    Request, Response,
};

pub(super) fn paths(shared: &Arc<Shared>) -> Vec<Path> {
    vec![
        Path::new(&format!("history/{}", generic_name_regex("name")))
            .field(
                Field::new(
                    "name",
                    FieldType::Name,
                    "Name of the key (also a deleted one).",
                )
                .required(),
            )
            .field(
                Field::new(
                    "limit",
                    FieldType::Int,
                    "Events per page (1 to 1000, default 100).",
                )
                .min(1)
                .max(HISTORY_MAX_PAGE)
                .default(json!(HISTORY_PAGE))
                .query(),
            )
            .field(
                Field::new(
                    "after",
                    FieldType::String,
                    "The cursor a previous page returned as next_after: continue after it.",
                )
                .max_len(MAX_CURSOR_LEN)
                .pattern(CURSOR_PATTERN, CURSOR_MEANING)
                .query(),
            )
            .field(
                Field::new(
                    "incarnation",
                    FieldType::Int,
                    "Which life of the name to read (1 is the first key of that name; each create after a delete is the next). Default: the live key's, else the newest deleted one's. previous_history names the one before.",
                )
                .min(1)
                .max(i64::from(u32::MAX))
                .query(),
            )
            .operation(
                Operation::Read,
                "Read a key's history, newest first.",
                bind(shared, history),
            )
            .help(HISTORY_SYNOPSIS, HISTORY_DESCRIPTION),
    ]
}

fn event_json(e: &HistoryEvent) -> Value {
    json!({
        "time": view::time(e.time),
        "event": e.event,
        "version": e.version,
        "actor": e.actor,
        "request_id": e.request_id,
        "outcome": e.outcome,
        "detail": e.detail,
    })
}

/// Default and largest `limit` of `history/`.
const HISTORY_PAGE: i64 = 100;
const HISTORY_MAX_PAGE: i64 = 1000;
/// What `next_after` looks like (`e` and an event number, see `record::history_cursor`), or
/// nothing; the longest: `e` and the 20 digits of a `u64`.
const CURSOR_PATTERN: &str = "^(e[0-9]{1,20})?$";
const MAX_CURSOR_LEN: usize = 21;
const CURSOR_MEANING: &str = "must be a cursor returned as next_after by history/";

async fn history(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let storage = req.storage.as_ref();
    let limit = d.get_int("limit").unwrap_or(HISTORY_PAGE);
    if !(1..=HISTORY_MAX_PAGE).contains(&limit) {
        return Err(Error::BadRequest(format!(
            "limit must be between 1 and {HISTORY_MAX_PAGE}"
        )));
    }
    let limit = limit as u64;
    let after = match d.get_string("after").filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => Some(record::parse_history_cursor(&a).ok_or_else(|| {
            Error::BadRequest("after must be a cursor returned as next_after by history/".into())
        })?),
    };
    let wanted = match d.get_int("incarnation") {
        None => None,
        Some(n) => Some(u32::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(|| {
            Error::BadRequest("incarnation must be a whole number from 1".into())
        })?),
    };
    // No version check: reading a key's history acts on nothing, and helps repair a broken one.
    let live = record::read(storage, &name).await?.map(|e| e.events());
    if live.is_none() {
        if let Some(key) = record::load_federated(storage, &name).await? {
            return federated(&s, &name, &key.provider).await;
        }
    }
    let Some(found) = record::find_history(storage, &name, live, wanted).await? else {
        return Ok(None);
    };
    let (events, next) = match &found.events {
        HistoryEvents::List(events) => record::legacy_history_page(events, after, limit),
        HistoryEvents::Pages(log) => {
            record::history_page(storage, &name, *log, after, limit).await?
        }
    };
    if events.is_empty() && after.is_none() {
        return Ok(None);
    }
    let events: Vec<Value> = events.iter().map(event_json).collect();
    let previous = found.previous.map(|p| {
        json!({
            "incarnation": p.log.incarnation,
            "deleted_time": p.deleted_time.map(view::time),
            "deleted_by": p.deleted_by,
        })
    });
    Ok(Some(Response::with_data(json!({
        "name": name,
        "incarnation": found.incarnation,
        "events": events,
        "next_after": next.map(record::history_cursor),
        "previous_history": previous,
    }))))
}

/// A federated key's history: no stored events (its definition's writes are in the audit log),
/// and its token exchanges on this node since it started (memory only: a standby writes nothing).
async fn federated(s: &Shared, name: &str, provider: &str) -> HandlerResult {
    let node = if s.system.is_standby().await {
        "standby"
    } else {
        "active"
    };
    Ok(Some(Response::with_data(json!({
        "name": name,
        "federated": true,
        "provider": provider,
        "events": [],
        "next_after": null,
        "previous_history": null,
        "exchanges": s.tokens.stats(name).json(s.tokens.since, node),
    }))))
}

const HISTORY_SYNOPSIS: &str = "Read a key's history.";
const HISTORY_DESCRIPTION: &str = "\
Returns up to limit events (default 100, at most 1000), newest first, and next_after: pass it \
as after to read the next (older) page; it is null on the last page. Each event has time, event \
(created, staged, tested, promoted, rolled_back, revoked, expired, failed, deleted, updated), \
version, actor ({entity_id, display_name, accessor} or \"scheduler\"), request_id, outcome and \
detail. A deleted key's history is kept, ending with its deleted event. A key created again \
under the same name is a new key with a fresh history, starting at its created event: each life \
of a name is an incarnation (1, 2, ...), and the response says which one it shows (incarnation) \
and links the one before it (previous_history: {incarnation, deleted_time, deleted_by}, or \
null); read that one with incarnation=N. The 10 newest deleted incarnations of a name are kept. \
history_limit in config caps the events kept per incarnation. A federated key answers \
federated: true, provider, events [] (it has no versions; its definition's writes and each \
creds/ read are in the audit log) and exchanges: {ok, failed: {bad_key, provider_unavailable}, \
last_exchange_time, last_failure_time, last_error, since, node}, its token exchanges on the \
node that answers since that node started (kept in memory, so a standby writes nothing).";

#[cfg(test)]
mod tests;
