//! The pure reading of OpenAI's service-account answers.

use reqwest::header::HeaderMap;

use super::super::http::Reply;
use super::*;

fn reply(status: u16, body: Value) -> Exchange {
    Ok(Reply {
        status,
        headers: HeaderMap::new(),
        body: body.to_string().into_bytes(),
    })
}

#[test]
fn account_and_key_answers() {
    let made = reply(
        200,
        json!({"id": "svc_acct_1", "name": "vault-ai-keys-x", "role": "none", "api_key": null}),
    );
    let (account, stray) = interpret_account(made).unwrap();
    assert_eq!(account.id, "svc_acct_1");
    assert_eq!(account.role.as_deref(), Some("none"));
    assert!(
        !account.keys_can_call_api(),
        "role none: its keys cannot call the API"
    );
    assert_eq!(stray, None);
    let with_key = reply(
        200,
        json!({"id": "svc_acct_1", "role": "member", "api_key": {"id": "key_9"}}),
    );
    let (account, stray) = interpret_account(with_key).unwrap();
    assert!(account.keys_can_call_api());
    assert_eq!(stray.as_deref(), Some("key_9"));
    assert!(matches!(
        interpret_account(reply(200, json!({"id": "../x"}))),
        Err(ProviderError::Protocol(_))
    ));

    let key = reply(
        200,
        json!({"id": "key_1", "value": "sk-svcacct-abcdef123456", "expires_at": 1800000000}),
    );
    let key = interpret_key(key).unwrap();
    assert_eq!(key.provider_key_id, "key_1");
    assert_eq!(key.expires_at.map(|t| t.timestamp()), Some(1800000000));
    let gone = reply(
        404,
        json!({"error": {"message": "No such service account", "type": "invalid_request_error"}}),
    );
    assert!(matches!(
        interpret_key(gone),
        Err(ProviderError::Rejected { status: 404, .. })
    ));
}

#[test]
fn account_reads_and_role_updates() {
    let member = reply(200, json!({"id": "svc_acct_1", "role": "member"}));
    assert!(interpret_state(member).unwrap().keys_can_call_api());
    let no_role = reply(200, json!({"id": "svc_acct_1"}));
    assert!(!interpret_state(no_role).unwrap().keys_can_call_api());
    let gone = reply(404, json!({"error": {"type": "invalid_request_error"}}));
    assert_eq!(interpret_get(gone).unwrap(), None);
    let refused = reply(
        403,
        json!({"error": {"type": "invalid_request_error", "code": "insufficient_permissions"}}),
    );
    assert!(matches!(
        interpret_state(refused),
        Err(ProviderError::Rejected { status: 403, .. })
    ));
}
