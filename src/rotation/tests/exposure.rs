//! The leak response's transitions: a pending or previous version revoked now; a current one
//! withdrawn with no successor yet, which the invariants accept until the next promotion.

use super::*;
use crate::rotation::VersionState;

fn rotated() -> KeyVersions {
    let mut k = new_key();
    k.stage(sv("sk-two"), at(HOUR), None, None, false).unwrap();
    k.record_test(None, result(TestOutcome::Passed, at(HOUR)))
        .unwrap();
    k.promote(at(HOUR), DAY, false, None, false).unwrap();
    k
}

#[test]
fn a_previous_or_pending_version_is_revoked_and_a_current_or_retired_one_refused() {
    let mut k = rotated();
    let changes = k.revoke_exposed(1, at(2 * HOUR), "exposed").unwrap();
    assert_eq!(changes, [Change::new(EventKind::Revoked, 1, "exposed")]);
    let v1 = k.get(1).unwrap();
    assert_eq!(
        (v1.state, v1.value.is_none()),
        (VersionState::Revoked, true)
    );
    assert!(matches!(
        k.revoke_exposed(1, at(2 * HOUR), "again"),
        Err(RotationError::NotExposable { version: 1, .. })
    ));
    assert!(matches!(
        k.revoke_exposed(2, at(2 * HOUR), "current"),
        Err(RotationError::NotExposable { version: 2, .. })
    ));
    k.stage(sv("sk-three"), at(3 * HOUR), None, None, false)
        .unwrap();
    k.revoke_exposed(3, at(3 * HOUR), "exposed").unwrap();
    assert!(k.pending().is_none());
    assert_eq!(k.current_version(), Some(2));
    k.check_invariants().unwrap();
}

#[test]
fn a_withdrawn_current_version_leaves_no_current_until_the_next_promotion() {
    let mut k = rotated();
    k.stage(
        sv("sk-three"),
        at(2 * HOUR),
        Some("entity:a".into()),
        None,
        true,
    )
    .unwrap();
    let changes = k.withdraw_exposed_current(at(2 * HOUR), "exposed").unwrap();
    let revoked: Vec<u32> = changes.iter().map(|c| c.version).collect();
    assert_eq!(
        revoked,
        [1, 2],
        "the previous version goes with the current one"
    );
    assert!(changes.iter().all(|c| c.event == EventKind::Revoked));
    assert_eq!((k.current(), k.withdrawn), (None, Some(2)));
    k.check_invariants().unwrap();
    // The same record without the marker is broken: a current version never just vanishes.
    let mut unmarked = k.clone();
    unmarked.withdrawn = None;
    assert!(unmarked.check_invariants().is_err());
    // A marker naming a live version is broken too.
    let mut wrong = k.clone();
    wrong.withdrawn = Some(3);
    assert!(wrong.check_invariants().is_err());
    // Only a different person promotes the successor; then the marker is gone.
    assert!(k
        .promote(at(3 * HOUR), 0, false, Some("entity:a"), true)
        .is_err());
    k.record_test(None, result(TestOutcome::Passed, at(3 * HOUR)))
        .unwrap();
    k.promote(at(3 * HOUR), 0, false, Some("entity:b"), true)
        .unwrap();
    assert_eq!((k.current_version(), k.withdrawn), (Some(3), None));
    k.check_invariants().unwrap();
}

#[test]
fn a_withdrawn_key_whose_successor_was_rolled_back_stages_a_new_one() {
    let mut k = rotated();
    k.stage(sv("sk-three"), at(2 * HOUR), None, None, true)
        .unwrap();
    k.withdraw_exposed_current(at(2 * HOUR), "exposed").unwrap();
    k.rollback(at(3 * HOUR)).unwrap();
    k.check_invariants().unwrap();
    k.stage(sv("sk-four"), at(4 * HOUR), None, None, false)
        .unwrap();
    k.check_invariants().unwrap();
    assert!(matches!(
        new_key().withdraw_exposed_current(at(1), "x").map(|_| ()),
        Ok(())
    ));
    let mut none = rotated();
    none.withdraw_exposed_current(at(1), "x").unwrap();
    assert_eq!(
        none.withdraw_exposed_current(at(2), "x"),
        Err(RotationError::NoCurrent)
    );
}
