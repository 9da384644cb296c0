//! The keys the test watches: one the engine created and then retired with a grace window, an
//! application's use of it at the provider, and what `keys/` and `history/` show of it.

use super::*;

/// A key whose current version the engine created at `provider`, then retired by a second
/// rotation with `grace`: version 2 is `previous`. Returns (its provider id, its value, its
/// planned grace end).
pub(super) async fn retired_created_key(
    client: &Client,
    fake: &FakeProvider,
    name: &str,
    provider: &str,
    settings: Value,
    grace: &str,
) -> (String, String, DateTime<Utc>) {
    let v0 = secret(&format!("{name}-v0"));
    fake.add_key(&v0);
    let mut body = json!({ "value": v0, "provider": provider });
    for (k, v) in settings.as_object().unwrap() {
        body[k] = v.clone();
    }
    create_key(client, name, body).await;
    let before = fake.created_keys();
    let first = data(
        &rotate(client, name, json!({ "grace_period": "0s" })).await,
        &format!("{name}: rotate"),
    );
    assert_eq!(first["test"]["outcome"], "passed", "{first:#}");
    let (id, value, _) = fake
        .created_keys()
        .into_iter()
        .find(|(id, _, _)| !before.iter().any(|(b, _, _)| b == id))
        .expect("a key created at the provider");
    data(
        &rotate(client, name, json!({ "grace_period": grace })).await,
        &format!("{name}: second rotate"),
    );
    let key = read_key(client, name).await;
    let v2 = version(&key, 2);
    assert_eq!(v2["state"], "previous", "{key:#}");
    assert_eq!(v2["provider_key_id"], id.as_str());
    let planned = time(&v2["planned_grace_expires_time"]);
    assert_eq!(v2["grace_expires_time"], v2["planned_grace_expires_time"]);
    (id, value, planned)
}

pub(super) fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .parse()
        .unwrap()
}

/// An application's call with `value` at the provider (its `last_used_at` moves); whether the
/// key worked.
pub(super) async fn app_uses(fake: &FakeProvider, value: &str) -> bool {
    let reply = reqwest::Client::new()
        .get(format!("{}/v1/models", fake.base_url()))
        .bearer_auth(value)
        .send()
        .await
        .expect("the fake answers");
    reply.status().as_u16() == 200
}

/// The first event `event` of key `name` whose detail contains `needle`.
pub(super) async fn event(client: &Client, name: &str, event: &str, needle: &str) -> Option<Value> {
    history(client, name)
        .await
        .into_iter()
        .find(|e| e["event"] == event && e["detail"].as_str().is_some_and(|d| d.contains(needle)))
}

/// Version 2 of `name`, as `keys/` shows it.
pub(super) async fn v2(client: &Client, name: &str) -> Value {
    version(&read_key(client, name).await, 2).clone()
}
