//! rollback, discard_pending, expire, destroy_all and provider_revocations.

use super::super::{Change, EventKind, KeyVersions, RotationError, TestOutcome, VersionState};
use super::{assert_refused, at, events, new_key, result, rotate, stage, sv, DAY, HOUR};

use EventKind::{Expired, Failed, Revoked, RolledBack};
use VersionState::{Current, Previous};

#[test]
fn rollback_discards_the_pending_version() {
    let mut kv = new_key();
    rotate(&mut kv, "sk-two", at(HOUR), DAY);
    stage(&mut kv, "sk-three", at(2 * HOUR));
    let changes = kv.rollback(at(3 * HOUR)).expect("rollback");
    assert_eq!(events(&changes), [(RolledBack, 3), (Failed, 3)]);
    let v3 = kv.get(3).expect("v3");
    assert_eq!(v3.state, VersionState::Failed);
    assert_eq!(v3.value, None);
    assert_eq!(v3.revoked_time, Some(at(3 * HOUR)));
    assert_eq!(v3.fingerprint, sv("sk-three").fingerprint());
    // The pending version goes first; the previous version is untouched.
    assert_eq!(kv.current_version(), Some(2));
    assert_eq!(kv.previous().map(|v| v.number), Some(1));
    assert_eq!(kv.verify("sk-three", at(3 * HOUR)), None);
}

#[test]
fn rollback_restores_a_previous_version_inside_its_grace_window() {
    let mut kv = new_key();
    rotate(&mut kv, "sk-two", at(HOUR), DAY);
    let changes = kv.rollback(at(HOUR + DAY - 1)).expect("rollback");
    assert_eq!(events(&changes), [(RolledBack, 2), (Revoked, 2)]);
    assert!(changes[0].detail.contains("version 1"));
    let v1 = kv.current().expect("current");
    assert_eq!(v1.number, 1);
    assert_eq!(v1.grace_expires_time, None);
    assert_eq!(v1.promoted_time, Some(at(HOUR + DAY - 1)));
    assert_eq!(v1.value.as_ref().map(|v| v.expose()), Some("sk-one"));
    let v2 = kv.get(2).expect("v2");
    assert_eq!(
        (v2.state, v2.value.is_none()),
        (VersionState::Revoked, true)
    );
    assert!(kv.previous().is_none());
    assert_eq!(kv.check_invariants(), Ok(()));
    // Nothing is left to roll back.
    assert_refused(&mut kv, RotationError::NothingToRollBack, |kv| {
        kv.rollback(at(HOUR + DAY))
    });
}

#[test]
fn rollback_with_nothing_to_roll_back_is_refused() {
    let mut kv = new_key();
    assert_refused(&mut kv, RotationError::NothingToRollBack, |kv| {
        kv.rollback(at(HOUR))
    });
    // After an emergency promote there is no previous version either.
    rotate(&mut kv, "sk-two", at(HOUR), 0);
    assert_refused(&mut kv, RotationError::NothingToRollBack, |kv| {
        kv.rollback(at(HOUR))
    });
}

#[test]
fn rollback_after_the_grace_window_is_refused() {
    let mut kv = new_key();
    rotate(&mut kv, "sk-two", at(HOUR), DAY);
    let expected = RotationError::GraceEnded {
        version: 1,
        expired_time: at(HOUR + DAY),
    };
    assert!(expected.to_string().contains("version 1"));
    assert!(expected.to_string().contains("2025-01-02T01:00:00Z"));
    // Exactly at grace_expires_time the previous version is no longer valid.
    assert_refused(&mut kv, expected.clone(), |kv| kv.rollback(at(HOUR + DAY)));
    assert_refused(&mut kv, expected, |kv| kv.rollback(at(10 * DAY)));
    // Once expired by the tick, it is simply nothing to roll back.
    kv.expire(at(10 * DAY));
    assert_refused(&mut kv, RotationError::NothingToRollBack, |kv| {
        kv.rollback(at(10 * DAY))
    });
}

