//! `schedules/`: named rotation policies, four of them built in.

use std::sync::Arc;

use serde_json::json;

use super::policy::{
    self, load_schedule, Config, Schedule, DEFAULT_MAX_GRACE, DEFAULT_NOTICE_BEFORE,
    DEFAULT_USAGE_QUIET_PERIOD, MAX_GRACE_HELP, NOTICE_BEFORE_HELP, SCHEDULES_PREFIX,
    USAGE_QUIET_PERIOD_HELP,
};
use super::policy::{
    DEFAULT_EXPIRY_WARNING, DEFAULT_HEALTH_CHECK_INTERVAL, EXPIRY_WARNING_HELP,
    HEALTH_CHECK_INTERVAL_HELP, MAX_WATCH_SECS,
};
use super::provider_ops;
use super::record;
use super::shared::{bind, Shared};
use super::view;
use crate::framework::{
    existence_check, generic_name_regex, put_json, Error, Field, FieldData, FieldType,
    HandlerResult, Operation, Path, Request, Response,
};

pub(super) fn paths(shared: &Arc<Shared>) -> Vec<Path> {
    vec![
        Path::new("schedules/?")
            .operation(Operation::List, "List schedules.", bind(shared, list))
            .help(LIST_SYNOPSIS, LIST_DESCRIPTION),
        Path::new(&format!("schedules/{}", generic_name_regex("name")))
            .field(Field::new("name", FieldType::Name, "Name of the schedule.").required())
            .field(Field::new(
                "rotation_period",
                FieldType::Duration,
                "Maximum age of the current version (seconds, Go duration such as 720h, or whole days such as 30d). Required on create unless rotation_schedule is given; mutually exclusive with it. Reads 0 on a schedule with a rotation_schedule.",
            ))
            .field(policy::schedule_field(false))
            .field(Field::new(
                "grace_period",
                FieldType::Duration,
                "How long the previous version stays valid after a promotion. Required on create.",
            ))
            .field(Field::new(
                "rotation_window",
                FieldType::Duration,
                "With rotation_period: automatic rotation may start at any time within this window after a key becomes due (spreads load; at most rotation_period). With rotation_schedule: how long after each scheduled time an automatic rotation may start (0 for no limit, else 1h to 366d); a scheduled time whose window closes without a rotation is recorded (rotation_window_missed) and the key waits for the next one. Default 0.",
            ))
            .field(Field::new(
                "usage_quiet_period",
                FieldType::Duration,
                USAGE_QUIET_PERIOD_HELP,
            ))
            .field(Field::new("max_grace", FieldType::Duration, MAX_GRACE_HELP))
            .field(
                Field::new(
                    "health_check_interval",
                    FieldType::Duration,
                    HEALTH_CHECK_INTERVAL_HELP,
                )
                .max(MAX_WATCH_SECS),
            )
            .field(
                Field::new("expiry_warning", FieldType::Duration, EXPIRY_WARNING_HELP)
                    .max(MAX_WATCH_SECS),
            )
            .field(Field::new("notice_before", FieldType::Duration, NOTICE_BEFORE_HELP).max(366 * 86_400))
            .operation(Operation::Create, "Create a schedule.", bind(shared, write))
            .operation(Operation::Update, "Update a schedule.", bind(shared, write))
            .operation(Operation::Read, "Read a schedule.", bind(shared, read))
            .operation(Operation::Delete, "Delete a schedule no key uses.", bind(shared, delete))
            .existence(existence_check(|req: Request, d: FieldData| async move {
                let name = d.get_string("name").unwrap_or_default();
                Ok(load_schedule(req.storage.as_ref(), &name).await?.is_some())
            }))
            .help(SYNOPSIS, DESCRIPTION),
    ]
}

async fn list(_s: Arc<Shared>, req: Request, _d: FieldData) -> HandlerResult {
    let keys = req.storage.list(SCHEDULES_PREFIX).await?;
    Ok(Some(Response::with_data(json!({ "keys": keys }))))
}

async fn read(_s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    Ok(load_schedule(req.storage.as_ref(), &name)
        .await?
        .map(|s| Response::with_data(s.to_json(&name))))
}

fn given(d: &FieldData, field: &str) -> Option<i64> {
    d.get_duration(field).filter(|_| d.is_set(field))
}

