//! The audit proof: through a provider-backed rotation by the rotator (the provider creates the
//! key) and an operator-supplied stage and test promoted by the approver, no key value (old,
//! new, the provider's admin key) is ever in clear in the audit log or the server log, and the
//! HMAC of each new value is in the audit log exactly where a `creds/` response carried it
//! (plus, for the value an operator supplied, the `stage/` request that brought it).

use serde_json::{json, Value};

use crate::providers::{assert_no_leaks, provider_body};
use crate::roles::{install_roles, login, APP_KEY};
use crate::support::checks::{data, read_ok, secret};
use crate::support::fake_provider::FakeProvider;
use crate::support::Bao;

/// The audit log's entries (one JSON object a line).
fn audit_entries(bao: &Bao) -> Vec<Value> {
    bao.audit_log()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line {l:?}: {e}")))
        .collect()
}

fn is_response_to(entry: &Value, path: &str) -> bool {
    entry["type"] == "response" && entry["request"]["path"] == path
}

#[tokio::test]
async fn audit_log_holds_new_values_only_hashed_and_only_where_creds_returned_them() {
    let bao = Bao::start().await;
    let fake = FakeProvider::start().await;
    let root = bao.client();
    install_roles(&root).await;
    let [app, operator, approver, rotator, admin] = [
        login(&bao, "app").await,
        login(&bao, "operator").await,
        login(&bao, "approver").await,
        login(&bao, "rotator").await,
        login(&bao, "admin").await,
    ];
    let admin_key = secret("admin");
    fake.add_admin_key(&admin_key);
    let v1 = secret("v1");
    fake.add_key(&v1);
    data(
        &admin
            .write(
                "ai-keys/providers/fake",
                provider_body("openai", &fake, Some(&admin_key)),
            )
            .await,
        "admin configures the provider",
    );
    data(
        &admin
            .write(
                &format!("ai-keys/keys/{APP_KEY}"),
                json!({ "value": v1, "provider": "fake" }),
            )
            .await,
        "admin creates the key",
    );
    let creds_path = format!("ai-keys/creds/{APP_KEY}");
    // What the application was handed, read after read: (api_key, previous_api_key).
    let mut handed: Vec<(String, Option<String>)> = Vec::new();
    let read_creds = async |handed: &mut Vec<(String, Option<String>)>| {
        let c = read_ok(&app, &creds_path).await;
        handed.push((
            c["api_key"].as_str().expect("api_key").to_string(),
            c["previous_api_key"].as_str().map(str::to_string),
        ));
    };
    read_creds(&mut handed).await;

    // A rotation whose new key the provider creates.
    let rotated = data(
        &rotator
            .write(&format!("ai-keys/rotate/{APP_KEY}"), json!({}))
            .await,
        "rotator rotates without a value",
    );
    assert_eq!(rotated["test"]["outcome"], "passed", "{rotated:#}");
    let created = fake.created_keys();
    assert_eq!(created.len(), 1, "{created:?}");
    let c1 = created[0].1.clone();
    read_creds(&mut handed).await;

    // An operator-supplied stage, its test, and the approver's promote.
    let v3 = secret("v3");
    fake.add_key(&v3);
    data(
        &operator
            .write(&format!("ai-keys/stage/{APP_KEY}"), json!({ "value": v3 }))
            .await,
        "operator stages",
    );
    data(
        &operator
            .write(&format!("ai-keys/test/{APP_KEY}"), json!({}))
            .await,
        "operator tests",
    );
    data(
        &approver
            .write(&format!("ai-keys/promote/{APP_KEY}"), json!({}))
            .await,
        "approver promotes",
    );
    read_creds(&mut handed).await;
    assert_eq!(
        handed,
        vec![
            (v1.clone(), None),
            (c1.clone(), Some(v1.clone())),
            (v3.clone(), Some(c1.clone())),
        ]
    );

    // The engine's part of the log, taken before this test asks the server for any HMAC (a
    // `sys/audit-hash` request logs its input hashed too).
    let entries = audit_entries(&bao);

    // Nothing in clear anywhere: old, new (created and supplied), admin key.
    assert_no_leaks(&bao, &[&fake], &[v3.clone(), v1.clone(), admin_key.clone()]).await;

    // The creds/ responses carry, in order, the HMACs of exactly what the application got.
    let mut expected = Vec::new();
    for (current, previous) in &handed {
        let previous = match previous {
            Some(p) => Value::String(bao.audit_hash(p).await),
            None => Value::Null,
        };
        expected.push((Value::String(bao.audit_hash(current).await), previous));
    }
    let logged: Vec<(Value, Value)> = entries
        .iter()
        .filter(|e| is_response_to(e, &creds_path))
        .map(|e| {
            let d = &e["response"]["data"];
            (d["api_key"].clone(), d["previous_api_key"].clone())
        })
        .collect();
    assert_eq!(logged, expected, "creds/ responses in the audit log");

    // Each new value's HMAC is nowhere else: the created one only in creds/ responses, the
    // supplied one also in the stage request that brought it (its request and response entries).
    let stage_path = format!("ai-keys/stage/{APP_KEY}");
    for (value, what) in [(&c1, "created"), (&v3, "supplied")] {
        let hash = bao.audit_hash(value).await;
        let mut in_creds = 0;
        for entry in entries.iter().filter(|e| e.to_string().contains(&hash)) {
            if is_response_to(entry, &creds_path) {
                in_creds += 1;
                continue;
            }
            let brought_by_stage = what == "supplied"
                && entry["request"]["path"] == stage_path.as_str()
                && entry["request"]["data"]["value"] == hash.as_str();
            assert!(
                brought_by_stage,
                "the HMAC of the {what} value is in an audit entry that is no creds/ response: \
                 {} {}",
                entry["type"], entry["request"]["path"]
            );
        }
        assert!(
            in_creds >= 1,
            "the {what} value's HMAC is in a creds/ response"
        );
    }
}
