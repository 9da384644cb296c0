//! create, stage, record_test and promote: every legal step and every refusal.

use super::super::{EventKind, KeyVersions, RotationError, TestOutcome, VersionState};
use super::{assert_refused, at, events, new_key, result, rotate, stage, sv, t0, DAY, HOUR};

use EventKind::{Created, Promoted, Revoked, Staged, Tested};
use VersionState::{Current, Pending, Previous};

#[test]
fn create_makes_version_1_current() {
    let imported = t0() - chrono::TimeDelta::days(20);
    let (kv, changes) = KeyVersions::create(sv("sk-one"), imported, t0());
    assert_eq!(events(&changes), [(Created, 1)]);
    assert_eq!(kv.next_version, 2);
    assert_eq!(kv.versions.len(), 1);
    let v = kv.current().expect("current");
    assert_eq!((v.number, v.state), (1, Current));
    assert_eq!(v.created_time, imported);
    assert_eq!(v.promoted_time, Some(imported));
    assert_eq!(v.fingerprint, sv("sk-one").fingerprint());
    assert_eq!(v.value.as_ref().map(|s| s.expose()), Some("sk-one"));
    assert!(!v.engine_created && v.staged_by.is_none() && v.last_test.is_none());
    assert_eq!(kv.last_rotation_time(), Some(imported));
    assert_eq!(kv.check_invariants(), Ok(()));
}

#[test]
fn create_clamps_a_future_created_time_to_now() {
    let (kv, _) = KeyVersions::create(sv("sk-one"), at(DAY), t0());
    assert_eq!(kv.current().expect("current").created_time, t0());
}

#[test]
fn stage_adds_a_pending_version() {
    let mut kv = new_key();
    let changes = kv
        .stage(
            sv("sk-two"),
            at(HOUR),
            Some("ent-a".into()),
            Some("key_123".into()),
            true,
        )
        .expect("stage");
    assert_eq!(events(&changes), [(Staged, 2)]);
    assert_eq!(changes[0].detail, "created at the provider");
    let p = kv.pending().expect("pending");
    assert_eq!((p.number, p.state), (2, Pending));
    assert_eq!(p.created_time, at(HOUR));
    assert_eq!(p.staged_by.as_deref(), Some("ent-a"));
    assert_eq!(p.provider_key_id.as_deref(), Some("key_123"));
    assert!(p.engine_created);
    assert_eq!(p.promoted_time, None);
    assert_eq!(kv.current_version(), Some(1));
    assert_eq!(kv.next_version, 3);
}

#[test]
fn second_stage_while_pending_is_refused() {
    let mut kv = new_key();
    stage(&mut kv, "sk-two", at(HOUR));
    let expected = RotationError::PendingExists { version: 2 };
    assert_eq!(
        expected.to_string(),
        "version 2 is already pending; promote it or roll it back first"
    );
    assert_refused(&mut kv, expected, |kv| {
        kv.stage(sv("sk-three"), at(2 * HOUR), None, None, false)
    });
}

#[test]
fn stage_of_a_live_value_is_refused() {
    let mut kv = new_key();
    assert_refused(&mut kv, RotationError::SameValue { version: 1 }, |kv| {
        kv.stage(sv("sk-one"), at(HOUR), None, None, false)
    });
    rotate(&mut kv, "sk-two", at(HOUR), DAY);
    assert_refused(&mut kv, RotationError::SameValue { version: 1 }, |kv| {
        kv.stage(sv("sk-one"), at(2 * HOUR), None, None, false)
    });
    // Once version 1 is revoked its value is gone and may come back (it is a new version).
    kv.expire(at(2 * DAY));
    assert_eq!(stage(&mut kv, "sk-one", at(2 * DAY)), 3);
}

#[test]
fn stage_after_destroy_all_is_refused() {
    let mut kv = new_key();
    kv.destroy_all(at(HOUR));
    assert_refused(&mut kv, RotationError::NoCurrent, |kv| {
        kv.stage(sv("sk-two"), at(HOUR), None, None, false)
    });
}

