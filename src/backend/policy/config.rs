//! Mount-wide settings (`config`): the default schedule, the two-person rule, how much
//! history a key keeps and the longest grace period a request may give. The model and its storage; the path is `path_config.rs`.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::framework::{get_json, Error, Storage};

/// Storage key of the configuration.
pub(crate) const CONFIG_KEY: &str = "config";
/// Upper bound for `history_limit`, so one key's entry stays a reasonable size.
pub(crate) const MAX_HISTORY_LIMIT: i64 = 100_000;
/// Default `max_grace_period`: 30 days.
pub(crate) const DEFAULT_MAX_GRACE_PERIOD: i64 = 30 * 86_400;
/// The most `max_grace_period` may be set to: a year (a retired key valid longer than that is
/// no rotation at all).
pub(crate) const MAX_MAX_GRACE_PERIOD: i64 = 365 * 86_400;

/// Mount-wide settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Config {
    /// Schedule for keys that name none.
    pub default_schedule: String,
    /// The two-person rule: `promote` must come from another entity than `stage` (a `keys/`
    /// create is a stage), and a reinstating `rollback` needs a second entity.
    pub require_separate_approver: bool,
    /// History events kept per key.
    pub history_limit: i64,
    /// The largest `grace_period` a request may give on `promote/` or `rotate/` (seconds); a
    /// key's own `max_grace` may lower it ([`Config::grace_ceiling`]).
    pub max_grace_period: i64,
    /// While the rule is on, a request by one entity to switch it off, which a different entity
    /// confirms (so no one person can switch the rule off, rotate alone and switch it on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_off_request: Option<RuleOffRequest>,
}

/// A request to switch the two-person rule off, waiting for a second entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RuleOffRequest {
    /// Who asked (`entity:<id>`).
    pub requested_by: String,
    /// When.
    pub requested_time: DateTime<Utc>,
}

/// How long a request to switch the rule off waits for its confirmation.
pub(crate) const RULE_OFF_REQUEST_TTL: TimeDelta = TimeDelta::hours(1);

impl RuleOffRequest {
    /// Whether the request still stands at `now`.
    pub(crate) fn is_open_at(&self, now: DateTime<Utc>) -> bool {
        now - self.requested_time < RULE_OFF_REQUEST_TTL
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            default_schedule: "production".into(),
            require_separate_approver: false,
            history_limit: 1000,
            max_grace_period: DEFAULT_MAX_GRACE_PERIOD,
            rule_off_request: None,
        }
    }
}

impl Config {
    /// The stored configuration, or the defaults.
    pub(crate) async fn load(storage: &dyn Storage) -> Result<Config, Error> {
        Ok(get_json(storage, CONFIG_KEY).await?.unwrap_or_default())
    }

    /// The largest grace period a request may give on a key whose own `max_grace` override is
    /// `key_max_grace`, with what sets it (`config max_grace_period` or the key's `max_grace`).
    pub(crate) fn grace_ceiling(&self, key_max_grace: Option<i64>) -> (i64, &'static str) {
        match key_max_grace {
            Some(own) if own < self.max_grace_period => (own, "the key's max_grace"),
            _ => (self.max_grace_period, "config max_grace_period"),
        }
    }

    /// What `config` reads show.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let mut out = json!({
            "default_schedule": self.default_schedule,
            "require_separate_approver": self.require_separate_approver,
            "history_limit": self.history_limit,
            "max_grace_period": self.max_grace_period,
        });
        if let Some(r) = &self.rule_off_request {
            out["require_separate_approver_off_request"] = json!({
                "requested_by": r.requested_by,
                "requested_time": r.requested_time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            });
        }
        out
    }
}
