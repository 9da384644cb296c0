//! `report`: the compliance report an auditor reads. Per key (or those whose name starts with
//! `prefix`), over `window`: schedule and period, current age, the oldest age any current
//! version reached in the window (and whether it stayed within the period), rotations and
//! failed rotations, last test, versions in grace, provider revocations confirmed or pending,
//! and who promoted each version. Derived from each key's history (who became current when)
//! plus its record (creation times, grace windows, revocation status). JSON, or CSV.

mod csv;
mod federated;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::TryStreamExt;
use serde_json::{json, Value};

use super::policy;
use super::provider_ops;
use super::record::{self, HistoryEvent, KeyState};
use super::shared::{bind, Shared};
use super::view;
use crate::framework::{
    Error, Field, FieldData, FieldType, HandlerResult, Operation, Path, Request, Response, Storage,
};
use crate::rotation::{period_days, VersionState};
use csv::to_csv;

/// Default `window`: a year.
const DEFAULT_WINDOW: i64 = 365 * 86_400;
/// Events read per history page while building the report.
const PAGE: u64 = 500;

pub(super) fn paths(shared: &Arc<Shared>) -> Vec<Path> {
    vec![Path::new("report")
        .field(
            Field::new(
                "prefix",
                FieldType::String,
                "Only keys whose name starts with this.",
            )
            .query(),
        )
        .field(
            Field::new(
                "window",
                FieldType::Duration,
                "How far back the report looks (default 365d).",
            )
            .min(1)
            .default(json!(DEFAULT_WINDOW))
            .query(),
        )
        .field(
            Field::new("format", FieldType::String, "json (default) or csv.")
                .allowed(&["json", "csv", ""])
                .default(json!("json"))
                .query(),
        )
        .operation(
            Operation::Read,
            "Compliance report for auditors.",
            bind(shared, report),
        )
        .help(SYNOPSIS, DESCRIPTION)]
}

/// What the history says about one key over the window.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Summary {
    /// The oldest age (seconds) any version reached while current inside the window.
    pub oldest_age_secs: Option<i64>,
    /// `promoted` events in the window.
    pub rotations: u64,
    /// `failed` events in the window (a staged version discarded, an automatic rotation failed).
    pub failed_rotations: u64,
    /// The newest `tested` event: (time, version, outcome).
    pub last_test: Option<(DateTime<Utc>, Option<u32>, String)>,
    /// Every promotion in the window, oldest first: (time, version, actor as JSON).
    pub promotions: Vec<(DateTime<Utc>, Option<u32>, Value)>,
}

