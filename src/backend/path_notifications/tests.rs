//! `notifications/`: create, read, update, list and delete; the secret written but never read
//! back; refusals (bad url, secret, event type, too many webhooks) that change nothing.

use serde_json::{json, Value};

use crate::backend::testing::{expect_bad_request, Harness};
use crate::framework::Operation;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const URL: &str = "http://127.0.0.1:9/hook";

#[tokio::test]
async fn webhook_is_created_read_updated_listed_and_deleted_without_showing_its_secret() {
    let h = Harness::new().await;
    let written = h
        .create("notifications/ops", json!({"url": URL, "secret": SECRET}))
        .await
        .unwrap();
    let read = h.read("notifications/ops").await;
    assert_eq!(read, written);
    assert_eq!(read["url"], URL);
    assert_eq!(read["secret_set"], true);
    assert_eq!(read["key_prefix"], Value::Null);
    assert!(
        read["events"].as_array().unwrap().len() >= 10,
        "default: every type"
    );
    assert!(
        !read.to_string().contains("MfKQ9r8"),
        "the secret never comes back"
    );
    let updated = h
        .write(
            "notifications/ops",
            json!({"events": ["rotation.failed", "key.exposed"], "key_prefix": "team-"}),
        )
        .await
        .unwrap();
    assert_eq!(updated["events"], json!(["rotation.failed", "key.exposed"]));
    assert_eq!(updated["key_prefix"], "team-");
    assert_eq!(updated["url"], URL, "unchanged fields stay");
    let list = h
        .call(Operation::List, "notifications/", Value::Null)
        .await
        .unwrap()
        .unwrap()
        .data_value();
    assert_eq!(list["keys"], json!(["ops"]));
    h.call(Operation::Delete, "notifications/ops", Value::Null)
        .await
        .unwrap();
    assert!(h
        .call(Operation::Read, "notifications/ops", Value::Null)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn bad_webhooks_are_refused_naming_the_field_and_change_nothing() {
    let h = Harness::new().await;
    let cases = [
        (
            json!({"url": "http://hooks.example.com/x", "secret": SECRET}),
            "url must use https",
        ),
        (
            json!({"url": "https://169.254.169.254/", "secret": SECRET}),
            "url must not point at a link-local",
        ),
        (
            json!({"url": "https://metadata.google.internal/", "secret": SECRET}),
            "url must not point at a cloud metadata",
        ),
        (
            json!({"url": "ftp://127.0.0.1/", "secret": SECRET}),
            "url must start with https://",
        ),
        (
            json!({"url": "https://u:p@hooks.example.com/", "secret": SECRET}),
            "url must not contain credentials",
        ),
        (
            json!({"url": URL, "secret": "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}),
            "secret: must start with whsec_",
        ),
        (
            json!({"url": URL, "secret": "whsec_!!!"}),
            "secret: must be whsec_ followed by standard base64",
        ),
        (
            json!({"url": URL, "secret": "whsec_c2hvcnQ="}),
            "secret: must encode 24 to 64 bytes",
        ),
        (
            json!({"url": URL, "secret": SECRET, "events": ["rotation.exploded"]}),
            "events: unknown type",
        ),
        (
            json!({"url": URL, "secret": SECRET, "events": ["key.exposed", "key.exposed"]}),
            "events: \"key.exposed\" is listed twice",
        ),
        (json!({"url": URL}), "url and secret are required"),
        (
            json!({"url": URL, "secret": SECRET, "key_prefix": "a/b"}),
            "key_prefix",
        ),
    ];
    let before = h.snapshot().await;
    for (data, wanted) in cases {
        let message = expect_bad_request(h.create("notifications/bad", data.clone()).await);
        assert!(message.contains(wanted), "{data}: {message}");
        assert!(!message.contains("MfKQ9r8"), "no secret in {message}");
    }
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn a_mount_holds_a_bounded_number_of_webhooks() {
    let h = Harness::new().await;
    for i in 0..32 {
        h.create(
            &format!("notifications/w{i}"),
            json!({"url": URL, "secret": SECRET}),
        )
        .await
        .unwrap();
    }
    let before = h.snapshot().await;
    let message = expect_bad_request(
        h.create(
            "notifications/one-more",
            json!({"url": URL, "secret": SECRET}),
        )
        .await,
    );
    assert!(message.contains("at most 32 webhooks"), "{message}");
    assert_eq!(h.snapshot().await, before);
    // An update of an existing one is not a new one.
    h.write("notifications/w0", json!({"key_prefix": "x"}))
        .await
        .unwrap();
}
