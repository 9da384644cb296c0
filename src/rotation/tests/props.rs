//! Property test: random sequences of operations at random times keep the invariants, and a
//! refused operation changes nothing.

use proptest::prelude::*;

use super::super::{KeyVersions, TestOutcome, TwoPersonRollback, VersionState};
use super::{at, result, sv};

#[derive(Debug, Clone)]
enum Op {
    /// Stage value number `n` (small, so values repeat and `SameValue` is exercised).
    Stage(u8, bool),
    Test(Option<u32>, TestOutcome),
    Promote {
        grace: i64,
        force: bool,
        same_person: bool,
        rule: bool,
    },
    Rollback,
    /// A rollback under the two-person rule by alice or bob.
    RollbackTwoPerson(bool),
    Discard,
    Expire,
    Destroy,
}

fn outcome() -> impl Strategy<Value = TestOutcome> {
    prop_oneof![
        Just(TestOutcome::Passed),
        Just(TestOutcome::BadKey),
        Just(TestOutcome::Unfunded),
        Just(TestOutcome::ProviderUnavailable),
        Just(TestOutcome::Skipped),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        40 => (0u8..12, any::<bool>()).prop_map(|(n, e)| Op::Stage(n, e)),
        30 => (proptest::option::of(0u32..8), outcome()).prop_map(|(v, o)| Op::Test(v, o)),
        40 => (prop_oneof![Just(0i64), 1i64..200_000, Just(-5)], any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(grace, force, same_person, rule)| Op::Promote { grace, force, same_person, rule }),
        20 => Just(Op::Rollback),
        20 => any::<bool>().prop_map(Op::RollbackTwoPerson),
        10 => Just(Op::Discard),
        20 => Just(Op::Expire),
        1 => Just(Op::Destroy),
    ]
}

/// Seconds to move the clock before each operation; sometimes backwards (clock skew).
fn step() -> impl Strategy<Value = i64> {
    prop_oneof![Just(0i64), 1i64..100_000, -3_600i64..0]
}

fn check(kv: &KeyVersions, destroyed: bool, seen: u32, now: chrono::DateTime<chrono::Utc>) {
    assert_eq!(kv.check_invariants(), Ok(()), "{kv:#?}");
    let count = |s: VersionState| kv.versions.values().filter(|v| v.state == s).count();
    // One current version, except before the first promotion of a key created pending.
    let expected = usize::from(!destroyed && !kv.never_current());
    assert_eq!(count(VersionState::Current), expected);
    if let Some(r) = kv.reinstatement(now) {
        assert_eq!(kv.previous().map(|v| v.number), Some(r.version));
        assert_eq!(kv.current_version(), Some(r.replaces));
    }
    assert!(count(VersionState::Pending) <= 1 && count(VersionState::Previous) <= 1);
    for v in kv.versions.values() {
        assert_eq!(
            v.value.is_some(),
            v.state.keeps_value(),
            "version {}",
            v.number
        );
        assert!(v.number < kv.next_version);
        // Every live value verifies as its own version exactly when it is valid now.
        if let Some(value) = &v.value {
            let expected = v.is_valid_at(now).then_some((v.number, v.state));
            assert_eq!(kv.verify(value.expose(), now), expected);
        }
    }
    assert!(kv.next_version >= seen, "version numbers never go back");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn random_operations_keep_the_invariants(
        pending_first in any::<bool>(),
        ops in proptest::collection::vec((step(), op()), 1..60),
    ) {
        let mut kv = if pending_first {
            KeyVersions::create_pending(sv("v-start"), at(0), at(0), Some("entity:alice".into())).0
        } else {
            KeyVersions::create(sv("v-start"), at(0), at(0)).0
        };
        let mut clock = 0i64;
        let mut destroyed = false;
        let mut seen = 1u32;
        for (dt, op) in ops {
            clock += dt;
            let now = at(clock);
            let before = kv.clone();
            let outcome = match op {
                Op::Stage(n, engine) => kv
                    .stage(sv(&format!("v-{n}")), now, Some("entity:alice".into()), Some(format!("id-{n}")), engine)
                    .map(|c| {
                        assert!(c[0].version >= seen, "new version numbers increase");
                        seen = c[0].version + 1;
                        c
                    }),
                Op::Test(v, o) => kv.record_test(v, result(o, now)),
                Op::Promote { grace, force, same_person, rule } => {
                    let who = if same_person { "entity:alice" } else { "entity:bob" };
                    kv.promote(now, grace, force, Some(who), rule)
                }
                Op::Rollback => kv.rollback(now),
                Op::RollbackTwoPerson(alice) => {
                    let who = if alice { "entity:alice" } else { "entity:bob" };
                    kv.rollback_two_person(now, who).map(|r| match r {
                        TwoPersonRollback::Done(c) | TwoPersonRollback::Requested(c) => c,
                    })
                }
                Op::Discard => kv.discard_pending(now, "discarded"),
                Op::Expire => Ok(kv.expire(now)),
                Op::Destroy => {
                    let changes = kv.destroy_all(now);
                    // A key with no live version (its first discarded) has nothing to destroy.
                    destroyed |= !changes.is_empty();
                    Ok(changes)
                }
            };
            match outcome {
                Ok(changes) => {
                    for c in &changes {
                        prop_assert!(kv.get(c.version).is_some());
                    }
                    // Whatever the provider must revoke is destroyed here and was engine-made.
                    for (n, id) in kv.provider_revocations(&changes) {
                        let v = kv.get(n).expect("version");
                        prop_assert!(v.value.is_none() && v.engine_created);
                        prop_assert_eq!(v.provider_key_id.as_deref(), Some(id.as_str()));
                    }
                }
                Err(_) => prop_assert_eq!(&kv, &before, "refused operation changed the key"),
            }
            check(&kv, destroyed, seen, now);
        }
    }
}
