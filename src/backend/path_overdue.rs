//! `overdue`: keys whose current version is older than their rotation period (or missed its
//! cron window), or whose provider refuses it (health checks), from the key digests.

use std::sync::Arc;

use chrono::Utc;
use futures::TryStreamExt;
use serde_json::json;

use super::policy;
use super::record;
use super::shared::{bind, Shared};
use super::view;
use crate::framework::{
    self, Error, Field, FieldData, FieldType, HandlerResult, Operation, Path, Request, Response,
};
use crate::rotation::period_days;

pub(super) fn paths(shared: &Arc<Shared>) -> Vec<Path> {
    vec![Path::new("overdue")
        .field(
            Field::new(
                "max_age",
                FieldType::Duration,
                "Replaces every key's rotation period for this report.",
            )
            .min(1)
            .query(),
        )
        .operation(
            Operation::Read,
            "List keys whose current version is older than its rotation period.",
            bind(shared, overdue),
        )
        .help(OVERDUE_SYNOPSIS, OVERDUE_DESCRIPTION)]
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
    let refusals = record::Refusals::default();
    let mut all = std::pin::pin!(record::digests_noting(storage, refusals.clone()).await?);
    while let Some((name, key)) = all.try_next().await? {
        let Some((number, created)) = key.current else {
            // A key whose leaked current version was withdrawn has none, and is listed.
            if key.exposed.is_some() {
                keys.push(
                    json!({ "key": name, "exposed": true, "age_days": null, "overdue_days": 0 }),
                );
            }
            continue;
        };
        // max_age replaces the key's period or cron schedule for this report.
        let periods = policy::periods_of(&s.schedules, storage, &key.overrides()).await?;
        let periods = match max_age {
            Some(m) => policy::Periods {
                rotation_period: m,
                rotation_window: 0,
                rotation_schedule: None,
                ..periods
            },
            None => periods,
        };
        let period = periods.rotation_period;
        let age = periods.age_of(number, created, now);
        // A current key its provider refuses, or whose value leaked, is listed whatever its age.
        let rejected = key.watch.as_ref().and_then(|w| w.rejected_since);
        if age.overdue || rejected.is_some() || key.exposed.is_some() {
            let mut entry = json!({
                "key": name,
                "age_days": age.age_days,
                "overdue_days": age.overdue_days,
                "rotation_period_days": period_days(period),
                "next_rotation_time": view::time(age.next_rotation_time),
                "rejected": rejected.is_some(),
                "current_key_rejected_time": rejected.map(view::time),
            });
            // Cron keys say so, and show a scheduled time whose window was missed.
            if let Some(spec) = periods.rotation_schedule {
                entry["rotation_schedule"] = json!(spec.as_str());
                entry["missed_rotation_time"] = json!(age.missed_rotation_time.map(view::time));
            }
            if key.exposed.is_some() {
                entry["exposed"] = json!(true);
            }
            keys.push(entry);
        }
    }
    framework::release_freed_memory();
    // A record it could not read is never silently missing from the report.
    let mut response = Response::with_data(json!({ "keys": keys }));
    response.warnings.extend(refusals.warnings());
    Ok(Some(response))
}

const OVERDUE_SYNOPSIS: &str = "Report keys overdue for rotation.";
const OVERDUE_DESCRIPTION: &str = "\
Lists keys whose current version is older than its rotation period: key, age_days, \
overdue_days, rotation_period_days, next_rotation_time; keys with a cron rotation_schedule also \
show it and missed_rotation_time (overdue counts from the first scheduled time after the current \
version was created; rotation_period_days is the longest interval between scheduled times plus \
the window). max_age replaces every key's rotation period or schedule for this report (a key \
created 45 days ago with max_age=30d is 15 days overdue). A key whose provider refuses its \
current version at the engine's health checks is listed too, whatever its age, with rejected \
true and current_key_rejected_time (when the provider first refused it), until a check passes \
or a new version is promoted; every other entry shows rejected false. A key record that cannot be read \
(newer format, naming another key, breaking an invariant) is not in keys: a warning names its \
storage path and why. A key whose current version was \
reported leaked (exposed) is listed with exposed=true until a new value is promoted, whatever its \
age.";

#[cfg(test)]
mod tests;
