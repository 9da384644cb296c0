//! The walkthrough: create, read creds, stage, verify, test, promote with a grace window that
//! really ends.

use std::time::Instant;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{json, Value};

use super::{assert_invalid, assert_valid, cli_data, time, verify, EXPIRY_SLACK, POLL_INTERVAL};
use crate::support::checks::{read_ok, secret, write_ok};
use crate::support::Bao;

// ---------------------------------------------------------------------------------------------
// Walkthrough
// ---------------------------------------------------------------------------------------------

/// Create, read, stage, verify, test, promote with a 2 s grace window, and the window closing
/// at request time (long before the 60 s periodic tick).
#[tokio::test]
async fn walkthrough_stage_test_promote_and_grace_expiry() {
    let bao = Bao::start().await;
    let client = bao.client();
    let (k1, k2) = (secret("k1"), secret("k2"));

    // Create through the CLI, as an operator would.
    let created = cli_data(
        &bao,
        &[
            "write",
            "-format=json",
            "ai-keys/keys/app",
            &format!("value={k1}"),
            "schedule=staging",
        ],
    );
    assert_eq!(created["current_version"], 1, "{created:#}");
    assert_eq!(created["schedule"], "staging");
    assert_eq!(created["versions"]["1"]["state"], "current");

    let creds = read_ok(&client, "ai-keys/creds/app").await;
    assert_eq!(creds["api_key"], k1.as_str(), "{creds:#}");
    assert_eq!(creds["version"], 1);
    let ttl = creds["ttl"].as_i64().expect("ttl is an integer");
    // staging: rotation_period 90d.
    assert!(ttl > 0 && ttl <= 90 * 86_400, "ttl {ttl}");
    assert!(creds.get("previous_api_key").is_none(), "{creds:#}");
    assert!(creds.get("previous_expires_time").is_none(), "{creds:#}");

    let staged = write_ok(&client, "ai-keys/stage/app", json!({ "value": k2 })).await;
    assert_eq!(staged["version"], 2, "{staged:#}");
    assert_eq!(staged["state"], "pending");

    let creds = read_ok(&client, "ai-keys/creds/app").await;
    assert_eq!(
        creds["api_key"],
        k1.as_str(),
        "staging changes nothing for clients"
    );
    assert_eq!(creds["version"], 1);
    assert!(creds.get("previous_api_key").is_none(), "{creds:#}");

    assert_valid(
        &verify(&client, "app", &k1).await,
        1,
        "current",
        "K1 before promote",
    );
    assert_valid(
        &verify(&client, "app", &k2).await,
        2,
        "pending",
        "K2 before promote",
    );
    assert_invalid(
        &verify(&client, "app", &secret("other")).await,
        "unknown value",
    );

    let tested = write_ok(&client, "ai-keys/test/app", json!({})).await;
    assert_eq!(tested["version"], 2, "{tested:#}");
    assert_eq!(tested["outcome"], "skipped");
    assert!(tested["status_code"].is_null(), "{tested:#}");
    assert!(tested["detail"].is_string(), "{tested:#}");

    // Promote through the CLI: it sends grace_period=2s as a string.
    let before_promote = Utc::now();
    let promoted = cli_data(
        &bao,
        &[
            "write",
            "-format=json",
            "ai-keys/promote/app",
            "grace_period=2s",
        ],
    );
    let after_promote = Utc::now();
    assert_eq!(promoted["version"], 2, "{promoted:#}");
    assert_eq!(promoted["previous_version"], 1, "{promoted:#}");

    let creds = read_ok(&client, "ai-keys/creds/app").await;
    assert_eq!(creds["api_key"], k2.as_str(), "{creds:#}");
    assert_eq!(creds["version"], 2);
    assert_eq!(creds["previous_api_key"], k1.as_str(), "{creds:#}");
    let expires = time(&creds["previous_expires_time"]);
    // Whole seconds: at most one second earlier than promote time + 2 s, never later.
    assert!(
        expires >= before_promote + TimeDelta::seconds(1)
            && expires <= after_promote + TimeDelta::seconds(2),
        "previous_expires_time {expires} for a promote between {before_promote} and \
         {after_promote} with grace 2s"
    );
    assert_eq!(
        promoted["grace_expires_time"],
        creds["previous_expires_time"]
    );
    assert_valid(
        &verify(&client, "app", &k1).await,
        1,
        "previous",
        "K1 in grace",
    );
    assert_valid(
        &verify(&client, "app", &k2).await,
        2,
        "current",
        "K2 after promote",
    );

    // Poll until the old key is refused; it must be within EXPIRY_SLACK of the expiry, and
    // never before the advertised expiry time.
    let wait = (expires - Utc::now()).to_std().unwrap_or_default() + EXPIRY_SLACK;
    let deadline = Instant::now() + wait;
    loop {
        let result = verify(&client, "app", &k1).await;
        let answered = Utc::now();
        if result["valid"] == false {
            assert_invalid(&result, "K1 after grace");
            assert!(
                answered >= expires,
                "K1 refused at {answered}, before its advertised expiry {expires}"
            );
            break;
        }
        assert_valid(&result, 1, "previous", "K1 until its grace ends");
        assert!(
            Instant::now() < deadline,
            "K1 still accepted {EXPIRY_SLACK:?} after its grace ended at {expires}"
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }

    let creds = read_ok(&client, "ai-keys/creds/app").await;
    assert_eq!(creds["api_key"], k2.as_str(), "{creds:#}");
    assert_eq!(creds["version"], 2);
    assert!(creds.get("previous_api_key").is_none(), "{creds:#}");
    assert!(creds.get("previous_expires_time").is_none(), "{creds:#}");
    assert_valid(&verify(&client, "app", &k2).await, 2, "current", "K2 stays");

    let key = read_ok(&client, "ai-keys/keys/app").await;
    assert_eq!(key["current_version"], 2, "{key:#}");
    assert!(key["pending_version"].is_null(), "{key:#}");
    let v1 = &key["versions"]["1"];
    assert_eq!(v1["state"], "revoked", "{key:#}");
    assert_eq!(v1["grace_expires_time"], creds_expiry_text(expires));
    assert!(time(&v1["revoked_time"]) >= expires, "{v1:#}");
    assert_eq!(key["versions"]["2"]["state"], "current", "{key:#}");
}

fn creds_expiry_text(t: DateTime<Utc>) -> Value {
    json!(t.to_rfc3339_opts(SecondsFormat::Secs, true))
}
