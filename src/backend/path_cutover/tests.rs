//! `finalize/` and `extend/`: ending a grace window now (the old value refused at once, revoked
//! and destroyed) or later, bounded by `max_grace`; refusals when no version is in grace, for
//! unknown fields and bad ends, each leaving storage as it was; both recorded in the history.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::backend::testing::{
    created_at_provider, expect_bad_request, state, verify, with_key, Harness, NEW, OLD,
};

fn parse_time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap()
        .with_timezone(&Utc)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Key `k` rotated from [`OLD`] to [`NEW`]: version 1 in its (production, 48h) grace window.
async fn in_grace() -> Harness {
    let h = with_key().await;
    h.write("rotate/k", json!({ "value": NEW })).await.unwrap();
    assert_eq!(state(&h, 1).await, "previous");
    h
}

/// The end of version 1's grace window as `keys/k` shows it.
async fn grace_end(h: &Harness) -> DateTime<Utc> {
    parse_time(&h.read("keys/k").await["versions"]["1"]["grace_expires_time"])
}

#[tokio::test]
async fn finalize_ends_the_grace_window_now_and_records_who() {
    let h = in_grace().await;
    assert_eq!(verify(&h, OLD).await["state"], "previous");
    let out = h.write("finalize/k", json!({})).await.unwrap();
    assert_eq!(out["version"], 1, "{out}");
    assert_eq!(out["state"], "revoked", "{out}");
    let revoked = parse_time(&out["revoked_time"]);
    assert!((Utc::now() - revoked).num_seconds().abs() <= 5, "{out}");
    assert!(out["provider_revocation"].is_null(), "no provider: {out}");

    assert_eq!(verify(&h, OLD).await, json!({"valid": false}));
    assert_eq!(verify(&h, NEW).await["state"], "current");
    assert_eq!(state(&h, 1).await, "revoked");
    assert!(!h.storage_contains(OLD).await, "the old value survived");
    let events = h.history("k").await;
    let e = &events[0];
    assert_eq!(e["event"], "finalized", "{events:?}");
    assert_eq!(e["version"], 1, "{e}");
    assert_eq!(e["actor"]["entity_id"], "alice", "{e}");
    assert!(e["request_id"].is_string(), "{e}");
}

#[tokio::test]
async fn finalize_revokes_at_the_provider_a_version_the_engine_created_there() {
    let h = with_key().await;
    created_at_provider(&h).await;
    // the key's provider cannot test either: promote without a passed test
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    h.write("promote/k", json!({"force": true})).await.unwrap();
    let out = h.write("finalize/k", json!({})).await.unwrap();
    assert_eq!(out["state"], "revoked", "{out}");
    let status = out["provider_revocation"].clone();
    assert!(
        status.is_string(),
        "a provider revocation was requested: {out}"
    );
    let v1 = h.read("keys/k").await["versions"]["1"].clone();
    let r = &v1["provider_revocation"];
    assert_eq!(r["status"], status, "{v1}");
    assert_eq!(r["provider"], "p", "{v1}");
    assert!(r["requested_time"].is_string(), "{v1}");
    assert!(!h.storage_contains(OLD).await, "the old value survived");
}

#[tokio::test]
async fn finalize_without_a_version_in_grace_is_400_and_changes_nothing() {
    // never rotated
    let h = with_key().await;
    let before = h.snapshot().await;
    let msg = expect_bad_request(h.write("finalize/k", json!({})).await);
    assert!(
        msg.contains("grace") && msg.contains("no previous version"),
        "{msg}"
    );
    assert_eq!(h.snapshot().await, before);

    // already finalized: a revoked version never comes back
    let h = in_grace().await;
    h.write("finalize/k", json!({})).await.unwrap();
    let before = h.snapshot().await;
    let msg = expect_bad_request(h.write("finalize/k", json!({})).await);
    assert!(msg.contains("version 1 is revoked"), "{msg}");
    assert_eq!(h.snapshot().await, before);

    // an unknown key
    let msg = expect_bad_request(h.write("finalize/nope", json!({})).await);
    assert!(msg.contains("nope"), "{msg}");
}

