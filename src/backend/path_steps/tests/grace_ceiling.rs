//! The ceiling on a request's `grace_period` (config `max_grace_period`, lowered by a key's own
//! `max_grace`), the warning of a rotation that cuts a grace window short, and what a change's
//! answer says of the versions it retired.

use serde_json::{json, Value};

use crate::backend::testing::{created_at_provider, expect_bad_request, with_key, NEW};
use crate::framework::{Operation, Response};

const DAY: i64 = 86_400;

async fn write_with_warnings(
    h: &crate::backend::testing::Harness,
    path: &str,
    body: Value,
) -> (Value, Vec<String>) {
    let resp: Response = h
        .call(Operation::Update, path, body)
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .expect("a response");
    let warnings = resp.warnings.clone();
    (resp.data_value(), warnings)
}

/// A `grace_period` beyond the mount's `max_grace_period` (default 30 days) is a 400 naming the
/// limit, on `promote/` and `rotate/`, and changes nothing; the limit itself is accepted; a
/// key's own `max_grace` lowers the limit, and the message says which one applies.
#[tokio::test]
async fn a_grace_period_beyond_the_ceiling_is_refused_naming_the_limit() {
    let h = with_key().await;
    assert_eq!(h.read("config").await["max_grace_period"], 30 * DAY);
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    let before = h.snapshot().await;
    let message = expect_bad_request(
        h.write(
            "promote/k",
            json!({ "grace_period": 30 * DAY + 1, "force": true }),
        )
        .await,
    );
    assert!(
        message.contains("30d") && message.contains("config max_grace_period"),
        "{message}"
    );
    let message = expect_bad_request(
        h.write(
            "rotate/k",
            json!({ "value": "sk-test-OTHER-0123456789", "grace_period": "31d" }),
        )
        .await,
    );
    assert!(message.contains("grace_period"), "{message}");
    assert_eq!(
        h.snapshot().await,
        before,
        "a refused grace changed something"
    );

    h.write("config", json!({ "max_grace_period": "2h" }))
        .await
        .unwrap();
    expect_bad_request(
        h.write("promote/k", json!({ "grace_period": "3h", "force": true }))
            .await,
    );
    h.write("keys/k", json!({ "max_grace": "10m" }))
        .await
        .unwrap();
    let message = expect_bad_request(
        h.write("promote/k", json!({ "grace_period": "1h", "force": true }))
            .await,
    );
    assert!(
        message.contains("10m") && message.contains("the key's max_grace"),
        "{message}"
    );
    // At the limit it is accepted.
    let out = h
        .write("promote/k", json!({ "grace_period": "10m", "force": true }))
        .await
        .unwrap();
    assert_eq!(out["version"], 2);
    expect_bad_request(
        h.write("config", json!({ "max_grace_period": "366d" }))
            .await,
    );
    expect_bad_request(h.write("config", json!({ "max_grace_period": 0 })).await);
}

/// A rotation that ends a version's grace window early succeeds with a warning naming that
/// version and the planned end it cut short, and the answer lists the version it retired.
#[tokio::test]
async fn a_rotation_that_cuts_a_grace_window_short_warns_naming_it() {
    let h = with_key().await;
    let (first, _) = write_with_warnings(
        &h,
        "rotate/k",
        json!({ "value": NEW, "grace_period": "1h" }),
    )
    .await;
    assert!(first["cut_short"].is_null(), "{first}");
    let end = h.read("keys/k").await["versions"]["1"]["grace_expires_time"]
        .as_str()
        .unwrap()
        .to_string();
    let (out, warnings) = write_with_warnings(
        &h,
        "rotate/k",
        json!({ "value": "sk-test-THIRD-0123456789", "grace_period": "1h" }),
    )
    .await;
    assert_eq!(out["cut_short"]["version"], 1, "{out}");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("version 1") && w.contains(&end) && w.contains("early")),
        "{warnings:?}"
    );
    // Version 1 is not the engine's at a provider: retired here, nothing to revoke there.
    assert_eq!(
        out["retired_versions"],
        json!([{ "version": 1, "state": "revoked", "provider_revocation": null }])
    );
}

/// An emergency promotion (grace 0) of a key whose old version the provider will not revoke
/// answers with that version's pending revocation and a warning that the key is still valid at
/// the provider (before, the answer said only `previous_state: revoked`).
#[tokio::test]
async fn an_emergency_promotion_shows_the_pending_revocation_and_warns() {
    let h = with_key().await;
    created_at_provider(&h).await;
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    let (out, warnings) =
        write_with_warnings(&h, "promote/k", json!({ "grace_period": 0, "force": true })).await;
    assert_eq!(out["previous_state"], "revoked", "{out}");
    let retired = &out["retired_versions"];
    assert_eq!(retired[0]["version"], 1, "{out}");
    assert_eq!(retired[0]["provider_revocation"], "pending", "{out}");
    assert_eq!(retired[0]["provider"], "p", "{out}");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("version 1") && w.contains("still valid at provider")),
        "{warnings:?}"
    );
    // rollback/ lists what it retires the same way.
    h.write("stage/k", json!({ "value": "sk-test-THIRD-0123456789" }))
        .await
        .unwrap();
    // An operator's value the engine does not own: left to a person, said so.
    let (out, warnings) = write_with_warnings(&h, "rollback/k", json!({})).await;
    assert_eq!(
        out["retired_versions"],
        json!([{ "version": 3, "state": "failed", "provider_revocation": "manual", "provider": "p" }])
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("version 3") && w.contains("by hand")),
        "{warnings:?}"
    );
}
