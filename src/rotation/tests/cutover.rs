//! `finalize` and `extend_grace`.

use super::*;
use crate::rotation::VersionState;

#[test]
fn finalize_revokes_the_previous_version_now() {
    let mut kv = new_key();
    rotate(&mut kv, "sk-two", at(0), DAY);
    let changes = kv.finalize(at(HOUR)).expect("finalize");
    assert_eq!(events(&changes), vec![(EventKind::Finalized, 1)]);
    let v1 = kv.get(1).unwrap();
    assert_eq!(v1.state, VersionState::Revoked);
    assert!(v1.value.is_none(), "value destroyed");
    assert_eq!(v1.revoked_time, Some(at(HOUR)));
    assert!(EventKind::Finalized.destroys_value());
    assert_eq!(
        kv.provider_revocations(&changes),
        vec![],
        "not engine-created"
    );
    kv.check_invariants().unwrap();
}

#[test]
fn finalize_and_extend_need_a_version_in_grace() {
    let mut kv = new_key();
    let none = RotationError::NoneInGrace {
        detail: "there is no previous version".into(),
    };
    assert_refused(&mut kv, none.clone(), |kv| kv.finalize(at(0)));
    assert_refused(&mut kv, none, |kv| kv.extend_grace(at(0), at(DAY)));

    rotate(&mut kv, "sk-two", at(0), HOUR);
    let ended = RotationError::NoneInGrace {
        detail: "version 1's grace window has ended; a revoked key cannot come back".into(),
    };
    // At the very end of the window the version is no longer valid.
    assert_refused(&mut kv, ended.clone(), |kv| kv.finalize(at(HOUR)));
    assert_refused(&mut kv, ended, |kv| kv.extend_grace(at(2 * HOUR), at(DAY)));

    kv.expire(at(2 * HOUR));
    let revoked = RotationError::NoneInGrace {
        detail: "version 1 is revoked; a revoked key cannot come back".into(),
    };
    assert_refused(&mut kv, revoked, |kv| {
        kv.extend_grace(at(2 * HOUR), at(DAY))
    });
}

#[test]
fn extend_moves_the_grace_end_later_only() {
    let mut kv = new_key();
    rotate(&mut kv, "sk-two", at(0), HOUR);
    assert_refused(
        &mut kv,
        RotationError::NotLater {
            version: 1,
            grace_expires_time: at(HOUR),
        },
        |kv| kv.extend_grace(at(60), at(HOUR)),
    );
    let changes = kv.extend_grace(at(60), at(DAY)).expect("extend");
    assert_eq!(events(&changes), vec![(EventKind::GraceExtended, 1)]);
    assert_eq!(
        changes[0].detail,
        "grace window extended from 2025-01-01T01:00:00Z to 2025-01-02T00:00:00Z"
    );
    assert_eq!(kv.get(1).unwrap().grace_expires_time, Some(at(DAY)));
    assert!(
        kv.previous_in_grace(at(2 * HOUR)).is_some(),
        "valid past its planned end"
    );
    assert_eq!(kv.verify("sk-one", at(2 * HOUR)).map(|v| v.0), Some(1));
    assert!(kv.expire(at(2 * HOUR)).is_empty());
    assert_eq!(kv.expire(at(DAY)).len(), 1);
}

#[test]
fn cutover_refusals_read_cleanly() {
    let not_later = RotationError::NotLater {
        version: 1,
        grace_expires_time: at(HOUR),
    };
    assert_eq!(
        not_later.to_string(),
        "version 1's grace window already lasts until 2025-01-01T01:00:00Z; extend only makes \
         it longer (finalize ends it now)"
    );
    let none = RotationError::NoneInGrace {
        detail: "there is no previous version".into(),
    };
    assert_eq!(
        none.to_string(),
        "no version is in its grace window: there is no previous version"
    );
}
