//! Provider updates: credentials stay bound to where they were given, and an update never takes
//! away what `auto_rotate` keys need.

use serde_json::json;

use super::{assert_log_has_no_errors, clean_error, openai_provider};
use crate::support::checks::{data, read_ok, secret, write_ok};
use crate::support::fake_provider::FakeProvider;
use crate::support::Bao;

// ---------------------------------------------------------------------------------------------
// Provider credentials stay bound to where they were given
// ---------------------------------------------------------------------------------------------

/// An update that moves `base_url` (or changes `type`) without giving `admin_key` again
/// is a 400 that says why, changes nothing, and the admin key never reaches the new host;
/// giving it again works. `base_url` must be https except on loopback hosts; link-local and
/// metadata addresses are refused in every spelling.
#[tokio::test]
async fn admin_key_is_never_sent_to_a_host_it_was_not_given_for() {
    let (bao, fake, other) =
        tokio::join!(Bao::start(), FakeProvider::start(), FakeProvider::start());
    let client = bao.client();
    let admin = secret("admin");
    fake.add_admin_key(&admin);
    other.add_admin_key(&admin);
    write_ok(
        &client,
        "ai-keys/providers/oa",
        openai_provider(&fake.base_url(), &admin),
    )
    .await;

    let moved = client
        .write(
            "ai-keys/providers/oa",
            json!({ "base_url": other.base_url() }),
        )
        .await;
    clean_error(
        &moved,
        400,
        &["admin_key", "base_url", "never sent"],
        "moving base_url without admin_key",
    );
    let retyped = client
        .write("ai-keys/providers/oa", json!({ "type": "openrouter" }))
        .await;
    clean_error(
        &retyped,
        400,
        &["admin_key", "type"],
        "changing type without admin_key",
    );
    let got = read_ok(&client, "ai-keys/providers/oa").await;
    assert_eq!(got["base_url"], fake.base_url(), "unchanged: {got:#}");
    assert_eq!(got["type"], "openai", "unchanged: {got:#}");
    assert_eq!(got["admin_key_set"], true);

    // The engine still calls the host the admin key was given for: a created key comes from
    // `fake`, and `other` never heard of anything.
    let v1 = secret("v1");
    fake.add_key(&v1);
    write_ok(
        &client,
        "ai-keys/keys/app",
        json!({ "value": v1, "provider": "oa" }),
    )
    .await;
    write_ok(&client, "ai-keys/stage/app", json!({})).await;
    assert_eq!(fake.created_keys().len(), 1, "created at the original host");
    assert_eq!(other.hits(""), 0, "nothing reached the other host");

    // Same base_url again (trailing slash aside) is not a move; with admin_key it may move.
    write_ok(
        &client,
        "ai-keys/providers/oa",
        json!({ "base_url": format!("{}/", fake.base_url()), "timeout": "3s" }),
    )
    .await;
    let got = write_ok(
        &client,
        "ai-keys/providers/oa",
        json!({ "base_url": other.base_url(), "admin_key": admin }),
    )
    .await;
    assert_eq!(got["base_url"], other.base_url());
    // A provider without an admin key has nothing to leak: it may move freely.
    write_ok(
        &client,
        "ai-keys/providers/ge",
        json!({ "type": "gemini", "base_url": fake.base_url() }),
    )
    .await;
    write_ok(
        &client,
        "ai-keys/providers/ge",
        json!({ "base_url": other.base_url() }),
    )
    .await;

    // https only, except loopback hosts; link-local and metadata addresses in any spelling.
    for url in ["http://api.example.com", "http://10.1.2.3:8080"] {
        let reply = client
            .write(
                "ai-keys/providers/plain",
                json!({ "type": "openai_compatible", "base_url": url }),
            )
            .await;
        clean_error(&reply, 400, &["base_url", "https"], url);
    }
    for url in [
        "https://169.254.169.254",
        "http://169.254.169.254/latest/meta-data",
        "https://0xa9fea9fe",
        "https://2852039166",
        "https://[::ffff:169.254.169.254]",
        "https://[::ffff:a9fe:a9fe]",
        "https://[fe80::1]",
        "https://[fd00:ec2::254]",
        "https://metadata.google.internal",
    ] {
        let reply = client
            .write(
                "ai-keys/providers/meta",
                json!({ "type": "openai_compatible", "base_url": url }),
            )
            .await;
        clean_error(&reply, 400, &["base_url", "must not point at"], url);
        let reply = client
            .write("ai-keys/providers/ge", json!({ "base_url": url }))
            .await;
        clean_error(&reply, 400, &["base_url"], url);
    }
    for name in ["plain", "meta"] {
        assert_eq!(
            client
                .read(&format!("ai-keys/providers/{name}"))
                .await
                .status,
            404,
            "nothing stored for {name}"
        );
    }
    for url in [
        "https://api.example.com",
        "http://localhost:1",
        "http://[::1]:1",
    ] {
        let reply = client
            .write(
                "ai-keys/providers/fine",
                json!({ "type": "openai_compatible", "base_url": url }),
            )
            .await;
        data(&reply, url);
    }
    assert_log_has_no_errors(&bao);
}

