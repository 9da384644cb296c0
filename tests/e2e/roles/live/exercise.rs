//! What a header line needs on a real server: the key or object the root token sets up for
//! it, and the request that exercises the line's capability on its path.

use super::*;

/// One request: method, path under the mount, body.
pub(super) struct Request {
    pub(super) method: &'static str,
    pub(super) path: String,
    pub(super) body: Option<Value>,
}

fn request(method: &'static str, path: String, body: Option<Value>) -> Request {
    Request { method, path, body }
}

/// Creates key `name` with a value (no provider: its tests are `skipped`, which may be
/// promoted).
async fn key(root: &Client, name: &str) {
    create_key(root, name, json!({ "value": secret(name) })).await;
}

/// Creates key `name` and rotates it once, so version 1 is `previous`, in its grace window.
async fn key_in_grace(root: &Client, name: &str) {
    key(root, name).await;
    write_ok(
        root,
        &format!("ai-keys/rotate/{name}"),
        json!({ "value": secret(name) }),
    )
    .await;
}

/// Has the root token set up what `capability` on `path` (a header's path; `*` stands for
/// `name`) needs to succeed, and returns the request that exercises it: a create names
/// something that does not exist yet, every other operation something that does, and each
/// rotation step finds the key in the state it acts on. Panics on an operation it does not know,
/// so a header line can never go unexercised.
pub(super) async fn exercise(
    root: &Client,
    fake: &FakeProvider,
    capability: &str,
    path: &str,
    name: &str,
) -> Request {
    let target = path.replacen('*', name, 1);
    let (family, item) = target.split_once('/').unwrap_or((target.as_str(), ""));
    let family = family.to_owned();
    let item = item.to_owned();
    let body_of = |family: &str, update: bool| match family {
        "schedules" => json!({ "rotation_period": "90d", "grace_period": "1d" }),
        "providers" if update => json!({ "timeout": "3s" }),
        "providers" => provider_body("openai", fake, None),
        "keys" if update => json!({ "custom_metadata": { "team": "t" } }),
        "notifications" if update => json!({ "events": ["rotation.failed"] }),
        "notifications" => json!({
            "url": "http://127.0.0.1:9/hook",
            "secret": "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY",
        }),
        _ => json!({ "value": secret(&item) }),
    };
    match (family.as_str(), capability) {
        ("config", "read") | ("overdue" | "metrics" | "report", "read") => {
            request("GET", target.clone(), None)
        }
        ("config", "update") => request("POST", target, Some(json!({ "history_limit": 1000 }))),
        ("rotate-signing-key", "update") => {
            let issuer = json!({ "issuer": "http://127.0.0.1:8200/v1/ai-keys" });
            write_ok(root, "ai-keys/config", issuer).await;
            request("POST", target, Some(json!({ "immediate": true })))
        }
        ("schedules" | "providers" | "keys" | "notifications", _) => {
            if capability != "create" {
                let made = root
                    .write(&format!("ai-keys/{family}/{item}"), body_of(&family, false))
                    .await;
                assert!(made.is_success(), "creating {family}/{item}: {}", made.text);
            }
            match capability {
                "create" => request("POST", target, Some(body_of(&family, false))),
                "update" => request("POST", target, Some(body_of(&family, true))),
                "read" => request("GET", target, None),
                "delete" => request("DELETE", target, None),
                "list" => request("LIST", family.clone(), None),
                other => panic!("no request for {other} {path}: teach exercise() this operation"),
            }
        }
        ("creds" | "history", "read") => {
            key(root, &item).await;
            request("GET", target, None)
        }
        ("stage" | "rotate", "update") => {
            key(root, &item).await;
            request("POST", target, Some(json!({ "value": secret(&item) })))
        }
        ("test" | "promote" | "rollback", "update") => {
            key(root, &item).await;
            write_ok(
                root,
                &format!("ai-keys/stage/{item}"),
                json!({ "value": secret(&item) }),
            )
            .await;
            if family == "promote" {
                write_ok(root, &format!("ai-keys/test/{item}"), json!({})).await;
            }
            request("POST", target, Some(json!({})))
        }
        ("finalize", "update") => {
            key_in_grace(root, &item).await;
            request("POST", target, Some(json!({})))
        }
        ("extend", "update") => {
            key_in_grace(root, &item).await;
            request("POST", target, Some(json!({ "grace_period": "72h" })))
        }
        ("verify", "update") => {
            let value = secret(&item);
            create_key(root, &item, json!({ "value": value })).await;
            request("POST", target, Some(json!({ "value": value })))
        }
        ("acknowledge", "update") => {
            // Version 1, imported at a provider and retired: a revocation left to a person.
            let provider = format!("ack-{item}");
            configure_provider(root, &provider, provider_body("openai", fake, None)).await;
            create_key(
                root,
                &item,
                json!({ "value": secret(&item), "provider": provider }),
            )
            .await;
            let next = secret(&item);
            fake.add_key(&next);
            write_ok(
                root,
                &format!("ai-keys/rotate/{item}"),
                json!({ "value": next, "grace_period": "0s" }),
            )
            .await;
            request("POST", target, Some(json!({ "version": 1 })))
        }
        ("reconcile", "update") => request("POST", target, Some(json!({ "dry_run": true }))),
        ("records", "read" | "delete") => {
            // keys/<name>: a record the engine refuses (it names key <name>-orig, which holds
            // no provider key), what records/ is for.
            let stored = item.trim_start_matches("keys/");
            let orig = format!("{stored}-orig");
            key(root, &orig).await;
            let copy = raw_get(root, &format!("keys/{orig}"))
                .await
                .expect("a record");
            raw_put_reloaded(root, &format!("keys/{stored}"), &copy).await;
            let method = if capability == "read" {
                "GET"
            } else {
                "DELETE"
            };
            request(method, target, None)
        }
        ("exposed", "update") => {
            // A leaked current value of a key without a provider: marked exposed (200).
            let value = secret(&target);
            create_key(root, name, json!({ "value": value })).await;
            let body = json!({ "value": value, "source": "roles test", "reason": "exercise" });
            request("POST", target, Some(body))
        }
        _ => panic!("no request for {capability} {path}: teach exercise() this operation"),
    }
}
