//! A loopback OAuth token endpoint for federated keys' exchanges: answers each `POST
//! /oauth/token` with the status the test sets (200: a fresh access token; 400: an OAuth
//! `invalid_grant` refusal; 429 or 5xx: unavailable), as the providers document.

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::json;

use super::Harness;

/// The fake endpoint; `status` is what the next exchanges get.
pub(crate) struct FakeTokenEndpoint {
    /// `http://127.0.0.1:<port>`.
    pub(crate) url: String,
    status: Arc<AtomicU16>,
    issued: Arc<AtomicU64>,
}

impl FakeTokenEndpoint {
    /// Starts the fake, answering 200.
    pub(crate) async fn start() -> FakeTokenEndpoint {
        let status = Arc::new(AtomicU16::new(200));
        let issued = Arc::new(AtomicU64::new(0));
        let (s, n) = (status.clone(), issued.clone());
        let app = axum::Router::new().route(
            "/oauth/token",
            axum::routing::post(move || {
                let (s, n) = (s.clone(), n.clone());
                async move {
                    let code = StatusCode::from_u16(s.load(Ordering::SeqCst))
                        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    let body = if code.is_success() {
                        let i = n.fetch_add(1, Ordering::SeqCst);
                        json!({"access_token": format!("fake-access-token-{i}"),
                               "token_type": "Bearer", "expires_in": 600})
                    } else if code.is_client_error() && code != StatusCode::TOO_MANY_REQUESTS {
                        json!({"error": "invalid_grant", "error_description": "no rule matches"})
                    } else {
                        json!({"error": "temporarily_unavailable"})
                    };
                    let json = [(axum::http::header::CONTENT_TYPE, "application/json")];
                    (code, json, body.to_string())
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeTokenEndpoint {
            url,
            status,
            issued,
        }
    }

    /// What the next exchanges get.
    pub(crate) fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// The tokens handed out so far: `fake-access-token-0` and on.
    pub(crate) fn issued(&self) -> u64 {
        self.issued.load(Ordering::SeqCst)
    }

    /// Sets the issuer, provider `oa` (openai) at this fake, and federated key `name` on it.
    pub(crate) async fn federated_key(&self, h: &Harness, name: &str) {
        h.write(
            "config",
            json!({"issuer": "https://bao.example.com/v1/ai-keys"}),
        )
        .await
        .unwrap();
        h.write(
            "providers/oa",
            json!({"type": "openai", "base_url": self.url,
                   "token_url": format!("{}/oauth/token", self.url)}),
        )
        .await
        .unwrap();
        h.create(
            &format!("keys/{name}"),
            json!({"federated": true, "provider": "oa", "subject": format!("ai-keys:{name}"),
                   "audience": "https://api.openai.com/v1", "identity_provider_id": "wip_1",
                   "service_account_id": "svc_1"}),
        )
        .await
        .unwrap();
    }
}
