//! Read-only reports: `history/:name`, `overdue`, `metrics`.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::Utc;
use serde_json::{json, Value};

use super::history::{self, HistoryEvent, StoredArchive};
use super::store;
use super::{bind, view, Shared};
use crate::framework::{
    generic_name_regex, Error, Field, FieldData, FieldType, HandlerResult, Operation, Path,
    Request, Response,
};
use crate::rotation::{age_days, overdue_days, period_days, VersionState};

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
            .operation(
                Operation::Read,
                "Prometheus metrics for every key.",
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
    for key in store::all_keys(storage).await? {
        let period = match max_age {
            Some(m) => m,
            None => view::periods(&s, storage, &key).await?.rotation_period,
        };
        let Some(age) = key.versions.age(period, now) else {
            continue;
        };
        if age.overdue {
            keys.push(json!({
                "key": key.name,
                "age_days": age.age_days,
                "overdue_days": age.overdue_days,
                "rotation_period_days": period_days(period),
                "next_rotation_time": view::time(age.next_rotation_time),
            }));
        }
    }
    Ok(Some(Response::with_data(json!({ "keys": keys }))))
}

/// Escapes a Prometheus label value.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: Vec<(String, String)>,
}

impl Family {
    fn new(name: &'static str, kind: &'static str, help: &'static str) -> Family {
        Family {
            name,
            kind,
            help,
            samples: Vec::new(),
        }
    }

    fn add(&mut self, labels: String, value: impl ToString) {
        self.samples.push((labels, value.to_string()));
    }

    fn write(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} {}", self.name, self.kind);
        for (labels, value) in &self.samples {
            let _ = writeln!(out, "{}{{{}}} {}", self.name, labels, value);
        }
    }
}

async fn metrics(s: Arc<Shared>, req: Request, _d: FieldData) -> HandlerResult {
    let storage = req.storage.as_ref();
    let now = Utc::now();
    let mut age = Family::new(
        "ai_keys_current_version_age_seconds",
        "gauge",
        "Age of the key's current version.",
    );
    let mut due = Family::new(
        "ai_keys_seconds_until_due",
        "gauge",
        "Seconds until the current version is due for rotation (negative when overdue).",
    );
    let mut overdue = Family::new(
        "ai_keys_overdue",
        "gauge",
        "1 when the current version is older than its rotation period.",
    );
    let mut grace = Family::new(
        "ai_keys_versions_in_grace",
        "gauge",
        "Previous versions still inside their grace window.",
    );
    let mut pending = Family::new(
        "ai_keys_pending_versions",
        "gauge",
        "Staged versions waiting for promotion.",
    );
    let mut revocations = Family::new(
        "ai_keys_provider_revocations_pending",
        "gauge",
        "Retired versions whose revocation at the provider is not confirmed yet.",
    );
    let mut rotations = Family::new(
        "ai_keys_rotations_total",
        "counter",
        "Promotions completed.",
    );
    let mut extensions = Family::new(
        "ai_keys_grace_extensions_total",
        "counter",
        "Grace windows postponed because the previous version was still in use.",
    );
    let mut tests = Family::new(
        "ai_keys_test_outcomes_total",
        "counter",
        "Key tests by outcome.",
    );
    for key in store::all_keys(storage).await? {
        let l = format!("key=\"{}\"", label(&key.name));
        let periods = view::periods(&s, storage, &key).await?;
        if let Some(a) = key.versions.age(periods.rotation_period, now) {
            age.add(l.clone(), a.age_secs);
            due.add(l.clone(), (a.next_rotation_time - now).num_seconds());
            overdue.add(l.clone(), u8::from(a.overdue));
        }
        grace.add(
            l.clone(),
            u8::from(key.versions.previous_in_grace(now).is_some()),
        );
        pending.add(
            l.clone(),
            key.versions
                .versions
                .values()
                .filter(|v| v.state == VersionState::Pending)
                .count(),
        );
        revocations.add(
            l.clone(),
            key.versions
                .versions
                .values()
                .filter(|v| {
                    v.provider_revocation
                        .as_ref()
                        .is_some_and(|r| r.is_pending())
                })
                .count(),
        );
        rotations.add(l.clone(), key.stats.rotations);
        extensions.add(l.clone(), key.stats.grace_extensions);
        for (outcome, count) in &key.stats.test_outcomes {
            tests.add(format!("{l},outcome=\"{}\"", label(outcome)), count);
        }
    }
    let mut body = String::new();
    for family in [
        &age,
        &due,
        &overdue,
        &grace,
        &pending,
        &revocations,
        &rotations,
        &extensions,
        &tests,
    ] {
        family.write(&mut body);
    }
    Ok(Some(Response::raw(
        200,
        "text/plain; version=0.0.4",
        body.as_bytes(),
    )))
}

/// Days a key is overdue, for the daily warning.
pub(super) fn overdue_summary(
    created: chrono::DateTime<Utc>,
    period: i64,
    now: chrono::DateTime<Utc>,
) -> i64 {
    overdue_days(age_days(created, now), period)
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
overdue_days, rotation_period_days, next_rotation_time. max_age replaces every key's rotation \
period for this report (a key created 45 days ago with max_age=30d is 15 days overdue).";
const METRICS_SYNOPSIS: &str = "Prometheus metrics.";
const METRICS_DESCRIPTION: &str = "\
Prometheus text format (text/plain; version=0.0.4): per key, the age of the current version, \
seconds until due, overdue (0/1), versions in grace, pending versions, and counters of rotations \
and test outcomes. Scrape it through Vault with a token (Authorization: Bearer).";
