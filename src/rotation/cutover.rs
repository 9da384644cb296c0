//! The cut-over controls a person uses during a grace window: end it now (`finalize`), or let
//! the previous version live longer (`extend`).

use chrono::{DateTime, SecondsFormat, Utc};

use super::change::{Change, EventKind};
use super::error::RotationError;
use super::key::KeyVersions;
use super::state::VersionState;

impl KeyVersions {
    /// Ends the grace window of the previous version now: it becomes `revoked` (value
    /// destroyed); one `finalized` change; a request to reinstate it is dropped. Error:
    /// [`RotationError::NoneInGrace`].
    pub fn finalize(&mut self, now: DateTime<Utc>) -> Result<Vec<Change>, RotationError> {
        let number = self.in_grace(now)?;
        self.version_mut(number)?
            .destroy(VersionState::Revoked, now);
        self.reinstatement = None;
        Ok(vec![Change::new(
            EventKind::Finalized,
            number,
            "grace window ended by hand",
        )])
    }

    /// Moves the end of the previous version's grace window to `until` (later than now and
    /// than its current end); one `grace_extended` change naming both ends.
    ///
    /// Errors: [`RotationError::NoneInGrace`] (a version whose grace ended is revoked and never
    /// comes back), [`RotationError::NotLater`].
    pub fn extend_grace(
        &mut self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<Change>, RotationError> {
        let number = self.in_grace(now)?;
        let v = self.version_mut(number)?;
        let from = v.grace_expires_time.unwrap_or(now);
        if until <= from {
            return Err(RotationError::NotLater {
                version: number,
                grace_expires_time: from,
            });
        }
        v.grace_expires_time = Some(until);
        let detail = format!(
            "grace window extended from {} to {}",
            from.to_rfc3339_opts(SecondsFormat::Secs, true),
            until.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
        Ok(vec![Change::new(EventKind::GraceExtended, number, detail)])
    }

    /// The previous version while inside its grace window, or why there is none.
    fn in_grace(&self, now: DateTime<Utc>) -> Result<u32, RotationError> {
        if let Some(v) = self.previous_in_grace(now) {
            return Ok(v.number);
        }
        let detail = match self.previous() {
            Some(v) => format!(
                "version {}'s grace window has ended; a revoked key cannot come back",
                v.number
            ),
            None => match self
                .versions
                .values()
                .rev()
                .find(|v| v.state == VersionState::Revoked)
            {
                Some(v) => format!(
                    "version {} is revoked; a revoked key cannot come back",
                    v.number
                ),
                None => "there is no previous version".to_string(),
            },
        };
        Err(RotationError::NoneInGrace { detail })
    }
}
