use serde_json::json;

use crate::backend::testing::Harness;
use crate::framework::Error;

#[tokio::test]
async fn defaults_are_returned_before_any_write() {
    let h = Harness::new().await;
    let c = h.read("config").await;
    assert_eq!(c["default_schedule"], "production");
    assert_eq!(c["require_separate_approver"], false);
    assert_eq!(c["history_limit"], 1000);
}

#[tokio::test]
async fn cli_strings_are_coerced_and_stored() {
    let h = Harness::new().await;
    h.write(
        "config",
        json!({"default_schedule": "staging", "require_separate_approver": "true", "history_limit": "25"}),
    )
    .await
    .unwrap();
    let c = h.read("config").await;
    assert_eq!(c["default_schedule"], "staging");
    assert_eq!(c["require_separate_approver"], true);
    assert_eq!(c["history_limit"], 25);
    // a partial update keeps the other fields
    h.write("config", json!({"history_limit": 7}))
        .await
        .unwrap();
    let c = h.read("config").await;
    assert_eq!(c["default_schedule"], "staging");
    assert_eq!(c["history_limit"], 7);
}

#[tokio::test]
async fn bad_values_are_400_naming_the_field_and_change_nothing() {
    let h = Harness::new().await;
    h.write("config", json!({"default_schedule": "staging"}))
        .await
        .unwrap();
    let before = h.snapshot().await;
    for (body, field) in [
        (json!({"history_limit": "many"}), "history_limit"),
        (json!({"history_limit": 0}), "history_limit"),
        (json!({"history_limit": -3}), "history_limit"),
        (
            json!({"require_separate_approver": "perhaps"}),
            "require_separate_approver",
        ),
        (
            json!({"default_schedule": "-bad name-"}),
            "default_schedule",
        ),
        (
            json!({"default_schedule": "ok", "history_limit": "x"}),
            "history_limit",
        ),
    ] {
        match h.write("config", body.clone()).await {
            Err(Error::BadRequest(msg)) => assert!(msg.contains(field), "{body}: {msg}"),
            other => panic!("{body}: expected 400, got {other:?}"),
        }
    }
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn unknown_fields_are_a_warning() {
    let h = Harness::new().await;
    let resp = h
        .call(
            crate::framework::Operation::Update,
            "config",
            json!({"colour": "blue"}),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(
        resp.warnings.iter().any(|w| w.contains("colour")),
        "{:?}",
        resp.warnings
    );
}

#[tokio::test]
async fn default_schedule_must_exist() {
    let h = Harness::new().await;
    let before = h.snapshot().await;
    match h
        .write("config", json!({"default_schedule": "nightly"}))
        .await
    {
        Err(Error::BadRequest(msg)) => {
            assert!(
                msg.contains("default_schedule") && msg.contains("nightly"),
                "{msg}"
            )
        }
        other => panic!("expected 400, got {other:?}"),
    }
    assert_eq!(h.snapshot().await, before);
}
