//! The backward and retiring transitions: rollback, discard, expiry, destruction; and which
//! retired versions must also be revoked at the provider.

use chrono::{DateTime, Utc};

use super::change::{Change, EventKind};
use super::error::RotationError;
use super::key::KeyVersions;
use super::state::VersionState;

impl KeyVersions {
    /// Undoes the last step of a rotation, as one person may while the two-person rule is off
    /// (under it, [`KeyVersions::rollback_two_person`]).
    ///
    /// With a pending version: it becomes `failed` (value destroyed); changes `rolled_back` and
    /// `failed` for it. Otherwise, with a `previous` version inside its grace window: it becomes
    /// `current` again (grace cleared, `promoted_time = now`) and the version that replaced it
    /// is `revoked`; changes `rolled_back` and `revoked` for the replaced version (the detail
    /// of `rolled_back` names the restored one).
    ///
    /// Errors: [`RotationError::GraceEnded`] (a previous version exists but its grace window has
    /// ended), [`RotationError::NothingToRollBack`]. Discarding a key's first version waiting for
    /// approval leaves it with no live version ([`KeyVersions::never_current`]). A pending
    /// reinstatement request is dropped.
    ///
    /// Use [`KeyVersions::provider_revocations`] on the changes to learn what to revoke at the
    /// provider.
    pub fn rollback(&mut self, now: DateTime<Utc>) -> Result<Vec<Change>, RotationError> {
        if let Some(pending) = self.number_in_state(VersionState::Pending) {
            self.version_mut(pending)?
                .destroy(VersionState::Failed, now);
            self.reinstatement = None;
            return Ok(vec![
                Change::new(EventKind::RolledBack, pending, "pending version discarded"),
                Change::new(EventKind::Failed, pending, "rolled back before promotion"),
            ]);
        }
        let previous = self.previous().ok_or(RotationError::NothingToRollBack)?;
        let restored = previous.number;
        if !previous.is_valid_at(now) {
            return Err(match previous.grace_expires_time {
                Some(expired_time) => RotationError::GraceEnded {
                    version: restored,
                    expired_time,
                },
                None => RotationError::NothingToRollBack,
            });
        }
        let replaced = self
            .number_in_state(VersionState::Current)
            .ok_or(RotationError::NoCurrent)?;

        self.version_mut(replaced)?
            .destroy(VersionState::Revoked, now);
        let v = self.version_mut(restored)?;
        v.state = VersionState::Current;
        v.grace_expires_time = None;
        v.promoted_time = Some(now);
        self.reinstatement = None;
        Ok(vec![
            Change::new(
                EventKind::RolledBack,
                replaced,
                format!("version {restored} is current again"),
            ),
            Change::new(
                EventKind::Revoked,
                replaced,
                format!("rolled back to version {restored}"),
            ),
        ])
    }

    /// Discards the pending version (state `failed`, value destroyed), as a failed one-call
    /// `rotate/` does; one `failed` change with `detail`. Error: [`RotationError::NothingPending`].
    pub fn discard_pending(
        &mut self,
        now: DateTime<Utc>,
        detail: &str,
    ) -> Result<Vec<Change>, RotationError> {
        let pending = self
            .number_in_state(VersionState::Pending)
            .ok_or(RotationError::NothingPending)?;
        self.version_mut(pending)?
            .destroy(VersionState::Failed, now);
        self.reinstatement = None;
        Ok(vec![Change::new(EventKind::Failed, pending, detail)])
    }

    /// When [`KeyVersions::expire`] next has a version to retire: the previous version's grace
    /// end (at once if it has none); `None` without a previous version. The periodic tick's
    /// index of due times reads grace ends through this alone.
    pub fn grace_end(&self) -> Option<DateTime<Utc>> {
        self.previous()
            .map(|v| v.grace_expires_time.unwrap_or(DateTime::<Utc>::MIN_UTC))
    }

