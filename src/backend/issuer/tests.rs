use base64::Engine as _;
use chrono::{TimeDelta, Utc};
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{json, Value};

use super::keyring::{rotate_now, tick, Keyring};
use super::settings::{parse_issuer, IssuerSettings};
use super::{discovery_document, jwks_document, sign_assertion, Assertion};
use crate::backend::testing::{expect_bad_request, Harness};
use crate::framework::{InMemoryStorage, Operation, Storage};

const ISS: &str = "https://bao.example.com/v1/ai-keys";

async fn configured(prepublish: i64, grace: i64) -> InMemoryStorage {
    let storage = InMemoryStorage::new();
    IssuerSettings {
        issuer: Some(ISS.into()),
        rotation_period: 10 * 86_400,
        prepublish,
        grace,
    }
    .save(&storage)
    .await
    .unwrap();
    storage
}

fn kids(doc: &Value) -> Vec<String> {
    doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

/// Verifies `token` as a provider would: with the published JWK named by its `kid`.
fn verify(token: &str, jwks: &Value) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .ok_or("kid not published")?;
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .map_err(|e| e.to_string())?;
    let mut v = Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_issuer(&[ISS]);
    v.set_audience(&["api.openai.com"]);
    v.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(token, &key, &v)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_signed_assertion_verifies_against_the_published_key_with_every_claim() {
    let storage = configured(3_600, 3_600).await;
    let now = Utc::now();
    tick(&storage, now).await.unwrap();
    let ring = Keyring::load(&storage).await.unwrap();
    let settings = IssuerSettings::load(&storage).await.unwrap();
    let a = Assertion {
        subject: "workload:billing".into(),
        audience: "api.openai.com".into(),
        ttl: 300,
    };
    let (token, exp) = sign_assertion(&settings, &ring, &a, now).unwrap();
    let (other, _) = sign_assertion(&settings, &ring, &a, now).unwrap();
    let jwks = jwks_document(&ring, now, settings.grace);
    let claims = verify(&token, &jwks).unwrap();
    assert_eq!(claims["iss"], ISS);
    assert_eq!(claims["sub"], "workload:billing");
    assert_eq!(claims["exp"], exp);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );
    assert_eq!(claims["nbf"], claims["iat"]);
    let jti = |t: &str| verify(t, &jwks).unwrap()["jti"].clone();
    assert_ne!(jti(&token), jti(&other), "every assertion has its own jti");
    // The key is RS256 2048-bit and its kid is in the header.
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["n"].as_str().unwrap())
        .unwrap();
    assert!(n.len() * 8 >= 2048);
    // A tampered token fails.
    let mut forged = token.clone();
    forged.replace_range(forged.len() - 4.., "AAAA");
    assert!(verify(&forged, &jwks).is_err());
}

#[tokio::test]
async fn a_new_key_is_published_before_it_signs_and_the_old_one_stays_for_its_grace() {
    let storage = configured(86_400, 7_200).await;
    let t0 = Utc::now();
    tick(&storage, t0).await.unwrap();
    let first = Keyring::load(&storage).await.unwrap().keys[0].kid.clone();
    // Nothing happens until the prepublish window before the period's end.
    tick(&storage, t0 + TimeDelta::days(8)).await.unwrap();
    assert_eq!(Keyring::load(&storage).await.unwrap().keys.len(), 1);
    // Inside the window: the successor is published, the first key still signs.
    let t1 = t0 + TimeDelta::days(9) + TimeDelta::hours(1);
    tick(&storage, t1).await.unwrap();
    let ring = Keyring::load(&storage).await.unwrap();
    assert_eq!(ring.keys.len(), 2);
    let second = ring.keys[1].kid.clone();
    assert_eq!(ring.signer_at(t1).unwrap().kid, first);
    assert_eq!(
        kids(&jwks_document(&ring, t1, 7_200)),
        vec![first.clone(), second.clone()]
    );
    // It signs a full prepublish window after it was published (the tick came an hour into
    // the window, so an hour after the period's end); the first stays published for its grace.
    let t2 = t0 + TimeDelta::days(10) + TimeDelta::hours(1) + TimeDelta::seconds(1);
    assert_eq!(
        ring.signer_at(t2 - TimeDelta::seconds(2)).unwrap().kid,
        first
    );
    tick(&storage, t2).await.unwrap();
    let ring = Keyring::load(&storage).await.unwrap();
    assert_eq!(ring.signer_at(t2).unwrap().kid, second);
    assert_eq!(
        kids(&jwks_document(&ring, t2, 7_200)),
        vec![first.clone(), second.clone()]
    );
    // After the grace, it is gone from the JWKS and from storage.
    let t3 = t2 + TimeDelta::hours(2);
    tick(&storage, t3).await.unwrap();
    let ring = Keyring::load(&storage).await.unwrap();
    assert_eq!(ring.keys.len(), 1);
    assert_eq!(kids(&jwks_document(&ring, t3, 7_200)), vec![second]);
}

