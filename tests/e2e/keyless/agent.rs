//! An application reading a federated key through a `bao agent` template keeps a working token
//! across token expiries and a signing-key rotation: every time the rendered file is read, the
//! fake provider accepts the token in it.

use std::fs;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use super::exchange::{accepted, federated_setup};
use crate::creds_clients::agent::{
    agent_config, agent_token, read_rendered, write_private, Agent, TEMPLATE,
};
use crate::support::fake_provider::FakeProvider;

/// Token life at the fake: the engine renews at two thirds (6 s), the agent re-renders every
/// second, so the file always holds a token with seconds to spare.
const TOKEN_LIFE: i64 = 9;
/// Bound of the whole run.
const RUN_LIMIT: Duration = Duration::from_secs(60);

fn kid_of(jwt: &str) -> String {
    let header = jwt.split('.').next().unwrap_or_default();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap_or_default(),
    )
    .unwrap_or(Value::Null);
    header["kid"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn an_agent_rendered_federated_token_keeps_working_across_expiries_and_a_signing_key_rotation(
) {
    let fake = FakeProvider::start().await;
    let (bao, _issuer) = federated_setup(&fake, TOKEN_LIFE).await;
    let root = bao.client();

    let dir = bao.dir.path().join("agent");
    fs::create_dir(&dir).unwrap();
    let dir = dir.canonicalize().unwrap();
    write_private(&dir.join("token"), &agent_token(&root).await);
    fs::write(dir.join("creds.ctmpl"), TEMPLATE).unwrap();
    let config = dir.join("agent.hcl");
    fs::write(&config, agent_config(&bao.addr, &dir)).unwrap();
    let rendered = dir.join("creds.txt");
    let mut agent = Agent::spawn(&config, &dir.join("agent.log"));

    let started = Instant::now();
    let mut tokens = std::collections::BTreeSet::new();
    let mut rotated: Option<(String, usize)> = None;
    loop {
        assert!(
            started.elapsed() < RUN_LIMIT,
            "tokens seen {}, exchanges {}, rotated {rotated:?}\n--- agent.log ---\n{}",
            tokens.len(),
            fake.exchanges(),
            agent.log()
        );
        let content = read_rendered(&rendered);
        if content.starts_with("oai-wif-") {
            assert!(
                accepted(&fake, content.trim()).await,
                "the rendered token is refused by the provider ({} s in)",
                started.elapsed().as_secs()
            );
            tokens.insert(content.clone());
        }
        // After two tokens, replace the signing key at once (the old one stays published).
        if rotated.is_none() && tokens.len() >= 2 {
            let r = root
                .write("ai-keys/rotate-signing-key", json!({"immediate": true}))
                .await;
            r.expect_status(200);
            let kid = r.data()["kid"].as_str().unwrap().to_string();
            rotated = Some((kid, fake.presented_jwts().len()));
        }
        // Done once two more exchanges were signed by the new key and their tokens rendered.
        if let Some((kid, from)) = &rotated {
            let after: Vec<String> = fake.presented_jwts()[*from..].to_vec();
            if after.len() >= 2 && tokens.len() >= 4 {
                assert!(
                    after.iter().all(|j| kid_of(j) == *kid),
                    "signed by the new key"
                );
                break;
            }
        }
        agent.assert_running();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        fake.exchange_refusals().is_empty(),
        "{:?}",
        fake.exchange_refusals()
    );
    let log = agent.stop();
    for t in &tokens {
        assert!(
            !bao.audit_log().contains(t.trim()),
            "token in clear in the audit log"
        );
        assert!(
            !bao.server_log().contains(t.trim()),
            "token in the server log"
        );
        assert!(!log.contains(t.trim()), "token in the agent's log");
    }
}
