//! Key names follow the generic name rule.

use serde_json::json;

use crate::backend::testing::OLD;
use crate::backend::testing::{expect_bad_request, Harness};

#[tokio::test]
async fn names_follow_the_generic_name_rule() {
    let h = Harness::new().await;
    let before = h.snapshot().await;
    let too_long = format!("a{}", "b".repeat(128));
    let msg = expect_bad_request(
        h.create(&format!("keys/{too_long}"), json!({"value": OLD}))
            .await,
    );
    assert!(msg.contains("name"), "{msg}");
    assert_eq!(h.snapshot().await, before);
    for bad in ["keys/-k", "keys/k-", "keys/a b", "keys/a/b"] {
        let err = h.create(bad, json!({"value": OLD})).await.expect_err(bad);
        assert!(matches!(err.status(), 400 | 404), "{bad}: {err:?}");
    }
    assert_eq!(h.snapshot().await, before);
    let longest = format!("a{}", "b".repeat(127));
    h.create_key(&longest, OLD).await;
    h.create_key("a.b_c-d", "sk-test-OTHER-name").await;
}

#[tokio::test]
async fn every_bad_name_is_a_400_naming_the_rule() {
    let h = Harness::new().await;
    let before = h.snapshot().await;
    for path in ["keys/_k", "keys/-k", "keys/k-", "keys/.k", "keys/k."] {
        let msg = expect_bad_request(h.create(path, json!({"value": OLD})).await);
        assert!(msg.contains("name"), "{path}: {msg}");
    }
    assert_eq!(h.snapshot().await, before);
}
