//! Rotation policy: the mount's settings ([`Config`]), named schedules and their built-in
//! defaults, cron cadences and rotation windows, and a key's effective periods (its overrides,
//! else its schedule's).
//!
//! Pure settings and their checks; it reads storage only for the settings themselves. It sits
//! on [`super::record`] and knows nothing of providers, workflows or paths.

mod config;
mod cron_settings;
mod periods;
mod schedule;

pub(super) use config::{
    Config, RuleOffRequest, CONFIG_KEY, MAX_HISTORY_LIMIT, MAX_MAX_GRACE_PERIOD,
};
pub(super) use cron_settings::{
    apply_to_key, apply_to_schedule, cadence_input, cadence_json, check_key, check_schedule,
    key_window_field, schedule_field, CadenceInput,
};
pub(super) use periods::{periods, periods_of, periods_under, Periods};
pub(super) use schedule::{
    load as load_schedule, require as require_schedule, seed as seed_schedules, Schedule,
    ScheduleCache, DEFAULT_EXPIRY_WARNING, DEFAULT_HEALTH_CHECK_INTERVAL, DEFAULT_MAX_GRACE,
    DEFAULT_NOTICE_BEFORE, DEFAULT_USAGE_QUIET_PERIOD, EXPIRY_WARNING_HELP,
    HEALTH_CHECK_INTERVAL_HELP, MAX_GRACE_HELP, MAX_WATCH_SECS, NOTICE_BEFORE_HELP,
    SCHEDULES_PREFIX, USAGE_QUIET_PERIOD_HELP,
};
