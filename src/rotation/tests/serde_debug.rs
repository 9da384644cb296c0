//! Debug output never shows values; storage round trips; enums use the API spelling.

use super::super::{Change, EventKind, KeyVersions, TestOutcome, VersionState};
use super::{at, new_key, result, rotate, stage, DAY, HOUR};

/// A key with a revoked, a previous, a current, a failed and a pending version.
fn busy_key() -> KeyVersions {
    let mut kv = new_key();
    rotate(&mut kv, "sk-SECRET-two", at(HOUR), DAY);
    rotate(&mut kv, "sk-SECRET-three", at(2 * HOUR), DAY);
    stage(&mut kv, "sk-SECRET-four", at(3 * HOUR));
    kv.rollback(at(3 * HOUR)).expect("rollback");
    stage(&mut kv, "sk-SECRET-five", at(4 * HOUR));
    kv.record_test(None, result(TestOutcome::Passed, at(4 * HOUR)))
        .expect("test");
    kv
}

#[test]
fn debug_of_a_key_never_shows_a_value() {
    let kv = busy_key();
    for text in [format!("{kv:?}"), format!("{kv:#?}")] {
        assert!(!text.contains("SECRET"), "{text}");
        assert!(!text.contains("sk-one"), "{text}");
        assert!(text.contains("SecretValue([redacted])"));
        assert!(text.contains("sha256:"), "fingerprints are shown");
    }
    let version = kv.current().expect("current");
    assert!(!format!("{version:?}").contains("SECRET"));
}

#[test]
fn storage_round_trip() {
    let kv = busy_key();
    let json = serde_json::to_string(&kv).expect("serialize");
    let back: KeyVersions = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, kv);
    assert_eq!(serde_json::to_string(&back).expect("serialize"), json);
    assert_eq!(back.check_invariants(), Ok(()));
    let current = back.current().and_then(|v| v.value.as_ref());
    assert_eq!(current.map(|v| v.expose()), Some("sk-SECRET-three"));
}

#[test]
fn stored_json_shape() {
    let kv = busy_key();
    let json = serde_json::to_value(&kv).expect("serialize");
    assert_eq!(json["next_version"], 6);
    assert_eq!(json["versions"]["1"]["state"], "revoked");
    assert_eq!(json["versions"]["1"]["value"], serde_json::Value::Null);
    assert_eq!(json["versions"]["2"]["state"], "previous");
    assert_eq!(json["versions"]["2"]["value"], "sk-SECRET-two");
    assert_eq!(json["versions"]["3"]["state"], "current");
    assert_eq!(json["versions"]["4"]["state"], "failed");
    assert_eq!(json["versions"]["4"]["value"], serde_json::Value::Null);
    assert_eq!(json["versions"]["5"]["state"], "pending");
    assert_eq!(json["versions"]["5"]["last_test"]["outcome"], "passed");
    assert_eq!(
        json["versions"]["3"]["created_time"],
        "2025-01-01T02:00:00Z"
    );
}

#[test]
fn minimal_stored_json_loads_with_defaults_and_ignores_unknown_fields() {
    let json = r#"{
        "versions": {"1": {"number": 1, "state": "current", "value": "sk-x",
                           "fingerprint": "sha256:0", "created_time": "2025-01-01T00:00:00Z",
                           "field_from_the_future": true}},
        "next_version": 2
    }"#;
    let kv: KeyVersions = serde_json::from_str(json).expect("deserialize");
    let v = kv.current().expect("current");
    assert_eq!(v.value.as_ref().map(|s| s.expose()), Some("sk-x"));
    assert!(v.promoted_time.is_none() && v.last_test.is_none() && !v.engine_created);
    assert_eq!(kv.check_invariants(), Ok(()));
}

#[test]
fn enums_use_the_api_spelling() {
    let states = [
        (VersionState::Pending, "pending"),
        (VersionState::Current, "current"),
        (VersionState::Previous, "previous"),
        (VersionState::Revoked, "revoked"),
        (VersionState::Failed, "failed"),
    ];
    for (state, name) in states {
        assert_eq!(serde_json::to_value(state).expect("json"), name);
        assert_eq!(
            (state.as_str(), state.to_string()),
            (name, name.to_string())
        );
        assert_eq!(state.keeps_value(), !matches!(name, "revoked" | "failed"));
    }
    let outcomes = [
        (TestOutcome::Passed, "passed"),
        (TestOutcome::BadKey, "bad_key"),
        (TestOutcome::Unfunded, "unfunded"),
        (TestOutcome::ProviderUnavailable, "provider_unavailable"),
        (TestOutcome::Skipped, "skipped"),
    ];
    for (outcome, name) in outcomes {
        assert_eq!(serde_json::to_value(outcome).expect("json"), name);
        assert_eq!(outcome.as_str(), name);
        let back: TestOutcome = serde_json::from_value(name.into()).expect("parse");
        assert_eq!(back, outcome);
        assert_eq!(
            outcome.allows_promotion(),
            matches!(name, "passed" | "skipped")
        );
    }
    let kinds = [
        (EventKind::Created, "created"),
        (EventKind::Staged, "staged"),
        (EventKind::Tested, "tested"),
        (EventKind::Promoted, "promoted"),
        (EventKind::RolledBack, "rolled_back"),
        (EventKind::Revoked, "revoked"),
        (EventKind::Expired, "expired"),
        (EventKind::Failed, "failed"),
        (EventKind::Deleted, "deleted"),
    ];
    for (kind, name) in kinds {
        assert_eq!(serde_json::to_value(kind).expect("json"), name);
        assert_eq!(kind.as_str(), name);
    }
    let change = Change {
        event: EventKind::RolledBack,
        version: 3,
        detail: "x".into(),
    };
    let json = serde_json::to_value(&change).expect("json");
    assert_eq!(
        json,
        serde_json::json!({"event": "rolled_back", "version": 3, "detail": "x"})
    );
}
