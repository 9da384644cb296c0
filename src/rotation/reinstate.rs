//! Rollback under the two-person rule: discarding a pending version stays one person's act, but
//! making the previous version current again is an approval of a value, so it takes two people.
//! The first `rollback` records a [`ReinstatementRequest`]; a `rollback` by a different person
//! while the request still matches the key performs it.

use chrono::{DateTime, SecondsFormat, Utc};

use super::change::{Change, EventKind};
use super::error::RotationError;
use super::key::{KeyVersions, ReinstatementRequest, ENTITY_PREFIX};
use super::state::VersionState;

/// What a rollback under the two-person rule did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TwoPersonRollback {
    /// It happened (a pending version discarded, or a confirmed reinstatement): the changes, as
    /// [`KeyVersions::rollback`] returns them.
    Done(Vec<Change>),
    /// A reinstatement request was recorded ([`KeyVersions::reinstatement`]); nothing else
    /// changed. One `rollback_requested` change naming the previous version.
    Requested(Vec<Change>),
}

impl KeyVersions {
    /// [`KeyVersions::rollback`] while `require_separate_approver` is on, by `person`
    /// ([`ENTITY_PREFIX`] + entity id).
    ///
    /// With a pending version: discards it, exactly as [`KeyVersions::rollback`] (one person
    /// may always withdraw a value nobody uses yet). Otherwise, with the previous version inside
    /// its grace window:
    /// - a matching request ([`KeyVersions::reinstatement`]) by a different person: performs the
    ///   reinstatement as [`KeyVersions::rollback`] does ([`TwoPersonRollback::Done`]);
    /// - a matching request by `person`: [`RotationError::SameRequester`] (403);
    /// - no matching request: records one by `person` at `now`, replacing a stale one
    ///   ([`TwoPersonRollback::Requested`]).
    ///
    /// Errors as [`KeyVersions::rollback`] when there is nothing to roll back, checked first;
    /// [`RotationError::UnknownStager`] when `person` names no entity (the caller refuses
    /// clients without one before this). A refused call changes nothing.
    pub fn rollback_two_person(
        &mut self,
        now: DateTime<Utc>,
        person: &str,
    ) -> Result<TwoPersonRollback, RotationError> {
        if self.pending().is_some() {
            return self.rollback(now).map(TwoPersonRollback::Done);
        }
        let (restored, replaced) = self.reinstatable(now)?;
        if !person.starts_with(ENTITY_PREFIX) || person == ENTITY_PREFIX {
            return Err(RotationError::UnknownStager { version: restored });
        }
        match self.reinstatement(now) {
            Some(r) if r.requested_by == person => {
                Err(RotationError::SameRequester { version: restored })
            }
            Some(_) => self.rollback(now).map(TwoPersonRollback::Done),
            None => {
                let grace_end = self
                    .get(restored)
                    .and_then(|v| v.grace_expires_time)
                    .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
                    .unwrap_or_default();
                self.reinstatement = Some(ReinstatementRequest {
                    version: restored,
                    replaces: replaced,
                    requested_by: person.to_string(),
                    requested_time: now,
                });
                let detail = format!(
                    "reinstating version {restored} (revoking version {replaced}) needs a second \
                     entity: a different entity confirms with rollback/ before version \
                     {restored}'s grace window ends at {grace_end}"
                );
                Ok(TwoPersonRollback::Requested(vec![Change::new(
                    EventKind::RollbackRequested,
                    restored,
                    detail,
                )]))
            }
        }
    }

    /// The request to reinstate the previous version, while it still matches the key at `now`:
    /// that version is `previous` and inside its grace window, the version it would replace is
    /// still current, and nothing is pending. `None` once it lapsed (even before a transition
    /// drops it from the record).
    pub fn reinstatement(&self, now: DateTime<Utc>) -> Option<&ReinstatementRequest> {
        let r = self.reinstatement.as_ref()?;
        let previous = self.previous_in_grace(now)?;
        let matches = previous.number == r.version
            && self.current_version() == Some(r.replaces)
            && self.pending().is_none();
        matches.then_some(r)
    }

    /// The previous version a rollback with nothing pending would reinstate, and the current
    /// version it would replace; or why there is none (as [`KeyVersions::rollback`] refuses).
    fn reinstatable(&self, now: DateTime<Utc>) -> Result<(u32, u32), RotationError> {
        let previous = self.previous().ok_or(RotationError::NothingToRollBack)?;
        if !previous.is_valid_at(now) {
            return Err(match previous.grace_expires_time {
                Some(expired_time) => RotationError::GraceEnded {
                    version: previous.number,
                    expired_time,
                },
                None => RotationError::NothingToRollBack,
            });
        }
        let replaced = self
            .number_in_state(VersionState::Current)
            .ok_or(RotationError::NoCurrent)?;
        Ok((previous.number, replaced))
    }
}
