//! Cut-over controls: `finalize/` ends a grace window now and revokes the previous key at its
//! provider; `extend/` keeps the previous key working past its planned end. Both record who did it.
//! Short grace periods are warned about.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::providers::{
    create_key, creds, openai_provider, read_key, rotate, version, wait_until, SHORT_DEADLINE,
};
use crate::support::checks::{data, expect_error, history, secret, write_ok};
use crate::support::fake_provider::FakeProvider;
use crate::support::Bao;

#[tokio::test]
async fn finalize_revokes_the_previous_key_at_the_provider_now() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    openai_provider(&client, &fake, "oa").await;
    let v0 = secret("v0");
    fake.add_key(&v0);
    create_key(&client, "k", json!({ "value": v0, "provider": "oa" })).await;
    data(&rotate(&client, "k", json!({})).await, "first rotation");
    let c1 = fake.created_keys()[0].0.clone();
    data(
        &rotate(&client, "k", json!({ "grace_period": "1h" })).await,
        "second rotation",
    );
    assert!(creds(&client, "k").await["previous_api_key"].is_string());
    assert!(fake.is_active(&c1));

    let done = write_ok(&client, "ai-keys/finalize/k", json!({})).await;
    assert_eq!(done["version"], 2, "{done:#}");
    assert_eq!(done["state"], "revoked");
    assert_eq!(done["provider_revocation"], "confirmed");
    assert!(
        !fake.is_active(&c1),
        "the finalized key is alive at the provider"
    );
    assert!(creds(&client, "k").await.get("previous_api_key").is_none());
    let key = read_key(&client, "k").await;
    assert_eq!(
        version(&key, 2)["provider_revocation"]["status"],
        "confirmed"
    );
    let events = history(&client, "k").await;
    let finalized = events
        .iter()
        .find(|e| e["event"] == "finalized")
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert_eq!(finalized["version"], 2);
    assert!(
        finalized["actor"].is_object(),
        "a person did it: {finalized}"
    );

    let again = client.write("ai-keys/finalize/k", json!({})).await;
    expect_error(
        &again,
        400,
        &["no version is in its grace window"],
        "finalize twice",
    );
    let typo = client
        .write("ai-keys/finalize/k", json!({ "forse": true }))
        .await;
    expect_error(&typo, 400, &["forse"], "finalize with an unknown field");
}

#[tokio::test]
async fn extend_keeps_the_previous_key_working_past_its_planned_end() {
    let bao = Bao::start().await;
    let client = bao.client();
    let (v0, v1) = (secret("v0"), secret("v1"));
    create_key(&client, "k", json!({ "value": v0 })).await;
    let rotated = data(
        &rotate(&client, "k", json!({ "value": v1, "grace_period": "3s" })).await,
        "rotate",
    );
    let planned: DateTime<Utc> = rotated["grace_expires_time"]
        .as_str()
        .expect("a grace end")
        .parse()
        .unwrap();

    let extended = write_ok(
        &client,
        "ai-keys/extend/k",
        json!({ "grace_period": "1h", "reason": "nightly batch still on the old key" }),
    )
    .await;
    assert_eq!(extended["version"], 1, "{extended:#}");
    let new_end: DateTime<Utc> = extended["grace_expires_time"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        new_end > planned + chrono::TimeDelta::minutes(50),
        "{extended:#}"
    );

    wait_until(
        &bao,
        "the planned grace end to pass",
        SHORT_DEADLINE,
        || async { Utc::now() > planned + chrono::TimeDelta::seconds(1) },
    )
    .await;
    let c = creds(&client, "k").await;
    assert_eq!(c["previous_api_key"], v0.as_str(), "{c:#}");
    let verified = write_ok(&client, "ai-keys/verify/k", json!({ "value": v0 })).await;
    assert_eq!(verified["valid"], true);
    let events = history(&client, "k").await;
    let ext = events
        .iter()
        .find(|e| e["event"] == "grace_extended")
        .unwrap_or_else(|| panic!("{events:#?}"));
    let detail = ext["detail"].as_str().unwrap();
    assert!(detail.contains("nightly batch"), "{detail}");
    assert!(detail.contains(" to "), "from when to when: {detail}");
    assert!(ext["actor"].is_object());

    for (body, needle) in [
        (json!({}), "exactly one"),
        (
            json!({ "grace_period": "1h", "until": "2099-01-01T00:00:00Z" }),
            "exactly one",
        ),
        (json!({ "until": "2020-01-01T00:00:00Z" }), "future"),
        (json!({ "grace_period": "1m" }), "only makes it longer"),
        (json!({ "grace_period": "1h", "reasn": "typo" }), "reasn"),
    ] {
        let refused = client.write("ai-keys/extend/k", body.clone()).await;
        expect_error(&refused, 400, &[needle], &format!("extend {body}"));
    }

    write_ok(&client, "ai-keys/finalize/k", json!({})).await;
    let revived = client
        .write("ai-keys/extend/k", json!({ "grace_period": "1h" }))
        .await;
    expect_error(
        &revived,
        400,
        &["cannot come back"],
        "extend a revoked version",
    );
    assert!(creds(&client, "k").await.get("previous_api_key").is_none());
}

/// A grace period shorter than five minutes gets a warning in the response and the
/// log (applications and agent templates may not have re-read `creds/` by then), wherever it is
/// set; an emergency rotation (grace 0) is deliberate and gets none.
#[tokio::test]
async fn short_grace_periods_are_warned_about() {
    let bao = Bao::start().await;
    let client = bao.client();
    let short = "shorter than five minutes";
    let warned = |reply: &crate::support::Reply| reply.warnings().iter().any(|w| w.contains(short));

    let created = client
        .write(
            "ai-keys/keys/k",
            json!({ "value": secret("v0"), "grace_period": "1m" }),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert!(warned(&created), "{}", created.text);
    let schedule = client
        .write(
            "ai-keys/schedules/fast",
            json!({ "rotation_period": "30d", "grace_period": "2m" }),
        )
        .await;
    assert!(warned(&schedule), "{}", schedule.text);
    let rotated = rotate(
        &client,
        "k",
        json!({ "value": secret("v1"), "grace_period": "30s" }),
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    assert!(warned(&rotated), "{}", rotated.text);
    assert!(bao
        .server_log()
        .contains("grace period shorter than five minutes"));

    let fine = client
        .write("ai-keys/keys/ok", json!({ "value": secret("w0") }))
        .await;
    assert!(!warned(&fine), "{}", fine.text);
    let emergency = rotate(
        &client,
        "ok",
        json!({ "value": secret("w1"), "grace_period": 0 }),
    )
    .await;
    assert_eq!(emergency.status, 200, "{}", emergency.text);
    assert!(!warned(&emergency), "{}", emergency.text);
}
