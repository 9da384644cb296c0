//! Read-only storage: writes return the storage error, reads and verify still work.

use serde_json::json;

use crate::backend::testing::{verify, with_key, NEW, OLD};
use crate::framework::Error;

#[tokio::test]
async fn writes_on_read_only_storage_return_the_storage_error() {
    let h = with_key().await;
    h.storage.set_read_only(true);
    for (path, body) in [
        ("stage/k", json!({ "value": NEW })),
        ("rotate/k", json!({ "value": NEW })),
        ("keys/k", json!({"custom_metadata": {"a": "b"}})),
    ] {
        match h.write(path, body).await {
            Err(Error::Storage(e)) => {
                assert!(e.to_string().contains("readonly"), "{path}: {e}");
                assert!(!e.to_string().contains("NEWVALUE"), "{path}: {e}");
            }
            other => panic!("{path}: expected the storage error, got {other:?}"),
        }
    }
    // reads and verify still work
    assert_eq!(h.read("creds/k").await["api_key"], OLD);
    assert_eq!(verify(&h, OLD).await["valid"], true);
}
