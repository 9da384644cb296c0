//! OpenAI's Admin API references against the fake: "Create project service account",
//! "Retrieve", "Update" and "List project service accounts", "Create service account API key",
//! "List", "Retrieve" and "Delete project API key", and `GET /v1/models` with a key whose account
//! has no role.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{answer, has, openai_error, Api};

/// "Create project service account": the example `{"name": "Production App"}` gets the account
/// with role `member` and its first key; `create_service_account_only` gets role `none` and
/// `api_key: null`, and cannot carry `expires_in_seconds`.
#[tokio::test]
async fn openai_create_service_account_examples() {
    let (_fake, api) = Api::start().await;
    let (status, made) = api
        .openai(
            Method::POST,
            "/service_accounts",
            Some(json!({"name": "Production App"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{made:#}");
    assert_eq!(made["object"], "organization.project.service_account");
    assert_eq!(made["name"], "Production App");
    assert_eq!(made["role"], "member");
    has(&made, "id", "string");
    has(&made, "created_at", "integer");
    let key = &made["api_key"];
    assert_eq!(
        key["object"],
        "organization.project.service_account.api_key"
    );
    for (field, kind) in [
        ("value", "string"),
        ("name", "string"),
        ("created_at", "integer"),
        ("id", "string"),
        ("expires_at", "integer|null"),
    ] {
        has(key, field, kind);
    }

    let body = json!({"name": "Identity only", "create_service_account_only": true});
    let (status, only) = api
        .openai(Method::POST, "/service_accounts", Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{only:#}");
    assert_eq!(only["role"], "none", "{only:#}");
    has(&only, "api_key", "null");

    let body =
        json!({"name": "x", "create_service_account_only": true, "expires_in_seconds": 3600});
    let (status, refused) = api
        .openai(Method::POST, "/service_accounts", Some(body))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    openai_error(&refused, "invalid_request_error");
    assert_eq!(refused["error"]["param"], "expires_in_seconds");

    let body = json!({"name": "x", "expires_in_seconds": 31_536_001});
    let (status, refused) = api
        .openai(Method::POST, "/service_accounts", Some(body))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "above 31,536,000");
    openai_error(&refused, "invalid_request_error");
}

/// "Retrieve", "Update" (`{"role": "member"}`; only `member` and `owner` may be set) and "List
/// project service accounts" (`limit` 1 to 100, default 20; `first_id`, `last_id`,
/// `has_more`); "Create service account API key" (`{id, created_at, name, object, value,
/// expires_at}`).
#[tokio::test]
async fn openai_service_account_examples() {
    let (_fake, api) = Api::start().await;
    let body = json!({"name": "svc", "create_service_account_only": true});
    let (_, made) = api
        .openai(Method::POST, "/service_accounts", Some(body))
        .await;
    let sa = made["id"].as_str().unwrap().to_string();

    let (status, got) = api
        .openai(Method::GET, &format!("/service_accounts/{sa}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["object"], "organization.project.service_account");
    assert_eq!(got["role"], "none");
    for (field, kind) in [
        ("id", "string"),
        ("name", "string"),
        ("created_at", "integer"),
    ] {
        has(&got, field, kind);
    }
    let (status, updated) = api
        .openai(
            Method::POST,
            &format!("/service_accounts/{sa}"),
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated:#}");
    assert_eq!(updated["role"], "member");
    let (status, refused) = api
        .openai(
            Method::POST,
            &format!("/service_accounts/{sa}"),
            Some(json!({"role": "none"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "none cannot be set");
    openai_error(&refused, "invalid_request_error");
    let (status, missing) = api
        .openai(Method::GET, "/service_accounts/svc_acct_unknown", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    openai_error(&missing, "invalid_request_error");

    let (status, key) = api
        .openai(
            Method::POST,
            &format!("/service_accounts/{sa}/api_keys"),
            Some(json!({"name": "rotated", "expires_in_seconds": 3600})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{key:#}");
    assert_eq!(
        key["object"],
        "organization.project.service_account.api_key"
    );
    for (field, kind) in [
        ("id", "string"),
        ("created_at", "integer"),
        ("name", "string"),
        ("value", "string"),
        ("expires_at", "integer"),
    ] {
        has(&key, field, kind);
    }

    for n in 0..21 {
        let body = json!({"name": format!("svc-{n}"), "create_service_account_only": true});
        api.openai(Method::POST, "/service_accounts", Some(body))
            .await;
    }
    let (status, page) = api.openai(Method::GET, "/service_accounts", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["object"], "list");
    assert_eq!(
        page["data"].as_array().unwrap().len(),
        20,
        "default limit 20"
    );
    assert_eq!(page["has_more"], true);
    has(&page, "first_id", "string");
    let last = page["last_id"].as_str().unwrap();
    let (_, next) = api
        .openai(
            Method::GET,
            &format!("/service_accounts?after={last}&limit=100"),
            None,
        )
        .await;
    assert_eq!(
        next["data"].as_array().unwrap().len(),
        2,
        "22 accounts in all"
    );
    assert_eq!(next["has_more"], false);
    for limit in ["0", "101"] {
        let (status, refused) = api
            .openai(
                Method::GET,
                &format!("/service_accounts?limit={limit}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "limit={limit}");
        openai_error(&refused, "invalid_request_error");
    }
}

/// "List project API keys" (the example `?after=key_abc&limit=20`, and `owner_project_access`),
/// "Retrieve project API key" and "Delete project API key" with their documented fields.
#[tokio::test]
async fn openai_project_api_key_examples() {
    let (_fake, api) = Api::start().await;
    let (_, made) = api
        .openai(
            Method::POST,
            "/service_accounts",
            Some(json!({"name": "Production App"})),
        )
        .await;
    let id = made["api_key"]["id"].as_str().unwrap().to_string();

    let (status, page) = api
        .openai(Method::GET, "/api_keys?after=key_abc&limit=20", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["object"], "list");
    has(&page, "has_more", "boolean");
    let (_, page) = api
        .openai(Method::GET, "/api_keys?owner_project_access=any", None)
        .await;
    let key = &page["data"][0];
    assert_eq!(key["id"], id.as_str(), "{page:#}");
    let (status, got) = api
        .openai(Method::GET, &format!("/api_keys/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    for v in [key, &got] {
        assert_eq!(v["object"], "organization.project.api_key");
        for (field, kind) in [
            ("id", "string"),
            ("name", "string"),
            ("redacted_value", "string"),
            ("created_at", "integer"),
            ("last_used_at", "integer|null"),
            ("expires_at", "integer|null"),
            ("owner_project_access", "string"),
            ("owner", "object"),
        ] {
            has(v, field, kind);
        }
        assert_eq!(v["owner"]["type"], "service_account");
        let sa = &v["owner"]["service_account"];
        assert_eq!(sa["id"], made["id"]);
        assert_eq!(sa["name"], "Production App");
        assert_eq!(sa["role"], "member");
    }

    let (status, deleted) = api
        .openai(Method::DELETE, &format!("/api_keys/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        deleted,
        json!({"object": "organization.project.api_key.deleted", "id": id, "deleted": true})
    );
    let (status, gone) = api
        .openai(Method::GET, &format!("/api_keys/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    openai_error(&gone, "invalid_request_error");
}

/// `GET /v1/models` with a key of an account made with `create_service_account_only`: 401 with
/// OpenAI's "insufficient permissions" message until the account is given a role.
#[tokio::test]
async fn openai_keys_of_a_roleless_account_cannot_call_the_api() {
    let (_fake, api) = Api::start().await;
    let body = json!({"name": "svc", "create_service_account_only": true});
    let (_, made) = api
        .openai(Method::POST, "/service_accounts", Some(body))
        .await;
    let sa = made["id"].as_str().unwrap().to_string();
    let (_, key) = api
        .openai(
            Method::POST,
            &format!("/service_accounts/{sa}/api_keys"),
            Some(json!({})),
        )
        .await;
    let value = key["value"].as_str().unwrap().to_string();
    let models = || {
        let url = format!("{}/v1/models", api.base);
        answer(api.http.get(url).bearer_auth(&value))
    };
    let (status, refused) = models().await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    openai_error(&refused, "invalid_request_error");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("You have insufficient permissions for this operation."),
        "{message}"
    );
    api.openai(
        Method::POST,
        &format!("/service_accounts/{sa}"),
        Some(json!({"role": "member"})),
    )
    .await;
    let (status, list) = models().await;
    assert_eq!(status, StatusCode::OK, "{list:#}");
    assert_eq!(list["object"], "list");
}
