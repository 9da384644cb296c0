//! Provider-side expiry as a backstop: a key the engine creates carries the
//! provider's own expiry (OpenAI `expires_in_seconds`, OpenRouter `expires_at`), set to the
//! version's rotation period + grace period + max_grace (7 days) + a 1-day margin, so a key the
//! engine loses track of still dies; `keys/` shows it, and it comes after the next rotation.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::providers::{configure_provider, create_key, provider_body, read_key, rotate, version};
use crate::support::checks::{data, secret};
use crate::support::fake_provider::FakeProvider;
use crate::support::Bao;

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
