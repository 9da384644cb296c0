//! Creating a key: the value, references to providers and schedules, `auto_rotate`, defaults,
//! a second create and unknown fields.

use serde_json::json;

use crate::backend::testing::OLD;
use crate::backend::testing::{expect_bad_request, Harness};
use crate::framework::Operation;

#[tokio::test]
async fn create_requires_value() {
    let h = Harness::new().await;
    let before = h.snapshot().await;
    for body in [json!({}), json!({"value": null}), json!({"provider": null})] {
        let msg = expect_bad_request(h.create("keys/k", body.clone()).await);
        assert!(msg.contains("value"), "{body}: {msg}");
    }
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn invalid_values_are_400_without_echoing_the_value() {
    let h = Harness::new().await;
    let before = h.snapshot().await;
    let long = format!("sk-LONGSECRET-{}", "x".repeat(4100));
    let at_limit = format!("sk-{}", "y".repeat(4093));
    assert_eq!(at_limit.len(), 4096);
    for value in [
        String::new(),
        long.clone(),
        "sk-SECRET-with\nnewline".to_string(),
        "sk-SECRET-with\ttab".to_string(),
        "sk-SECRET-with\u{7f}del".to_string(),
        "sk-SECRET-with\u{0}nul".to_string(),
    ] {
        let msg = expect_bad_request(h.create("keys/k", json!({ "value": value })).await);
        assert!(msg.contains("value"), "{msg}");
        if !value.is_empty() {
            assert!(!msg.contains("SECRET"), "message echoes the value: {msg}");
        }
        assert!(!msg.contains("xxxxxxxx"), "message echoes the value");
    }
    assert_eq!(h.snapshot().await, before);
    // exactly 4096 bytes is fine
    h.create("keys/k", json!({ "value": at_limit }))
        .await
        .unwrap();
}

#[tokio::test]
async fn unknown_provider_or_schedule_is_400_naming_it() {
    let h = Harness::new().await;
    let before = h.snapshot().await;
    for (body, word) in [
        (
            json!({"value": OLD, "provider": "nosuch-provider"}),
            "nosuch-provider",
        ),
        (
            json!({"value": OLD, "schedule": "nosuch-schedule"}),
            "nosuch-schedule",
        ),
    ] {
        let msg = expect_bad_request(h.create("keys/k", body.clone()).await);
        assert!(msg.contains(word), "{body}: {msg}");
        assert!(!msg.contains(OLD), "{msg}");
    }
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn auto_rotate_without_a_provider_that_can_create_is_400() {
    let h = Harness::new().await;
    let before = h.snapshot().await;
    for flag in [json!(true), json!("true")] {
        let msg = expect_bad_request(
            h.create("keys/k", json!({"value": OLD, "auto_rotate": flag}))
                .await,
        );
        assert!(msg.contains("auto_rotate"), "{msg}");
    }
    assert_eq!(h.snapshot().await, before);
    // and on update
    h.create_key("k", OLD).await;
    let before = h.snapshot().await;
    let msg = expect_bad_request(h.write("keys/k", json!({"auto_rotate": true})).await);
    assert!(msg.contains("auto_rotate"), "{msg}");
    assert_eq!(h.snapshot().await, before);
    assert_eq!(h.read("keys/k").await["auto_rotate"], false);
}

#[tokio::test]
async fn create_of_an_existing_key_is_400() {
    let h = Harness::new().await;
    h.create_key("k", OLD).await;
    let before = h.snapshot().await;
    let msg = expect_bad_request(
        h.create("keys/k", json!({"value": "sk-test-SECOND-value"}))
            .await,
    );
    assert!(msg.contains("already exists"), "{msg}");
    assert!(!msg.contains("SECOND"), "{msg}");
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn a_key_without_schedule_uses_the_configured_default() {
    let h = Harness::new().await;
    h.write("config", json!({"default_schedule": "development"}))
        .await
        .unwrap();
    h.create_key("k", OLD).await;
    let k = h.read("keys/k").await;
    assert_eq!(k["schedule"], "development");
    assert_eq!(k["rotation_period"], 180 * 86_400);
    assert_eq!(k["grace_period"], 336 * 3_600);
}

#[tokio::test]
async fn unknown_fields_are_a_warning_not_an_error() {
    let h = Harness::new().await;
    let resp = h
        .call(
            Operation::Create,
            "keys/k",
            json!({"value": OLD, "colour": "blue"}),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(
        resp.warnings.iter().any(|w| w.contains("colour")),
        "{:?}",
        resp.warnings
    );
    assert!(!resp.warnings.iter().any(|w| w.contains(OLD)));
    h.read("keys/k").await;
}

#[tokio::test]
async fn create_refuses_an_empty_or_blank_value_naming_it() {
    let h = Harness::new().await;
    let before = h.snapshot().await;
    for blank in ["", " ", "\t "] {
        let msg = expect_bad_request(h.create("keys/k", json!({ "value": blank })).await);
        assert!(
            msg.contains("field \"value\"") && msg.contains("must not be empty"),
            "{blank:?}: {msg}"
        );
    }
    assert_eq!(h.snapshot().await, before);
    assert!(h
        .call(Operation::Read, "keys/k", serde_json::Value::Null)
        .await
        .unwrap()
        .is_none());
}
