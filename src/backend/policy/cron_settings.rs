//! `rotation_schedule` (a five-field cron expression, UTC) and `rotation_window` on schedules
//! and keys: their fields, their checks, and how a key's rotation timing is resolved from its
//! overrides and its schedule.
//!
//! A schedule has either a `rotation_period` or a `rotation_schedule` (both in one request: 400,
//! as in Vault); giving one replaces the other. A key may override either: its override replaces
//! the schedule's cadence whichever kind that is (a key with `rotation_period=7d` on a cron
//! schedule rotates every 7 days, and the other way round), and `rotation_schedule=""` drops a
//! key's cron override (`rotation_period=""` its period override, `rotation_window=""` its
//! window override). `rotation_window` keeps its meaning for periods (automatic rotations
//! spread over that long after the due time, at most the period); with a cron schedule it is
//! the time after each scheduled time in which an automatic rotation may start: 0 (no limit) or
//! 1h to 366d, as Vault's minimum. A key's own `rotation_window` wins; otherwise the schedule's
//! applies when the key keeps the schedule's kind of cadence, and 0 when it changes it.

use serde_json::json;

use super::schedule::Schedule;
use crate::backend::record::{KeyState, Overrides};
use crate::framework::{Error, Field, FieldData, FieldType};
use crate::rotation::{cron::MAX_EXPRESSION_LEN, Cadence, CronSpec, Timing};

/// Shortest window with a cron schedule (Vault's minimum), seconds.
pub(super) const MIN_CRON_WINDOW_SECS: i64 = 3_600;
/// Longest window with a cron schedule, seconds.
pub(super) const MAX_CRON_WINDOW_SECS: i64 = 366 * 86_400;

/// The `rotation_schedule` field; `on_key` words it as an override.
pub(crate) fn schedule_field(on_key: bool) -> Field {
    let text = if on_key {
        "Overrides the schedule's cadence with a five-field cron expression in UTC (minute hour day-of-month month day-of-week, as Vault's engines accept it, e.g. \"0 3 * * MON\"); replaces a rotation_period override. \"\" removes it. Mutually exclusive with rotation_period."
    } else {
        "Rotate at the times of a five-field cron expression in UTC instead of after rotation_period (minute hour day-of-month month day-of-week, as Vault's engines accept it: *, ?, lists, ranges, steps, jan-dec, sun-sat; no seconds field, no @descriptors). Mutually exclusive with rotation_period; giving one replaces the other."
    };
    Field::new("rotation_schedule", FieldType::String, text).max_len(MAX_EXPRESSION_LEN)
}

/// The key's `rotation_window` override field (`""` removes the override).
pub(crate) fn key_window_field() -> Field {
    Field::new(
        "rotation_window",
        FieldType::Duration,
        "Overrides the schedule's rotation_window for this key (with a rotation_schedule: 0 for no limit, or 1h to 366d after each scheduled time; with a period: at most the period). Cleared, the schedule's applies again.",
    )
    .clearable()
}

/// What one request says about the cadence.
#[derive(Debug, Default)]
pub(crate) struct CadenceInput {
    /// `rotation_period` given (seconds).
    pub period: Option<i64>,
    /// `rotation_period=""` given: a key's period override is removed (only keys' field is
    /// clearable).
    pub clear_period: bool,
    /// `rotation_schedule` given: `Some(None)` for `""` (remove), else the parsed expression.
    pub schedule: Option<Option<CronSpec>>,
}

impl CadenceInput {
    /// The cron expression given, if a non-empty one was.
    pub(crate) fn cron(&self) -> Option<CronSpec> {
        self.schedule.flatten()
    }
}

/// A `rotation_schedule` as a 400 naming the field when it is refused.
pub(super) fn parse_expression(expr: &str) -> Result<CronSpec, Error> {
    CronSpec::parse(expr).map_err(|e| Error::BadRequest(format!("rotation_schedule: {e}")))
}

/// Reads `rotation_period` and `rotation_schedule` from a request: both non-empty is a 400.
pub(crate) fn cadence_input(d: &FieldData) -> Result<CadenceInput, Error> {
    let given = d
        .is_set("rotation_period")
        .then(|| d.get_clearable_duration("rotation_period"))
        .flatten();
    let (period, clear_period) = match given {
        None => (None, false),
        Some(None) => (None, true),
        Some(Some(p)) => (Some(p), false),
    };
    let schedule = match d
        .is_set("rotation_schedule")
        .then(|| d.get_string("rotation_schedule"))
        .flatten()
    {
        None => None,
        Some(s) if s.trim().is_empty() => Some(None),
        Some(s) => Some(Some(parse_expression(&s)?)),
    };
    let input = CadenceInput {
        period,
        clear_period,
        schedule,
    };
    if input.cron().is_some() && input.period.is_some_and(|p| p != 0) {
        return Err(Error::BadRequest(
            "rotation_period and rotation_schedule are mutually exclusive: give one (a cron schedule, or a period)".into(),
        ));
    }
    if input.cron().is_none() && input.period == Some(0) {
        return Err(Error::BadRequest(
            "rotation_period must be greater than zero".into(),
        ));
    }
    Ok(input)
}

