//! Why a transition was refused.

use chrono::{DateTime, Utc};

use super::state::VersionState;
use crate::key_test::TestOutcome;

/// A transition that the version state machine refuses. A refused transition changes nothing.
///
/// Every variant is a client error (400) except [`RotationError::SameApprover`],
/// [`RotationError::UnknownStager`] and [`RotationError::SameRequester`] (403, see
/// [`RotationError::is_forbidden`]) and
/// [`RotationError::Inconsistent`] (stored data is broken: a 500).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotationError {
    /// `stage` while a version is already pending.
    #[error("version {version} is already pending; promote it or roll it back first")]
    PendingExists {
        /// The pending version.
        version: u32,
    },
    /// `promote`, `test` (without a version) or a discard when no version is pending.
    #[error("no version is pending; stage one first")]
    NothingPending,
    /// A version number that the key does not have.
    #[error("version {version} does not exist")]
    NoSuchVersion {
        /// The requested version.
        version: u32,
    },
    /// A leak response (`exposed`) asked to revoke a version that is current or already
    /// retired.
    #[error(
        "version {version} is {state}; only a pending or previous version is revoked as exposed"
    )]
    NotExposable {
        /// The requested version.
        version: u32,
        /// Its state.
        state: VersionState,
    },
    /// `test` of a version that is neither pending nor current.
    #[error("version {version} is {state}; only the pending or the current version can be tested")]
    NotTestable {
        /// The requested version.
        version: u32,
        /// Its state.
        state: VersionState,
    },
    /// `promote` without `force` of a version whose last test is missing or neither `passed`
    /// nor `skipped`.
    #[error(
        "version {version} {}; test it until it passes or promote with force=true",
        describe_test(.outcome)
    )]
    NotTested {
        /// The pending version.
        version: u32,
        /// Its last test outcome, if it was tested.
        outcome: Option<TestOutcome>,
    },
    /// `promote` by the entity that staged the version while `require_separate_approver` is on.
    #[error(
        "version {version} was staged by the entity now promoting it; the two-person rule \
         (require_separate_approver) requires a different entity to promote it"
    )]
    SameApprover {
        /// The pending version.
        version: u32,
    },
    /// `promote` while `require_separate_approver` is on, of a version staged by no known
    /// person (a token without an identity entity, or a record from before entities were
    /// required): nobody can tell that the promoter is someone else.
    #[error(
        "version {version} was staged without an identity entity, so the two-person rule \
         (require_separate_approver) cannot tell that a different entity promotes it; roll it \
         back and stage it again with an entity's token"
    )]
    UnknownStager {
        /// The pending version.
        version: u32,
    },
    /// `rollback` confirming a reinstatement (two-person rule) by the entity that requested it.
    #[error(
        "reinstating version {version} was requested by the entity now confirming it; the \
         two-person rule (require_separate_approver) requires a different entity to confirm it \
         with rollback/"
    )]
    SameRequester {
        /// The previous version the request would reinstate.
        version: u32,
    },
    /// `rollback` with no pending version and no previous version.
    #[error(
        "nothing to roll back: no version is pending and no previous version is inside its \
         grace window"
    )]
    NothingToRollBack,
    /// `rollback` with no pending version and a previous version whose grace window has ended.
    #[error(
        "nothing to roll back: version {version}'s grace window ended at {}; its value can no \
         longer be restored",
        .expired_time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )]
    GraceEnded {
        /// The previous version.
        version: u32,
        /// When its grace window ended.
        expired_time: DateTime<Utc>,
    },
    /// `promote` with a negative grace period, or one so long the expiry time overflows.
    #[error("grace_period of {secs} seconds is invalid; it must be 0 or more (and reasonable)")]
    InvalidGracePeriod {
        /// The grace period given.
        secs: i64,
    },
    /// `stage` of a value that a live (pending, current or previous) version already holds.
    #[error("the value is the same as version {version}'s; a rotation needs a new key")]
    SameValue {
        /// The version holding that value.
        version: u32,
    },
    /// `stage` on a key whose versions were all destroyed (after `destroy_all`). (A key whose
    /// first version was discarded before approval has no current version either, but may stage
    /// a new first one.)
    #[error("the key has no current version; its values were destroyed")]
    NoCurrent,
    /// `stage` when version numbers have run out (after 4294967295 versions).
    #[error("the key has used every version number")]
    VersionsExhausted,
    /// `finalize` or `extend` when no previous version is inside its grace window, and none
    /// ended recently enough to name (a revoked version never comes back).
    #[error("no version is in its grace window: {detail}")]
    NoneInGrace {
        /// What there is instead (no key material).
        detail: String,
    },
    /// `extend` to a time not after the grace window's current end.
    #[error(
        "version {version}'s grace window already lasts until {}; extend only makes it longer \
         (finalize ends it now)",
        .grace_expires_time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )]
    NotLater {
        /// The previous version.
        version: u32,
        /// Its current grace end.
        grace_expires_time: DateTime<Utc>,
    },
    /// Stored versions break the state machine's invariants (found by `check_invariants`).
    #[error("stored versions are inconsistent: {detail}")]
    Inconsistent {
        /// Which invariant is broken (no key material).
        detail: String,
    },
}

impl RotationError {
    /// Whether the caller should answer 403 (permission denied) rather than 400.
    pub fn is_forbidden(&self) -> bool {
        matches!(
            self,
            Self::SameApprover { .. } | Self::UnknownStager { .. } | Self::SameRequester { .. }
        )
    }
}

fn describe_test(outcome: &Option<TestOutcome>) -> String {
    match outcome {
        None => "has not been tested".to_string(),
        Some(outcome) => format!("last tested {outcome}"),
    }
}
