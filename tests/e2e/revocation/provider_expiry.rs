//! Provider-side expiry as a backstop: a key the engine creates carries the
//! provider's own expiry (OpenAI `expires_in_seconds`, OpenRouter `expires_at`), set to the
//! version's rotation period + grace period + max_grace (7 days) + a 1-day margin, so a key the
//! engine loses track of still dies; `keys/` shows it, and it comes after the next rotation.
//! Once such an OpenAI key retires, its expiry there follows its grace end (promotion,
//! `extend/`), so the provider ends it on time even while the server is stopped.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::providers::{
    configure_provider, create_key, creds, openai_provider, provider_body, read_key, rotate,
    tick_until, version, SHORT_DEADLINE,
};
use crate::support::checks::{data, secret, write_ok};
use crate::support::fake_provider::FakeProvider;
use crate::support::{process, Bao, Tick};

const ROTATION_SECS: i64 = 30 * 24 * 3600;
const GRACE_SECS: i64 = 2 * 3600;
const MAX_GRACE_SECS: i64 = 7 * 24 * 3600;
const MARGIN_SECS: i64 = 24 * 3600;

fn parse(t: &serde_json::Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(t.as_str().unwrap_or_else(|| panic!("not a time: {t}")))
        .unwrap()
        .with_timezone(&Utc)
}

/// For OpenAI and OpenRouter: `rotate/` without a value creates a key whose expiry at the fake
/// is the planned lifetime from its creation, `keys/` shows the same time as the version's
/// `provider_expires_time`, and the key's next rotation comes before it. A key staged with a
/// value of its own has none.
#[tokio::test]
async fn created_keys_carry_a_provider_expiry_shown_in_keys() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    for kind in ["openai", "openrouter"] {
        let admin = secret(&format!("admin-{kind}"));
        fake.add_admin_key(&admin);
        configure_provider(&client, kind, provider_body(kind, &fake, Some(&admin))).await;
        let name = format!("exp-{kind}");
        let v0 = secret("v0");
        fake.add_key(&v0);
        create_key(
            &client,
            &name,
            json!({ "value": v0, "provider": kind, "rotation_period": "720h", "grace_period": "2h" }),
        )
        .await;
        let before = Utc::now().timestamp();
        let rotated = data(&rotate(&client, &name, json!({})).await, kind);
        let after = Utc::now().timestamp();
        assert_eq!(rotated["test"]["outcome"], "passed", "{kind}: {rotated:#}");

        let key = read_key(&client, &name).await;
        let v2 = version(&key, 2);
        let id = v2["provider_key_id"]
            .as_str()
            .expect("created id")
            .to_string();
        let at_provider = fake
            .key_expires_at(&id)
            .unwrap_or_else(|| panic!("{kind}: the created key has no expiry at the provider"));
        let lifetime = ROTATION_SECS + GRACE_SECS + MAX_GRACE_SECS + MARGIN_SECS;
        assert!(
            (before + lifetime - 1..=after + lifetime + 1).contains(&at_provider),
            "{kind}: expiry {at_provider} not {lifetime}s after creation ({before}..{after})"
        );
        let shown = parse(&v2["provider_expires_time"]);
        assert_eq!(
            shown.timestamp(),
            at_provider,
            "{kind}: keys/ shows {shown}"
        );
        let next = parse(&key["next_rotation_time"]);
        assert!(
            next < shown,
            "{kind}: rotation {next} is not before the expiry {shown}"
        );
        assert!(
            version(&key, 1)["provider_expires_time"].is_null(),
            "{kind}: a key given by value has no provider expiry: {key:#}"
        );
    }
}

/// Key `name` at OpenAI provider `oa` (at `fake`) with version 1 given by value and versions 2
/// and 3 created by the engine through two rotations, the second with `grace`: version 2 is
/// the engine's own key in its grace window. Returns version 2's provider id.
async fn two_created_versions(bao: &Bao, fake: &FakeProvider, name: &str, grace: &str) -> String {
    let client = bao.client();
    openai_provider(&client, fake, "oa").await;
    let v0 = secret("v0");
    fake.add_key(&v0);
    create_key(
        &client,
        name,
        json!({ "value": v0, "provider": "oa", "rotation_period": "720h", "grace_period": "2h" }),
    )
    .await;
    let first = data(&rotate(&client, name, json!({})).await, "first rotation");
    assert_eq!(first["test"]["outcome"], "passed", "{first:#}");
    assert!(
        fake.expiry_updates().is_empty(),
        "a key given by value is never the engine's to shorten: {:?}",
        fake.expiry_updates()
    );
    let second = rotate(&client, name, json!({ "grace_period": grace })).await;
    data(&second, "second rotation");
    let key = read_key(&client, name).await;
    version(&key, 2)["provider_key_id"]
        .as_str()
        .expect("created id")
        .to_string()
}

