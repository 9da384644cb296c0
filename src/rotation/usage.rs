//! Usage-aware revocation, the pure part: whether a `previous` version whose grace window is about
//! to end is still in use (by what its provider reports), and how far its end may move.
//!
//! The check is made *before* the window ends ([`KeyVersions::usage_check_due`]), so grace stays
//! enforced at read time: a postponement moves `grace_expires_time` while the key is still
//! valid, and a window that has ended is never reopened (a revoked key never comes back). The
//! planned end (`planned_grace_expires_time`) never moves; extensions stop at it plus
//! `max_grace`. Nothing here is retired: the ordinary expiry (with its durable revoke intent)
//! retires the version at whatever end the checks left.
//!
//! The engine's own key tests and health checks are use at the provider too. A reported last use
//! at or before the version's last test or health check ([`Version::engine_call_time`]) plus [`ENGINE_USE_SKEW_SECS`] is taken for the engine's own call and not
//! counted: providers report whole seconds (OpenAI's `last_used_at`) or coarser, always rounded
//! down, so the stamp of the engine's call is never later than the end of that call (recorded
//! as the test's time) but for clock differences between the two hosts.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::change::{Change, EventKind};
use super::key::{KeyVersions, Version};
use super::state::VersionState;

/// How long before its end a grace window is checked for use. The host's periodic tick comes
/// every 60 s: 150 s lets at least two ticks check it, so one slow or failed tick (or an
/// OpenRouter reading that needs a baseline first) still leaves one before the end.
pub const USAGE_CHECK_LEAD_SECS: i64 = 150;
/// Allowance for the provider's clock being ahead of the engine's when telling the engine's own
/// key test from an application's use.
pub const ENGINE_USE_SKEW_SECS: i64 = 10;

/// A key's usage settings (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsagePolicy {
    /// A key used within this long is kept; each postponement is this long. 0: no checks.
    pub quiet_period: i64,
    /// Extensions end at the planned grace end plus this.
    pub max_grace: i64,
}

/// What the provider said about a key's use.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// When it was last used (`None`: never), as the provider reported it (OpenAI).
    LastUsed(Option<DateTime<Utc>>),
    /// Its spend so far in USD (OpenRouter `usage`): rising between two readings is use.
    Spend(f64),
    /// The provider could not answer (the reason, never key material).
    Unavailable(String),
}

/// The usage checks of one `previous` version so far.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UsageCheck {
    /// The last spend reading, in millionths of a USD, for providers that report spend.
    #[serde(default)]
    pub spend_micro_usd: Option<i64>,
    /// When that reading was taken.
    #[serde(default)]
    pub spend_time: Option<DateTime<Utc>>,
    /// The kind of the last outcome recorded in the history (so a repeated outcome on the next
    /// tick is not recorded again).
    #[serde(default)]
    pub last_outcome: Option<String>,
    /// Postponements so far.
    #[serde(default)]
    pub extensions: u32,
}

/// What to do after a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageDecision {
    /// Postpone the end to `until`; `detail` is the evidence for the history.
    Extend {
        /// The new end (at most the planned end plus `max_grace`).
        until: DateTime<Utc>,
        /// The evidence, the old and new ends.
        detail: String,
    },
    /// Follow the schedule; `kind` names why (`quiet`, `engine_test`, `never_used`,
    /// `max_grace`, `unavailable`, `baseline`), `detail` says it for the history.
    Keep {
        /// Why, as a short token.
        kind: &'static str,
        /// Why, for the history.
        detail: String,
    },
}