#[tokio::test]
async fn extend_moves_the_grace_end_and_records_the_reason() {
    let h = in_grace().await;
    let old_end = grace_end(&h).await;
    let until = old_end + Duration::days(2);
    let out = h
        .write(
            "extend/k",
            json!({"until": rfc3339(until), "reason": "billing batch still on v1"}),
        )
        .await
        .unwrap();
    assert_eq!(out["version"], 1, "{out}");
    assert_eq!(out["grace_expires_time"], rfc3339(until), "{out}");
    assert_eq!(
        parse_time(&out["previous_grace_expires_time"]),
        old_end,
        "{out}"
    );
    assert_eq!(grace_end(&h).await, until);
    assert_eq!(
        h.read("creds/k").await["previous_expires_time"],
        rfc3339(until)
    );
    assert_eq!(verify(&h, OLD).await["state"], "previous");

    let events = h.history("k").await;
    let e = &events[0];
    assert_eq!(e["event"], "grace_extended", "{events:?}");
    assert_eq!(e["version"], 1, "{e}");
    assert_eq!(e["actor"]["entity_id"], "alice", "{e}");
    let detail = e["detail"].as_str().unwrap();
    assert!(
        detail.contains(&rfc3339(old_end))
            && detail.contains(&rfc3339(until))
            && detail.ends_with(": billing batch still on v1"),
        "{detail}"
    );

    // grace_period counts from now
    let out = h
        .write("extend/k", json!({"grace_period": "100h"}))
        .await
        .unwrap();
    let end = parse_time(&out["grace_expires_time"]);
    let expected = Utc::now() + Duration::hours(100);
    assert!((end - expected).num_seconds().abs() <= 5, "{out}");
    assert_eq!(grace_end(&h).await, end);
}

#[tokio::test]
async fn extend_beyond_max_grace_is_400_naming_the_limit() {
    let h = in_grace().await;
    let planned =
        parse_time(&h.read("keys/k").await["versions"]["1"]["planned_grace_expires_time"]);
    // default max_grace: 7d after the planned end; the limit itself is allowed
    let limit = planned + Duration::days(7);
    h.write("extend/k", json!({"until": rfc3339(limit)}))
        .await
        .unwrap();
    // a further extension cannot creep past it
    let before = h.snapshot().await;
    let msg = expect_bad_request(
        h.write(
            "extend/k",
            json!({"until": rfc3339(limit + Duration::hours(1))}),
        )
        .await,
    );
    assert!(
        msg.contains("max_grace (7d)") && msg.contains(&rfc3339(limit)),
        "{msg}"
    );
    assert_eq!(h.snapshot().await, before);
    let msg = expect_bad_request(h.write("extend/k", json!({"grace_period": "30d"})).await);
    assert!(msg.contains("max_grace"), "{msg}");
    assert_eq!(h.snapshot().await, before);

    // a key's own max_grace lowers the bound
    let h = Harness::new().await;
    h.create("keys/k", json!({"value": OLD, "max_grace": "1d"}))
        .await
        .unwrap();
    h.write("rotate/k", json!({ "value": NEW })).await.unwrap();
    let end = grace_end(&h).await;
    let msg = expect_bad_request(
        h.write(
            "extend/k",
            json!({"until": rfc3339(end + Duration::days(2))}),
        )
        .await,
    );
    assert!(msg.contains("max_grace (1d)"), "{msg}");
    assert_eq!(grace_end(&h).await, end);
}

#[tokio::test]
async fn extend_refuses_bad_ends_and_a_revoked_version() {
    let h = in_grace().await;
    let end = grace_end(&h).await;
    let before = h.snapshot().await;
    let cases = [
        (json!({}), "exactly one"),
        (
            json!({"grace_period": "1h", "until": rfc3339(end + Duration::hours(1))}),
            "exactly one",
        ),
        (
            json!({"until": rfc3339(Utc::now() - Duration::hours(1))}),
            "future",
        ),
        // earlier than the current end: extend only makes it longer
        (json!({"grace_period": "1h"}), "only makes it longer"),
        (
            json!({"grace_period": "1h", "reason": "x".repeat(257)}),
            "reason",
        ),
    ];
    for (body, expected) in cases {
        let msg = expect_bad_request(h.write("extend/k", body.clone()).await);
        assert!(msg.contains(expected), "{body}: {msg}");
        assert_eq!(h.snapshot().await, before, "{body} changed storage");
    }

    h.write("finalize/k", json!({})).await.unwrap();
    let before = h.snapshot().await;
    let msg = expect_bad_request(h.write("extend/k", json!({"grace_period": "1d"})).await);
    assert!(msg.contains("cannot come back"), "{msg}");
    assert_eq!(h.snapshot().await, before);
    assert_eq!(verify(&h, OLD).await["valid"], false);
}

#[tokio::test]
async fn finalize_and_extend_refuse_unknown_fields() {
    let h = in_grace().await;
    let before = h.snapshot().await;
    for (path, body) in [
        ("finalize/k", json!({"force": true})),
        ("extend/k", json!({"grace_periods": "1d"})),
        ("extend/k", json!({"grace_period": "3d", "version": 1})),
    ] {
        let msg = expect_bad_request(h.write(path, body.clone()).await);
        assert!(msg.contains("unknown fields"), "{path} {body}: {msg}");
        assert_eq!(h.snapshot().await, before, "{path} {body} changed storage");
    }
    assert_eq!(verify(&h, OLD).await["state"], "previous");
}
