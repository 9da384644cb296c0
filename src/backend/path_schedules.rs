//! `schedules/`: named rotation policies, four of them built in.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{bind, cron_settings, scan, Shared};
use crate::framework::{
    existence_check, generic_name_regex, get_json, put_json, Error, Field, FieldData, FieldType,
    HandlerResult, Operation, Path, Request, Response, Storage,
};

/// Prefix of schedule entries.
pub const SCHEDULES_PREFIX: &str = "schedules/";
const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// A named rotation policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Maximum age of the current version (seconds). With a `rotation_schedule`, the longest
    /// interval it allows (see [`cron_settings::check_schedule`]), shown as 0.
    pub rotation_period: i64,
    /// How long `previous` stays valid after a promotion (seconds).
    pub grace_period: i64,
    /// Automatic rotation may start at any time within this window after the key is due.
    #[serde(default)]
    pub rotation_window: i64,
    /// A five-field cron expression (UTC) used instead of the period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_schedule: Option<String>,
    /// A retiring key used within this long is kept this much longer (0: no usage checks).
    #[serde(default = "default_usage_quiet_period")]
    pub usage_quiet_period: i64,
    /// Grace windows are never extended past their planned end plus this.
    #[serde(default = "default_max_grace")]
    pub max_grace: i64,
}

/// Default `usage_quiet_period`: one hour.
pub const DEFAULT_USAGE_QUIET_PERIOD: i64 = HOUR;
/// Default `max_grace`: seven days after the planned end.
pub const DEFAULT_MAX_GRACE: i64 = 7 * DAY;

fn default_usage_quiet_period() -> i64 {
    DEFAULT_USAGE_QUIET_PERIOD
}

fn default_max_grace() -> i64 {
    DEFAULT_MAX_GRACE
}

impl Schedule {
    fn to_json(&self, name: &str) -> serde_json::Value {
        let mut out = json!({
            "name": name,
            "rotation_period": self.rotation_period,
            "grace_period": self.grace_period,
            "rotation_window": self.rotation_window,
            "rotation_schedule": "",
            "usage_quiet_period": self.usage_quiet_period,
            "max_grace": self.max_grace,
        });
        if let Some(expr) = &self.rotation_schedule {
            out["rotation_schedule"] = json!(expr);
            out["rotation_period"] = json!(0);
        }
        out
    }
}

