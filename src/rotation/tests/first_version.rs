//! A key created under the two-person rule: its first version waits, pending, for a different
//! person to test and promote it; discarded, it leaves a key with no live version that may stage
//! a new first version.

use super::super::{EventKind, KeyVersions, RotationError, TestOutcome, VersionState};
use super::{assert_refused, at, events, result, stage, sv, t0, DAY, HOUR};

use EventKind::{Failed, Promoted, RolledBack, Staged};
use VersionState::{Current, Pending};

/// A key created at `t0()` under the rule by alice: version 1 `sk-one`, pending.
fn pending_key() -> KeyVersions {
    let (kv, changes) =
        KeyVersions::create_pending(sv("sk-one"), t0(), t0(), Some("entity:alice".into()));
    assert_eq!(events(&changes), [(Staged, 1)]);
    kv
}

#[test]
fn create_pending_makes_version_1_pending_with_no_current() {
    let imported = t0() - chrono::TimeDelta::days(20);
    let (kv, _) =
        KeyVersions::create_pending(sv("sk-one"), imported, t0(), Some("entity:alice".into()));
    let v = kv.get(1).expect("version 1");
    assert_eq!((v.state, v.number), (Pending, 1));
    assert_eq!(v.staged_by.as_deref(), Some("entity:alice"));
    assert_eq!(v.created_time, imported);
    assert_eq!(v.promoted_time, None);
    assert_eq!(v.last_test, None);
    assert_eq!(kv.current(), None);
    assert_eq!(kv.last_rotation_time(), None);
    assert_eq!(
        kv.age(30 * DAY, t0()),
        None,
        "no current version has no age"
    );
    assert!(kv.never_current());
    assert_eq!(kv.next_version, 2);
    assert_eq!(kv.check_invariants(), Ok(()));
    // Like any pending version it verifies (verify/ is for services checking a cut-over).
    assert_eq!(kv.verify("sk-one", t0()), Some((1, Pending)));
}

#[test]
fn create_pending_clamps_a_future_created_time_to_now() {
    let (kv, _) = KeyVersions::create_pending(sv("sk-one"), at(DAY), t0(), None);
    assert_eq!(kv.get(1).expect("v1").created_time, t0());
}

#[test]
fn the_first_version_is_promoted_only_by_another_entity_after_a_test() {
    let mut kv = pending_key();
    assert_refused(&mut kv, RotationError::SameApprover { version: 1 }, |kv| {
        kv.promote(at(HOUR), DAY, true, Some("entity:alice"), true)
    });
    assert_refused(
        &mut kv,
        RotationError::NotTested {
            version: 1,
            outcome: None,
        },
        |kv| kv.promote(at(HOUR), DAY, false, Some("entity:bob"), true),
    );
    kv.record_test(None, result(TestOutcome::Passed, at(HOUR)))
        .expect("test");
    let changes = kv
        .promote(at(2 * HOUR), DAY, false, Some("entity:bob"), true)
        .expect("promote");
    assert_eq!(events(&changes), [(Promoted, 1)]);
    let v = kv.current().expect("current");
    assert_eq!((v.number, v.state), (1, Current));
    assert_eq!(v.promoted_time, Some(at(2 * HOUR)));
    assert_eq!(v.created_time, t0(), "age counts from creation");
    assert!(kv.previous().is_none(), "nothing was current before");
    assert!(!kv.never_current());
    assert_eq!(kv.check_invariants(), Ok(()));
}

#[test]
fn a_first_version_staged_without_an_entity_cannot_be_promoted_under_the_rule() {
    let (mut kv, _) = KeyVersions::create_pending(sv("sk-one"), t0(), t0(), None);
    kv.record_test(None, result(TestOutcome::Skipped, t0()))
        .expect("test");
    assert_refused(&mut kv, RotationError::UnknownStager { version: 1 }, |kv| {
        kv.promote(at(HOUR), DAY, false, Some("entity:bob"), true)
    });
}

#[test]
fn staging_while_the_first_version_is_pending_is_refused() {
    let mut kv = pending_key();
    assert_refused(&mut kv, RotationError::PendingExists { version: 1 }, |kv| {
        kv.stage(
            sv("sk-two"),
            at(HOUR),
            Some("entity:bob".into()),
            None,
            false,
        )
    });
}

#[test]
fn discarding_the_first_version_leaves_no_live_version_and_a_new_first_may_be_staged() {
    let mut kv = pending_key();
    let changes = kv.rollback(at(HOUR)).expect("discard");
    assert_eq!(events(&changes), [(RolledBack, 1), (Failed, 1)]);
    assert_eq!(kv.current(), None);
    assert_eq!(kv.pending(), None);
    assert_eq!(kv.verify("sk-one", at(HOUR)), None);
    assert!(kv.never_current());
    assert_eq!(kv.check_invariants(), Ok(()));
    assert_refused(&mut kv, RotationError::NothingToRollBack, |kv| {
        kv.rollback(at(HOUR))
    });

    // A new first version: staged, tested, promoted by someone else.
    assert_eq!(stage(&mut kv, "sk-two", at(2 * HOUR)), 2);
    assert_eq!(kv.check_invariants(), Ok(()));
    kv.record_test(None, result(TestOutcome::Passed, at(2 * HOUR)))
        .expect("test");
    let changes = kv
        .promote(at(3 * HOUR), DAY, false, Some("entity:bob"), true)
        .expect("promote");
    assert_eq!(events(&changes), [(Promoted, 2)]);
    assert_eq!(kv.current_version(), Some(2));
    assert!(kv.previous().is_none());
    assert_eq!(kv.check_invariants(), Ok(()));
}

#[test]
fn a_deleted_key_still_refuses_a_stage() {
    let mut kv = pending_key();
    kv.destroy_all(at(HOUR));
    assert!(!kv.never_current(), "revoked by a delete is not discarded");
    assert_eq!(kv.check_invariants(), Ok(()));
    assert_refused(&mut kv, RotationError::NoCurrent, |kv| {
        kv.stage(sv("sk-two"), at(2 * HOUR), None, None, false)
    });
}

#[test]
fn only_a_key_that_never_had_a_current_version_may_lack_one() {
    fn broken(kv: &KeyVersions) -> String {
        match kv.check_invariants() {
            Err(RotationError::Inconsistent { detail }) => detail,
            other => panic!("expected Inconsistent, got {other:?}"),
        }
    }
    // A pending version beside a revoked one: the current version was lost.
    let mut kv = pending_key();
    kv.rollback(at(HOUR)).expect("discard");
    stage(&mut kv, "sk-two", at(2 * HOUR));
    kv.versions.get_mut(&1).expect("v1").state = VersionState::Revoked;
    assert!(broken(&kv).contains("0 versions are current"));
    // A previous version with no current one.
    let mut kv = pending_key();
    let v = kv.versions.get_mut(&1).expect("v1");
    v.state = VersionState::Previous;
    assert!(broken(&kv).contains("0 versions are current"));
}
