//! A misspelt field never acts.

use serde_json::json;

use super::{clean_error, openai_provider};
use crate::support::checks::{data, read_ok, secret, write_ok};
use crate::support::fake_provider::FakeProvider;
use crate::support::Bao;

// ---------------------------------------------------------------------------------------------
// A typo never triggers a side effect
// ---------------------------------------------------------------------------------------------

/// `rotate/`, `stage/`, `promote/` and `rollback/` refuse unknown fields with a 400
/// naming them (before, `rotate/` with `vaule=...` ignored the misspelt field with a warning,
/// created a key at the provider and promoted it); nothing happens at the provider or to the
/// key. Their help says so. Other paths still only warn, as the contract says.
#[tokio::test]
async fn a_misspelt_field_never_acts() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let admin = secret("admin");
    fake.add_admin_key(&admin);
    write_ok(
        &client,
        "ai-keys/providers/oa",
        openai_provider(&fake.base_url(), &admin),
    )
    .await;
    let v1 = secret("v1");
    fake.add_key(&v1);
    write_ok(
        &client,
        "ai-keys/keys/app",
        json!({ "value": v1, "provider": "oa" }),
    )
    .await;
    let v2 = secret("v2");
    fake.add_key(&v2);

    let typos = [
        ("rotate", json!({ "vaule": v2, "grace_period": 0 }), "vaule"),
        ("stage", json!({ "vaule": v2 }), "vaule"),
        (
            "stage",
            json!({ "value": v2, "rotation-id": "r1" }),
            "rotation-id",
        ),
        ("rotate", json!({ "grace_perod": "0s" }), "grace_perod"),
    ];
    for (path, body, typo) in &typos {
        let reply = client
            .write(&format!("ai-keys/{path}/app"), body.clone())
            .await;
        let message = clean_error(
            &reply,
            400,
            &[typo, "unknown fields"],
            &format!("{path}/ {typo}"),
        );
        assert!(!message.contains(v2.as_str()), "no value in the message");
    }
    assert!(
        fake.created_keys().is_empty(),
        "nothing created at the provider"
    );
    let key = read_ok(&client, "ai-keys/keys/app").await;
    assert_eq!(key["current_version"], 1, "{key:#}");
    assert!(key["pending_version"].is_null(), "{key:#}");

    // promote/ and rollback/ too, with a pending version in place.
    write_ok(&client, "ai-keys/stage/app", json!({ "value": v2 })).await;
    let reply = client
        .write(
            "ai-keys/promote/app",
            json!({ "force": true, "grace_perod": 0 }),
        )
        .await;
    clean_error(&reply, 400, &["grace_perod"], "promote/ grace_perod");
    let reply = client
        .write("ai-keys/rollback/app", json!({ "version": 1 }))
        .await;
    clean_error(&reply, 400, &["version"], "rollback/ version");
    let key = read_ok(&client, "ai-keys/keys/app").await;
    assert_eq!(key["current_version"], 1, "{key:#}");
    assert_eq!(key["pending_version"], 2, "{key:#}");

    // `bao path-help` of those paths says so.
    for path in ["rotate", "stage", "promote", "rollback"] {
        let out = bao.bao(&["path-help", &format!("ai-keys/{path}/app")]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Unknown fields are refused"),
            "{path}/ help: {text}"
        );
    }

    // Elsewhere an unknown field is still a warning, as in Vault's framework.
    let reply = client
        .write("ai-keys/keys/app", json!({ "auto_rotat": false }))
        .await;
    data(&reply, "keys/ update with an unknown field");
    assert!(
        reply.warnings().iter().any(|w| w.contains("auto_rotat")),
        "{}",
        reply.text
    );
}
