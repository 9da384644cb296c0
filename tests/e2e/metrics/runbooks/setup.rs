//! A key as each alert finds it (set up by the root token), and after its runbook ran, what it
//! fixed is fixed.

use super::*;

/// The key `alert`'s runbook acts on, set up by the root token (with the rule off) as the
/// alert finds it: a key with a value the fake provider accepts and the provider `fake`
/// (which creates keys); overdue, after a failed rotation, past its planned grace, with a
/// retired version whose revocation at the provider failed, or with a retired imported version
/// (version 1, not the engine's) left to a person to revoke.
pub(super) async fn prepare(root: &Client, fake: &FakeProvider, alert: &str, key: &str) {
    let value = secret(key);
    fake.add_key(&value);
    let mut body = json!({ "value": value, "provider": "fake" });
    if alert == "AiKeyExposed" {
        // No provider that creates keys: exposed marks the key instead of rotating it away.
        body = json!({ "value": value });
    }
    if alert == "AiKeyOverdue" {
        let long_ago = Utc::now() - TimeDelta::days(100);
        body["created_time"] = json!(long_ago.to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    create_key(root, key, body).await;
    let rotate_path = format!("ai-keys/rotate/{key}");
    let rotate = |body| root.write(&rotate_path, body);
    match alert {
        "AiKeyOverdue"
        | "AiKeyDueSoonWithoutAutoRotate"
        | "AiKeyCurrentKeyRejected"
        | "AiKeyProviderExpiryNear"
        | "AiKeysPeriodicWorkStalled"
        | "AiKeysNotScraped" => {}
        "AiKeyExposed" => {
            let body = json!({ "value": value, "source": "runbook test", "reason": "a leak" });
            write_ok(root, "ai-keys/exposed", body).await;
            assert_eq!(read_key(root, key).await["exposed"]["version"], 1);
        }
        "AiKeysNotificationsFailing" => {
            // A webhook whose receiver is not there (the discard port).
            let whsec = format!("whsec_{}", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY");
            write_ok(
                root,
                "ai-keys/notifications/ops",
                json!({ "url": "http://127.0.0.1:9/hook", "secret": whsec }),
            )
            .await;
        }
        "AiKeyRotationFailed" => {
            let refused = rotate(json!({ "value": secret("unknown-to-the-provider") })).await;
            expect_error(&refused, 400, &["bad_key"], "the failed rotation");
        }
        "AiKeyPastPlannedGrace" => {
            let next = secret(key);
            fake.add_key(&next);
            let rotated = rotate(json!({ "value": next })).await;
            assert!(rotated.is_success(), "{}", rotated.text);
            write_ok(
                root,
                &format!("ai-keys/extend/{key}"),
                json!({ "grace_period": "72h" }),
            )
            .await;
        }
        "AiKeyProviderRevocationPending" => {
            for _ in 0..2 {
                let rotated = rotate(json!({})).await;
                assert!(rotated.is_success(), "{}", rotated.text);
            }
            fake.set_admin_mode(Mode::ServerError500);
            write_ok(root, &format!("ai-keys/finalize/{key}"), json!({})).await;
            fake.set_admin_mode(Mode::Normal);
            let read = read_key(root, key).await;
            assert_eq!(
                read["versions"]["2"]["provider_revocation"]["status"], "pending",
                "{read:#}"
            );
        }
        "AiKeyManualRevocationUnacknowledged" => {
            let rotated = rotate(json!({ "grace_period": "0s" })).await;
            assert!(rotated.is_success(), "{}", rotated.text);
            let read = read_key(root, key).await;
            assert_eq!(
                read["versions"]["1"]["provider_revocation"]["status"], "manual",
                "{read:#}"
            );
        }
        "AiKeyDeletedKeyManualRevocationUnacknowledged" => {
            let rotated = rotate(json!({ "grace_period": "0s" })).await;
            assert!(rotated.is_success(), "{}", rotated.text);
            let deleted = root.delete(&format!("ai-keys/keys/{key}")).await;
            assert!(deleted.is_success(), "{}", deleted.text);
            assert!(
                deleted_manual_of(root, key).await > 0,
                "the deleted key's manual revocation is counted"
            );
        }
        "AiKeyRecordsRefused" => {
            // keys/<key> is refused: it names another key, <key>-orig, which records the same
            // versions (so every live key it holds is claimed and the record may be removed).
            let stored: serde_json::Value =
                serde_json::from_str(&raw_get(root, &format!("keys/{key}")).await.unwrap())
                    .unwrap();
            let mut copy = stored.clone();
            copy["key"]["name"] = json!(format!("{key}-orig"));
            let copy = copy.to_string();
            raw_put_reloaded(root, &format!("keys/{key}-orig"), &copy).await;
            raw_put_reloaded(root, &format!("keys/{key}"), &copy).await;
            let refused = root.read(&format!("ai-keys/keys/{key}")).await;
            expect_error(
                &refused,
                500,
                &[&format!("keys/{key}")],
                "the planted record",
            );
        }
        other => panic!("no set-up for alert {other}: teach prepare() what its key looks like"),
    }
}

/// How many manual revocations of deleted key `key` the report lists, nobody having acknowledged
/// them.
async fn deleted_manual_of(root: &Client, key: &str) -> usize {
    let report = read_ok(root, "ai-keys/report").await;
    report["deleted_keys_revocations_manual"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["key"] == key)
        .count()
}

/// After `alert`'s runbook ran on `key` (current version `before`): what it fixed is fixed.
pub(super) async fn check_fixed(root: &Client, alert: &str, key: &str, before: u64) {
    if alert == "AiKeyDeletedKeyManualRevocationUnacknowledged" {
        assert_eq!(
            deleted_manual_of(root, key).await,
            0,
            "{alert}: the runbook acknowledged {key}'s"
        );
        return;
    }
    if alert == "AiKeyRecordsRefused" {
        assert!(
            raw_get(root, &format!("keys/{key}")).await.is_none(),
            "{alert}: the runbook removed the refused record of {key}"
        );
        return;
    }
    let read = read_key(root, key).await;
    let current = read["current_version"].as_u64().expect("current_version");
    match alert {
        "AiKeyExposed" => {
            assert!(
                current > before,
                "{alert}: the runbook rotated {key}: {read:#}"
            );
            assert!(read["exposed"].is_null(), "{alert}: {read:#}");
        }
        "AiKeyOverdue"
        | "AiKeyDueSoonWithoutAutoRotate"
        | "AiKeyRotationFailed"
        | "AiKeyCurrentKeyRejected"
        | "AiKeyProviderExpiryNear" => {
            assert!(
                current > before,
                "{alert}: the runbook rotated {key}: {read:#}"
            );
        }
        "AiKeyPastPlannedGrace" => {
            let creds = read_ok(root, &format!("ai-keys/creds/{key}")).await;
            assert!(
                creds.get("previous_api_key").is_none(),
                "{alert}: the runbook ended the grace window of {key}"
            );
        }
        "AiKeyManualRevocationUnacknowledged" => {
            let revocation = &read["versions"]["1"]["provider_revocation"];
            assert_eq!(revocation["status"], "acknowledged", "{alert}: {read:#}");
        }
        _ => {}
    }
}
