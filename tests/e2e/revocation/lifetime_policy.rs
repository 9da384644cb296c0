//! Provider key-lifetime policies known before they bite (`providers/` `max_key_lifetime`): a
//! key, schedule or provider write that would need keys living longer than the policy is
//! refused with both numbers and changes nothing; keys the engine creates ask for a life within
//! it (the margin cut); and a create the provider refuses for its expiry policy is reported as
//! that (last_error, a `failed` event naming the policy, a metric), with no key left behind.

use serde_json::json;

use crate::providers::{configure_provider, create_key, provider_body, read_key, rotate, version};
use crate::support::checks::{expect_error, read_ok, secret, write_ok};
use crate::support::fake_provider::{FakeProvider, KeyPolicy, Switches};
use crate::support::Bao;

const DAY: i64 = 24 * 3600;
/// 30 days: the policy in these tests.
const POLICY: i64 = 30 * DAY;

async fn openai_with_policy(bao: &Bao, fake: &FakeProvider, max: Option<&str>) {
    let admin = secret("admin-policy");
    fake.add_admin_key(&admin);
    let mut body = provider_body("openai", fake, Some(&admin));
    if let Some(max) = max {
        body["max_key_lifetime"] = json!(max);
    }
    configure_provider(&bao.client(), "oa", body).await;
}

/// With `max_key_lifetime` 30 days: a key whose rotation period + grace + max_grace (7 days
/// by default) needs more is refused on create and on update, a schedule change that would
/// make a key using it need more is refused naming the key, and lowering the limit below what a
/// key needs is refused naming it; each refusal names both numbers and changes nothing.
#[tokio::test]
async fn a_lifetime_policy_shorter_than_a_key_needs_is_refused_at_write_time() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    openai_with_policy(&bao, &fake, Some("720h")).await;
    let needs = (30 * DAY + 2 * 3600 + 7 * DAY).to_string();
    let limit = POLICY.to_string();
    let long = json!({ "value": secret("v-long"), "provider": "oa", "rotation_period": "720h", "grace_period": "2h" });
    let reply = client.write("ai-keys/keys/long", long).await;
    expect_error(
        &reply,
        400,
        &["max_key_lifetime", &needs, &limit],
        "a key needing more",
    );
    assert_eq!(client.read("ai-keys/keys/long").await.status, 404);

    let fits = json!({ "value": secret("v-fits"), "provider": "oa", "rotation_period": "480h", "grace_period": "2h" });
    create_key(&client, "fits", fits).await;
    let reply = client
        .write("ai-keys/keys/fits", json!({ "rotation_period": "720h" }))
        .await;
    expect_error(
        &reply,
        400,
        &["max_key_lifetime", &needs, &limit],
        "an update needing more",
    );
    assert_eq!(
        read_key(&client, "fits").await["rotation_period"],
        480 * 3600
    );

    write_ok(
        &client,
        "ai-keys/schedules/s20",
        json!({ "rotation_period": "480h", "grace_period": "2h" }),
    )
    .await;
    let sched = json!({ "value": secret("v-sched"), "provider": "oa", "schedule": "s20" });
    create_key(&client, "sched", sched).await;
    let reply = client
        .write(
            "ai-keys/schedules/s20",
            json!({ "rotation_period": "720h" }),
        )
        .await;
    expect_error(
        &reply,
        400,
        &["\"sched\"", "max_key_lifetime", &needs, &limit],
        "a schedule change",
    );
    let s20 = read_ok(&client, "ai-keys/schedules/s20").await;
    assert_eq!(s20["rotation_period"], 480 * 3600, "{s20:#}");

    let reply = client
        .write(
            "ai-keys/providers/oa",
            json!({ "max_key_lifetime": "600h" }),
        )
        .await;
    expect_error(
        &reply,
        400,
        &["\"fits\"", "\"sched\"", &(600 * 3600).to_string()],
        "lowering the limit",
    );
    let oa = read_ok(&client, "ai-keys/providers/oa").await;
    assert_eq!(oa["max_key_lifetime"], POLICY, "{oa:#}");
}

/// The provider refuses creates over 30 days but the engine was not told: a rotation's create
/// is refused and reported as the provider's expiry policy (last_error, a `failed` event, the
/// metric), and nothing is left at the provider. Told (`max_key_lifetime` 30 days) with periods
/// that fit, the next rotation's key asks for the policy's limit (the margin cut), and succeeds.
#[tokio::test]
async fn a_create_refused_by_the_providers_expiry_policy_is_reported_as_such() {
    let switches = Switches {
        openai_key_policy: KeyPolicy {
            max_lifetime_secs: Some(POLICY),
            expiry_required: false,
        },
        ..Switches::default()
    };
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start_with(switches));
    let client = bao.client();
    openai_with_policy(&bao, &fake, None).await;
    let v0 = secret("v0");
    fake.add_key(&v0);
    let body =
        json!({ "value": v0, "provider": "oa", "rotation_period": "720h", "grace_period": "2h" });
    create_key(&client, "k", body).await;

    let reply = rotate(&client, "k", json!({})).await;
    expect_error(
        &reply,
        502,
        &["key-expiry policy", "max_key_lifetime"],
        "the refused create",
    );
    let key = read_key(&client, "k").await;
    let last = key["last_error"].as_str().expect("last_error");
    assert!(last.contains("key-expiry policy"), "{key:#}");
    let history = read_ok(&client, "ai-keys/history/k").await;
    let failed = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["event"] == "failed");
    let failed = failed.unwrap_or_else(|| panic!("no failed event: {history:#}"));
    // The refusal is its own outcome, under the number the new version was to get.
    assert_eq!(failed["outcome"], "provider_policy_refused", "{failed}");
    assert_eq!(failed["version"], 2, "{failed}");
    assert!(
        failed["detail"]
            .as_str()
            .unwrap()
            .contains("key-expiry policy"),
        "{failed}"
    );
    let metrics = client.read("ai-keys/metrics?format=prometheus").await.text;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("ai_keys_provider_policy_refusals_total{")
                && l.contains("key=\"k\"")
                && l.contains("provider=\"oa\"")
                && l.ends_with(" 1")),
        "{metrics}"
    );
    assert!(
        fake.active_created_keys().is_empty(),
        "a key was left at the provider"
    );
    let oa = read_ok(&client, "ai-keys/providers/oa").await;
    assert_eq!(
        oa["belongings"]["create_intents"],
        json!([]),
        "an intent was left: {oa:#}"
    );

    write_ok(
        &client,
        "ai-keys/keys/k",
        json!({ "rotation_period": "540h" }),
    )
    .await;
    write_ok(
        &client,
        "ai-keys/providers/oa",
        json!({ "max_key_lifetime": "720h" }),
    )
    .await;
    let before = chrono::Utc::now().timestamp();
    let rotated = rotate(&client, "k", json!({})).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let key = read_key(&client, "k").await;
    let id = version(&key, 2)["provider_key_id"]
        .as_str()
        .expect("created")
        .to_string();
    let at = fake.key_expires_at(&id).expect("an expiry");
    assert!(
        (before + POLICY - 1..=chrono::Utc::now().timestamp() + POLICY).contains(&at),
        "{at}"
    );
}
