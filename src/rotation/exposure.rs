//! The transitions of a leak response (`exposed`): a leaked `pending` or `previous` version is
//! revoked now, and under the two-person rule a leaked `current` version is withdrawn while its
//! replacement waits for an approver. Killing access is one person's act; only making a value
//! current needs two.

use chrono::{DateTime, Utc};

use super::change::{Change, EventKind};
use super::error::RotationError;
use super::key::KeyVersions;
use super::state::VersionState;

impl KeyVersions {
    /// Revokes the leaked `pending` or `previous` version `number` now (value destroyed, state
    /// `revoked`, grace ended); one `revoked` change with `detail`. A pending reinstatement
    /// request is dropped (it named the previous version, or nothing is left to reinstate).
    ///
    /// Errors: [`RotationError::NoSuchVersion`], [`RotationError::NotExposable`] (the version
    /// is current, or already retired).
    pub fn revoke_exposed(
        &mut self,
        number: u32,
        now: DateTime<Utc>,
        detail: &str,
    ) -> Result<Vec<Change>, RotationError> {
        let state = self
            .get(number)
            .ok_or(RotationError::NoSuchVersion { version: number })?
            .state;
        if !matches!(state, VersionState::Pending | VersionState::Previous) {
            return Err(RotationError::NotExposable {
                version: number,
                state,
            });
        }
        self.version_mut(number)?
            .destroy(VersionState::Revoked, now);
        self.reinstatement = None;
        Ok(vec![Change::new(EventKind::Revoked, number, detail)])
    }

    /// Revokes the leaked current version now, with no successor yet: its replacement (if one
    /// is pending) waits for a different person to promote it, and until then the key has no
    /// current version ([`KeyVersions::withdrawn`]). A `previous` version is revoked too (no
    /// version is valid as a fallback for a current one that no longer exists). Changes:
    /// `revoked` for the previous version (if any), then `revoked` for the current one with
    /// `detail`.
    ///
    /// Errors: [`RotationError::NoCurrent`].
    pub fn withdraw_exposed_current(
        &mut self,
        now: DateTime<Utc>,
        detail: &str,
    ) -> Result<Vec<Change>, RotationError> {
        let current = self
            .number_in_state(VersionState::Current)
            .ok_or(RotationError::NoCurrent)?;
        let mut changes = Vec::new();
        if let Some(previous) = self.number_in_state(VersionState::Previous) {
            self.version_mut(previous)?
                .destroy(VersionState::Revoked, now);
            let why = format!("its successor, version {current}, was withdrawn as exposed");
            changes.push(Change::new(EventKind::Revoked, previous, why));
        }
        self.version_mut(current)?
            .destroy(VersionState::Revoked, now);
        self.reinstatement = None;
        self.withdrawn = Some(current);
        changes.push(Change::new(EventKind::Revoked, current, detail));
        Ok(changes)
    }
}
