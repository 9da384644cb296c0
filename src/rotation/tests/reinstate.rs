//! Rollback under the two-person rule: a discard is one person's act; a reinstatement of the
//! previous version is requested by one person and performed by a different one, and the
//! request lapses with the grace window or any other change of the versions.

use super::super::{
    EventKind, KeyVersions, ReinstatementRequest, RotationError, TwoPersonRollback, VersionState,
};
use super::{assert_refused, at, events, new_key, rotate, stage, DAY, HOUR};

use EventKind::{Failed, Revoked, RollbackRequested, RolledBack};

const ALICE: &str = "entity:alice";
const BOB: &str = "entity:bob";

/// Version 1 previous (grace until `HOUR + DAY`), version 2 current since `HOUR`.
fn rotated() -> KeyVersions {
    let mut kv = new_key();
    rotate(&mut kv, "sk-two", at(HOUR), DAY);
    kv
}

/// Alice's request at `now`: the changes, and the key otherwise unchanged.
fn request(kv: &mut KeyVersions, person: &str, now: chrono::DateTime<chrono::Utc>) {
    let before = kv.versions.clone();
    match kv.rollback_two_person(now, person).expect("request") {
        TwoPersonRollback::Requested(changes) => {
            assert_eq!(events(&changes), [(RollbackRequested, 1)]);
            assert!(
                changes[0].detail.contains("a different entity"),
                "{changes:?}"
            );
        }
        other => panic!("expected a request, got {other:?}"),
    }
    assert_eq!(kv.versions, before, "a request changes no version");
    assert_eq!(kv.check_invariants(), Ok(()));
}

#[test]
fn a_reinstatement_is_requested_by_one_entity_and_performed_by_another() {
    let mut kv = rotated();
    request(&mut kv, ALICE, at(2 * HOUR));
    assert_eq!(
        kv.reinstatement(at(2 * HOUR)),
        Some(&ReinstatementRequest {
            version: 1,
            replaces: 2,
            requested_by: ALICE.into(),
            requested_time: at(2 * HOUR),
        })
    );
    assert_eq!(kv.current_version(), Some(2));

    // The requester again: refused, changing nothing.
    assert_refused(&mut kv, RotationError::SameRequester { version: 1 }, |kv| {
        kv.rollback_two_person(at(3 * HOUR), ALICE)
    });

    // A different entity performs it.
    let done = kv.rollback_two_person(at(3 * HOUR), BOB).expect("confirm");
    let TwoPersonRollback::Done(changes) = done else {
        panic!("expected the reinstatement, got {done:?}");
    };
    assert_eq!(events(&changes), [(RolledBack, 2), (Revoked, 2)]);
    assert_eq!(kv.current_version(), Some(1));
    assert_eq!(kv.get(2).expect("v2").state, VersionState::Revoked);
    assert_eq!(kv.reinstatement, None);
    assert_eq!(kv.check_invariants(), Ok(()));
}

#[test]
fn discarding_a_pending_version_stays_one_persons_act() {
    let mut kv = rotated();
    stage(&mut kv, "sk-three", at(2 * HOUR));
    let done = kv
        .rollback_two_person(at(3 * HOUR), ALICE)
        .expect("discard");
    let TwoPersonRollback::Done(changes) = done else {
        panic!("expected the discard, got {done:?}");
    };
    assert_eq!(events(&changes), [(RolledBack, 3), (Failed, 3)]);
    assert_eq!(kv.current_version(), Some(2));
    assert_eq!(kv.reinstatement, None);
}

#[test]
fn a_request_lapses_when_the_grace_window_ends() {
    let mut kv = rotated();
    request(&mut kv, ALICE, at(2 * HOUR));
    let end = at(HOUR + DAY);
    assert_eq!(kv.reinstatement(end), None, "judged at read time");
    assert_refused(
        &mut kv,
        RotationError::GraceEnded {
            version: 1,
            expired_time: end,
        },
        |kv| kv.rollback_two_person(end, BOB),
    );
    kv.expire(end);
    assert_eq!(kv.reinstatement, None, "dropped with the version");
    assert_eq!(kv.check_invariants(), Ok(()));
}

#[test]
fn a_request_is_dropped_by_any_other_change_of_the_versions() {
    // A stage (then its discard): the old request no longer counts, bob's rollback only asks.
    let mut kv = rotated();
    request(&mut kv, ALICE, at(2 * HOUR));
    stage(&mut kv, "sk-three", at(3 * HOUR));
    assert_eq!(kv.reinstatement, None);
    kv.rollback_two_person(at(4 * HOUR), ALICE)
        .expect("discard");
    request(&mut kv, BOB, at(5 * HOUR));
    assert_eq!(
        kv.reinstatement(at(5 * HOUR))
            .map(|r| r.requested_by.as_str()),
        Some(BOB)
    );

    // finalize.
    let mut kv = rotated();
    request(&mut kv, ALICE, at(2 * HOUR));
    kv.finalize(at(3 * HOUR)).expect("finalize");
    assert_eq!(kv.reinstatement, None);

    // A one-person rollback (the rule turned off meanwhile).
    let mut kv = rotated();
    request(&mut kv, ALICE, at(2 * HOUR));
    kv.rollback(at(3 * HOUR)).expect("rollback");
    assert_eq!(kv.reinstatement, None);
    assert_eq!(kv.check_invariants(), Ok(()));

    // A delete.
    let mut kv = rotated();
    request(&mut kv, ALICE, at(2 * HOUR));
    kv.destroy_all(at(3 * HOUR));
    assert_eq!(kv.reinstatement, None);

    // Extending the grace window keeps it (no version changed).
    let mut kv = rotated();
    request(&mut kv, ALICE, at(2 * HOUR));
    kv.extend_grace(at(3 * HOUR), at(3 * DAY)).expect("extend");
    assert!(kv.reinstatement(at(2 * DAY)).is_some());
}

#[test]
fn nothing_to_reinstate_is_refused_before_any_request() {
    let mut kv = new_key();
    assert_refused(&mut kv, RotationError::NothingToRollBack, |kv| {
        kv.rollback_two_person(at(HOUR), ALICE)
    });
    let mut kv = rotated();
    assert_refused(&mut kv, RotationError::UnknownStager { version: 1 }, |kv| {
        kv.rollback_two_person(at(2 * HOUR), "token:acc")
    });
}

#[test]
fn a_request_that_no_longer_matches_the_versions_is_inconsistent() {
    let mut kv = rotated();
    request(&mut kv, ALICE, at(2 * HOUR));
    let mut broken = kv.clone();
    if let Some(r) = broken.reinstatement.as_mut() {
        r.replaces = 7;
    }
    assert!(matches!(
        broken.check_invariants(),
        Err(RotationError::Inconsistent { .. })
    ));
    let mut broken = kv;
    stage(&mut broken, "sk-three", at(3 * HOUR));
    broken.reinstatement = Some(ReinstatementRequest {
        version: 1,
        replaces: 2,
        requested_by: ALICE.into(),
        requested_time: at(2 * HOUR),
    });
    assert!(matches!(
        broken.check_invariants(),
        Err(RotationError::Inconsistent { .. })
    ));
}