/// The schedules created on first mount (api.md), never overwriting existing ones.
pub fn builtin() -> [(&'static str, Schedule); 4] {
    let s = |days: i64, grace_hours: i64| Schedule {
        rotation_period: days * DAY,
        grace_period: grace_hours * HOUR,
        rotation_window: 0,
        rotation_schedule: None,
        usage_quiet_period: DEFAULT_USAGE_QUIET_PERIOD,
        max_grace: DEFAULT_MAX_GRACE,
    };
    [
        ("production-tier1", s(30, 24)),
        ("production", s(90, 48)),
        ("staging", s(90, 168)),
        ("development", s(180, 336)),
    ]
}

/// Storage key recording that the built-in schedules were created for this mount.
pub const SEEDED_KEY: &str = "init/schedules-seeded";

/// Creates the built-in schedules on a mount's first start: never overwriting one that exists,
/// and never again afterwards, so a built-in schedule an administrator deleted stays deleted
/// across reloads and restarts.
pub async fn seed(storage: &dyn Storage) -> Result<(), Error> {
    if storage.get(SEEDED_KEY).await?.is_some() {
        return Ok(());
    }
    for (name, schedule) in builtin() {
        let key = format!("{SCHEDULES_PREFIX}{name}");
        if storage.get(&key).await?.is_none() {
            put_json(storage, &key, &schedule).await?;
        }
    }
    put_json(
        storage,
        SEEDED_KEY,
        &serde_json::json!({ "time": chrono::Utc::now().to_rfc3339() }),
    )
    .await?;
    Ok(())
}

/// Schedules read through from storage and kept until they change: every key read needs its
/// schedule, and a storage round trip to the host costs about as much as the rest of a read.
/// Writes here forget the entry after storing; the host's InvalidateKey (standbys, replication)
/// forgets it too, at the moment the replicated storage changes, so the cache never makes a
/// stale window longer. A generation counter keeps a read that raced a write from caching the
/// old value.
#[derive(Debug, Default)]
pub struct ScheduleCache {
    state: std::sync::Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    generation: u64,
    entries: std::collections::HashMap<String, Schedule>,
}

impl ScheduleCache {
    /// The schedule `name`, from the cache or storage.
    pub async fn get(&self, storage: &dyn Storage, name: &str) -> Result<Option<Schedule>, Error> {
        let generation = {
            let state = self.state.lock().expect("schedule cache");
            if let Some(s) = state.entries.get(name) {
                return Ok(Some(s.clone()));
            }
            state.generation
        };
        let loaded = load(storage, name).await?;
        if let Some(schedule) = &loaded {
            let mut state = self.state.lock().expect("schedule cache");
            if state.generation == generation {
                state.entries.insert(name.to_string(), schedule.clone());
            }
        }
        Ok(loaded)
    }

    /// Forgets schedule `name` (after it changed in storage).
    pub fn forget(&self, name: &str) {
        let mut state = self.state.lock().expect("schedule cache");
        state.generation += 1;
        state.entries.remove(name);
    }

    /// Forgets what storage key `key` holds, if it is a schedule.
    pub fn invalidate(&self, key: &str) {
        if let Some(name) = key.strip_prefix(SCHEDULES_PREFIX) {
            self.forget(name);
        }
    }
}

/// Loads a schedule.
pub async fn load(storage: &dyn Storage, name: &str) -> Result<Option<Schedule>, Error> {
    Ok(get_json(storage, &format!("{SCHEDULES_PREFIX}{name}")).await?)
}

/// Loads a schedule or fails with a 400 naming it and the field.
pub async fn require(storage: &dyn Storage, field: &str, name: &str) -> Result<Schedule, Error> {
    load(storage, name).await?.ok_or_else(|| {
        Error::BadRequest(format!(
            "{field}: schedule {name:?} does not exist (see schedules/)"
        ))
    })
}

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
            .field(cron_settings::schedule_field(false))
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
            .operation(Operation::Create, "Create a schedule.", bind(shared, write))
            .operation(Operation::Update, "Update a schedule.", bind(shared, write))
            .operation(Operation::Read, "Read a schedule.", bind(shared, read))
            .operation(Operation::Delete, "Delete a schedule no key uses.", bind(shared, delete))
            .existence(existence_check(|req: Request, d: FieldData| async move {
                let name = d.get_string("name").unwrap_or_default();
                Ok(load(req.storage.as_ref(), &name).await?.is_some())
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
    Ok(load(req.storage.as_ref(), &name)
        .await?
        .map(|s| Response::with_data(s.to_json(&name))))
}

fn given(d: &FieldData, field: &str) -> Option<i64> {
    d.get_duration(field).filter(|_| d.is_set(field))
}

async fn write(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let existing = load(req.storage.as_ref(), &name).await?;
    let cadence = cron_settings::cadence_input(&d)?;
    let grace_period = given(&d, "grace_period");
    let rotation_window = given(&d, "rotation_window");
    let creating = existing.is_none();
    let usage_quiet_period = given(&d, "usage_quiet_period");
    let max_grace = given(&d, "max_grace");
    let mut schedule = match existing {
        Some(mut s) => {
            s.grace_period = grace_period.unwrap_or(s.grace_period);
            s.rotation_window = rotation_window.unwrap_or(s.rotation_window);
            s.usage_quiet_period = usage_quiet_period.unwrap_or(s.usage_quiet_period);
            s.max_grace = max_grace.unwrap_or(s.max_grace);
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
        },
    };
    cron_settings::apply_to_schedule(&mut schedule, &cadence, creating)?;
    cron_settings::check_schedule(&mut schedule)?;
    put_json(
        req.storage.as_ref(),
        &format!("{SCHEDULES_PREFIX}{name}"),
        &schedule,
    )
    .await?;
    s.schedules.forget(&name);
    Ok(Some(super::view::with_grace_warning(
        schedule.to_json(&name),
        &format!("schedule {name:?}"),
        schedule.grace_period,
    )))
}

async fn delete(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let storage = req.storage.as_ref();
    let users = scan::names_where(storage, |k| *k.schedule == *name).await?;
    if !users.is_empty() {
        return Err(Error::BadRequest(format!(
            "schedule {name:?} is used by keys: {}",
            users.join(", ")
        )));
    }
    let config = super::Config::load(storage).await?;
    if config.default_schedule == name {
        return Err(Error::BadRequest(format!(
            "schedule {name:?} is the default_schedule in config; change config first"
        )));
    }
    storage.delete(&format!("{SCHEDULES_PREFIX}{name}")).await?;
    s.schedules.forget(&name);
    Ok(None)
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
usage_quiet_period (default 1h, 0 turns it off) and max_grace (default 7d) make revocation \
usage-aware: shortly before a previous version's grace window ends, the engine asks its provider \
(OpenAI last_used_at, OpenRouter usage) whether the key is still used, and postpones the end by \
usage_quiet_period while it was used within that period, never past the planned end plus \
max_grace.";

/// Path help of `usage_quiet_period` (schedules and key overrides).
pub const USAGE_QUIET_PERIOD_HELP: &str = "Usage-aware revocation: shortly before a previous version's grace window ends, the engine asks its provider when the key was last used (OpenAI keys the engine created or verified, OpenRouter keys); used within this period, the end is postponed by this period (history: grace_extended with the evidence). The engine's own key tests do not count as use. The check runs on the 60 s periodic tick from 150 s before the end, so a period under about 2m cannot keep a key in use between two ticks. 0 turns the check off. Default 1h.";
/// Path help of `max_grace` (schedules and key overrides).
pub const MAX_GRACE_HELP: &str = "Longest time past the planned end of a grace window that usage-aware postponements and extend/ may keep a previous version valid; then it is revoked even if still in use. Default 7d.";

#[cfg(test)]
mod tests;