/// OpenAI can change a live key's expiry: a promotion sets the retired (engine-created) key's
/// expiry at the provider to its grace end, `keys/` shows it as the provider reported it, and
/// `extend/` moves it with the grace end, each recorded in the history.
#[tokio::test]
async fn promotion_sets_the_old_keys_provider_expiry_to_its_grace_end_and_extend_moves_it() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let id = two_created_versions(&bao, &fake, "moved", "2h").await;
    let key = read_key(&client, "moved").await;
    let v2 = version(&key, 2);
    assert_eq!(v2["state"], "previous", "{key:#}");
    let grace = parse(&v2["grace_expires_time"]);
    let at_provider = fake.key_expires_at(&id).expect("an expiry at the provider");
    assert!(
        (grace.timestamp()..=grace.timestamp() + 2).contains(&at_provider),
        "provider expiry {at_provider} is not the grace end {grace}"
    );
    assert_eq!(
        parse(&v2["provider_expires_time"]).timestamp(),
        at_provider,
        "{key:#}"
    );
    let updates = fake.expiry_updates();
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0].0, id);

    let extended = write_ok(
        &client,
        "ai-keys/extend/moved",
        json!({ "grace_period": "5h" }),
    )
    .await;
    let until = parse(&extended["grace_expires_time"]);
    let moved = fake.key_expires_at(&id).expect("an expiry at the provider");
    assert!(
        (until.timestamp()..=until.timestamp() + 2).contains(&moved),
        "after extend/, provider expiry {moved} is not the new grace end {until}"
    );
    let key = read_key(&client, "moved").await;
    assert_eq!(
        parse(&version(&key, 2)["provider_expires_time"]).timestamp(),
        moved
    );
    let history = crate::support::checks::read_ok(&client, "ai-keys/history/moved").await;
    let set = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["event"] == "provider_expiry_set" && e["version"] == 2)
        .count();
    assert_eq!(set, 2, "one provider_expiry_set per move: {history:#}");
}

/// Sends SIGCONT to a stopped server when dropped (also when the test fails).
struct Resume(u32);

impl Drop for Resume {
    fn drop(&mut self) {
        process::signal(self.0, "CONT");
    }
}

/// The OpenBao server stopped (SIGSTOP) across a short grace end, so neither its tick nor
/// recovery can revoke: the provider itself ends the old key on time (its expiry is the grace
/// end, and a test with the value is refused right after it). Once the server runs again the
/// tick still revokes the key, as the confirmation.
#[tokio::test]
async fn the_provider_ends_the_old_key_on_time_while_the_server_is_stopped() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let id = two_created_versions(&bao, &fake, "stopped", "20s").await;
    let old_value = creds(&client, "stopped").await["previous_api_key"]
        .as_str()
        .expect("the old key in its grace window")
        .to_string();
    let key = read_key(&client, "stopped").await;
    let grace = parse(&version(&key, 2)["grace_expires_time"]);
    let at_provider = fake.key_expires_at(&id).expect("an expiry at the provider");
    assert!(
        at_provider <= grace.timestamp() + 2,
        "{at_provider} vs {grace}"
    );

    let pid = bao.server_pid();
    assert!(process::signal(pid, "STOP"), "could not stop the server");
    let resume = Resume(pid);
    let models = format!("{}/v1/models", fake.base_url());
    let http = reqwest::Client::new();
    let test = || http.get(&models).bearer_auth(&old_value).send();
    assert_eq!(
        test().await.unwrap().status(),
        200,
        "the old key works inside its grace"
    );
    let wait = (grace - Utc::now()).to_std().unwrap_or_default();
    assert!(wait < std::time::Duration::from_secs(25), "{wait:?}");
    tokio::time::sleep(wait + std::time::Duration::from_secs(2)).await;
    assert_eq!(
        test().await.unwrap().status(),
        401,
        "the provider still accepts the old key after its grace end"
    );
    drop(resume);

    tick_until(
        &bao,
        Tick::AsTheHost,
        "the old key revoked on the tick",
        SHORT_DEADLINE,
        || async {
            let key = read_key(&client, "stopped").await;
            version(&key, 2)["state"] == "revoked"
        },
    )
    .await;
}
