//! Schedules: named rotation policies (period or cron cadence, grace, rotation window,
//! usage-aware revocation settings), the four built in and seeded on a mount's first start,
//! and a read-through cache every key read goes through. The path is `path_schedules.rs`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::framework::{get_json, put_json, Error, Storage};

/// Prefix of schedule entries.
pub(crate) const SCHEDULES_PREFIX: &str = "schedules/";
const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// A named rotation policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Schedule {
    /// Maximum age of the current version (seconds). With a `rotation_schedule`, the longest
    /// interval it allows (see [`super::cron_settings::check_schedule`]), shown as 0.
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
    /// How often the current key is tested at its provider (seconds; 0: never).
    #[serde(default = "default_health_check_interval")]
    pub health_check_interval: i64,
    /// How long before its provider expiry a current key is reported (seconds).
    #[serde(default = "default_expiry_warning")]
    pub expiry_warning: i64,
    /// How long before a key is due its webhooks hear of it (`key.due_soon`, `notify/`).
    #[serde(default = "default_notice_before")]
    pub notice_before: i64,
}

/// Default `usage_quiet_period`: one hour.
pub(crate) const DEFAULT_USAGE_QUIET_PERIOD: i64 = HOUR;
/// Default `max_grace`: seven days after the planned end.
pub(crate) const DEFAULT_MAX_GRACE: i64 = 7 * DAY;

fn default_usage_quiet_period() -> i64 {
    DEFAULT_USAGE_QUIET_PERIOD
}

fn default_max_grace() -> i64 {
    DEFAULT_MAX_GRACE
}

/// Default `health_check_interval`: one hour.
pub(crate) const DEFAULT_HEALTH_CHECK_INTERVAL: i64 = HOUR;
/// Default `expiry_warning`: fourteen days.
pub(crate) const DEFAULT_EXPIRY_WARNING: i64 = 14 * DAY;
/// The longest `health_check_interval` and `expiry_warning`: 366 days.
pub(crate) const MAX_WATCH_SECS: i64 = 366 * DAY;

fn default_health_check_interval() -> i64 {
    DEFAULT_HEALTH_CHECK_INTERVAL
}

fn default_expiry_warning() -> i64 {
    DEFAULT_EXPIRY_WARNING
}
/// Default `notice_before`: seven days before a key is due.
pub(crate) const DEFAULT_NOTICE_BEFORE: i64 = 7 * DAY;

fn default_notice_before() -> i64 {
    DEFAULT_NOTICE_BEFORE
}

/// Help of the schedules' `notice_before`.
pub(crate) const NOTICE_BEFORE_HELP: &str = "How long before a key of this schedule is due its notification webhooks receive key.due_soon (once per version; 0 turns it off). Default 7d.";

impl Schedule {
    /// What `schedules/` reads show.
    pub(crate) fn to_json(&self, name: &str) -> serde_json::Value {
        let mut out = json!({
            "name": name,
            "rotation_period": self.rotation_period,
            "grace_period": self.grace_period,
            "rotation_window": self.rotation_window,
            "rotation_schedule": "",
            "usage_quiet_period": self.usage_quiet_period,
            "max_grace": self.max_grace,
            "health_check_interval": self.health_check_interval,
            "expiry_warning": self.expiry_warning,
            "notice_before": self.notice_before,
        });
        if let Some(expr) = &self.rotation_schedule {
            out["rotation_schedule"] = json!(expr);
            out["rotation_period"] = json!(0);
        }
        out
    }
}