#[test]
fn stage_when_version_numbers_run_out_is_refused() {
    let mut kv = new_key();
    kv.next_version = u32::MAX;
    assert_refused(&mut kv, RotationError::VersionsExhausted, |kv| {
        kv.stage(sv("sk-two"), at(HOUR), None, None, false)
    });
}

#[test]
fn record_test_on_the_pending_version() {
    let mut kv = new_key();
    stage(&mut kv, "sk-two", at(HOUR));
    let mut r = result(TestOutcome::Unfunded, at(2 * HOUR));
    r.status_code = Some(429);
    r.detail = "insufficient_quota".into();
    let changes = kv.record_test(None, r.clone()).expect("test");
    assert_eq!(events(&changes), [(Tested, 2)]);
    assert_eq!(changes[0].detail, "unfunded: insufficient_quota");
    let p = kv.pending().expect("pending");
    assert_eq!(p.state, Pending);
    assert_eq!(p.last_test, Some(r));
    // A later test replaces the earlier one.
    kv.record_test(None, result(TestOutcome::Passed, at(3 * HOUR)))
        .expect("test");
    let last = kv.pending().and_then(|p| p.last_test.clone());
    assert_eq!(last.map(|t| t.outcome), Some(TestOutcome::Passed));
}

#[test]
fn record_test_of_a_named_version() {
    let mut kv = new_key();
    let changes = kv
        .record_test(Some(1), result(TestOutcome::Passed, at(HOUR)))
        .expect("test current");
    assert_eq!(events(&changes), [(Tested, 1)]);
    assert_eq!(changes[0].detail, "passed");
    assert_eq!(kv.get(1).map(|v| v.state), Some(Current));
    stage(&mut kv, "sk-two", at(HOUR));
    kv.record_test(Some(2), result(TestOutcome::BadKey, at(HOUR)))
        .expect("test pending");
    assert!(kv.get(1).and_then(|v| v.last_test.as_ref()).is_some());
}

#[test]
fn record_test_refusals() {
    let mut kv = new_key();
    let r = result(TestOutcome::Passed, at(HOUR));
    assert_refused(&mut kv, RotationError::NothingPending, |kv| {
        kv.record_test(None, r.clone())
    });
    assert_refused(&mut kv, RotationError::NoSuchVersion { version: 9 }, |kv| {
        kv.record_test(Some(9), r.clone())
    });
    rotate(&mut kv, "sk-two", at(HOUR), DAY);
    let refused = RotationError::NotTestable {
        version: 1,
        state: Previous,
    };
    assert_refused(&mut kv, refused, |kv| kv.record_test(Some(1), r.clone()));
    kv.expire(at(3 * DAY));
    let refused = RotationError::NotTestable {
        version: 1,
        state: VersionState::Revoked,
    };
    assert_refused(&mut kv, refused, |kv| kv.record_test(Some(1), r.clone()));
    stage(&mut kv, "sk-three", at(3 * DAY));
    kv.rollback(at(3 * DAY)).expect("rollback");
    let refused = RotationError::NotTestable {
        version: 3,
        state: VersionState::Failed,
    };
    assert_refused(&mut kv, refused, |kv| kv.record_test(Some(3), r.clone()));
}

#[test]
fn promote_with_nothing_pending_is_refused() {
    let mut kv = new_key();
    assert_refused(&mut kv, RotationError::NothingPending, |kv| {
        kv.promote(at(HOUR), DAY, true, None, false)
    });
}

#[test]
fn promote_of_an_untested_version_is_refused_without_force() {
    let mut kv = new_key();
    stage(&mut kv, "sk-two", at(HOUR));
    let expected = RotationError::NotTested {
        version: 2,
        outcome: None,
    };
    assert!(expected
        .to_string()
        .contains("version 2 has not been tested"));
    assert_refused(&mut kv, expected, |kv| {
        kv.promote(at(HOUR), DAY, false, None, false)
    });
}

