//! The read side: previous_in_grace and verify, with grace enforced at read time.

use super::super::VersionState::{Current, Pending, Previous};
use super::{at, new_key, rotate, stage, DAY, HOUR};

#[test]
fn previous_is_valid_strictly_before_grace_expires() {
    let mut kv = new_key();
    assert!(kv.previous_in_grace(at(0)).is_none());
    rotate(&mut kv, "sk-two", at(HOUR), DAY);
    let end = HOUR + DAY;
    assert_eq!(kv.previous_in_grace(at(HOUR)).map(|v| v.number), Some(1));
    assert_eq!(kv.previous_in_grace(at(end - 1)).map(|v| v.number), Some(1));
    assert!(
        kv.previous_in_grace(at(end)).is_none(),
        "not valid at expiry"
    );
    assert!(kv.previous_in_grace(at(end + 1)).is_none());
    // Still stored as previous until the tick runs, but no longer valid.
    assert_eq!(kv.previous().map(|v| v.number), Some(1));
    assert!(!kv.get(1).expect("v1").is_valid_at(at(end)));
}

#[test]
fn verify_accepts_current_pending_and_previous_in_grace() {
    let mut kv = new_key();
    rotate(&mut kv, "sk-two", at(HOUR), DAY);
    stage(&mut kv, "sk-three", at(2 * HOUR));
    let now = at(3 * HOUR);
    assert_eq!(kv.verify("sk-one", now), Some((1, Previous)));
    assert_eq!(kv.verify("sk-two", now), Some((2, Current)));
    assert_eq!(kv.verify("sk-three", now), Some((3, Pending)));
}

#[test]
fn verify_rejects_unknown_and_near_miss_values() {
    let kv = new_key();
    for bad in ["", "sk-on", "sk-one ", "SK-ONE", "sk-one\n", "sk-two"] {
        assert_eq!(kv.verify(bad, at(HOUR)), None, "{bad:?}");
    }
    assert_eq!(kv.verify("sk-one", at(HOUR)), Some((1, Current)));
}

#[test]
fn verify_rejects_previous_at_and_after_grace_expiry() {
    let mut kv = new_key();
    rotate(&mut kv, "sk-two", at(HOUR), DAY);
    assert_eq!(kv.verify("sk-one", at(HOUR + DAY - 1)), Some((1, Previous)));
    assert_eq!(kv.verify("sk-one", at(HOUR + DAY)), None);
    assert_eq!(kv.verify("sk-one", at(HOUR + 2 * DAY)), None);
    kv.expire(at(HOUR + DAY));
    assert_eq!(kv.verify("sk-one", at(HOUR)), None, "destroyed by expiry");
}

#[test]
fn verify_rejects_revoked_and_failed_versions() {
    let mut kv = new_key();
    rotate(&mut kv, "sk-two", at(HOUR), DAY);
    rotate(&mut kv, "sk-three", at(2 * HOUR), DAY); // revokes 1 early
    stage(&mut kv, "sk-four", at(3 * HOUR));
    kv.rollback(at(3 * HOUR)).expect("rollback"); // 4 failed
    let now = at(3 * HOUR);
    assert_eq!(kv.verify("sk-one", now), None, "revoked");
    assert_eq!(kv.verify("sk-four", now), None, "failed");
    assert_eq!(kv.verify("sk-two", now), Some((2, Previous)));
    assert_eq!(kv.verify("sk-three", now), Some((3, Current)));
    kv.rollback(now).expect("rollback to 2"); // 3 revoked
    assert_eq!(kv.verify("sk-three", now), None, "rolled back");
    assert_eq!(kv.verify("sk-two", now), Some((2, Current)));
}