#[tokio::test]
async fn rotate_now_prepublishes_or_signs_at_once_and_refuses_a_second_waiting_key() {
    let storage = configured(3_600, 0).await;
    let now = Utc::now();
    tick(&storage, now).await.unwrap();
    let (kid, from) = rotate_now(&storage, now, false).await.unwrap();
    assert_eq!(from, now + TimeDelta::seconds(3_600));
    let ring = Keyring::load(&storage).await.unwrap();
    assert_ne!(
        ring.signer_at(now).unwrap().kid,
        kid,
        "not signing before its time"
    );
    let msg = expect_bad_request(rotate_now(&storage, now, false).await);
    assert!(msg.contains("already published"), "{msg}");
    // Immediate brings the waiting key forward; with grace 0 the old key leaves the JWKS.
    let (same, from) = rotate_now(&storage, now, true).await.unwrap();
    assert_eq!((same.as_str(), from), (kid.as_str(), now));
    let ring = Keyring::load(&storage).await.unwrap();
    assert_eq!(ring.signer_at(now).unwrap().kid, kid);
    assert_eq!(kids(&jwks_document(&ring, now, 0)), vec![kid]);
}

#[tokio::test]
async fn no_key_is_made_and_nothing_written_before_the_issuer_is_set() {
    let storage = InMemoryStorage::new();
    tick(&storage, Utc::now()).await.unwrap();
    assert!(storage.keys().is_empty());
    let msg = expect_bad_request(rotate_now(&storage, Utc::now(), true).await);
    assert!(msg.contains("config issuer"), "{msg}");
}

#[test]
fn issuer_urls_are_https_except_loopback_and_normalised() {
    assert_eq!(
        parse_issuer("https://bao.example.com/v1/ai-keys/").unwrap(),
        ISS
    );
    assert!(parse_issuer("http://127.0.0.1:8200/v1/ai-keys").is_ok());
    assert!(parse_issuer("http://localhost:8200/v1/ai-keys").is_ok());
    for bad in [
        "http://bao.example.com/v1/ai-keys",
        "ftp://bao.example.com",
        "bao.example.com",
        "https://bao.example.com/v1/ai-keys?x=1",
        "https://bao.example.com/v1/ai-keys#f",
        "https://user:pw@bao.example.com/v1/ai-keys",
    ] {
        let msg = expect_bad_request(parse_issuer(bad));
        assert!(msg.starts_with("issuer"), "{bad}: {msg}");
        assert!(
            !msg.contains("bao.example.com"),
            "never echoes the URL: {msg}"
        );
    }
    assert!(parse_issuer(&format!("https://{}.com", "a".repeat(600))).is_err());
}

#[test]
fn the_discovery_document_names_the_issuer_and_its_jwks() {
    let d = discovery_document(ISS);
    assert_eq!(d["issuer"], ISS);
    assert_eq!(d["jwks_uri"], format!("{ISS}/.well-known/keys"));
    assert_eq!(d["id_token_signing_alg_values_supported"], json!(["RS256"]));
}