#[test]
fn promote_after_a_failing_test_is_refused_without_force() {
    for outcome in [
        TestOutcome::BadKey,
        TestOutcome::Unfunded,
        TestOutcome::ProviderUnavailable,
    ] {
        let mut kv = new_key();
        stage(&mut kv, "sk-two", at(HOUR));
        kv.record_test(None, result(outcome, at(HOUR)))
            .expect("test");
        let expected = RotationError::NotTested {
            version: 2,
            outcome: Some(outcome),
        };
        assert!(expected
            .to_string()
            .contains(&format!("version 2 last tested {outcome}")));
        assert_refused(&mut kv, expected, |kv| {
            kv.promote(at(HOUR), DAY, false, None, false)
        });
    }
}

#[test]
fn forced_promote_of_an_untested_or_bad_version_is_recorded() {
    for outcome in [None, Some(TestOutcome::BadKey)] {
        let mut kv = new_key();
        stage(&mut kv, "sk-two", at(HOUR));
        if let Some(outcome) = outcome {
            kv.record_test(None, result(outcome, at(HOUR)))
                .expect("test");
        }
        let changes = kv.promote(at(HOUR), DAY, true, None, false).expect("force");
        assert_eq!(events(&changes), [(Promoted, 2)]);
        assert_eq!(changes[0].detail, "forced");
        assert_eq!(kv.current_version(), Some(2));
    }
}

#[test]
fn promote_after_passed_or_skipped_test() {
    for outcome in [TestOutcome::Passed, TestOutcome::Skipped] {
        let mut kv = new_key();
        stage(&mut kv, "sk-two", at(HOUR));
        kv.record_test(None, result(outcome, at(HOUR)))
            .expect("test");
        let changes = kv
            .promote(at(2 * HOUR), DAY, true, None, false)
            .expect("promote");
        assert_eq!(events(&changes), [(Promoted, 2)]);
        assert_eq!(changes[0].detail, "", "force bypassed nothing");

        let new = kv.current().expect("current");
        assert_eq!((new.number, new.promoted_time), (2, Some(at(2 * HOUR))));
        let old = kv.previous().expect("previous");
        assert_eq!(old.number, 1);
        assert_eq!(old.grace_expires_time, Some(at(2 * HOUR + DAY)));
        assert_eq!(old.value.as_ref().map(|v| v.expose()), Some("sk-one"));
        assert!(kv.pending().is_none());
        assert_eq!(kv.last_rotation_time(), Some(at(2 * HOUR)));
    }
}

#[test]
fn promote_revokes_a_version_still_previous() {
    let mut kv = new_key();
    rotate(&mut kv, "sk-two", at(HOUR), DAY);
    let changes = rotate(&mut kv, "sk-three", at(2 * HOUR), DAY);
    assert_eq!(events(&changes), [(Revoked, 1), (Promoted, 3)]);
    assert!(changes[0].detail.contains("version 3"));
    let v1 = kv.get(1).expect("v1");
    assert_eq!(v1.state, VersionState::Revoked);
    assert_eq!(v1.value, None);
    assert_eq!(v1.revoked_time, Some(at(2 * HOUR)));
    assert_eq!(kv.previous().map(|v| v.number), Some(2));
    assert_eq!(kv.current_version(), Some(3));
}

