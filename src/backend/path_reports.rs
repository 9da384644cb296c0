//! Read-only reports: `history/:name`, `overdue`, `metrics`.

use std::sync::Arc;

use chrono::Utc;
use futures::TryStreamExt;
use serde_json::{json, Value};

use super::history::{self, HistoryEvent, StoredArchive};
use super::{bind, metrics, metrics_format, scan, store, view, Shared};
use crate::framework::{
    self, generic_name_regex, Error, Field, FieldData, FieldType, HandlerResult, Operation, Path,
    Request, Response,
};
use crate::rotation::period_days;

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
                .query(),
            )
            .field(
                Field::new(
                    "after",
                    FieldType::String,
                    "The cursor a previous page returned as next_after: continue after it.",
                )
                .query(),
            )
            .operation(
                Operation::Read,
                "Read a key's history, newest first.",
                bind(shared, history),
            )
            .help(HISTORY_SYNOPSIS, HISTORY_DESCRIPTION),
        Path::new("overdue")
            .field(
                Field::new(
                    "max_age",
                    FieldType::Duration,
                    "Replaces every key's rotation period for this report.",
                )
                .query(),
            )
            .operation(
                Operation::Read,
                "List keys whose current version is older than its rotation period.",
                bind(shared, overdue),
            )
            .help(OVERDUE_SYNOPSIS, OVERDUE_DESCRIPTION),
        Path::new("metrics")
            .field(
                Field::new(
                    "format",
                    FieldType::String,
                    "prometheus for the Prometheus text format; json (the default) otherwise.",
                )
                .query(),
            )
            .operation(
                Operation::Read,
                "Metrics for every key: JSON, or Prometheus text with format=prometheus.",
                bind(shared, metrics),
            )
            .help(METRICS_SYNOPSIS, METRICS_DESCRIPTION),
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

async fn history(_s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
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
        Some(a) => Some(history::parse_cursor(&a).ok_or_else(|| {
            Error::BadRequest("after must be a cursor returned as next_after by history/".into())
        })?),
    };
    // No version check: reading a key's history acts on nothing, and helps repair a broken one.
    let (events, next) = match store::read(storage, &name).await? {
        Some(entry) if entry.is_previous_format() => {
            history::legacy_page(&entry.history, after, limit)
        }
        Some(entry) => history::page(storage, &name, entry.log, after, limit).await?,
        None => match history::load_archive(storage, &name).await? {
            None => return Ok(None),
            Some(StoredArchive::Legacy(events)) => history::legacy_page(&events, after, limit),
            Some(StoredArchive::Log(log)) => {
                history::page(storage, &name, log, after, limit).await?
            }
        },
    };
    if events.is_empty() && after.is_none() {
        return Ok(None);
    }
    let events: Vec<Value> = events.iter().map(event_json).collect();
    Ok(Some(Response::with_data(json!({
        "name": name,
        "events": events,
        "next_after": next.map(history::cursor),
    }))))
}

async fn overdue(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let storage = req.storage.as_ref();
    let max_age = d.get_duration("max_age");
    if max_age == Some(0) {
        return Err(Error::BadRequest(
            "max_age must be greater than zero".into(),
        ));
    }
    let now = Utc::now();
    let mut keys = Vec::new();
    let mut all = std::pin::pin!(scan::digests(storage).await?);
    while let Some((name, key)) = all.try_next().await? {
        let Some((number, created)) = key.current else {
            continue;
        };
        // max_age replaces the key's period or cron schedule for this report.
        let periods = view::periods_of(&s, storage, &key.overrides()).await?;
        let periods = match max_age {
            Some(m) => view::Periods {
                rotation_period: m,
                rotation_window: 0,
                rotation_schedule: None,
                ..periods
            },
            None => periods,
        };
        let period = periods.rotation_period;
        let age = periods.age_of(number, created, now);
        if age.overdue {
            let mut entry = json!({
                "key": name,
                "age_days": age.age_days,
                "overdue_days": age.overdue_days,
                "rotation_period_days": period_days(period),
                "next_rotation_time": view::time(age.next_rotation_time),
            });
            // Cron keys say so, and show a scheduled time whose window was missed.
            if let Some(spec) = periods.rotation_schedule {
                entry["rotation_schedule"] = json!(spec.as_str());
                entry["missed_rotation_time"] = json!(age.missed_rotation_time.map(view::time));
            }
            keys.push(entry);
        }
    }
    framework::release_freed_memory();
    Ok(Some(Response::with_data(json!({ "keys": keys }))))
}