/// Applies `input` to a schedule being written (`creating`: there was none).
pub(crate) fn apply_to_schedule(
    s: &mut Schedule,
    input: &CadenceInput,
    creating: bool,
) -> Result<(), Error> {
    if let Some(spec) = input.cron() {
        s.rotation_schedule = Some(spec.as_str().to_string());
    } else if let Some(p) = input.period {
        s.rotation_period = p;
        s.rotation_schedule = None;
    } else if input.schedule.is_some() && (creating || s.rotation_schedule.is_some()) {
        return Err(Error::BadRequest(
            "rotation_period is required when rotation_schedule is removed".into(),
        ));
    } else if creating {
        return Err(Error::BadRequest(
            "rotation_period or rotation_schedule is required".into(),
        ));
    }
    Ok(())
}

/// Checks a schedule about to be stored. With a cron expression the stored `rotation_period`
/// becomes the longest interval it allows (its longest gap plus the window), so a release
/// without cron support still rotates such keys about as often.
pub(crate) fn check_schedule(s: &mut Schedule) -> Result<(), Error> {
    match &s.rotation_schedule {
        Some(expr) => {
            let spec = parse_expression(expr)?;
            check_window(s.rotation_window, &Cadence::Cron(spec))?;
            s.rotation_period = spec
                .longest_interval_secs()
                .saturating_add(s.rotation_window);
        }
        None => {
            if s.rotation_period <= 0 {
                return Err(Error::BadRequest(
                    "rotation_period must be greater than zero".into(),
                ));
            }
            check_window(s.rotation_window, &Cadence::Period(s.rotation_period))?;
        }
    }
    Ok(())
}

/// Checks a `rotation_window` against the cadence it applies to.
pub(super) fn check_window(window: i64, cadence: &Cadence) -> Result<(), Error> {
    match cadence {
        Cadence::Cron(_) => {
            if window != 0 && !(MIN_CRON_WINDOW_SECS..=MAX_CRON_WINDOW_SECS).contains(&window) {
                return Err(Error::BadRequest(
                    "rotation_window must be 0 (no limit) or from 1h to 366d with a rotation_schedule (Vault's minimum is 1h)".into(),
                ));
            }
        }
        Cadence::Period(p) => {
            if window > *p {
                return Err(Error::BadRequest(
                    "rotation_window must not be longer than rotation_period".into(),
                ));
            }
        }
    }
    Ok(())
}

/// Applies `input` and a `rotation_window` override (`Some(None)`: removed) to a key; returns
/// the fields changed.
pub(crate) fn apply_to_key(
    key: &mut KeyState,
    input: &CadenceInput,
    window: Option<Option<i64>>,
) -> Vec<&'static str> {
    let mut changed = Vec::new();
    if let Some(spec) = input.cron() {
        key.rotation_schedule = Some(spec.as_str().to_string());
        key.rotation_period = None;
        changed.push("rotation_schedule");
    } else if let Some(p) = input.period {
        key.rotation_period = Some(p);
        key.rotation_schedule = None;
        changed.push("rotation_period");
    } else if input.schedule.is_some() {
        key.rotation_schedule = None;
        changed.push("rotation_schedule");
    }
    if input.clear_period {
        key.rotation_period = None;
        changed.push("rotation_period");
    }
    if let Some(w) = window {
        key.rotation_window = w;
        changed.push("rotation_window");
    }
    changed
}

/// Checks a key's overrides against its schedule (called before the key is stored).
pub(crate) fn check_key(key: &KeyState, schedule: &Schedule) -> Result<(), Error> {
    let timing = timing(&key.overrides(), schedule)?;
    if let Some(w) = key.rotation_window {
        check_window(w, &timing.cadence)?;
    }
    Ok(())
}

fn schedule_cadence(schedule: &Schedule) -> Result<Cadence, Error> {
    Ok(match &schedule.rotation_schedule {
        Some(expr) => Cadence::Cron(stored_expression(expr)?),
        None => Cadence::Period(schedule.rotation_period),
    })
}

/// A stored expression (checked when written): a refusal now means damaged storage.
fn stored_expression(expr: &str) -> Result<CronSpec, Error> {
    CronSpec::parse(expr).map_err(|e| {
        Error::Internal(format!(
            "stored rotation_schedule {expr:?} is not valid: {e}"
        ))
    })
}

/// A key's rotation timing: its overrides, else its schedule's.
pub(super) fn timing(key: &Overrides<'_>, schedule: &Schedule) -> Result<Timing, Error> {
    let inherited = schedule_cadence(schedule)?;
    let cadence = match (key.rotation_schedule, key.rotation_period) {
        (Some(expr), _) => Cadence::Cron(stored_expression(expr)?),
        (None, Some(p)) => Cadence::Period(p),
        (None, None) => inherited,
    };
    let same_kind = matches!(
        (&cadence, &inherited),
        (Cadence::Cron(_), Cadence::Cron(_)) | (Cadence::Period(_), Cadence::Period(_))
    );
    let window = match key.rotation_window {
        Some(w) => w,
        None if same_kind => schedule.rotation_window,
        None => 0,
    };
    // Stored values are checked when written; a schedule changed since only loosens a window.
    let window = match cadence {
        Cadence::Cron(_) if window > 0 => window.clamp(MIN_CRON_WINDOW_SECS, MAX_CRON_WINDOW_SECS),
        _ => window.max(0),
    };
    Ok(Timing { cadence, window })
}

/// The cadence fields of a read: `rotation_schedule` (`""` without one) and the
/// `rotation_period` to show (0 with a cron schedule, as Vault shows it).
pub(crate) fn cadence_json(cron: Option<&CronSpec>, period: i64) -> serde_json::Value {
    match cron {
        Some(spec) => json!({ "rotation_schedule": spec.as_str(), "rotation_period": 0 }),
        None => json!({ "rotation_schedule": "", "rotation_period": period }),
    }
}

#[cfg(test)]
mod tests;