#[test]
fn emergency_promote_with_grace_0_revokes_the_old_current_at_once() {
    let mut kv = new_key();
    rotate(&mut kv, "sk-two", at(HOUR), DAY);
    let changes = rotate(&mut kv, "sk-three", at(2 * HOUR), 0);
    assert_eq!(
        events(&changes),
        [(Revoked, 1), (Promoted, 3), (Revoked, 2)]
    );
    for n in [1, 2] {
        let v = kv.get(n).expect("version");
        assert_eq!((v.state, v.value.is_none()), (VersionState::Revoked, true));
        assert_eq!(v.revoked_time, Some(at(2 * HOUR)));
    }
    assert!(kv.previous().is_none());
    assert!(kv.previous_in_grace(at(2 * HOUR)).is_none());
    assert_eq!(kv.verify("sk-two", at(2 * HOUR)), None);
    assert_eq!(kv.verify("sk-three", at(2 * HOUR)), Some((3, Current)));
    assert_eq!(kv.check_invariants(), Ok(()));
}

#[test]
fn promote_with_an_invalid_grace_period_is_refused() {
    let mut kv = new_key();
    stage(&mut kv, "sk-two", at(HOUR));
    for secs in [-1, i64::MIN, i64::MAX] {
        assert_refused(&mut kv, RotationError::InvalidGracePeriod { secs }, |kv| {
            kv.promote(at(HOUR), secs, true, None, false)
        });
    }
}

#[test]
fn two_person_rule() {
    let mut kv = new_key();
    stage(&mut kv, "sk-two", at(HOUR)); // staged by "entity:alice"
    kv.record_test(None, result(TestOutcome::Passed, at(HOUR)))
        .expect("test");
    let expected = RotationError::SameApprover { version: 2 };
    assert!(expected.is_forbidden());
    assert!(expected.to_string().contains("different entity"));
    assert_refused(&mut kv, expected.clone(), |kv| {
        kv.promote(at(HOUR), DAY, false, Some("entity:alice"), true)
    });
    // force does not bypass it.
    assert_refused(&mut kv, expected, |kv| {
        kv.promote(at(HOUR), DAY, true, Some("entity:alice"), true)
    });
    // Without the rule the stager may promote.
    let mut same = kv.clone();
    same.promote(at(HOUR), DAY, false, Some("entity:alice"), false)
        .expect("rule off");
    // The scheduler (no promoter) is not refused.
    let mut scheduler = kv.clone();
    scheduler
        .promote(at(HOUR), DAY, false, None, true)
        .expect("scheduler");
    // A different entity may promote.
    kv.promote(at(HOUR), DAY, false, Some("entity:bob"), true)
        .expect("bob promotes");
}

#[test]
fn two_person_rule_refuses_a_version_no_entity_staged() {
    // Staged by a token without an entity (None), by a token of an older release
    // (`token:<accessor>`), or with an empty entity: no person is known, so no promoter can be
    // shown to be someone else, force or not.
    for staged_by in [None, Some("token:acc-1"), Some("entity:")] {
        let mut kv = new_key();
        kv.stage(
            sv("sk-two"),
            at(HOUR),
            staged_by.map(str::to_string),
            None,
            false,
        )
        .expect("stage");
        kv.record_test(None, result(TestOutcome::Passed, at(HOUR)))
            .expect("test");
        let expected = RotationError::UnknownStager { version: 2 };
        assert!(expected.is_forbidden());
        assert!(expected.to_string().contains("identity entity"));
        for (promoter, force) in [
            ("entity:bob", false),
            ("entity:bob", true),
            ("token:acc-2", false),
        ] {
            assert_refused(&mut kv, expected.clone(), |kv| {
                kv.promote(at(HOUR), DAY, force, Some(promoter), true)
            });
        }
        // Without the rule anyone may promote it.
        kv.promote(at(HOUR), DAY, false, Some("entity:bob"), false)
            .expect("rule off");
    }
}

#[test]
fn only_two_person_refusals_are_forbidden() {
    let others = [
        RotationError::NothingPending,
        RotationError::PendingExists { version: 1 },
        RotationError::NotTested {
            version: 1,
            outcome: None,
        },
        RotationError::NothingToRollBack,
        RotationError::NoCurrent,
    ];
    assert!(RotationError::UnknownStager { version: 1 }.is_forbidden());
    assert!(others.iter().all(|e| !e.is_forbidden()));
}
