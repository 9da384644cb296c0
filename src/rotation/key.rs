//! A key's versions and the read side of the state machine (grace enforced at read time).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use subtle::ConditionallySelectable;

use super::error::RotationError;
use super::state::VersionState;
use crate::key_test::TestResult;
use crate::secret::SecretValue;

/// One numbered version of a key. `Debug` never shows the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// 1, 2, 3, ... in staging order.
    pub number: u32,
    /// Where it is in its life.
    pub state: VersionState,
    /// The key itself; `None` once `revoked` or `failed` (destroyed).
    #[serde(default)]
    pub value: Option<SecretValue>,
    /// `sha256:` + 16 hex digits; kept after the value is destroyed.
    pub fingerprint: String,
    /// When the key was created (at the provider when imported, else when staged).
    pub created_time: DateTime<Utc>,
    /// When it last became `current`.
    #[serde(default)]
    pub promoted_time: Option<DateTime<Utc>>,
    /// When its grace window as `previous` ends (kept after it is revoked).
    #[serde(default)]
    pub grace_expires_time: Option<DateTime<Utc>>,
    /// When its grace window was planned to end when it became `previous` (the promotion's
    /// grace period). `extend/` and usage-aware postponements move `grace_expires_time` only,
    /// so the two differ exactly while a retired key is kept past its plan.
    #[serde(default)]
    pub planned_grace_expires_time: Option<DateTime<Utc>>,
    /// When its value was destroyed (`revoked` or `failed`).
    #[serde(default)]
    pub revoked_time: Option<DateTime<Utc>>,
    /// The last test of this version.
    #[serde(default)]
    pub last_test: Option<TestResult>,
    /// The provider's id for this key, when known (needed to revoke it there).
    #[serde(default)]
    pub provider_key_id: Option<String>,
    /// Whether the engine created this key at the provider (then it also revokes it there).
    #[serde(default)]
    pub engine_created: bool,
    /// Whether the provider's own record of `provider_key_id` showed an ownership hint (first
    /// and last characters) matching this version's value when the id was given. A hint is
    /// public to anyone who can open the provider's console: it refuses mistakes, it never makes
    /// a key the engine's (earlier releases revoked such keys; this one records them `manual`).
    #[serde(default)]
    pub provider_key_verified: bool,
    /// Whether possession of this version's value proved `provider_key_id`: the provider, asked
    /// with the value itself as the credential, named the key the id's record describes
    /// (OpenRouter). With `engine_created`, the only ownership the engine revokes on.
    #[serde(default)]
    pub possession_proven: bool,
    /// Who staged it: [`ENTITY_PREFIX`] + the entity id for a person; `None` for the scheduler
    /// and tokens without an entity. (Records from before entities were required may hold
    /// `token:<accessor>`, which names no person.)
    #[serde(default)]
    pub staged_by: Option<String>,
    /// The provider configuration (name under `providers/`) this version's key was created at
    /// or tested with when it was staged: where a revocation goes, whatever the key names later.
    #[serde(default)]
    pub provider: Option<String>,
    /// Where its key lives (provider place and id), recorded when the engine created the key or
    /// proved an imported id, and never changed. `None` for keys nobody proved, and for records
    /// of releases before origins were recorded (see docs/security.md, "Where a key lives").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<super::origin::Origin>,
    /// Its revocation at the provider, once retired (pending until the provider confirms).
    #[serde(default)]
    pub provider_revocation: Option<super::revocation::ProviderRevocation>,
    /// Its usage checks while `previous` (usage-aware revocation), if any were made.
    #[serde(default)]
    pub usage_check: Option<super::usage::UsageCheck>,
    /// When the key expires at the provider on its own (a backstop the engine gives the keys it
    /// creates, well after the version's rotation and grace), as the provider reported it.
    #[serde(default)]
    pub provider_expires_time: Option<DateTime<Utc>>,
    /// The engine's last scheduled health check of the key at its provider, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<super::health::HealthCheck>,
    /// The provider-side expiry the engine last asked the provider to move this key's expiry
    /// to, as its grace end while `previous` (providers that can change a live key's expiry);
    /// `None` while it never asked, and again once a reinstated version's expiry was asked
    /// back to a full lifetime. Records of earlier releases lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_expiry_asked: Option<DateTime<Utc>>,
}

/// How `staged_by` names a person (an identity entity), the only thing the two-person rule
/// compares.
pub const ENTITY_PREFIX: &str = "entity:";