fn t(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn secs(s: i64) -> TimeDelta {
    TimeDelta::try_seconds(s).unwrap_or(TimeDelta::MAX)
}

/// Seconds as a short duration (`90s`, `1h`, `7d`).
pub fn short_duration(s: i64) -> String {
    match s {
        s if s % 86_400 == 0 && s > 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 && s > 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 && s > 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The end a version's extensions may reach: its planned grace end plus `max_grace`.
pub fn grace_limit(v: &Version, max_grace: i64) -> Option<DateTime<Utc>> {
    let planned = v.planned_grace_expires_time.or(v.grace_expires_time)?;
    Some(
        planned
            .checked_add_signed(secs(max_grace))
            .unwrap_or(planned),
    )
}

impl KeyVersions {
    /// The `previous` version to check for use at `now`: still inside its grace window, which
    /// ends within [`USAGE_CHECK_LEAD_SECS`]. `None` when the checks are off (`quiet_period`
    /// 0). A grace of 0 (emergency) or a rollback never leaves such a version.
    pub fn usage_check_due(&self, now: DateTime<Utc>, policy: UsagePolicy) -> Option<&Version> {
        if policy.quiet_period <= 0 {
            return None;
        }
        let v = self.previous_in_grace(now)?;
        let end = v.grace_expires_time?;
        (end - now <= secs(USAGE_CHECK_LEAD_SECS)).then_some(v)
    }

    /// When the periodic work must next look at this key for usage-aware revocation: the
    /// retiring version's grace end (as extensions left it) less [`USAGE_CHECK_LEAD_SECS`];
    /// `None` without a `previous` version or with the checks off. (Its retirement itself is due
    /// at `previous().grace_expires_time`, which extensions move.)
    pub fn next_usage_check_time(&self, policy: UsagePolicy) -> Option<DateTime<Utc>> {
        if policy.quiet_period <= 0 {
            return None;
        }
        let end = self.previous()?.grace_expires_time?;
        end.checked_sub_signed(secs(USAGE_CHECK_LEAD_SECS))
    }

    /// Judges what the provider said about version `number` at `now` (pure; see
    /// [`KeyVersions::apply_usage`] to record it).
    pub fn judge_usage(
        &self,
        number: u32,
        observation: &Observation,
        policy: UsagePolicy,
        now: DateTime<Utc>,
    ) -> UsageDecision {
        let keep = |kind, detail: String| UsageDecision::Keep { kind, detail };
        let Some(v) = self
            .get(number)
            .filter(|v| v.state == VersionState::Previous)
        else {
            return keep("gone", format!("version {number} is not previous"));
        };
        let Some(end) = v.grace_expires_time else {
            return keep("gone", format!("version {number} has no grace window"));
        };
        let quiet = short_duration(policy.quiet_period);
        let schedule = format!("following the schedule: revoked at {}", t(end));
        let evidence = match observation {
            Observation::Unavailable(why) => {
                return keep(
                    "unavailable",
                    format!(
                        "the provider could not say whether the key is in use ({why}); {schedule}"
                    ),
                )
            }
            Observation::LastUsed(None) => {
                return keep(
                    "never_used",
                    format!("the provider reports no use of the key; {schedule}"),
                )
            }
            Observation::LastUsed(Some(last)) => {
                // The engine's own calls: its last test or health check of the key.
                let engine = v.engine_call_time();
                if let Some(test) = engine.filter(|e| *last <= *e + secs(ENGINE_USE_SKEW_SECS)) {
                    return keep(
                        "engine_test",
                        format!(
                            "last used at {} (provider's last_used_at): that is the engine's own key test at {} (within {ENGINE_USE_SKEW_SECS}s; the provider rounds down), not an application's use; {schedule}",
                            t(*last),
                            t(test)
                        ),
                    );
                }
                if now - *last >= secs(policy.quiet_period) {
                    return keep(
                        "quiet",
                        format!(
                            "last used at {} (provider's last_used_at), more than usage_quiet_period {quiet} ago; {schedule}",
                            t(*last)
                        ),
                    );
                }
                format!("last used at {} (provider's last_used_at)", t(*last))
            }
            Observation::Spend(usd) => {
                let reading = micro_usd(*usd);
                let check = v.usage_check.clone().unwrap_or_default();
                let (Some(before), Some(at)) = (check.spend_micro_usd, check.spend_time) else {
                    return keep(
                        "baseline",
                        format!("spend ${usd:.6} recorded as the baseline (the provider reports spend, not a time: the next check compares); {schedule}"),
                    );
                };
                if reading <= before {
                    return keep(
                        "quiet",
                        format!(
                            "spend unchanged at ${usd:.6} since {} (provider's usage); {schedule}",
                            t(at)
                        ),
                    );
                }
                format!(
                    "spend rose from ${:.6} at {} to ${usd:.6} at {} (provider's usage)",
                    before as f64 / 1e6,
                    t(at),
                    t(now)
                )
            }
        };
        let Some(limit) = grace_limit(v, policy.max_grace) else {
            return keep("gone", format!("version {number} has no grace window"));
        };
        let max = short_duration(policy.max_grace);
        if end >= limit {
            return keep(
                "max_grace",
                format!("{evidence}, within usage_quiet_period {quiet}, but max_grace {max} after the planned end is reached: revoked at {} anyway", t(end)),
            );
        }
        let until = end
            .max(now)
            .checked_add_signed(secs(policy.quiet_period))
            .unwrap_or(limit)
            .min(limit);
        let last = if until == limit {
            format!(" (max_grace {max} after the planned end reached: revoked then even if still in use)")
        } else {
            String::new()
        };
        UsageDecision::Extend {
            until,
            detail: format!(
                "in use: {evidence}, within usage_quiet_period {quiet}; revocation postponed from {} to {}{last}",
                t(end),
                t(until)
            ),
        }
    }

    /// Records a check of version `number` at `now`: the spend reading (if any), and for an
    /// extension the new end. Returns the changes for the history: one `grace_extended` for an
    /// extension; for a kept schedule one `usage_checked` note unless the previous check had
    /// the same outcome (the caller records notes; see [`UsageOutcome`]).
    pub fn apply_usage(
        &mut self,
        number: u32,
        observation: &Observation,
        decision: &UsageDecision,
        now: DateTime<Utc>,
    ) -> UsageOutcome {
        let Some(v) = self.versions.get_mut(&number) else {
            return UsageOutcome::default();
        };
        let check = v.usage_check.get_or_insert_with(UsageCheck::default);
        if let Observation::Spend(usd) = observation {
            check.spend_micro_usd = Some(micro_usd(*usd));
            check.spend_time = Some(now);
        }
        match decision {
            UsageDecision::Extend { until, detail } => {
                check.extensions = check.extensions.saturating_add(1);
                check.last_outcome = Some("extended".to_string());
                v.grace_expires_time = Some(*until);
                UsageOutcome {
                    changes: vec![Change::new(
                        EventKind::GraceExtended,
                        number,
                        detail.clone(),
                    )],
                    note: None,
                }
            }
            UsageDecision::Keep { kind, detail } => {
                let repeated = check.last_outcome.as_deref() == Some(*kind);
                check.last_outcome = Some((*kind).to_string());
                UsageOutcome {
                    changes: Vec::new(),
                    note: (!repeated && *kind != "gone").then(|| detail.clone()),
                }
            }
        }
    }
}

/// What [`KeyVersions::apply_usage`] leaves to record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UsageOutcome {
    /// Transitions (a `grace_extended`).
    pub changes: Vec<Change>,
    /// A `usage_checked` note for the history, when the schedule is kept for a new reason.
    pub note: Option<String>,
}

fn micro_usd(usd: f64) -> i64 {
    if usd.is_finite() {
        (usd * 1e6).round().clamp(i64::MIN as f64, i64::MAX as f64) as i64
    } else {
        0
    }
}

#[cfg(test)]
#[path = "usage_tests.rs"]
mod tests;
