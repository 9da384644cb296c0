//! The engine's scheduled health checks of a live key at its provider (the periodic work tests
//! every current key each `health_check_interval`), the pure part: what one check leaves on the
//! version, and since when the provider has refused the key.
//!
//! A check is the engine's own call with the key: providers stamp it as use (OpenAI's
//! `last_used_at`), so [`Version::engine_call_time`] names the latest such call, test or health
//! check, and usage-aware revocation never takes it for an application's use.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::key::Version;
use crate::key_test::{TestOutcome, TestResult};

/// The last health check of a version and the run of refusals it is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// What the provider said at the last check (classified outcome, status, its message).
    pub last: TestResult,
    /// When the provider first refused the key in the current run of refusals; `None` while it
    /// accepts the key (or has never refused it). An unavailable provider neither sets nor
    /// clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_since: Option<DateTime<Utc>>,
}

/// Whether `outcome` is the provider refusing the key (`bad_key`: invalid, revoked, disabled or
/// expired; `unfunded`: valid but unusable). An unavailable provider (429 rate limit, 5xx,
/// timeout) says nothing about the key, and a skipped test checked nothing.
pub fn is_refusal(outcome: TestOutcome) -> bool {
    matches!(outcome, TestOutcome::BadKey | TestOutcome::Unfunded)
}

impl HealthCheck {
    /// The record after a check that gave `result`, following `previous`.
    pub fn after(previous: Option<&HealthCheck>, result: TestResult) -> HealthCheck {
        let before = previous.and_then(|h| h.rejected_since);
        let rejected_since = match result.outcome {
            o if is_refusal(o) => Some(before.unwrap_or(result.time)),
            TestOutcome::ProviderUnavailable | TestOutcome::Skipped => before,
            _ => None,
        };
        HealthCheck {
            last: result,
            rejected_since,
        }
    }

    /// Whether this check started a run of refusals (the moment to record and alert).
    pub fn newly_rejected(&self, previous: Option<&HealthCheck>) -> bool {
        self.rejected_since.is_some() && previous.and_then(|h| h.rejected_since).is_none()
    }
}

impl Version {
    /// Since when the provider has refused this version's key, by the engine's health checks.
    pub fn rejected_since(&self) -> Option<DateTime<Utc>> {
        self.health_check.as_ref().and_then(|h| h.rejected_since)
    }

    /// The latest call the engine itself made with this key at its provider: its last test or
    /// its last health check (a skipped test made none).
    pub fn engine_call_time(&self) -> Option<DateTime<Utc>> {
        let test = self
            .last_test
            .as_ref()
            .filter(|r| r.outcome != TestOutcome::Skipped)
            .map(|r| r.time);
        let check = self
            .health_check
            .as_ref()
            .filter(|h| h.last.outcome != TestOutcome::Skipped)
            .map(|h| h.last.time);
        test.max(check)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn result(outcome: TestOutcome, minutes: i64) -> TestResult {
        TestResult {
            outcome,
            status_code: None,
            detail: String::new(),
            time: DateTime::<Utc>::UNIX_EPOCH + TimeDelta::minutes(minutes),
        }
    }

    #[test]
    fn a_refusal_starts_a_run_that_only_an_accepted_check_ends() {
        let first = HealthCheck::after(None, result(TestOutcome::BadKey, 1));
        assert_eq!(
            first.rejected_since,
            Some(result(TestOutcome::BadKey, 1).time)
        );
        assert!(first.newly_rejected(None));
        let again = HealthCheck::after(Some(&first), result(TestOutcome::Unfunded, 2));
        assert_eq!(again.rejected_since, first.rejected_since);
        assert!(!again.newly_rejected(Some(&first)));
        let outage = HealthCheck::after(Some(&again), result(TestOutcome::ProviderUnavailable, 3));
        assert_eq!(
            outage.rejected_since, first.rejected_since,
            "an outage clears nothing"
        );
        let fine = HealthCheck::after(Some(&outage), result(TestOutcome::Passed, 4));
        assert_eq!(fine.rejected_since, None);
    }

    #[test]
    fn an_unavailable_provider_is_no_refusal() {
        let check = HealthCheck::after(None, result(TestOutcome::ProviderUnavailable, 1));
        assert_eq!(check.rejected_since, None);
        assert!(!check.newly_rejected(None));
        assert!(!is_refusal(TestOutcome::ProviderUnavailable));
        assert!(!is_refusal(TestOutcome::Skipped));
        assert!(!is_refusal(TestOutcome::Passed));
    }
}
