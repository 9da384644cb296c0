//! The version state machine of a managed key: pure (no I/O, no async; time is a parameter).
//!
//! A key holds numbered versions, each `pending`, `current`, `previous`, `revoked` or `failed`
//! (api.md "Version states"). [`KeyVersions`] is what the engine stores per key; its methods are
//! the transitions (`create`, `create_pending`, `stage`, `record_test`, `promote`, `rollback`,
//! `rollback_two_person`, `discard_pending`, `expire`, `destroy_all`, and the leak response's
//! `revoke_exposed` and `withdraw_exposed_current`), each validating fully
//! before changing anything and returning the [`Change`]s to record in the key's history, or a
//! [`RotationError`] that leaves the key untouched. Grace windows are enforced when read
//! ([`KeyVersions::previous_in_grace`], [`KeyVersions::verify`]), so correctness never waits for
//! the periodic [`KeyVersions::expire`].
//!
//! Values live in [`SecretValue`] and are destroyed (set to `None`) the moment a version is
//! `revoked` or `failed`. Provider calls are the caller's: after a transition,
//! [`KeyVersions::provider_revocations`] names the provider-side keys to revoke.

pub mod age;
pub mod change;
pub mod cron;
pub mod cutover;
pub mod error;
pub mod exposure;
pub mod health;
pub mod key;
pub mod origin;
pub mod reinstate;
pub mod retire;
pub mod revocation;
pub mod state;
pub mod timing;
pub mod transitions;
pub mod usage;

#[cfg(test)]
mod tests;

pub use crate::key_test::{TestOutcome, TestResult};
pub use crate::secret::{fingerprint_of, validate_key_value, SecretValue, MAX_KEY_VALUE_BYTES};
pub use age::{
    age_days, age_secs, is_overdue, next_rotation_time, overdue_days, period_days, ttl_secs,
    AgeReport, SECS_PER_DAY,
};
pub use change::{Change, EventKind};
pub use cron::{CronError, CronSpec};
pub use error::RotationError;
pub use health::{is_refusal, HealthCheck};
pub use key::{KeyVersions, ReinstatementRequest, Version, ENTITY_PREFIX};
pub use origin::{Origin, Place};
pub use reinstate::TwoPersonRollback;
pub use revocation::{Acknowledgement, ManualRevocation, ProviderRevocation};
pub use state::VersionState;
pub use timing::{Cadence, Timing};
pub use usage::{Observation, UsageCheck, UsageDecision, UsagePolicy};
