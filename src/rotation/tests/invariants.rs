//! check_invariants finds each kind of broken stored data.

use super::super::{KeyVersions, RotationError, SecretValue, VersionState};
use super::{at, new_key, rotate, stage, sv, DAY, HOUR};

fn broken(kv: &KeyVersions) -> String {
    match kv.check_invariants() {
        Err(RotationError::Inconsistent { detail }) => detail,
        other => panic!("expected Inconsistent, got {other:?}"),
    }
}

fn key_with_all_live_states() -> KeyVersions {
    let mut kv = new_key();
    rotate(&mut kv, "sk-two", at(HOUR), DAY);
    stage(&mut kv, "sk-three", at(2 * HOUR));
    assert_eq!(kv.check_invariants(), Ok(()));
    kv
}

fn set(kv: &mut KeyVersions, n: u32, state: VersionState, value: Option<SecretValue>) {
    let v = kv.versions.get_mut(&n).expect("version");
    v.state = state;
    v.value = value;
}

#[test]
fn revoked_or_failed_with_a_value() {
    for state in [VersionState::Revoked, VersionState::Failed] {
        let mut kv = key_with_all_live_states();
        set(&mut kv, 1, state, Some(sv("sk-one")));
        let detail = broken(&kv);
        assert!(
            detail.contains("version 1") && detail.contains("holds"),
            "{detail}"
        );
        assert!(!detail.contains("sk-one"));
    }
}

#[test]
fn live_version_without_a_value() {
    let mut kv = key_with_all_live_states();
    kv.versions.get_mut(&3).expect("v3").value = None;
    assert!(broken(&kv).contains("lacks"));
}

#[test]
fn two_currents_or_none() {
    let mut kv = key_with_all_live_states();
    set(&mut kv, 1, VersionState::Current, Some(sv("sk-one")));
    assert!(broken(&kv).contains("2 versions are current"));
    let mut kv = key_with_all_live_states();
    set(&mut kv, 2, VersionState::Revoked, None);
    assert!(broken(&kv).contains("0 versions are current"));
}

#[test]
fn two_pending_or_out_of_order() {
    let mut kv = key_with_all_live_states();
    set(&mut kv, 1, VersionState::Pending, Some(sv("sk-one")));
    broken(&kv);
    let mut kv = key_with_all_live_states();
    set(&mut kv, 3, VersionState::Previous, Some(sv("sk-three")));
    broken(&kv);
}

#[test]
fn numbering() {
    let mut kv = key_with_all_live_states();
    kv.next_version = 3;
    assert!(broken(&kv).contains("outside"));
    let mut kv = key_with_all_live_states();
    let v = kv.versions.remove(&3).expect("v3");
    kv.versions.insert(7, v);
    kv.next_version = 8;
    assert!(broken(&kv).contains("stored under"));
    let empty = KeyVersions {
        versions: Default::default(),
        next_version: 1,
        reinstatement: None,
        withdrawn: None,
    };
    broken(&empty);
}
