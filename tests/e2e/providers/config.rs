//! Provider configuration: reads that never show the admin key, capabilities, deletion and
//! validation.

use serde_json::json;

use super::{assert_no_leaks, configure_provider, create_key, provider_body};
use crate::support::checks::{data, expect_error, read_ok, secret, write_ok};
use crate::support::fake_provider::FakeProvider;
use crate::support::Bao;

// ---------------------------------------------------------------------------------------------
// Provider reads, deletion, validation
// ---------------------------------------------------------------------------------------------

/// `providers/<p>` never shows the admin key (anywhere in the JSON), shows `admin_key_set` and
/// the capabilities the configured credentials give; the audit log holds the admin keys only
/// hashed; a provider a key uses cannot be deleted (400 naming the key); a `base_url` that is not
/// http(s) is a 400 and stores nothing.
#[tokio::test]
async fn provider_reads_hide_admin_keys_and_show_capabilities() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let admin = |tag: &str| secret(&format!("admin-{tag}"));
    // (name, type, admin key, expected capabilities test/create/revoke)
    let cases: Vec<(&str, &str, Option<String>, [bool; 3])> = vec![
        ("oa", "openai", Some(admin("oa")), [true, true, true]),
        ("an", "anthropic", Some(admin("an")), [true, false, true]),
        ("ge", "gemini", None, [true, false, false]),
        ("az", "azure_openai", None, [true, false, false]),
        ("or", "openrouter", Some(admin("or")), [true, true, true]),
        ("oc", "openai_compatible", None, [true, false, false]),
        ("or-plain", "openrouter", None, [true, false, false]),
        ("an-plain", "anthropic", None, [true, false, false]),
    ];
    let admin_keys: Vec<String> = cases.iter().filter_map(|c| c.2.clone()).collect();
    for (name, kind, admin, caps) in &cases {
        let written = client
            .write(
                &format!("ai-keys/providers/{name}"),
                provider_body(kind, &fake, admin.as_deref()),
            )
            .await;
        let shown = data(&written, &format!("configuring {name}"));
        let read = client.read(&format!("ai-keys/providers/{name}")).await;
        let got = data(&read, &format!("reading {name}"));
        for (text, what) in [(&written.text, "write reply"), (&read.text, "read reply")] {
            for a in &admin_keys {
                assert!(
                    !text.contains(a.as_str()),
                    "{name}: {what} shows an admin key"
                );
            }
        }
        assert_eq!(got, shown, "{name}: the write reply is the read");
        assert_eq!(got["type"], *kind, "{name}: {got:#}");
        assert_eq!(got["base_url"], fake.base_url(), "{name}");
        assert_eq!(got["timeout"], 2, "{name}");
        assert_eq!(got["admin_key_set"], admin.is_some(), "{name}: {got:#}");
        assert!(got.get("admin_key").is_none(), "{name}: {got:#}");
        assert_eq!(
            got["capabilities"],
            json!({ "test": caps[0], "create": caps[1], "revoke": caps[2] }),
            "{name}: {got:#}"
        );
    }
    // OpenAI creates and revokes only with both admin_key and project_id.
    let mut no_project = provider_body("openai", &fake, Some(&admin_keys[0]));
    no_project.as_object_mut().unwrap().remove("project_id");
    let got = configure_provider(&client, "oa-noproject", no_project).await;
    assert_eq!(got["admin_key_set"], true);
    assert_eq!(
        got["capabilities"],
        json!({ "test": true, "create": false, "revoke": false }),
        "{got:#}"
    );
    let got = read_ok(&client, "ai-keys/providers/az").await;
    assert_eq!(got["api_version"], json!(null), "the default is not stored");

    // An update that does not mention admin_key keeps it.
    let got = configure_provider(&client, "oa", json!({ "timeout": "3s" })).await;
    assert_eq!(got["admin_key_set"], true, "{got:#}");
    assert_eq!(got["timeout"], 3);
    assert_eq!(got["capabilities"]["create"], true);

    // The list.
    let list = client.list("ai-keys/providers").await;
    let names = data(&list, "LIST providers")["keys"].clone();
    for (name, ..) in &cases {
        assert!(
            names.as_array().unwrap().iter().any(|n| n == name),
            "{name} missing from {names}"
        );
    }

    // A provider in use cannot be deleted.
    let v = secret("v1");
    create_key(
        &client,
        "uses-gemini",
        json!({ "value": v, "provider": "ge" }),
    )
    .await;
    let reply = client.delete("ai-keys/providers/ge").await;
    expect_error(&reply, 400, &["uses-gemini"], "deleting a provider in use");
    read_ok(&client, "ai-keys/providers/ge").await;
    let reply = client.delete("ai-keys/keys/uses-gemini").await;
    assert!(reply.is_success(), "deleting the key: {}", reply.text);
    // The deleted key's value was a person's (the engine never revokes it): until someone
    // records revoking it by hand, it still belongs to the provider.
    let reply = client.delete("ai-keys/providers/ge").await;
    expect_error(
        &reply,
        400,
        &["manual revocations", "uses-gemini version 1 (deleted"],
        "deleting a provider owed a deleted key's manual revocation",
    );
    write_ok(
        &client,
        "ai-keys/acknowledge/uses-gemini",
        json!({ "version": 1 }),
    )
    .await;
    let reply = client.delete("ai-keys/providers/ge").await;
    assert!(
        reply.is_success(),
        "deleting the unused provider: {}",
        reply.text
    );
    assert_eq!(
        client.read("ai-keys/providers/ge").await.status,
        404,
        "deleted"
    );

    // A base_url that is not http(s): 400, nothing stored or changed.
    let mut body = provider_body("openai", &fake, Some(&admin_keys[0]));
    body["base_url"] = json!("ftp://x");
    let reply = client.write("ai-keys/providers/bad-url", body).await;
    expect_error(&reply, 400, &["base_url"], "base_url ftp://x");
    assert_eq!(client.read("ai-keys/providers/bad-url").await.status, 404);
    let list = client.list("ai-keys/providers").await;
    assert!(
        !data(&list, "LIST providers")["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "bad-url"),
        "{}",
        list.text
    );
    let reply = client
        .write("ai-keys/providers/oa", json!({ "base_url": "ftp://x" }))
        .await;
    expect_error(&reply, 400, &["base_url"], "updating base_url to ftp://x");
    let got = read_ok(&client, "ai-keys/providers/oa").await;
    assert_eq!(got["base_url"], fake.base_url(), "unchanged: {got:#}");

    // The admin keys reached the audit device, hashed only.
    assert_no_leaks(&bao, &[&fake], &admin_keys).await;
    let audit = bao.audit_log();
    for a in &admin_keys {
        let hash = bao.audit_hash(a).await;
        assert!(
            audit.contains(&hash),
            "the admin key's hash is not in audit.log"
        );
    }
}