// ---------------------------------------------------------------------------------------------
// A provider update never takes away what auto_rotate keys need
// ---------------------------------------------------------------------------------------------

/// Removing the admin key, the project, or changing the type of a provider that
/// `auto_rotate` keys use is a 400 listing those keys, and changes nothing; once the keys stop
/// rotating automatically the same update goes through.
#[tokio::test]
async fn provider_update_keeps_what_auto_rotate_keys_need() {
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
    for name in ["auto-a", "auto-b"] {
        let v = secret(name);
        fake.add_key(&v);
        write_ok(
            &client,
            &format!("ai-keys/keys/{name}"),
            json!({ "value": v, "provider": "oa", "auto_rotate": true }),
        )
        .await;
    }
    let manual = secret("manual");
    write_ok(
        &client,
        "ai-keys/keys/manual",
        json!({ "value": manual, "provider": "oa" }),
    )
    .await;

    let updates = [
        json!({ "remove_admin_key": true }),
        // (a change of project needs the admin key again, whatever else it would break)
        json!({ "project_id": "", "admin_key": admin }),
        json!({ "type": "gemini", "admin_key": admin, "base_url": fake.base_url() }),
        json!({ "type": "anthropic", "admin_key": admin, "base_url": fake.base_url() }),
    ];
    for body in &updates {
        let reply = client.write("ai-keys/providers/oa", body.clone()).await;
        let message = clean_error(
            &reply,
            400,
            &["auto-a", "auto-b", "auto_rotate", "create"],
            &format!("update {body}"),
        );
        assert!(
            !message.contains("manual"),
            "only auto_rotate keys: {message}"
        );
    }
    let got = read_ok(&client, "ai-keys/providers/oa").await;
    assert_eq!(got["admin_key_set"], true, "{got:#}");
    assert_eq!(got["project_id"], "proj_test", "{got:#}");
    assert_eq!(got["capabilities"]["create"], true, "{got:#}");

    // Updates that keep `create` are fine; once no key rotates automatically, so is the rest.
    write_ok(&client, "ai-keys/providers/oa", json!({ "timeout": "3s" })).await;
    for name in ["auto-a", "auto-b"] {
        write_ok(
            &client,
            &format!("ai-keys/keys/{name}"),
            json!({ "auto_rotate": false }),
        )
        .await;
    }
    let got = write_ok(
        &client,
        "ai-keys/providers/oa",
        json!({ "remove_admin_key": true }),
    )
    .await;
    assert_eq!(got["admin_key_set"], false, "{got:#}");
}

/// An empty admin key (an unset shell variable: `admin_key="$ADMIN_KEY"`), or one of only
/// whitespace, is a 400 naming the field that changes nothing: the stored admin key stays and
/// the provider still creates keys. Removing it takes its own spelling, `remove_admin_key=true`.
#[tokio::test]
async fn an_empty_admin_key_is_refused_and_only_remove_admin_key_removes_it() {
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
    for blank in ["", " "] {
        let out = bao.bao(&[
            "write",
            "ai-keys/providers/oa",
            &format!("admin_key={blank}"),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("Code: 400")
                && stderr.contains("field \"admin_key\": must not be empty"),
            "admin_key={blank:?}: {stderr}"
        );
        let reply = client
            .write(
                "ai-keys/providers/new",
                json!({ "type": "openai", "base_url": fake.base_url(), "admin_key": blank }),
            )
            .await;
        clean_error(&reply, 400, &["admin_key", "must not be empty"], "create");
    }
    assert_eq!(client.read("ai-keys/providers/new").await.status, 404);
    let got = read_ok(&client, "ai-keys/providers/oa").await;
    assert_eq!(got["admin_key_set"], true, "{got:#}");
    assert_eq!(got["capabilities"]["create"], true, "{got:#}");
    let v1 = secret("v1");
    fake.add_key(&v1);
    write_ok(
        &client,
        "ai-keys/keys/app",
        json!({ "value": v1, "provider": "oa" }),
    )
    .await;
    write_ok(&client, "ai-keys/stage/app", json!({})).await;
    assert_eq!(fake.created_keys().len(), 1, "the admin key still works");

    let reply = client
        .write(
            "ai-keys/providers/oa",
            json!({ "admin_key": admin, "remove_admin_key": true }),
        )
        .await;
    clean_error(&reply, 400, &["remove_admin_key"], "both");
    let out = bao.bao(&["write", "ai-keys/providers/oa", "remove_admin_key=true"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = read_ok(&client, "ai-keys/providers/oa").await;
    assert_eq!(got["admin_key_set"], false, "{got:#}");
    assert_eq!(got["capabilities"]["create"], false, "{got:#}");
    assert_log_has_no_errors(&bao);
}
