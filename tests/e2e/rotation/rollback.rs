//! `rollback/`: within grace, of a pending version, and with nothing to undo.

use serde_json::json;

use super::{assert_invalid, assert_valid, event_names, rotate_by_steps, verify};
use crate::support::checks::{expect_error, history, read_ok, secret, write_ok};
use crate::support::Bao;

// ---------------------------------------------------------------------------------------------
// Rollback
// ---------------------------------------------------------------------------------------------

/// Rollback within grace restores the previous key; rollback of a pending version discards it;
/// rollback with nothing to undo is a 400.
#[tokio::test]
async fn rollback_within_grace_restores_the_previous_key() {
    let bao = Bao::start().await;
    let client = bao.client();
    let (k1, k2, k3) = (secret("k1"), secret("k2"), secret("k3"));
    rotate_by_steps(&client, &k1, &k2, "1h").await;
    let creds = read_ok(&client, "ai-keys/creds/app").await;
    assert_eq!(creds["api_key"], k2.as_str());

    let rolled = write_ok(&client, "ai-keys/rollback/app", json!({})).await;
    assert_eq!(rolled["current_version"], 1, "{rolled:#}");
    assert_eq!(rolled["revoked_versions"], json!([2]), "{rolled:#}");

    let creds = read_ok(&client, "ai-keys/creds/app").await;
    assert_eq!(creds["api_key"], k1.as_str(), "{creds:#}");
    assert_eq!(creds["version"], 1);
    assert!(creds.get("previous_api_key").is_none(), "{creds:#}");
    assert_invalid(&verify(&client, "app", &k2).await, "K2 after rollback");
    assert_valid(
        &verify(&client, "app", &k1).await,
        1,
        "current",
        "K1 restored",
    );

    let key = read_ok(&client, "ai-keys/keys/app").await;
    assert_eq!(key["current_version"], 1, "{key:#}");
    assert_eq!(key["versions"]["1"]["state"], "current", "{key:#}");
    assert_eq!(key["versions"]["2"]["state"], "revoked", "{key:#}");
    // One request, two events about version 2: rolled back (version 1 current again), revoked.
    let events = history(&client, "app").await;
    let mut latest = event_names(&events[..2]);
    latest.sort_unstable();
    assert_eq!(latest, ["revoked", "rolled_back"], "{events:#?}");
    assert_eq!(events[0]["version"], 2);
    assert_eq!(events[1]["version"], 2);
    assert_eq!(events[0]["request_id"], events[1]["request_id"]);

    let nothing = client.write("ai-keys/rollback/app", json!({})).await;
    expect_error(&nothing, 400, &["nothing to roll back"], "second rollback");

    // A pending version is discarded (failed, value destroyed) and the current one kept.
    write_ok(&client, "ai-keys/stage/app", json!({ "value": k3 })).await;
    let discarded = write_ok(&client, "ai-keys/rollback/app", json!({})).await;
    assert_eq!(discarded["discarded_version"], 3, "{discarded:#}");
    assert_eq!(discarded["current_version"], 1, "{discarded:#}");
    let key = read_ok(&client, "ai-keys/keys/app").await;
    assert_eq!(key["versions"]["3"]["state"], "failed", "{key:#}");
    assert!(key["pending_version"].is_null(), "{key:#}");
    let events = history(&client, "app").await;
    let mut latest = event_names(&events[..2]);
    latest.sort_unstable();
    assert_eq!(latest, ["failed", "rolled_back"], "{events:#?}");
    assert_invalid(&verify(&client, "app", &k3).await, "discarded K3");
    let creds = read_ok(&client, "ai-keys/creds/app").await;
    assert_eq!(creds["api_key"], k1.as_str());
}
