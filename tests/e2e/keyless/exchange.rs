//! A federated key end to end: the issuer's documents without a token, one exchange reused
//! until two thirds of the token's life, a new one after; refusals mapped to `bad_key` and
//! `provider_unavailable`; a replayed, forged, or removed-key JWT refused by the provider; no
//! token or private key in the audit log or the server's log in clear.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::support::fake_provider::FakeProvider;
use crate::support::{poll_until, Bao, Client};

pub(super) const AUDIENCE: &str = "https://api.openai.com/v1";
pub(super) const SUBJECT: &str = "ai-keys:app";
pub(super) const IDS: [(&str, &str); 2] = [
    ("identity_provider_id", "wip_123"),
    ("service_account_id", "svc_456"),
];
/// Life of the fake's access tokens: short, so a test sees one spent and replaced.
const TOKEN_LIFE: i64 = 6;

/// An unauthenticated GET of `path` under the server's API, as a provider makes it.
async fn public_get(client: &Client, path: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{}/v1/{path}", client.addr()))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Whether the fake's OpenAI API accepts `token` as a bearer.
pub(super) async fn accepted(fake: &FakeProvider, token: &str) -> bool {
    reqwest::Client::new()
        .get(format!("{}/v1/models", fake.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .is_success()
}

/// A server with the issuer set, a provider at the fake, and federated key `app`.
pub(super) async fn federated_setup(fake: &FakeProvider, token_life: i64) -> (Bao, String) {
    let bao = Bao::start().await;
    let client = bao.client();
    let issuer = format!("{}/v1/ai-keys", client.addr());
    // Before the issuer is set, the well-known documents are a 404, without a token too.
    assert_eq!(public_get(&client, "ai-keys/.well-known/keys").await.0, 404);
    client
        .write("ai-keys/config", json!({"issuer": issuer}))
        .await
        .expect_status(200);
    client
        .write(
            "ai-keys/providers/oa",
            json!({"type": "openai", "base_url": fake.base_url()}),
        )
        .await
        .expect_status(200);
    fake.trust_issuer(&issuer, AUDIENCE, SUBJECT, &IDS, token_life);
    let mut key = json!({
        "federated": true, "provider": "oa", "subject": SUBJECT, "audience": AUDIENCE,
        "token_ttl": "60s",
    });
    for (k, v) in IDS {
        key[k] = json!(v);
    }
    client
        .write("ai-keys/keys/app", key)
        .await
        .expect_status(200);
    (bao, issuer)
}

#[tokio::test]
async fn federated_creds_exchange_a_verified_jwt_and_reuse_the_token_until_two_thirds_of_its_life()
{
    let fake = FakeProvider::start().await;
    let (bao, issuer) = federated_setup(&fake, TOKEN_LIFE).await;
    let client = bao.client();

    // The issuer's documents, without a token, as raw JSON.
    let (status, discovery) = public_get(&client, "ai-keys/.well-known/openid-configuration").await;
    assert_eq!(status, 200, "{discovery}");
    assert_eq!(discovery["issuer"], issuer.as_str());
    assert_eq!(discovery["jwks_uri"], format!("{issuer}/.well-known/keys"));
    let (status, jwks) = public_get(&client, "ai-keys/.well-known/keys").await;
    assert_eq!(status, 200);
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1, "{jwks}");
    assert!(jwks["keys"][0].get("d").is_none(), "public keys only");

    // The key reads as federated, without a value.
    let key = client.read("ai-keys/keys/app").await;
    key.expect_status(200);
    assert_eq!(key.data()["federated"], true);
    assert_eq!(key.data()["identity_provider_id"], "wip_123");

    let first = client.read("ai-keys/creds/app").await;
    first.expect_status(200);
    let token = first.data()["api_key"].as_str().unwrap().to_string();
    assert!(first.data()["expires_time"].is_string(), "{}", first.text);
    assert_eq!(
        fake.exchanges(),
        1,
        "refusals: {:?}",
        fake.exchange_refusals()
    );
    assert!(accepted(&fake, &token).await);
    // The claims the provider saw.
    let jwt = fake.presented_jwts()[0].clone();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["iss"], issuer.as_str());
    assert_eq!(claims["sub"], SUBJECT);
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        60
    );

    // Read again at once: the same token, no second exchange, however many readers.
    let reads = futures::future::join_all((0..8).map(|_| client.read("ai-keys/creds/app"))).await;
    for r in &reads {
        r.expect_status(200);
        assert_eq!(r.data()["api_key"], token.as_str());
    }
    assert_eq!(fake.exchanges(), 1);

    // Once two thirds of its life is spent, a reader gets a new token from one new exchange.
    poll_until("a fresh token", Duration::from_secs(20), || async {
        client.read("ai-keys/creds/app").await.data()["api_key"] != token.as_str()
    })
    .await;
    assert_eq!(fake.exchanges(), 2);
    poll_until(
        "the first token expired at the provider",
        Duration::from_secs(20),
        || async { !accepted(&fake, &token).await },
    )
    .await;

    assert_eq!(exchange_count(&client, "success").await, 2.0);
    assert_eq!(exchange_count(&client, "failure").await, 0.0);

    // Rotation paths do not apply to a federated key.
    let rotate = client.write("ai-keys/rotate/app", json!({})).await;
    assert_eq!(rotate.status, 400, "{}", rotate.text);
    assert!(rotate.errors().contains("federated"), "{}", rotate.text);

    // Nothing in clear in the audit log or the server's log: the token is hashed as api_key.
    let audit = bao.audit_log();
    assert!(!audit.contains(&token), "token in the audit log in clear");
    assert!(
        audit.contains(&bao.audit_hash(&token).await),
        "api_key hashed in the audit log"
    );
    let log = bao.server_log();
    assert!(!log.contains(&token), "token in the server log");
    assert!(!log.contains(&jwt), "assertion in the server log");
    assert!(!log.contains("PRIVATE KEY") && !audit.contains("PRIVATE KEY"));
}