#[test]
fn discard_pending() {
    let mut kv = new_key();
    assert_refused(&mut kv, RotationError::NothingPending, |kv| {
        kv.discard_pending(at(HOUR), "test failed: bad_key")
    });
    stage(&mut kv, "sk-two", at(HOUR));
    kv.record_test(None, result(TestOutcome::BadKey, at(HOUR)))
        .expect("test");
    let changes = kv
        .discard_pending(at(HOUR), "test failed: bad_key")
        .expect("discard");
    assert_eq!(events(&changes), [(Failed, 2)]);
    assert_eq!(changes[0].detail, "test failed: bad_key");
    let v2 = kv.get(2).expect("v2");
    assert_eq!((v2.state, v2.value.is_none()), (VersionState::Failed, true));
    assert_eq!(kv.current_version(), Some(1));
    assert_eq!(
        kv.current()
            .and_then(|v| v.value.as_ref())
            .map(|v| v.expose()),
        Some("sk-one")
    );
    // The next stage gets a new number.
    assert_eq!(stage(&mut kv, "sk-three", at(2 * HOUR)), 3);
}

#[test]
fn expire_revokes_previous_versions_whose_grace_ended() {
    let mut kv = new_key();
    rotate(&mut kv, "sk-two", at(HOUR), DAY);
    assert!(kv.expire(at(HOUR + DAY - 1)).is_empty());
    assert_eq!(kv.get(1).map(|v| v.state), Some(Previous));
    let changes = kv.expire(at(HOUR + DAY));
    assert_eq!(events(&changes), [(Expired, 1)]);
    let v1 = kv.get(1).expect("v1");
    assert_eq!(
        (v1.state, v1.value.is_none()),
        (VersionState::Revoked, true)
    );
    assert_eq!(v1.revoked_time, Some(at(HOUR + DAY)));
    assert_eq!(v1.grace_expires_time, Some(at(HOUR + DAY)));
    assert!(kv.expire(at(5 * DAY)).is_empty(), "expire is idempotent");
    assert_eq!(kv.current_version(), Some(2));
}

#[test]
fn grace_end_is_when_expire_first_retires() {
    let mut kv = new_key();
    assert_eq!(kv.grace_end(), None);
    rotate(&mut kv, "sk-two", at(HOUR), DAY);
    let end = kv.grace_end().expect("a previous version");
    assert_eq!(end, at(HOUR + DAY));
    let just_before = end - chrono::TimeDelta::nanoseconds(1);
    assert!(kv.clone().expire(just_before).is_empty());
    assert_eq!(events(&kv.expire(end)), [(Expired, 1)]);
    assert_eq!(kv.grace_end(), None);
}

#[test]
fn expire_leaves_pending_and_current_alone() {
    let mut kv = new_key();
    stage(&mut kv, "sk-two", at(HOUR));
    let before = kv.clone();
    assert!(kv.expire(at(1000 * DAY)).is_empty());
    assert_eq!(kv, before);
}

#[test]
fn destroy_all_destroys_every_value() {
    let mut kv = new_key();
    rotate(&mut kv, "sk-two", at(HOUR), DAY);
    stage(&mut kv, "sk-three", at(2 * HOUR));
    kv.versions.get_mut(&2).expect("v2").engine_created = true;
    let changes = kv.destroy_all(at(3 * HOUR));
    assert_eq!(events(&changes), [(Revoked, 1), (Revoked, 2), (Revoked, 3)]);
    assert!(kv.versions.values().all(|v| v.value.is_none()));
    assert!(kv
        .versions
        .values()
        .all(|v| v.state == VersionState::Revoked));
    assert!(kv.current().is_none() && kv.pending().is_none());
    assert_eq!(kv.verify("sk-two", at(3 * HOUR)), None);
    assert_eq!(kv.check_invariants(), Ok(()));
    assert!(kv.destroy_all(at(4 * HOUR)).is_empty());
}