impl Version {
    /// Whether the engine owns this version's key at its provider, and so may revoke it there:
    /// it created it, or possession of the value proved the recorded id.
    pub fn owned(&self) -> bool {
        self.engine_created || self.possession_proven
    }

    /// Whether `verify` accepts this version at `now`: `pending`, `current`, or `previous` with
    /// `grace_expires_time` strictly after `now`.
    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        match self.state {
            VersionState::Pending | VersionState::Current => true,
            VersionState::Previous => grace_open(self.grace_expires_time, now),
            VersionState::Revoked | VersionState::Failed => false,
        }
    }
}

/// Whether a `previous` version whose grace window ends at `expires` is still valid at `now`
/// (strictly before the end; no end recorded means none is left).
pub fn grace_open(expires: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    expires.is_some_and(|t| t > now)
}

/// All versions of one key: what the engine stores per key (in Vault's encrypted storage).
///
/// Invariants (kept by every transition, checked by [`KeyVersions::check_invariants`]): exactly
/// one `current`, except that a key with no current version holds no live version other than a
/// first version waiting for approval (see [`KeyVersions::never_current`]) and that every value
/// is destroyed after [`KeyVersions::destroy_all`]; at most one `pending` (newer than the
/// current), at most one `previous` (older than the current), `revoked` and `failed` versions
/// hold no value, the others do, every number is below `next_version`, and a
/// [`ReinstatementRequest`] names the key's previous and current versions with nothing pending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyVersions {
    /// Versions by number.
    pub versions: BTreeMap<u32, Version>,
    /// The number the next staged version gets.
    pub next_version: u32,
    /// Under the two-person rule, a person's request to reinstate the previous version, waiting
    /// for a different person to confirm it ([`KeyVersions::rollback_two_person`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reinstatement: Option<ReinstatementRequest>,
    /// The current version revoked because its value leaked while its replacement waits for an
    /// approver ([`KeyVersions::withdraw_exposed_current`]): until a promotion the key has no
    /// current version. Cleared by the next promotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<u32>,
}

/// A request to make the previous version current again, recorded by the first `rollback` under
/// the two-person rule and performed by a `rollback` of a different person. It lapses when the
/// previous version's grace window ends, and is dropped by every other change of the versions
/// (a stage, a promotion, a rollback, a grace end, `finalize`, a delete).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReinstatementRequest {
    /// The `previous` version to reinstate.
    pub version: u32,
    /// The `current` version it would replace (and revoke).
    pub replaces: u32,
    /// Who asked: [`ENTITY_PREFIX`] + entity id.
    pub requested_by: String,
    /// When.
    pub requested_time: DateTime<Utc>,
}

impl KeyVersions {
    /// The version with this number.
    pub fn get(&self, number: u32) -> Option<&Version> {
        self.versions.get(&number)
    }

    /// The current version. `None` for a key whose first version waits for approval (or was
    /// discarded before it, [`KeyVersions::never_current`]) and after
    /// [`KeyVersions::destroy_all`].
    pub fn current(&self) -> Option<&Version> {
        self.in_state(VersionState::Current)
    }

    /// The current version's number (see [`KeyVersions::current`]).
    pub fn current_version(&self) -> Option<u32> {
        self.current().map(|v| v.number)
    }

    /// Whether no version of this key has ever been current: every version is `pending` or
    /// `failed`. So is a key created under the two-person rule until another person promotes its
    /// first version, and one whose first version was discarded before that (it may stage a new
    /// first version). A current version never leaves without a successor, except when
    /// [`KeyVersions::destroy_all`] revokes everything.
    pub fn never_current(&self) -> bool {
        self.versions
            .values()
            .all(|v| matches!(v.state, VersionState::Pending | VersionState::Failed))
    }

    /// The pending version, if one is staged.
    pub fn pending(&self) -> Option<&Version> {
        self.in_state(VersionState::Pending)
    }

    /// The `previous` version, whether or not its grace window has ended (the periodic
    /// [`KeyVersions::expire`] may not have run yet). Use [`KeyVersions::previous_in_grace`]
    /// for anything that hands out or accepts its value.
    pub fn previous(&self) -> Option<&Version> {
        self.in_state(VersionState::Previous)
    }

    /// The `previous` version while `grace_expires_time > now` (at the expiry instant it is no
    /// longer valid). What `creds/` returns as `previous_api_key`.
    pub fn previous_in_grace(&self, now: DateTime<Utc>) -> Option<&Version> {
        self.previous().filter(|v| v.is_valid_at(now))
    }

