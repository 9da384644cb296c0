//! `rotate/` in one call, and the emergency rotation without grace.

use std::collections::BTreeMap;

use chrono::{TimeDelta, Utc};
use serde_json::json;

use super::{assert_invalid, assert_valid, create_key, time, verify};
use crate::support::checks::{read_ok, secret, write_ok};
use crate::support::Bao;

// ---------------------------------------------------------------------------------------------
// rotate/ in one call
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn rotate_in_one_call_and_emergency_rotation() {
    let bao = Bao::start().await;
    let client = bao.client();
    let (k1, k2, k3) = (secret("k1"), secret("k2"), secret("k3"));
    create_key(&client, "app", &k1, json!({ "schedule": "staging" })).await;

    let rotated = write_ok(&client, "ai-keys/rotate/app", json!({ "value": k2 })).await;
    assert_eq!(rotated["version"], 2, "{rotated:#}");
    assert_eq!(rotated["previous_version"], 1, "{rotated:#}");
    assert_eq!(rotated["previous_state"], "previous", "{rotated:#}");
    assert_eq!(rotated["test"]["outcome"], "skipped", "{rotated:#}");
    let creds = read_ok(&client, "ai-keys/creds/app").await;
    assert_eq!(creds["api_key"], k2.as_str(), "{creds:#}");
    assert_eq!(creds["version"], 2);
    assert_eq!(creds["previous_api_key"], k1.as_str(), "{creds:#}");
    // The staging schedule's grace: 168h.
    let expires = time(&creds["previous_expires_time"]);
    let grace = expires - Utc::now();
    assert!(
        grace > TimeDelta::hours(167) && grace <= TimeDelta::hours(168),
        "grace {grace}"
    );
    assert_valid(
        &verify(&client, "app", &k1).await,
        1,
        "previous",
        "K1 in grace",
    );

    // Emergency: grace_period=0 leaves only the new key valid.
    let emergency = write_ok(
        &client,
        "ai-keys/rotate/app",
        json!({ "value": k3, "grace_period": 0 }),
    )
    .await;
    assert_eq!(emergency["version"], 3, "{emergency:#}");
    let creds = read_ok(&client, "ai-keys/creds/app").await;
    assert_eq!(creds["api_key"], k3.as_str(), "{creds:#}");
    assert_eq!(creds["version"], 3);
    assert!(creds.get("previous_api_key").is_none(), "{creds:#}");
    assert!(creds.get("previous_expires_time").is_none(), "{creds:#}");
    assert_invalid(&verify(&client, "app", &k2).await, "K2 after emergency");
    assert_invalid(&verify(&client, "app", &k1).await, "K1 after emergency");
    assert_valid(&verify(&client, "app", &k3).await, 3, "current", "K3");

    let key = read_ok(&client, "ai-keys/keys/app").await;
    let states: BTreeMap<&str, &str> = key["versions"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(n, v)| (n.as_str(), v["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        BTreeMap::from([("1", "revoked"), ("2", "revoked"), ("3", "current")]),
        "{key:#}"
    );
}

// ---------------------------------------------------------------------------------------------
// Grace ceiling, and a rotation that cuts a grace window short
// ---------------------------------------------------------------------------------------------

/// A `grace_period` beyond config `max_grace_period` (default 30 days) is a 400 naming the
/// limit that changes nothing; a rotation that ends a version's grace window early answers with
/// a warning naming that version and its planned end, and lists the versions it retired.
#[tokio::test]
async fn grace_has_a_ceiling_and_cutting_a_window_short_is_named() {
    let bao = Bao::start().await;
    let client = bao.client();
    let (k1, k2, k3) = (secret("k1"), secret("k2"), secret("k3"));
    create_key(&client, "app", &k1, json!({})).await;
    assert_eq!(
        read_ok(&client, "ai-keys/config").await["max_grace_period"],
        30 * 86_400
    );
    let refused = client
        .write(
            "ai-keys/rotate/app",
            json!({ "value": k2, "grace_period": "31d" }),
        )
        .await;
    crate::support::checks::expect_error(
        &refused,
        400,
        &["grace_period", "30d", "max_grace_period"],
        "rotate/ beyond the ceiling",
    );
    assert_eq!(
        read_ok(&client, "ai-keys/keys/app").await["current_version"],
        1
    );

    write_ok(
        &client,
        "ai-keys/rotate/app",
        json!({ "value": k2, "grace_period": "1h" }),
    )
    .await;
    let planned = read_ok(&client, "ai-keys/keys/app").await["versions"]["1"]["grace_expires_time"]
        .as_str()
        .unwrap()
        .to_string();
    let reply = client
        .write(
            "ai-keys/rotate/app",
            json!({ "value": k3, "grace_period": "1h" }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        reply
            .warnings()
            .iter()
            .any(|w| w.contains("version 1") && w.contains(&planned)),
        "{}",
        reply.text
    );
    let data = &reply.body["data"];
    assert_eq!(data["cut_short"]["version"], 1, "{data:#}");
    assert_eq!(
        data["retired_versions"],
        json!([{ "version": 1, "state": "revoked", "provider_revocation": null }])
    );
}
