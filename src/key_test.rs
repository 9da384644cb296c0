//! What a provider said about a key when the engine tested it: produced by [`crate::providers`],
//! recorded on a version by [`crate::rotation`]. Neither depends on the other for it.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