#[tokio::test]
async fn the_private_key_never_shows_in_debug_nor_in_the_jwks() {
    let storage = configured(3_600, 0).await;
    tick(&storage, Utc::now()).await.unwrap();
    let ring = Keyring::load(&storage).await.unwrap();
    let stored = String::from_utf8(storage.get("issuer/keys").await.unwrap().unwrap()).unwrap();
    let private: Value = serde_json::from_str(&stored).unwrap();
    let private = private["keys"][0]["private_key"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(private.len() > 1000);
    assert!(!format!("{ring:?}").contains(&private[..40]));
    let jwks = jwks_document(&ring, Utc::now(), 0).to_string();
    assert!(!jwks.contains(&private[..40]));
    assert!(!jwks.contains("private"));
}

#[tokio::test]
async fn config_sets_the_issuer_and_makes_the_first_key_and_the_well_known_paths_serve_it() {
    let h = Harness::new().await;
    // Before: 404 naming the setting.
    let err = h
        .call(
            Operation::Read,
            ".well-known/openid-configuration",
            Value::Null,
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), 404);
    let before = h.snapshot().await;
    for (body, field) in [
        (json!({"issuer": "http://bao.example.com"}), "issuer"),
        (
            json!({"signing_key_rotation_period": "10m"}),
            "signing_key_rotation_period",
        ),
        (
            json!({"issuer": ISS, "signing_key_rotation_period": "2h", "signing_key_prepublish": "3h"}),
            "signing_key_prepublish",
        ),
    ] {
        let msg = expect_bad_request(h.write("config", body.clone()).await);
        assert!(msg.contains(field), "{body}: {msg}");
    }
    assert_eq!(
        h.snapshot().await,
        before,
        "a refused write changes nothing"
    );
    let c = h
        .write("config", json!({"issuer": format!("{ISS}/")}))
        .await
        .unwrap();
    assert_eq!(c["issuer"], ISS);
    assert_eq!(c["signing_key_prepublish"], 86_400);
    let d = raw(&h, ".well-known/openid-configuration").await;
    assert_eq!(d["issuer"], ISS);
    let jwks = raw(&h, ".well-known/keys").await;
    assert_eq!(kids(&jwks).len(), 1);
    // The admin rotation publishes a second key that waits for the prepublish window.
    let r = h.write("rotate-signing-key", json!({})).await.unwrap();
    let jwks = raw(&h, ".well-known/keys").await;
    assert_eq!(kids(&jwks)[1], r["kid"].as_str().unwrap());
    assert!(h.read("config").await.get("issuer").is_some());
}

#[tokio::test]
async fn a_standby_tick_makes_no_key() {
    let storage = std::sync::Arc::new(InMemoryStorage::new());
    configured_at(&storage).await;
    let h = Harness::over(storage.clone(), true).await;
    h.tick().await.unwrap();
    assert!(storage.get("issuer/keys").await.unwrap().is_none());
    let h = Harness::over(storage.clone(), false).await;
    h.tick().await.unwrap();
    assert!(storage.get("issuer/keys").await.unwrap().is_some());
}

async fn configured_at(storage: &InMemoryStorage) {
    IssuerSettings {
        issuer: Some(ISS.into()),
        ..IssuerSettings::default()
    }
    .save(storage)
    .await
    .unwrap();
}

/// A raw-body read's JSON document.
async fn raw(h: &Harness, path: &str) -> Value {
    let resp = h
        .call(Operation::Read, path, Value::Null)
        .await
        .unwrap()
        .unwrap();
    let data = resp.data_value();
    assert_eq!(data["http_content_type"], "application/json");
    let body = base64::engine::general_purpose::STANDARD
        .decode(data["http_raw_body"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice::<Value>(&body).unwrap()
}
