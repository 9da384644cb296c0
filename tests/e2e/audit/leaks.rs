//! Secrets never leak into the audit log, the server log or reads.

use serde_json::Value;

use crate::rotation::{audit_entries, rotate_by_steps, verify, POLL_LIMIT};
use crate::support::checks::{read_ok, secret};
use crate::support::Bao;

// ---------------------------------------------------------------------------------------------
// Secrets never leak
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn secrets_never_leak_into_logs_or_reads() {
    let bao = Bao::start().await;
    let client = bao.client();
    let (k1, k2) = (secret("k1"), secret("k2"));
    rotate_by_steps(&client, &k1, &k2, "1h").await;
    let creds = read_ok(&client, "ai-keys/creds/app").await;
    assert_eq!(creds["api_key"], k2.as_str());
    assert_eq!(creds["previous_api_key"], k1.as_str());
    verify(&client, "app", &k1).await;
    verify(&client, "app", &k2).await;

    for path in ["ai-keys/keys/app", "ai-keys/history/app", "ai-keys/metrics"] {
        let reply = client.read(path).await;
        reply.expect_status(200);
        for k in [&k1, &k2] {
            assert!(!reply.text.contains(k.as_str()), "{path} shows a key value");
        }
    }

    let (h1, h2) = (bao.audit_hash(&k1).await, bao.audit_hash(&k2).await);
    bao.wait_for("the creds response in the audit log", POLL_LIMIT, || {
        let log = bao.audit_log();
        log.contains(&h1) && log.contains(&h2)
    })
    .await;
    let log = bao.audit_log();
    for k in [&k1, &k2] {
        assert!(
            !log.contains(k.as_str()),
            "a key value in clear in audit.log"
        );
    }
    // Where the hashes are: the create's and stage's request values, and the creds response.
    let entries = audit_entries(&bao);
    let find = |path: &str, kind: &str| -> Vec<&Value> {
        entries
            .iter()
            .filter(|e| e["request"]["path"] == path && e["type"] == kind)
            .collect()
    };
    let create = find("ai-keys/keys/app", "request");
    assert_eq!(create[0]["request"]["data"]["value"], h1.as_str());
    let stage = find("ai-keys/stage/app", "request");
    assert_eq!(stage[0]["request"]["data"]["value"], h2.as_str());
    let creds_entries = find("ai-keys/creds/app", "response");
    let last = creds_entries.last().expect("a creds response entry");
    assert_eq!(last["response"]["data"]["api_key"], h2.as_str(), "{last:#}");
    assert_eq!(last["response"]["data"]["previous_api_key"], h1.as_str());
    let verifies = find("ai-keys/verify/app", "request");
    assert_eq!(verifies.len(), 2, "two verify requests audited");
    assert_eq!(verifies[0]["request"]["data"]["value"], h1.as_str());

    let server = bao.server_log();
    assert!(
        server.contains("version staged") && server.contains("version promoted"),
        "the plugin's lines about these operations reach the server log"
    );
    for k in [&k1, &k2] {
        assert!(!server.contains(k.as_str()), "a key value in server.log");
    }
}