/// A key whose version 2 (current) and 3 (pending) were created by the engine at the provider.
fn engine_key() -> KeyVersions {
    let mut kv = new_key();
    kv.stage(sv("sk-two"), at(HOUR), None, Some("id-2".into()), true)
        .expect("stage");
    kv.record_test(None, result(TestOutcome::Passed, at(HOUR)))
        .expect("test");
    kv.promote(at(HOUR), DAY, false, None, false)
        .expect("promote");
    kv.stage(
        sv("sk-three"),
        at(2 * HOUR),
        None,
        Some("id-3".into()),
        true,
    )
    .expect("stage");
    kv
}

#[test]
fn provider_revocations_after_rolling_back_a_pending_version() {
    let mut kv = engine_key();
    let changes = kv.rollback(at(2 * HOUR)).expect("rollback");
    assert_eq!(kv.provider_revocations(&changes), [(3, "id-3".to_string())]);
}

#[test]
fn provider_revocations_after_rolling_back_to_previous() {
    let mut kv = engine_key();
    kv.rollback(at(2 * HOUR)).expect("discard pending");
    // Version 1 (operator-supplied) is restored; version 2 (engine-created) is revoked.
    let changes = kv.rollback(at(3 * HOUR)).expect("rollback");
    assert_eq!(kv.current_version(), Some(1));
    assert_eq!(kv.provider_revocations(&changes), [(2, "id-2".to_string())]);
}

#[test]
fn provider_revocations_skip_keys_the_engine_did_not_create() {
    let mut kv = engine_key();
    kv.record_test(None, result(TestOutcome::Passed, at(2 * HOUR)))
        .expect("test");
    // Promoting 3 with grace 0 revokes 1 (operator-supplied) and 2 (engine-created).
    let changes = kv
        .promote(at(2 * HOUR), 0, false, None, false)
        .expect("promote");
    assert_eq!(kv.provider_revocations(&changes), [(2, "id-2".to_string())]);
}

#[test]
fn provider_revocations_after_expiry_and_delete() {
    let mut kv = engine_key();
    kv.record_test(None, result(TestOutcome::Passed, at(2 * HOUR)))
        .expect("test");
    kv.promote(at(2 * HOUR), DAY, false, None, false)
        .expect("promote");
    let expired = kv.expire(at(3 * DAY));
    assert_eq!(kv.provider_revocations(&expired), [(2, "id-2".to_string())]);
    let deleted = kv.destroy_all(at(4 * DAY));
    assert_eq!(kv.provider_revocations(&deleted), [(3, "id-3".to_string())]);
    // A promotion with grace revokes only operator-supplied version 1: nothing at the provider.
    let mut fresh = engine_key();
    fresh
        .record_test(None, result(TestOutcome::Passed, at(2 * HOUR)))
        .expect("test");
    let promoted = fresh
        .promote(at(2 * HOUR), DAY, false, None, false)
        .expect("promote");
    assert_eq!(events(&promoted), [(Revoked, 1), (EventKind::Promoted, 3)]);
    assert_eq!(fresh.provider_revocations(&promoted), []);
    assert_eq!(fresh.get(2).map(|v| v.state), Some(Previous));
    assert_eq!(fresh.get(3).map(|v| v.state), Some(Current));
}

#[test]
fn provider_revocations_never_name_a_live_version() {
    let kv = engine_key();
    // Hand-made changes claiming live versions 2 (current) and 3 (pending) were revoked.
    let claims = [
        Change {
            event: Revoked,
            version: 2,
            detail: String::new(),
        },
        Change {
            event: Failed,
            version: 3,
            detail: String::new(),
        },
        Change {
            event: Expired,
            version: 99,
            detail: String::new(),
        },
    ];
    assert_eq!(kv.provider_revocations(&claims), []);
}