/// Summarizes `events` (oldest first) over `[start, now]`. `created` gives each version's
/// creation time where the record still has it; otherwise its first event counts.
pub(crate) fn summarize(
    events: &[HistoryEvent],
    created: &BTreeMap<u32, DateTime<Utc>>,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Summary {
    let mut s = Summary::default();
    let mut born: BTreeMap<u32, DateTime<Utc>> = created.clone();
    // (version, since) of the current version, and the one it replaced (for a rollback).
    let mut current: Option<(u32, DateTime<Utc>)> = None;
    let mut replaced: Option<u32> = None;
    // Pending versions a person rolled back: their `failed` event is no failed rotation.
    let mut withdrawn: Vec<u32> = Vec::new();
    let mut spans: Vec<(u32, DateTime<Utc>)> = Vec::new();
    for e in events {
        // A `failed` event never makes a version: a failed attempt names the number its
        // version was to get, which a later version may take.
        if let Some(v) = e.version.filter(|_| e.event != "failed") {
            born.entry(v).or_insert(e.time);
        }
        let in_window = e.time >= start && e.time <= now;
        match (e.event.as_str(), e.version) {
            ("created", Some(v)) | ("promoted", Some(v)) => {
                if let Some((old, _)) = current {
                    spans.push((old, e.time));
                    replaced = Some(old);
                }
                current = Some((v, e.time));
                if e.event == "promoted" && in_window {
                    s.rotations += 1;
                    let actor = serde_json::to_value(&e.actor).unwrap_or(Value::Null);
                    s.promotions.push((e.time, Some(v), actor));
                }
            }
            ("rolled_back", Some(v)) if current.map(|(c, _)| c) == Some(v) => {
                spans.push((v, e.time));
                current = replaced.take().map(|r| (r, e.time));
            }
            ("deleted", _) => {
                if let Some((old, _)) = current.take() {
                    spans.push((old, e.time));
                }
            }
            ("rolled_back", Some(v)) => withdrawn.push(v),
            ("failed", v) if in_window && !v.is_some_and(|v| withdrawn.contains(&v)) => {
                s.failed_rotations += 1;
            }
            ("tested", v) if e.time <= now => {
                s.last_test = Some((e.time, v, e.outcome.clone().unwrap_or_default()));
            }
            _ => {}
        }
    }
    if let Some((v, _)) = current {
        spans.push((v, now));
    }
    // A version current until `until` reached its greatest age then; count it if it was still
    // current inside the window.
    for (v, until) in spans {
        if until < start {
            continue;
        }
        if let Some(b) = born.get(&v) {
            let age = (until.min(now) - *b).num_seconds().max(0);
            s.oldest_age_secs = Some(s.oldest_age_secs.map_or(age, |o| o.max(age)));
        }
    }
    s
}

/// Every history event of a live key, oldest first.
async fn all_events(storage: &dyn Storage, name: &str) -> Result<Vec<HistoryEvent>, Error> {
    let Some(entry) = record::read(storage, name).await? else {
        return Ok(Vec::new());
    };
    if entry.is_previous_format() {
        return Ok(entry.history.clone());
    }
    let mut events = Vec::new();
    let mut before = None;
    loop {
        let (page, next) = record::history_page(storage, name, entry.log, before, PAGE).await?;
        events.extend(page);
        match next {
            Some(n) => before = Some(n),
            None => break,
        }
    }
    events.reverse();
    Ok(events)
}

fn days(secs: i64) -> i64 {
    secs.div_euclid(86_400)
}

/// One key's line of the report.
async fn key_report(
    s: &Shared,
    storage: &dyn Storage,
    key: &KeyState,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Value, Error> {
    let periods = policy::periods(&s.schedules, storage, key).await?;
    let versions = &key.versions;
    let created: BTreeMap<u32, DateTime<Utc>> = versions
        .versions
        .values()
        .map(|v| (v.number, v.created_time))
        .collect();
    let events = all_events(storage, &key.name).await?;
    let sum = summarize(&events, &created, start, now);
    let age = periods.age(versions, now);
    let in_grace: Vec<Value> = versions
        .versions
        .values()
        .filter(|v| v.state == VersionState::Previous && v.is_valid_at(now))
        .map(|v| {
            let expires = v.grace_expires_time.map(view::time);
            json!({ "version": v.number, "grace_expires_time": expires })
        })
        .collect();
    let (confirmed, pending) = revocations::revocations(versions, &events);
    let (mut manual, mut acknowledged) = (Vec::new(), Vec::new());
    for v in versions.versions.values() {
        let Some(r) = &v.provider_revocation else {
            continue;
        };
        let Some(m) = &r.manual else {
            continue;
        };
        let list: &mut Vec<Value> = match m.acknowledged {
            Some(_) => &mut acknowledged,
            None => &mut manual,
        };
        let ack = m.acknowledged.as_ref();
        list.push(json!({
            "version": v.number,
            "provider": r.provider,
            "provider_key_id": Some(r.provider_key_id.as_str()).filter(|i| !i.is_empty()),
            "fingerprint": v.fingerprint,
            "requested_time": view::time(r.requested_time),
            "acknowledged_time": ack.map(|a| view::time(a.time)),
            "acknowledged_by": ack.map(|a| a.actor.as_str()),
        }));
    }
    // The current key its provider refuses (health checks), flagged until a new promotion.
    let rejected = versions.current().and_then(|v| v.rejected_since());
    let promoted_by: Vec<Value> = sum
        .promotions
        .iter()
        .map(|(t, v, actor)| json!({ "version": v, "time": view::time(*t), "actor": actor }))
        .collect();
    Ok(json!({
        "key": key.name,
        "federated": false,
        "schedule": key.schedule,
        "rotation_period_days": period_days(periods.rotation_period),
        "current_version": versions.current_version(),
        "current_age_days": age.as_ref().map(|a| a.age_days),
        "oldest_age_days": sum.oldest_age_secs.map(days),
        "within_period": sum.oldest_age_secs.map(|a| a <= periods.rotation_period),
        "rotations": sum.rotations,
        "failed_rotations": sum.failed_rotations,
        "last_test": sum
            .last_test
            .map(|(t, v, o)| json!({ "time": view::time(t), "version": v, "outcome": o })),
        "versions_in_grace": in_grace,
        "revocations_confirmed": confirmed,
        "revocations_pending": pending,
        "revocations_manual": manual,
        "revocations_acknowledged": acknowledged,
        "promoted_by": promoted_by,
        "rejected": rejected.is_some(),
        "current_key_rejected_time": rejected.map(view::time),
        "last_health_check": versions.current().map_or(Value::Null, view::health_json),
        "exposed": view::exposure_json(key),
    }))
}

async fn report(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let storage = req.storage.as_ref();
    let prefix = d.get_string("prefix").unwrap_or_default();
    let window = d.get_duration("window").unwrap_or(DEFAULT_WINDOW);
    if window <= 0 {
        return Err(Error::BadRequest(
            "window must be a duration greater than zero".into(),
        ));
    }
    let format = d.get_string("format").unwrap_or_default();
    let csv = match format.as_str() {
        "" | "json" => false,
        "csv" => true,
        other => {
            return Err(Error::BadRequest(format!(
                "format must be json or csv, not {other:?}"
            )))
        }
    };
    let now = Utc::now();
    let start = now - Duration::seconds(window);
    let mut keys = Vec::new();
    let refusals = record::Refusals::default();
    let mut all = std::pin::pin!(record::scan_keys_noting(storage, refusals.clone()).await?);
    while let Some(key) = all.try_next().await? {
        if key.name.starts_with(&prefix) {
            keys.push(key_report(&s, storage, &key, start, now).await?);
        }
    }
    keys.extend(federated::rows(&s, storage, &prefix).await?);
    crate::framework::release_freed_memory();
    // Records it could not read are named (path and why), never silently missing; a CSV has no
    // place for them but the answer's warnings.
    let refused: Vec<record::Refused> = refusals
        .taken()
        .into_iter()
        .filter(|r| {
            r.path
                .strip_prefix(record::KEYS_PREFIX)
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .collect();
    let warnings: Vec<String> = refused.iter().map(record::Refused::warning).collect();
    if csv {
        return Ok(Some(Response::raw(
            200,
            "text/csv",
            to_csv(&keys).as_bytes(),
        )));
    }
    let deleted = provider_ops::of_deleted_keys(storage).await?;
    let manual = provider_ops::of_deleted_keys_manual(storage).await?;
    let mut response = Response::with_data(json!({
        "generated_time": view::time(now),
        "window_start": view::time(start),
        "keys": keys,
        "deleted_keys_revocations_pending": revocations::of_deleted_keys(&deleted, &prefix),
        "deleted_keys_revocations_manual": revocations::manual_of_deleted_keys(&manual, &prefix),
        "records_refused": refused
            .iter()
            .map(|r| json!({ "path": r.path, "reason": r.reason }))
            .collect::<Vec<_>>(),
    }));
    response.warnings = warnings;
    Ok(Some(response))
}

const SYNOPSIS: &str = "Compliance report for auditors.";
const DESCRIPTION: &str = "\
Per key (or those whose name starts with prefix), over window (a duration, default 365d), derived \
from the key's history and record; never a key value. JSON (default) returns generated_time, \
window_start and keys, each with: key; schedule; rotation_period_days; current_version; \
current_age_days (age of the current version); oldest_age_days (the greatest age any version \
reached while current inside the window, measured from its creation); within_period (whether \
that age stayed within the rotation period); rotations (promotions in the window); \
failed_rotations (failed events in the window: a staged version whose test failed, an \
automatic rotation that failed; a pending version an operator rolled back is not counted); \
last_test ({time, version, outcome} of the newest test, or null); \
versions_in_grace ([{version, grace_expires_time}]); revocations_confirmed and \
revocations_pending ([{version, requested_time, confirmed_time}] of retired versions whose \
revocation at the provider the provider confirmed, or not yet, over the whole history, versions \
the record no longer keeps included); revocations_manual ([{version, provider, provider_key_id, \
fingerprint, requested_time, acknowledged_time, acknowledged_by}] of retired versions the engine \
does not own and left to a person to revoke at the provider, not acknowledged yet) and \
revocations_acknowledged (the same, once acknowledge/ recorded it done); promoted_by ([{version, \
time, actor}] of every promotion in the window, actor as in history/); rejected (true while the \
provider refuses the current key at the engine's health checks, until a check passes or a new \
version is promoted), current_key_rejected_time (when it first refused it, or null) and \
last_health_check ({outcome, status_code, detail, time, rejected_since} of the current \
version's last health check, or null; health checks are the engine's own calls, never counted \
as tests or use); exposed ({version, time, source, reason, withdrawn} of a leak reported \
through exposed while no new value is live, or null). format=csv returns \
text/csv with one row per key and the columns key, schedule, rotation_period_days, \
current_version, current_age_days, oldest_age_days, within_period, rotations, \
failed_rotations, last_test_outcome, last_test_time, versions_in_grace, \
revocations_confirmed, revocations_pending, promoted_by, revocations_manual, \
revocations_acknowledged, federated, exchanges_ok, exchanges_failed, rejected, \
current_key_rejected_time, exposed (true while a leak is in force), exposed_version, \
exposed_time, exposed_withdrawn (lists of version numbers separated by ;, promoted_by as \
vN:display_name or vN:scheduler). The JSON also lists, for deleted keys, \
deleted_keys_revocations_pending ([{key, version, provider, attempts}]: revocations the provider has \
not confirmed yet) and deleted_keys_revocations_manual ([{key, incarnation, version, provider, \
provider_key_id, fingerprint, requested_time}]: revocations left to a person that nobody \
acknowledged; acknowledge/<key> with deleted=true records one done), and records_refused \
([{path, reason}]: key records under prefix that cannot be read, left out of keys; a warning \
names each too). A history trimmed by history_limit shortens what the report can see. Each \
valued key's row has federated: false; each federated key (after them) has a row {key, \
federated: true, provider, exchanges: {ok, failed: {bad_key, provider_unavailable}, \
last_exchange_time, last_failure_time, last_error, since, node}}: its token exchanges on the \
node that answers, since that node started (kept in memory; the CSV columns federated, \
exchanges_ok and exchanges_failed).";

mod revocations;

#[cfg(test)]
mod tests;
