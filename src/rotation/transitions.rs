//! The forward transitions: create, stage, test, promote.
//!
//! Each validates everything before it changes anything, so a refused transition leaves the
//! key exactly as it was.

use chrono::{DateTime, TimeDelta, Utc};

use super::change::{Change, EventKind};
use super::error::RotationError;
use super::key::{KeyVersions, Version, ENTITY_PREFIX};
use super::state::VersionState;
use crate::key_test::TestResult;
use crate::secret::SecretValue;

impl KeyVersions {
    /// A new key whose `value` is version 1, `current`, with `promoted_time = created_time`.
    ///
    /// `created_time` is when the key was really created (for imports); one later than `now` is
    /// taken as `now`. Validate the value first with
    /// [`validate_key_value`](crate::secret::validate_key_value).
    pub fn create(
        value: SecretValue,
        created_time: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> (KeyVersions, Vec<Change>) {
        let created_time = created_time.min(now);
        let mut version = new_version(1, VersionState::Current, value, created_time);
        version.promoted_time = Some(created_time);
        let key = KeyVersions {
            versions: [(1, version)].into_iter().collect(),
            next_version: 2,
            reinstatement: None,
            withdrawn: None,
        };
        let change = Change::new(EventKind::Created, 1, "version 1 is current");
        (key, vec![change])
    }

    /// A new key whose `value` is version 1, `pending`, staged by `staged_by`: what a create is
    /// under the two-person rule, so that a different person tests and promotes the first value
    /// before anything can read it. The key has no current version until then
    /// ([`KeyVersions::never_current`]). One `staged` change for version 1 (the caller records
    /// the key's creation).
    ///
    /// `created_time` as for [`KeyVersions::create`]; `staged_by` as for
    /// [`KeyVersions::stage`] (a promotion under the rule refuses `None`).
    pub fn create_pending(
        value: SecretValue,
        created_time: DateTime<Utc>,
        now: DateTime<Utc>,
        staged_by: Option<String>,
    ) -> (KeyVersions, Vec<Change>) {
        let mut version = new_version(1, VersionState::Pending, value, created_time.min(now));
        version.staged_by = staged_by;
        let key = KeyVersions {
            versions: [(1, version)].into_iter().collect(),
            next_version: 2,
            reinstatement: None,
            withdrawn: None,
        };
        let change = Change::new(
            EventKind::Staged,
            1,
            "the key's first version, waiting for a different entity to promote it",
        );
        (key, vec![change])
    }

    /// Stages `value` as a new `pending` version; its number is in the returned change.
    ///
    /// `staged_by` is the stager's identity ([`ENTITY_PREFIX`] + entity id), `None` for the
    /// scheduler and tokens without an entity;
    /// `provider_key_id` and `engine_created` describe a key the engine created at the provider.
    ///
    /// Errors: [`RotationError::PendingExists`], [`RotationError::SameValue`] (the value is
    /// already live here), [`RotationError::NoCurrent`] (the key's values were destroyed; a key
    /// that never had a current version may stage its first), [`RotationError::VersionsExhausted`].
    /// A pending [`super::key::ReinstatementRequest`] is dropped.
    pub fn stage(
        &mut self,
        value: SecretValue,
        now: DateTime<Utc>,
        staged_by: Option<String>,
        provider_key_id: Option<String>,
        engine_created: bool,
    ) -> Result<Vec<Change>, RotationError> {
        let (number, next) = self.check_stage(&value)?;

        let mut version = new_version(number, VersionState::Pending, value, now);
        version.staged_by = staged_by;
        version.provider_key_id = provider_key_id;
        version.engine_created = engine_created;
        self.versions.insert(number, version);
        self.next_version = next;
        self.reinstatement = None;
        let detail = if engine_created {
            "created at the provider"
        } else {
            "value supplied by the operator"
        };
        Ok(vec![Change::new(EventKind::Staged, number, detail)])
    }

    /// Whether `value` could be staged now ([`KeyVersions::stage`]'s checks, changing nothing);
    /// the number it would get and the next one.
    pub fn check_stage(&self, value: &SecretValue) -> Result<(u32, u32), RotationError> {
        if let Some(version) = self.number_in_state(VersionState::Pending) {
            return Err(RotationError::PendingExists { version });
        }
        // A key whose first version was discarded before approval stages a new first version,
        // and one whose current version was withdrawn as exposed stages its replacement.
        if self.current().is_none() && !self.never_current() && self.withdrawn.is_none() {
            return Err(RotationError::NoCurrent);
        }
        if let Some(version) = self.live_version_with(value) {
            return Err(RotationError::SameValue { version });
        }
        let number = self.next_version;
        let next = number
            .checked_add(1)
            .ok_or(RotationError::VersionsExhausted)?;
        Ok((number, next))
    }

    /// Records `result` as the last test of the pending version, or of `version` (which must be
    /// pending or current). Changes no state.
    ///
    /// Errors: [`RotationError::NothingPending`], [`RotationError::NoSuchVersion`],
    /// [`RotationError::NotTestable`].
    pub fn record_test(
        &mut self,
        version: Option<u32>,
        result: TestResult,
    ) -> Result<Vec<Change>, RotationError> {
        let number = match version {
            None => self
                .number_in_state(VersionState::Pending)
                .ok_or(RotationError::NothingPending)?,
            Some(number) => {
                let v = self
                    .get(number)
                    .ok_or(RotationError::NoSuchVersion { version: number })?;
                if !matches!(v.state, VersionState::Pending | VersionState::Current) {
                    return Err(RotationError::NotTestable {
                        version: number,
                        state: v.state,
                    });
                }
                number
            }
        };
        let detail = if result.detail.is_empty() {
            result.outcome.as_str().to_string()
        } else {
            format!("{}: {}", result.outcome, result.detail)
        };
        self.version_mut(number)?.last_test = Some(result);
        Ok(vec![Change::new(EventKind::Tested, number, detail)])
    }

    /// Promotes the pending version to `current`.
    ///
    /// `promoter` is the promoting person's identity ([`ENTITY_PREFIX`] + entity id); `None`
    /// only for the scheduler (the caller refuses clients without an entity before this).
    ///
    /// The old current becomes `previous` with `grace_expires_time = now + grace_secs`, or is
    /// revoked at once when `grace_secs` is 0; a version still `previous` from an earlier
    /// rotation is revoked. A key's first version (no current yet) simply becomes current. Changes, in order: `revoked` (old previous, if any), `promoted`
    /// (detail `forced` when `force` bypassed a missing or failing test, else empty),
    /// `revoked` (old current, only when `grace_secs` is 0).
    ///
    /// Checks, in order: [`RotationError::NothingPending`],
    /// [`RotationError::InvalidGracePeriod`] (negative or overflowing),
    /// the two-person rule when `require_separate_approver` and a `promoter` (a person, see
    /// below) is given, which `force` does not bypass: [`RotationError::UnknownStager`] (the
    /// pending version's `staged_by` names no entity) and [`RotationError::SameApprover`]
    /// (`promoter` equals `staged_by`),
    /// [`RotationError::NotTested`] (last test missing or not `passed`/`skipped`, unless
    /// `force`).
    pub fn promote(
        &mut self,
        now: DateTime<Utc>,
        grace_secs: i64,
        force: bool,
        promoter: Option<&str>,
        require_separate_approver: bool,
    ) -> Result<Vec<Change>, RotationError> {
        let pending = self.pending().ok_or(RotationError::NothingPending)?.clone();
        let grace_end = grace_end(now, grace_secs)?;
        if require_separate_approver {
            if let Some(promoter) = promoter {
                check_separate_approver(&pending, promoter)?;
            }
        }
        let outcome = pending.last_test.as_ref().map(|t| t.outcome);
        let tested = outcome.is_some_and(|o| o.allows_promotion());
        if !tested && !force {
            return Err(RotationError::NotTested {
                version: pending.number,
                outcome,
            });
        }

        let mut changes = Vec::new();
        if let Some(old) = self.number_in_state(VersionState::Previous) {
            self.version_mut(old)?.destroy(VersionState::Revoked, now);
            let detail = format!("superseded by the promotion of version {}", pending.number);
            changes.push(Change::new(EventKind::Revoked, old, detail));
        }
        let old_current = self.number_in_state(VersionState::Current);
        if let Some(old) = old_current {
            let v = self.version_mut(old)?;
            v.state = VersionState::Previous;
            v.grace_expires_time = Some(grace_end);
            v.planned_grace_expires_time = Some(grace_end);
        }
        let new = self.version_mut(pending.number)?;
        new.state = VersionState::Current;
        new.promoted_time = Some(now);
        self.reinstatement = None;
        self.withdrawn = None;
        let detail = if tested { "" } else { "forced" };
        changes.push(Change::new(EventKind::Promoted, pending.number, detail));
        if let (Some(old), 0) = (old_current, grace_secs) {
            self.version_mut(old)?.destroy(VersionState::Revoked, now);
            let detail = format!(
                "replaced by version {} with no grace period",
                pending.number
            );
            changes.push(Change::new(EventKind::Revoked, old, detail));
        }
        Ok(changes)
    }

    /// The live (pending, current or previous) version holding `value`, compared in constant
    /// time with each.
    fn live_version_with(&self, value: &SecretValue) -> Option<u32> {
        let mut found = None;
        for v in self.versions.values() {
            if let Some(held) = &v.value {
                if held.ct_eq(value.expose()) {
                    found = Some(v.number);
                }
            }
        }
        found
    }
}

impl Version {
    /// Moves to `state` (`revoked` or `failed`), destroying the value.
    pub(crate) fn destroy(&mut self, state: VersionState, now: DateTime<Utc>) {
        debug_assert!(!state.keeps_value());
        self.state = state;
        self.value = None;
        self.revoked_time = Some(now);
    }
}

fn new_version(
    number: u32,
    state: VersionState,
    value: SecretValue,
    created_time: DateTime<Utc>,
) -> Version {
    Version {
        number,
        state,
        fingerprint: value.fingerprint(),
        value: Some(value),
        created_time,
        promoted_time: None,
        grace_expires_time: None,
        revoked_time: None,
        last_test: None,
        provider_key_id: None,
        engine_created: false,
        provider_key_verified: false,
        possession_proven: false,
        staged_by: None,
        provider: None,
        origin: None,
        planned_grace_expires_time: None,
        provider_revocation: None,
        usage_check: None,
        provider_expires_time: None,
        health_check: None,
        provider_expiry_asked: None,
    }
}

/// The two-person rule: the pending version was staged by a known entity other than `promoter`.
/// People are compared by entity only.
fn check_separate_approver(pending: &Version, promoter: &str) -> Result<(), RotationError> {
    let version = pending.number;
    match pending.staged_by.as_deref() {
        Some(stager) if !stager.starts_with(ENTITY_PREFIX) || stager == ENTITY_PREFIX => {
            Err(RotationError::UnknownStager { version })
        }
        None => Err(RotationError::UnknownStager { version }),
        Some(stager) if stager == promoter => Err(RotationError::SameApprover { version }),
        Some(_) => Ok(()),
    }
}

fn grace_end(now: DateTime<Utc>, grace_secs: i64) -> Result<DateTime<Utc>, RotationError> {
    let invalid = RotationError::InvalidGracePeriod { secs: grace_secs };
    if grace_secs < 0 {
        return Err(invalid);
    }
    TimeDelta::try_seconds(grace_secs)
        .and_then(|d| now.checked_add_signed(d))
        .ok_or(invalid)
}