async fn metrics(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let prometheus = match d.get_string("format").unwrap_or_default().as_str() {
        "prometheus" => true,
        "" | "json" => false,
        _ => {
            return Err(Error::BadRequest(
                "format must be prometheus or json (the default)".into(),
            ))
        }
    };
    let storage = req.storage.as_ref();
    let now = Utc::now();
    let mut figures = Vec::new();
    let mut all = std::pin::pin!(scan::digests(storage).await?);
    while let Some((name, key)) = all.try_next().await? {
        let periods = view::periods_of(&s, storage, &key.overrides()).await?;
        let age = key
            .current
            .map(|(n, created)| periods.age_of(n, created, now));
        figures.push(metrics::KeyFigures::new(name, key, age, now));
    }
    let mount = metrics::mount_label(&req.mount_point);
    let families = metrics::collect(&mount, &figures, s.ticks.last());
    if prometheus {
        let body = metrics_format::prometheus_text(families)?;
        framework::release_freed_memory();
        return Ok(Some(Response::raw(
            200,
            metrics_format::PROMETHEUS_CONTENT_TYPE,
            body.as_bytes(),
        )));
    }
    let json = metrics_format::json(&mount, families, now);
    framework::release_freed_memory();
    Ok(Some(Response::with_encoded(json)))
}

const HISTORY_SYNOPSIS: &str = "Read a key's history.";
const HISTORY_DESCRIPTION: &str = "\
Returns up to limit events (default 100, at most 1000), newest first, and next_after: pass it \
as after to read the next (older) page; it is null on the last page. Each event has time, event \
(created, staged, tested, promoted, rolled_back, revoked, expired, failed, deleted, updated), \
version, actor ({entity_id, display_name, accessor} or \"scheduler\"), request_id, outcome and \
detail. A deleted key's history is kept and continues if the name is created again. \
history_limit in config caps the events kept per key.";
const OVERDUE_SYNOPSIS: &str = "Report keys overdue for rotation.";
const OVERDUE_DESCRIPTION: &str = "\
Lists keys whose current version is older than its rotation period: key, age_days, \
overdue_days, rotation_period_days, next_rotation_time; keys with a cron rotation_schedule also \
show it and missed_rotation_time (overdue counts from the first scheduled time after the current \
version was created; rotation_period_days is the longest interval between scheduled times plus \
the window). max_age replaces every key's rotation period or schedule for this report (a key \
created 45 days ago with max_age=30d is 15 days overdue).";
const METRICS_SYNOPSIS: &str = "Metrics for alerting: JSON, or Prometheus text.";
const METRICS_DESCRIPTION: &str = "\
Like sys/metrics: format=prometheus returns the Prometheus text format (text/plain; \
version=0.0.4), what Prometheus scrapes through Vault with a token (Authorization: Bearer); \
without format (or format=json) the same samples as JSON data {mount, timestamp, gauges, \
counters}, each {name, labels, value}, so bao read works. Every sample has a mount label. Per \
key: current version age, seconds until due, overdue (0/1), auto_rotate (0/1), versions in \
grace, versions past their planned grace end, pending versions, provider revocations pending \
and the age of the oldest, consecutive failed automatic rotations, whether the latest attempt \
failed (last_error), and counters of rotations, failed rotations by trigger (automatic, manual) \
and test outcomes. Per mount: the last successful periodic tick (Unix seconds). No key \
material ever appears.";