#[tokio::test]
async fn the_provider_refuses_replayed_forged_and_removed_key_jwts_and_creds_says_why() {
    let fake = FakeProvider::start().await;
    let (bao, issuer) = federated_setup(&fake, TOKEN_LIFE).await;
    let client = bao.client();
    client.read("ai-keys/creds/app").await.expect_status(200);
    let jwt = fake.presented_jwts()[0].clone();

    // Replayed: its jti was used.
    let (status, body) = fake.present_openai_jwt(&jwt, &IDS).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    assert!(fake.exchange_refusals().last().unwrap().contains("jti"));

    // Forged: another subject under the same signature.
    let parts: Vec<&str> = jwt.split('.').collect();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = json!("someone-else");
    claims["jti"] = json!("forged-jti");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(claims.to_string()),
        parts[2]
    );
    let (status, _) = fake.present_openai_jwt(&forged, &IDS).await;
    assert_eq!(status, 400);
    assert!(
        fake.exchange_refusals()
            .last()
            .unwrap()
            .contains("JWT refused"),
        "{:?}",
        fake.exchange_refusals()
    );

    // An outage is provider_unavailable (503); the JWT the engine sent is kept unused.
    fake.set_exchange_outage(true);
    client
        .write("ai-keys/keys/app", json!({"token_ttl": "120s"}))
        .await
        .expect_status(200);
    let down = client.read("ai-keys/creds/app").await;
    assert_eq!(down.status, 503, "{}", down.text);
    assert!(
        down.errors().contains("provider_unavailable"),
        "{}",
        down.text
    );
    let unused = fake.presented_jwts().last().unwrap().clone();
    fake.set_exchange_outage(false);

    // The signing key is replaced at once and, with no grace, leaves the JWKS: a JWT it signed
    // is refused, while the new key's work.
    client
        .write("ai-keys/config", json!({"signing_key_grace": 0}))
        .await
        .expect_status(200);
    client
        .write("ai-keys/rotate-signing-key", json!({"immediate": true}))
        .await
        .expect_status(200);
    let (status, _) = fake.present_openai_jwt(&unused, &IDS).await;
    assert_eq!(status, 400);
    assert!(
        fake.exchange_refusals()
            .last()
            .unwrap()
            .contains("kid is not in the JWKS"),
        "{:?}",
        fake.exchange_refusals()
    );
    client.read("ai-keys/creds/app").await.expect_status(200);

    // A rule that no longer matches the key is bad_key (502), naming no token.
    fake.trust_issuer(&issuer, AUDIENCE, "another-workload", &IDS, TOKEN_LIFE);
    client
        .write("ai-keys/keys/app", json!({"token_ttl": "90s"}))
        .await
        .expect_status(200);
    let refused = client.read("ai-keys/creds/app").await;
    assert_eq!(refused.status, 502, "{}", refused.text);
    assert!(refused.errors().contains("bad_key"), "{}", refused.text);
    assert!(
        refused.errors().contains("invalid_grant"),
        "{}",
        refused.text
    );
    assert_eq!(
        exchange_count(&client, "failure").await,
        2.0,
        "the outage and the refusal"
    );
}

/// `ai_keys_federated_token_exchanges_total` for `outcome`, from `metrics` (JSON).
async fn exchange_count(client: &Client, outcome: &str) -> f64 {
    let labels = [("outcome", outcome)];
    super::counter(client, "ai_keys_federated_token_exchanges_total", &labels).await
}