/// The schedules created on first mount (api.md), never overwriting existing ones.
pub(super) fn builtin() -> [(&'static str, Schedule); 4] {
    [
        ("production-tier1", built_in(30, 24)),
        ("production", production()),
        ("staging", built_in(90, 168)),
        ("development", built_in(180, 336)),
    ]
}

/// The built-in `production` schedule: also what a key whose schedule vanished falls back to.
pub(super) fn production() -> Schedule {
    built_in(90, 48)
}

fn built_in(days: i64, grace_hours: i64) -> Schedule {
    Schedule {
        rotation_period: days * DAY,
        grace_period: grace_hours * HOUR,
        rotation_window: 0,
        rotation_schedule: None,
        usage_quiet_period: DEFAULT_USAGE_QUIET_PERIOD,
        max_grace: DEFAULT_MAX_GRACE,
        health_check_interval: DEFAULT_HEALTH_CHECK_INTERVAL,
        expiry_warning: DEFAULT_EXPIRY_WARNING,
        notice_before: DEFAULT_NOTICE_BEFORE,
    }
}

/// Storage key recording that the built-in schedules were created for this mount.
pub(super) const SEEDED_KEY: &str = "init/schedules-seeded";

/// Creates the built-in schedules on a mount's first start: never overwriting one that exists,
/// and never again afterwards, so a built-in schedule an administrator deleted stays deleted
/// across reloads and restarts.
pub(crate) async fn seed(storage: &dyn Storage) -> Result<(), Error> {
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
/// old value. [`ScheduleCache::clear`] drops everything (on a standby, when a snapshot restore
/// replaced storage without any InvalidateKey: docs/operating.md, "After a restore").
#[derive(Debug, Default)]
pub(crate) struct ScheduleCache {
    state: std::sync::Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    generation: u64,
    entries: std::collections::HashMap<String, Schedule>,
}

impl ScheduleCache {
    /// The cache's state. A panic while it was held cannot leave it inconsistent (every
    /// change is one map operation or counter step), so a poisoned lock is used as it is.
    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Forgets every schedule.
    pub(crate) fn clear(&self) {
        let mut state = self.lock();
        state.generation += 1;
        state.entries.clear();
    }

    /// The schedule `name`, from the cache or storage.
    pub(crate) async fn get(
        &self,
        storage: &dyn Storage,
        name: &str,
    ) -> Result<Option<Schedule>, Error> {
        let generation = {
            let state = self.lock();
            if let Some(s) = state.entries.get(name) {
                return Ok(Some(s.clone()));
            }
            state.generation
        };
        let loaded = load(storage, name).await?;
        if let Some(schedule) = &loaded {
            let mut state = self.lock();
            if state.generation == generation {
                state.entries.insert(name.to_string(), schedule.clone());
            }
        }
        Ok(loaded)
    }

    /// Forgets schedule `name` (after it changed in storage).
    pub(crate) fn forget(&self, name: &str) {
        let mut state = self.lock();
        state.generation += 1;
        state.entries.remove(name);
    }

    /// Forgets what storage key `key` holds, if it is a schedule.
    pub(crate) fn invalidate(&self, key: &str) {
        if let Some(name) = key.strip_prefix(SCHEDULES_PREFIX) {
            self.forget(name);
        }
    }
}

/// Loads a schedule.
pub(crate) async fn load(storage: &dyn Storage, name: &str) -> Result<Option<Schedule>, Error> {
    Ok(get_json(storage, &format!("{SCHEDULES_PREFIX}{name}")).await?)
}

/// Loads a schedule or fails with a 400 naming it and the field.
pub(crate) async fn require(
    storage: &dyn Storage,
    field: &str,
    name: &str,
) -> Result<Schedule, Error> {
    load(storage, name).await?.ok_or_else(|| {
        Error::BadRequest(format!(
            "{field}: schedule {name:?} does not exist (see schedules/)"
        ))
    })
}

/// Path help of `usage_quiet_period` (schedules and key overrides).
pub(crate) const USAGE_QUIET_PERIOD_HELP: &str = "Usage-aware revocation: shortly before a previous version's grace window ends, the engine asks its provider when the key was last used (OpenAI keys the engine created or verified, OpenRouter keys); used within this period, the end is postponed by this period (history: grace_extended with the evidence). The engine's own key tests do not count as use. The check runs on the 60 s periodic tick from 150 s before the end, so a period under about 2m cannot keep a key in use between two ticks. 0 turns the check off. Default 1h.";
/// Path help of `max_grace` (schedules and key overrides).
pub(crate) const MAX_GRACE_HELP: &str = "Longest time past the planned end of a grace window that usage-aware postponements and extend/ may keep a previous version valid; then it is revoked even if still in use. Default 7d.";
/// Path help of `health_check_interval` (schedules and key overrides).
pub(crate) const HEALTH_CHECK_INTERVAL_HELP: &str = "How often the active node tests the current key at its provider (keys with a provider only; a key test, no tokens billed), spread by up to a tenth of the interval so keys do not all go at once; at most one call per key per interval, on the 60 s periodic tick (so an interval under 1m means every tick). A key the provider refuses (bad_key: invalid, revoked, disabled, expired; unfunded) is recorded (history current_key_rejected, metric ai_keys_current_key_rejected, flagged in overdue and report) and, with auto_rotate, rotated at once with no grace; a provider that is unavailable (429, 5xx, timeout) is tried again at the next interval. The engine's own checks never count as use. 0 turns the checks off. At most 366d. Default 1h.";
/// Path help of `expiry_warning` (schedules and key overrides).
pub(crate) const EXPIRY_WARNING_HELP: &str = "A current key whose provider expiry (provider_expires_time) is this close is reported: metric ai_keys_provider_expiry_near (and ai_keys_provider_expiry_seconds), alert AiKeyProviderExpiryNear. At most 366d. Default 14d.";