async fn write(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let existing = load_schedule(req.storage.as_ref(), &name).await?;
    let cadence = policy::cadence_input(&d)?;
    let grace_period = given(&d, "grace_period");
    let rotation_window = given(&d, "rotation_window");
    let creating = existing.is_none();
    let usage_quiet_period = given(&d, "usage_quiet_period");
    let max_grace = given(&d, "max_grace");
    let health_check_interval = given(&d, "health_check_interval");
    let expiry_warning = given(&d, "expiry_warning");
    let notice_before = given(&d, "notice_before");
    let mut schedule = match existing {
        Some(mut s) => {
            s.grace_period = grace_period.unwrap_or(s.grace_period);
            s.rotation_window = rotation_window.unwrap_or(s.rotation_window);
            s.usage_quiet_period = usage_quiet_period.unwrap_or(s.usage_quiet_period);
            s.max_grace = max_grace.unwrap_or(s.max_grace);
            s.health_check_interval = health_check_interval.unwrap_or(s.health_check_interval);
            s.expiry_warning = expiry_warning.unwrap_or(s.expiry_warning);
            s.notice_before = notice_before.unwrap_or(s.notice_before);
            s
        }
        None => Schedule {
            rotation_period: 0,
            grace_period: grace_period
                .ok_or_else(|| Error::BadRequest("grace_period is required".into()))?,
            rotation_window: rotation_window.unwrap_or(0),
            rotation_schedule: None,
            usage_quiet_period: usage_quiet_period.unwrap_or(DEFAULT_USAGE_QUIET_PERIOD),
            max_grace: max_grace.unwrap_or(DEFAULT_MAX_GRACE),
            health_check_interval: health_check_interval.unwrap_or(DEFAULT_HEALTH_CHECK_INTERVAL),
            expiry_warning: expiry_warning.unwrap_or(DEFAULT_EXPIRY_WARNING),
            notice_before: notice_before.unwrap_or(DEFAULT_NOTICE_BEFORE),
        },
    };
    policy::apply_to_schedule(&mut schedule, &cadence, creating)?;
    policy::check_schedule(&mut schedule)?;
    if !creating {
        provider_ops::check_lifetime_under_schedule(req.storage.as_ref(), &name, &schedule).await?;
    }
    put_json(
        req.storage.as_ref(),
        &format!("{SCHEDULES_PREFIX}{name}"),
        &schedule,
    )
    .await?;
    s.schedules.forget(&name);
    Ok(Some(view::with_grace_warning(
        schedule.to_json(&name),
        &format!("schedule {name:?}"),
        schedule.grace_period,
    )))
}

async fn delete(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let storage = req.storage.as_ref();
    let (users, refused) = record::names_where_noting(storage, |k| *k.schedule == *name).await?;
    if !users.is_empty() {
        return Err(Error::BadRequest(format!(
            "schedule {name:?} is used by keys: {}",
            users.join(", ")
        )));
    }
    // A record that cannot be read blocks the delete only if it might use the schedule.
    let mut warnings = Vec::new();
    for r in &refused {
        if record::may_name(storage, r, "schedule", &name).await? {
            return Err(Error::BadRequest(format!(
                "schedule {name:?} may be used by the record at {}, which cannot be read ({}); \
                 repair or delete that record first",
                r.path, r.reason
            )));
        }
        warnings.push(r.warning());
    }
    let config = Config::load(storage).await?;
    if config.default_schedule == name {
        return Err(Error::BadRequest(format!(
            "schedule {name:?} is the default_schedule in config; change config first"
        )));
    }
    storage.delete(&format!("{SCHEDULES_PREFIX}{name}")).await?;
    s.schedules.forget(&name);
    Ok(with_warnings(warnings))
}

/// No data, and `warnings` if any.
fn with_warnings(warnings: Vec<String>) -> Option<Response> {
    (!warnings.is_empty()).then(|| {
        let mut response = Response::with_data(serde_json::json!({}));
        response.warnings = warnings;
        response
    })
}

const LIST_SYNOPSIS: &str = "List rotation schedules.";
const LIST_DESCRIPTION: &str =
    "Lists the names of every schedule, the four built-in ones included.";
const SYNOPSIS: &str = "Manage a named rotation schedule.";
const DESCRIPTION: &str = "\
A schedule sets how old a key's current version may get (rotation_period) or, instead, the \
times it is rotated at (rotation_schedule: a five-field cron expression in UTC, as Vault's \
engines accept it), how long the previous version stays valid after a promotion (grace_period) \
and the window in which automatic rotation may start once a key is due (rotation_window: spread \
over it with a period; with a cron schedule the time after each scheduled time in which it may \
start, and a missed window waits for the next scheduled time). The engine creates production-tier1 \
(30d, 24h), production (90d, 48h), staging (90d, 168h) and development (180d, 336h) on first \
mount and never overwrites them. A schedule that keys still use cannot be deleted. \
health_check_interval (default 1h, 0 off) is how often current keys are tested at their \
provider, expiry_warning (default 14d) how early a provider expiry is reported. \
usage_quiet_period (default 1h, 0 turns it off) and max_grace (default 7d) make revocation \
usage-aware: shortly before a previous version's grace window ends, the engine asks its provider \
(OpenAI last_used_at, OpenRouter usage) whether the key is still used, and postpones the end by \
usage_quiet_period while it was used within that period, never past the planned end plus \
max_grace.";

#[cfg(test)]
mod tests;
