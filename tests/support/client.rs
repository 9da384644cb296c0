//! A thin HTTP client for the OpenBao API: one method per verb, every answer as a [`Reply`]
//! whatever its status, so tests assert on status, body and headers themselves.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use serde_json::Value;

/// Per-request limit. Longer than go-plugin's one-minute plugin start timeout, so a plugin that
/// never completes its handshake surfaces as the server's own error, not as a client timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);

/// Talks to one server (`addr`, e.g. `http://127.0.0.1:PORT`) with one token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    addr: String,
    token: Option<String>,
    headers: HeaderMap,
}

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// The body parsed as JSON; `Value::Null` when empty or not JSON.
    pub body: Value,
    /// The raw body.
    pub text: String,
    pub headers: HeaderMap,
}

/// The shared connection pool: loopback only, no proxy from the environment.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("building the reqwest client")
}

impl Client {
    /// A client for `addr` sending `X-Vault-Token: token` (no token header when `token` is empty).
    pub fn new(addr: &str, token: &str) -> Client {
        Client::with_http(http_client(), addr, token)
    }

    /// Like [`Client::new`], reusing an existing connection pool.
    pub fn with_http(http: reqwest::Client, addr: &str, token: &str) -> Client {
        Client {
            http,
            addr: addr.trim_end_matches('/').to_owned(),
            token: (!token.is_empty()).then(|| token.to_owned()),
            headers: HeaderMap::new(),
        }
    }

    /// A copy that also sends `name: value` on every request (e.g. a passthrough header).
    pub fn with_header(mut self, name: &str, value: &str) -> Client {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("valid header name");
        let value = HeaderValue::from_str(value).expect("valid header value");
        self.headers.insert(name, value);
        self
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// `GET /v1/{path}`.
    pub async fn read(&self, path: &str) -> Reply {
        self.request("GET", path, None).await
    }

    /// `POST /v1/{path}` with a JSON body.
    pub async fn write(&self, path: &str, body: Value) -> Reply {
        self.request("POST", path, Some(body)).await
    }

    /// `LIST /v1/{path}`.
    pub async fn list(&self, path: &str) -> Reply {
        self.request("LIST", path, None).await
    }

    /// `DELETE /v1/{path}`.
    pub async fn delete(&self, path: &str) -> Reply {
        self.request("DELETE", path, None).await
    }

    /// Any method on `/v1/{path}`; panics if the request cannot be sent at all (connection
    /// refused, timeout): use [`Client::try_request`] where that is the expected outcome.
    pub async fn request(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        match self.try_request(method, path, body).await {
            Ok(reply) => reply,
            Err(err) => panic!("{method} {}: request failed: {err}", self.url(path)),
        }
    }

    /// Like [`Client::request`], returning transport errors instead of panicking.
    pub async fn try_request(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Reply, reqwest::Error> {
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .unwrap_or_else(|_| panic!("invalid HTTP method {method:?}"));
        let mut request = self
            .http
            .request(method, self.url(path))
            .headers(self.headers.clone());
        if let Some(token) = &self.token {
            request = request.header("X-Vault-Token", token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Reply {
            status,
            body,
            text,
            headers,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v1/{}", self.addr, path.trim_start_matches('/'))
    }
}

impl Reply {
    /// `body["data"]` (`Value::Null` when absent).
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// The `errors` array joined with `"; "` (empty when there are none).
    pub fn errors(&self) -> String {
        match &self.body["errors"] {
            Value::Array(errors) => errors
                .iter()
                .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join("; "),
            _ => String::new(),
        }
    }

    /// `body["warnings"]` as strings.
    pub fn warnings(&self) -> Vec<String> {
        match &self.body["warnings"] {
            Value::Array(w) => w
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// True for a 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Panics (showing the body) unless the status is `status`; returns `self` for chaining.
    #[track_caller]
    pub fn expect_status(&self, status: u16) -> &Reply {
        assert_eq!(
            self.status, status,
            "expected HTTP {status}, got {}: {}",
            self.status, self.text
        );
        self
    }
}
