//! Version states and test outcomes.

use std::fmt;

use chrono::{DateTime, Utc};
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

/// What a provider said about a key when it was tested (api.md `test/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestOutcome {
    /// The provider accepted the key.
    Passed,
    /// The provider rejected the key.
    BadKey,
    /// The key is valid but out of quota or credit.
    Unfunded,
    /// Rate limit, 5xx or timeout: says nothing about the key.
    ProviderUnavailable,
    /// No provider is configured, so nothing was checked.
    Skipped,
}

impl TestOutcome {
    /// The API spelling (`passed`, `bad_key`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::BadKey => "bad_key",
            Self::Unfunded => "unfunded",
            Self::ProviderUnavailable => "provider_unavailable",
            Self::Skipped => "skipped",
        }
    }

    /// Whether this outcome allows `promote` without `force` (`passed` or `skipped`).
    pub fn allows_promotion(self) -> bool {
        matches!(self, Self::Passed | Self::Skipped)
    }
}

impl fmt::Display for TestOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one test of a version, as recorded on it and returned by `test/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResult {
    /// What the provider said.
    pub outcome: TestOutcome,
    /// The provider's HTTP status, if a request was answered.
    #[serde(default)]
    pub status_code: Option<u16>,
    /// Short explanation; never key material.
    #[serde(default)]
    pub detail: String,
    /// When the test ran.
    pub time: DateTime<Utc>,
}