/// A key whose pending version 3 is an imported value with provider id `id-3`, its id proven by
/// possession of the value (not created by the engine).
fn imported_pending_key() -> KeyVersions {
    let mut kv = engine_key();
    kv.rollback(at(2 * HOUR)).expect("rollback");
    kv.stage(
        sv("sk-four"),
        at(3 * HOUR),
        None,
        Some("id-4".into()),
        false,
    )
    .expect("stage");
    kv.versions.get_mut(&4).expect("v4").possession_proven = true;
    kv
}

#[test]
fn a_discarded_version_is_revoked_only_if_the_engine_created_it() {
    // Rolled back while pending: the operator's value is theirs to revoke, proven or not.
    let mut kv = imported_pending_key();
    let changes = kv.rollback(at(4 * HOUR)).expect("rollback");
    assert_eq!(kv.provider_revocations(&changes), []);
    assert_eq!(kv.manual_revocations(&changes), [4]);
    // A failed rotation's discard, the same.
    let mut kv = imported_pending_key();
    let changes = kv.discard_pending(at(4 * HOUR), "failed").expect("discard");
    assert_eq!(kv.provider_revocations(&changes), []);
    assert_eq!(kv.manual_revocations(&changes), [4]);
    // One the provider rejected is not live there: nothing to revoke by hand either.
    let mut kv = imported_pending_key();
    kv.record_test(None, result(TestOutcome::BadKey, at(4 * HOUR)))
        .expect("test");
    let changes = kv
        .discard_pending(at(4 * HOUR), "bad key")
        .expect("discard");
    assert_eq!(kv.provider_revocations(&changes), []);
    assert!(kv.manual_revocations(&changes).is_empty());
}

#[test]
fn a_promoted_version_proven_by_possession_is_revoked_when_it_retires() {
    let mut kv = imported_pending_key();
    kv.record_test(None, result(TestOutcome::Passed, at(4 * HOUR)))
        .expect("test");
    kv.promote(at(4 * HOUR), DAY, false, None, false)
        .expect("promote");
    // Rolling back to version 2 revokes version 4, which the engine owns.
    let changes = kv.rollback(at(5 * HOUR)).expect("rollback");
    assert_eq!(kv.provider_revocations(&changes), [(4, "id-4".to_string())]);
    assert!(kv.manual_revocations(&changes).is_empty());
    // Deleting the key revokes version 2, which the engine created.
    let deleted = kv.destroy_all(at(6 * HOUR));
    assert_eq!(kv.provider_revocations(&deleted), [(2, "id-2".to_string())]);
}

/// The rule records are saved by: an owned key that leaves the live states carries a
/// revocation (of any status), or the record names it.
#[test]
fn an_owned_key_retired_without_a_revocation_is_named() {
    let mut kv = new_key();
    rotate(&mut kv, "sk-two", at(HOUR), DAY);
    let v1 = kv.versions.get_mut(&1).expect("v1");
    v1.engine_created = true;
    v1.provider_key_id = Some("key_1".into());
    let before = kv.clone();
    let mut after = kv.clone();
    after.expire(at(2 * DAY));
    assert_eq!(after.unrevoked_retirements(&before), [1]);
    // Any status will do: pending, confirmed (or one another rule adds).
    let v1 = after.versions.get_mut(&1).expect("v1");
    v1.provider_revocation = Some(crate::rotation::ProviderRevocation::requested(
        "p",
        "key_1",
        at(2 * DAY),
    ));
    assert!(after.unrevoked_retirements(&before).is_empty());
    // A key the engine cannot show is its own is never revoked, so it needs nothing.
    let mut unowned = before.clone();
    unowned.versions.get_mut(&1).expect("v1").engine_created = false;
    let mut retired = unowned.clone();
    retired.expire(at(2 * DAY));
    assert!(retired.unrevoked_retirements(&unowned).is_empty());
    // A live version that vanished counts as retired.
    let mut gone = before.clone();
    gone.versions.remove(&1);
    assert_eq!(gone.unrevoked_retirements(&before), [1]);
    // Nothing left the live states: nothing to say.
    assert!(before.unrevoked_retirements(&before).is_empty());
}