    /// When the current version became current (`last_rotation_time`).
    pub fn last_rotation_time(&self) -> Option<DateTime<Utc>> {
        self.current().and_then(|v| v.promoted_time)
    }

    /// Whether `candidate` is the value of a pending, current or in-grace previous version;
    /// returns that version's number and state.
    ///
    /// Compares with every such version in constant time and without stopping at a match (a
    /// length difference may leak, nothing else).
    pub fn verify(&self, candidate: &str, now: DateTime<Utc>) -> Option<(u32, VersionState)> {
        let mut found = subtle::Choice::from(0);
        let mut number = 0u32;
        for version in self.versions.values().filter(|v| v.is_valid_at(now)) {
            if let Some(value) = &version.value {
                let eq = value.ct_choice(candidate);
                number.conditional_assign(&version.number, eq);
                found |= eq;
            }
        }
        if bool::from(found) {
            self.get(number).map(|v| (number, v.state))
        } else {
            None
        }
    }

    /// Checks the invariants listed on [`KeyVersions`]; for data read from storage.
    pub fn check_invariants(&self) -> Result<(), RotationError> {
        let broken = |detail: String| Err(RotationError::Inconsistent { detail });
        let mut current = Vec::new();
        let mut pending = Vec::new();
        let mut previous = Vec::new();
        for (&key, v) in &self.versions {
            if key != v.number {
                return broken(format!("version {} is stored under number {key}", v.number));
            }
            if v.number == 0 || v.number >= self.next_version {
                return broken(format!(
                    "version {} is outside 1..{}",
                    v.number, self.next_version
                ));
            }
            if v.state.keeps_value() != v.value.is_some() {
                let has = if v.value.is_some() { "holds" } else { "lacks" };
                return broken(format!("version {} is {} but {has} a value", key, v.state));
            }
            match v.state {
                VersionState::Current => current.push(key),
                VersionState::Pending => pending.push(key),
                VersionState::Previous => previous.push(key),
                VersionState::Revoked | VersionState::Failed => {}
            }
        }
        let live = current.len() + pending.len() + previous.len();
        // Without a current version, only a first version waiting for approval may be live, or
        // the replacement of a current version withdrawn because it leaked.
        let awaiting_first =
            previous.is_empty() && (self.never_current() || self.withdrawn.is_some());
        if current.len() > 1 || (current.is_empty() && live > 0 && !awaiting_first) {
            return broken(format!("{} versions are current", current.len()));
        }
        if self.versions.is_empty() {
            return broken("the key has no versions".to_string());
        }
        if pending.len() > 1 || previous.len() > 1 {
            return broken("more than one pending or previous version".to_string());
        }
        if let Some(&c) = current.first() {
            if pending.first().is_some_and(|&p| p < c) || previous.first().is_some_and(|&p| p > c) {
                return broken(format!("pending or previous version out of order with {c}"));
            }
        }
        if let Some(w) = self.withdrawn {
            let retired = self.get(w).is_some_and(|v| !v.state.keeps_value());
            if !retired || !current.is_empty() {
                return broken(format!(
                    "version {w} is recorded withdrawn but is live or the key has a current version"
                ));
            }
        }
        if let Some(r) = &self.reinstatement {
            let matches = previous.first() == Some(&r.version)
                && current.first() == Some(&r.replaces)
                && pending.is_empty()
                && r.requested_by.starts_with(ENTITY_PREFIX)
                && r.requested_by != ENTITY_PREFIX;
            if !matches {
                return broken(format!(
                    "the request to reinstate version {} over version {} does not match the \
                     versions",
                    r.version, r.replaces
                ));
            }
        }
        Ok(())
    }

    /// The only version in `state`, for states that have at most one.
    pub(crate) fn in_state(&self, state: VersionState) -> Option<&Version> {
        self.versions.values().find(|v| v.state == state)
    }

    /// Number of the only version in `state`.
    pub(crate) fn number_in_state(&self, state: VersionState) -> Option<u32> {
        self.in_state(state).map(|v| v.number)
    }

    /// Mutable access to a version the caller looked up while validating. A number the key does
    /// not have is [`RotationError::NoSuchVersion`] (only a defect in the caller makes one).
    pub(crate) fn version_mut(&mut self, number: u32) -> Result<&mut Version, RotationError> {
        self.versions
            .get_mut(&number)
            .ok_or(RotationError::NoSuchVersion { version: number })
    }
}
