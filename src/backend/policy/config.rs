//! Mount-wide settings (`config`): the default schedule, the two-person rule and how much
//! history a key keeps. The model and its storage; the path is `path_config.rs`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::framework::{get_json, Error, Storage};

/// Storage key of the configuration.
pub(crate) const CONFIG_KEY: &str = "config";
/// Upper bound for `history_limit`, so one key's entry stays a reasonable size.
pub(crate) const MAX_HISTORY_LIMIT: i64 = 100_000;

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
}

impl Default for Config {
    fn default() -> Config {
        Config {
            default_schedule: "production".into(),
            require_separate_approver: false,
            history_limit: 1000,
        }
    }
}

impl Config {
    /// The stored configuration, or the defaults.
    pub(crate) async fn load(storage: &dyn Storage) -> Result<Config, Error> {
        Ok(get_json(storage, CONFIG_KEY).await?.unwrap_or_default())
    }

    /// What `config` reads show.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        json!({
            "default_schedule": self.default_schedule,
            "require_separate_approver": self.require_separate_approver,
            "history_limit": self.history_limit,
        })
    }
}
