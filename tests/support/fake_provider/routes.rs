//! Starting the fake: every route under the providers' real paths (any other path is a plain
//! HTML 404), served on a free loopback port until the [`FakeProvider`] is dropped.

use axum::routing::{delete, get, post};
use axum::Router;

use super::admin::{
    openai_create, openai_delete_key, openai_delete_sa, openai_list, openrouter_create,
    openrouter_delete, openrouter_list,
};
use super::anthropic::anthropic_update;
use super::http::not_found;
use super::key_tests::{azure_models, gemini_models, models, openrouter_key};
use super::lookup::{anthropic_get, openai_get_key, openrouter_get};
use super::{accounts, expiry, federation, FakeProvider, Shared};

impl FakeProvider {
    /// Starts the server on 127.0.0.1 with a free port.
    pub async fn start() -> FakeProvider {
        let state = Shared::default();
        let project = "/v1/organization/projects/{p}";
        let app = Router::new()
            .route("/v1/models", get(models))
            .route("/v1beta/models", get(gemini_models))
            .route("/openai/models", get(azure_models))
            .route("/api/v1/key", get(openrouter_key))
            .route("/api/v1/keys", post(openrouter_create).get(openrouter_list))
            .route(
                "/api/v1/keys/{hash}",
                get(openrouter_get).delete(openrouter_delete),
            )
            .route(
                &format!("{project}/service_accounts"),
                post(openai_create).get(accounts::openai_list_accounts),
            )
            .route(
                &format!("{project}/service_accounts/{{sa}}/api_keys"),
                post(accounts::openai_create_account_key),
            )
            .route(&format!("{project}/api_keys"), get(openai_list))
            .route(
                &format!("{project}/api_keys/{{id}}"),
                get(openai_get_key)
                    .delete(openai_delete_key)
                    .post(expiry::openai_update_key),
            )
            .route(
                &format!("{project}/service_accounts/{{id}}"),
                delete(openai_delete_sa)
                    .get(accounts::openai_get_account)
                    .post(accounts::openai_update_account),
            )
            .route(
                "/v1/organizations/api_keys/{id}",
                get(anthropic_get).post(anthropic_update),
            )
            .route("/oauth/token", post(federation::openai_token))
            .route("/v1/oauth/token", post(federation::anthropic_token))
            .route("/api/v1/oauth/token", post(federation::openrouter_token))
            .fallback(not_found)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeProvider {
            base_url: format!("http://{addr}"),
            state,
            task,
        }
    }
}
