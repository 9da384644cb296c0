use serde_json::json;

use crate::backend::testing::Harness;
use crate::framework::Error;

#[tokio::test]
async fn defaults_are_returned_before_any_write() {
    let h = Harness::new().await;
    let c = h.read("config").await;
    assert_eq!(c["default_schedule"], "production");
    assert_eq!(c["require_separate_approver"], false);
    assert_eq!(c["history_limit"], 1000);
}

#[tokio::test]
async fn cli_strings_are_coerced_and_stored() {
    let h = Harness::new().await;
    h.write(
        "config",
        json!({"default_schedule": "staging", "require_separate_approver": "true", "history_limit": "25"}),
    )
    .await
    .unwrap();
    let c = h.read("config").await;
    assert_eq!(c["default_schedule"], "staging");
    assert_eq!(c["require_separate_approver"], true);
    assert_eq!(c["history_limit"], 25);
    // a partial update keeps the other fields
    h.write("config", json!({"history_limit": 7}))
        .await
        .unwrap();
    let c = h.read("config").await;
    assert_eq!(c["default_schedule"], "staging");
    assert_eq!(c["history_limit"], 7);
}

#[tokio::test]
async fn bad_values_are_400_naming_the_field_and_change_nothing() {
    let h = Harness::new().await;
    h.write("config", json!({"default_schedule": "staging"}))
        .await
        .unwrap();
    let before = h.snapshot().await;
    for (body, field) in [
        (json!({"history_limit": "many"}), "history_limit"),
        (json!({"history_limit": 0}), "history_limit"),
        (json!({"history_limit": -3}), "history_limit"),
        (
            json!({"require_separate_approver": "perhaps"}),
            "require_separate_approver",
        ),
        (
            json!({"default_schedule": "-bad name-"}),
            "default_schedule",
        ),
        (
            json!({"default_schedule": "ok", "history_limit": "x"}),
            "history_limit",
        ),
    ] {
        match h.write("config", body.clone()).await {
            Err(Error::BadRequest(msg)) => assert!(msg.contains(field), "{body}: {msg}"),
            other => panic!("{body}: expected 400, got {other:?}"),
        }
    }
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn unknown_fields_are_a_warning() {
    let h = Harness::new().await;
    let resp = h
        .call(
            crate::framework::Operation::Update,
            "config",
            json!({"colour": "blue"}),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(
        resp.warnings.iter().any(|w| w.contains("colour")),
        "{:?}",
        resp.warnings
    );
}

#[tokio::test]
async fn default_schedule_must_exist() {
    let h = Harness::new().await;
    let before = h.snapshot().await;
    match h
        .write("config", json!({"default_schedule": "nightly"}))
        .await
    {
        Err(Error::BadRequest(msg)) => {
            assert!(
                msg.contains("default_schedule") && msg.contains("nightly"),
                "{msg}"
            )
        }
        other => panic!("expected 400, got {other:?}"),
    }
    assert_eq!(h.snapshot().await, before);
}

/// `config` written as `actor`: the response (data and warnings), or the error.
async fn write_config_as(
    h: &Harness,
    actor: &str,
    data: serde_json::Value,
) -> Result<crate::framework::Response, Error> {
    h.call_as(actor, crate::framework::Operation::Update, "config", data)
        .await
        .map(|r| r.expect("config answers"))
}

#[tokio::test]
async fn switching_the_two_person_rule_off_takes_a_second_entity() {
    let h = Harness::new().await;
    write_config_as(&h, "alice", json!({"require_separate_approver": true}))
        .await
        .unwrap();

    // Alice asks: the rule stays on, and the answer says what is needed.
    let asked = write_config_as(&h, "alice", json!({"require_separate_approver": false}))
        .await
        .unwrap();
    assert!(
        asked.warnings.iter().any(|w| w.contains("second entity")),
        "{:?}",
        asked.warnings
    );
    let c = h.read("config").await;
    assert_eq!(c["require_separate_approver"], true);
    assert_eq!(
        c["require_separate_approver_off_request"]["requested_by"],
        "entity:alice"
    );

    // Alice again cannot confirm her own request.
    match write_config_as(&h, "alice", json!({"require_separate_approver": false})).await {
        Err(Error::PermissionDenied(msg)) => assert!(msg.contains("different entity"), "{msg}"),
        other => panic!("expected a 403, got {other:?}"),
    }
    assert_eq!(h.read("config").await["require_separate_approver"], true);

    // Bob confirms: the rule is off and the request gone.
    write_config_as(&h, "bob", json!({"require_separate_approver": false}))
        .await
        .unwrap();
    let c = h.read("config").await;
    assert_eq!(c["require_separate_approver"], false);
    assert!(
        c.get("require_separate_approver_off_request").is_none(),
        "{c}"
    );
}

#[tokio::test]
async fn a_token_without_an_entity_cannot_switch_the_rule_off() {
    let h = Harness::new().await;
    write_config_as(&h, "alice", json!({"require_separate_approver": true}))
        .await
        .unwrap();
    let before = h.snapshot().await;
    match write_config_as(&h, "", json!({"require_separate_approver": false})).await {
        Err(Error::PermissionDenied(msg)) => assert!(msg.contains("identity entity"), "{msg}"),
        other => panic!("expected a 403, got {other:?}"),
    }
    assert!(
        h.snapshot().await == before,
        "a refused write changed storage"
    );
}

#[tokio::test]
async fn switching_the_rule_on_again_drops_a_pending_request_to_switch_it_off() {
    let h = Harness::new().await;
    write_config_as(&h, "alice", json!({"require_separate_approver": true}))
        .await
        .unwrap();
    write_config_as(&h, "alice", json!({"require_separate_approver": false}))
        .await
        .unwrap();
    write_config_as(&h, "carol", json!({"require_separate_approver": true}))
        .await
        .unwrap();
    // Bob's write is a new request, not a confirmation of Alice's dropped one.
    write_config_as(&h, "bob", json!({"require_separate_approver": false}))
        .await
        .unwrap();
    let c = h.read("config").await;
    assert_eq!(c["require_separate_approver"], true);
    assert_eq!(
        c["require_separate_approver_off_request"]["requested_by"],
        "entity:bob"
    );
}

#[test]
fn a_request_to_switch_the_rule_off_lapses_after_an_hour() {
    let now = chrono::Utc::now();
    let r = crate::backend::policy::RuleOffRequest {
        requested_by: "entity:alice".into(),
        requested_time: now,
    };
    assert!(r.is_open_at(now + chrono::TimeDelta::minutes(59)));
    assert!(!r.is_open_at(now + chrono::TimeDelta::minutes(60)));
}

/// A mount whose issuer signs for federated key `app` (OpenAI).
async fn with_federated_key() -> Harness {
    let h = Harness::new().await;
    h.write(
        "config",
        json!({"issuer": "https://bao.example.com/v1/ai-keys"}),
    )
    .await
    .unwrap();
    h.write(
        "providers/oa",
        json!({"type": "openai", "base_url": "http://127.0.0.1:9"}),
    )
    .await
    .unwrap();
    h.create(
        "keys/app",
        json!({
            "federated": true, "provider": "oa", "subject": "ai-keys:app",
            "audience": "https://api.openai.com/v1", "identity_provider_id": "wip_1",
            "service_account_id": "svc_1",
        }),
    )
    .await
    .unwrap();
    h
}

#[tokio::test]
async fn the_issuer_cannot_be_cleared_while_federated_keys_use_it() {
    let h = with_federated_key().await;
    let before = h.snapshot().await;
    // An unset shell variable (`issuer="$ISSUER"`) would stop every federated key at once.
    let err = h
        .write("config", json!({"issuer": "", "history_limit": 5}))
        .await
        .unwrap_err();
    match err {
        Error::BadRequest(m) => {
            assert!(m.contains("issuer") && m.contains("\"app\""), "{m}");
        }
        other => panic!("expected a 400, got {other:?}"),
    }
    assert_eq!(h.snapshot().await, before, "a refusal changes nothing");
    // Once no federated key is left, it can be cleared.
    h.call(
        crate::framework::Operation::Delete,
        "keys/app",
        serde_json::Value::Null,
    )
    .await
    .unwrap();
    let c = h.write("config", json!({"issuer": ""})).await.unwrap();
    assert_eq!(c["issuer"], "");
}

#[tokio::test]
async fn moving_the_issuer_warns_of_the_federated_keys_whose_trust_must_follow() {
    let h = with_federated_key().await;
    let reply = h
        .call(
            crate::framework::Operation::Update,
            "config",
            json!({"issuer": "https://vault.example.org/v1/ai-keys"}),
        )
        .await
        .unwrap()
        .expect("an answer");
    assert!(
        reply
            .warnings
            .iter()
            .any(|w| w.contains("\"app\"") && w.contains("issuer")),
        "{:?}",
        reply.warnings
    );
    assert_eq!(
        h.read("config").await["issuer"],
        "https://vault.example.org/v1/ai-keys"
    );
    // The same issuer again warns of nothing.
    let again = h
        .call(
            crate::framework::Operation::Update,
            "config",
            json!({"issuer": "https://vault.example.org/v1/ai-keys"}),
        )
        .await
        .unwrap()
        .expect("an answer");
    assert!(again.warnings.is_empty(), "{:?}", again.warnings);
}