    /// Revokes every `previous` version whose grace window has ended
    /// (`grace_expires_time <= now`), destroying its value; one `expired` change each. Nothing
    /// to do is not an error. For the periodic tick; reads enforce grace without it.
    ///
    /// `revoked_time` is the grace end, when the key stopped being valid, whenever this runs
    /// (a read, a request or the tick): the same time from the first moment it is known (`now`
    /// only for a version that has no grace end).
    pub fn expire(&mut self, now: DateTime<Utc>) -> Vec<Change> {
        let changes: Vec<Change> = self
            .versions
            .values_mut()
            .filter(|v| v.state == VersionState::Previous && !v.is_valid_at(now))
            .map(|v| {
                let ended = v.grace_expires_time.filter(|t| *t <= now).unwrap_or(now);
                v.destroy(VersionState::Revoked, ended);
                Change::new(EventKind::Expired, v.number, "grace period ended")
            })
            .collect();
        if !changes.is_empty() {
            // The version a reinstatement request names is gone.
            self.reinstatement = None;
        }
        changes
    }

    /// Revokes every version that still holds a value, destroying all values (key delete);
    /// one `revoked` change each. Afterwards the key has no current version and `stage` is
    /// refused; the caller records `deleted` and removes the entry. (A key with no live version,
    /// its first one discarded before approval, has nothing to destroy and stays as it is.)
    pub fn destroy_all(&mut self, now: DateTime<Utc>) -> Vec<Change> {
        self.reinstatement = None;
        self.versions
            .values_mut()
            .filter(|v| v.value.is_some() || v.state.keeps_value())
            .map(|v| {
                v.destroy(VersionState::Revoked, now);
                Change::new(EventKind::Revoked, v.number, "key deleted")
            })
            .collect()
    }

    /// The provider-side keys to revoke after a transition returned `changes`: `(version,
    /// provider_key_id)` for each version that a `revoked`, `expired` or `failed` change left
    /// without a value, whose key the engine owns and whose provider id is known. Owned means
    /// [`super::Version::owned`] (created by the engine, or possession of the value proved the
    /// id); a discarded version (a `failed` change: a rolled-back pending version, a failed
    /// rotation) only when the engine created it: an imported value that was never promoted is
    /// the operator's to keep or revoke. A hint-checked id is never revoked. Each version once, in
    /// the order of the changes.
    pub fn provider_revocations(&self, changes: &[Change]) -> Vec<(u32, String)> {
        let mut out: Vec<(u32, String)> = Vec::new();
        for (change, v) in self.destroyed(changes) {
            if !revocable(change.event, v) || out.iter().any(|(n, _)| *n == v.number) {
                continue;
            }
            if let Some(id) = &v.provider_key_id {
                out.push((v.number, id.clone()));
            }
        }
        out
    }

    /// The versions `changes` left without a value whose key may still be live at a provider
    /// and that the engine will not revoke ([`KeyVersions::provider_revocations`] names the
    /// others): their revocation is a person's (`manual`). A version whose last test had the
    /// provider reject it (`bad_key`) is not live there and is left out. Each version once.
    pub fn manual_revocations(&self, changes: &[Change]) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        for (change, v) in self.destroyed(changes) {
            let rejected = v
                .last_test
                .as_ref()
                .is_some_and(|t| t.outcome == crate::key_test::TestOutcome::BadKey);
            let revoked = revocable(change.event, v) && v.provider_key_id.is_some();
            if revoked || rejected || out.contains(&v.number) {
                continue;
            }
            out.push(v.number);
        }
        out
    }

    /// The versions that value-destroying changes left retired, with the change.
    fn destroyed<'a>(
        &'a self,
        changes: &'a [Change],
    ) -> impl Iterator<Item = (&'a Change, &'a super::Version)> + 'a {
        changes
            .iter()
            .filter(|c| c.event.destroys_value())
            .filter_map(|c| Some((c, self.get(c.version)?)))
            .filter(|(_, v)| !v.state.keeps_value())
    }
}

/// Whether a version retired by a change of kind `event` is the engine's to revoke: a discarded
/// version (`failed`) only if the engine created it, any other if it owns it.
fn revocable(event: EventKind, v: &super::Version) -> bool {
    if event == EventKind::Failed {
        v.engine_created
    } else {
        v.owned()
    }
}
