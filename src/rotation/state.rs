//! Version states.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The state of one version of a key (api.md "Version states").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionState {
    /// Staged, not yet promoted; at most one per key. Value kept; accepted by `verify`.
    Pending,
    /// What applications receive; exactly one per key. Value kept; accepted by `verify`.
    Current,
    /// The former current, valid until its `grace_expires_time`. Value kept until then.
    Previous,
    /// Retired (grace ended, rolled back, emergency, deleted). Value destroyed.
    Revoked,
    /// Staged but discarded (failed its test or rolled back). Value destroyed.
    Failed,
}

impl VersionState {
    /// The API spelling (`pending`, `current`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Current => "current",
            Self::Previous => "previous",
            Self::Revoked => "revoked",
            Self::Failed => "failed",
        }
    }

    /// Whether a version in this state must hold its value (`pending`, `current`, `previous`).
    pub fn keeps_value(self) -> bool {
        matches!(self, Self::Pending | Self::Current | Self::Previous)
    }
}

impl fmt::Display for VersionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
