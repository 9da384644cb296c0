//! A fake OpenRouter on loopback, for the unit tests of provider-created keys.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::{json, Value};

use super::Harness;

/// A fake OpenRouter on loopback for provider-created keys: `POST /api/v1/keys` creates a key
/// (`hash-N`, a fresh value), `GET /api/v1/key` tests one with the status `test_status` holds
/// (200 passes, 401 is `bad_key`), `GET /api/v1/keys/<hash>` finds the keys it created (else its
/// own 404), `DELETE /api/v1/keys/<hash>` deletes it (answering `delete_status`: 200 confirms),
/// and `GET /api/v1/keys?...` lists the keys `listed` holds on its first page (`offset=0`; later
/// pages are empty), or answers `list_status` when it is not 200. Every request line is kept,
/// in order.
pub(crate) struct FakeOpenRouter {
    pub base_url: String,
    /// The key objects (`{name, hash}`) the list's first page shows.
    pub listed: Arc<std::sync::Mutex<Vec<Value>>>,
    /// The status lists answer (200 lists `listed`).
    pub list_status: Arc<std::sync::atomic::AtomicU16>,
    pub test_status: Arc<std::sync::atomic::AtomicU16>,
    /// The status deletions answer (200 confirms; anything else refuses).
    pub delete_status: Arc<std::sync::atomic::AtomicU16>,
    pub requests: Arc<std::sync::Mutex<Vec<String>>>,
    /// The values it created, in order.
    pub created: Arc<std::sync::Mutex<Vec<String>>>,
}

impl FakeOpenRouter {
    /// Starts the fake; keys it is asked to test answer `test_status`.
    pub(crate) async fn start(test_status: u16) -> FakeOpenRouter {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakeOpenRouter {
            base_url: format!("http://{}", listener.local_addr().unwrap()),
            listed: Default::default(),
            list_status: Arc::new(std::sync::atomic::AtomicU16::new(200)),
            test_status: Arc::new(std::sync::atomic::AtomicU16::new(test_status)),
            delete_status: Arc::new(std::sync::atomic::AtomicU16::new(200)),
            requests: Default::default(),
            created: Default::default(),
        };
        let (status, deletes, requests, created) = (
            fake.test_status.clone(),
            fake.delete_status.clone(),
            fake.requests.clone(),
            fake.created.clone(),
        );
        let (listed, list_status) = (fake.listed.clone(), fake.list_status.clone());
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let (status, deletes, requests, created) = (
                    status.clone(),
                    deletes.clone(),
                    requests.clone(),
                    created.clone(),
                );
                let (listed, list_status) = (listed.clone(), list_status.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let mut got = Vec::new();
                    let head_end = loop {
                        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&got[..head_end]).to_string();
                    let length = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    while got.len() < head_end + length {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    let line = head.lines().next().unwrap_or_default().to_string();
                    let mut parts = line.split_whitespace();
                    let (method, path) = (
                        parts.next().unwrap_or_default().to_string(),
                        parts.next().unwrap_or_default().to_string(),
                    );
                    requests.lock().unwrap().push(format!("{method} {path}"));
                    let (code, body) = match (method.as_str(), path.as_str()) {
                        ("POST", "/api/v1/keys") => {
                            let mut made = created.lock().unwrap();
                            let n = made.len() + 1;
                            let value =
                                format!("sk-or-v1-created-{n}-{}", uuid::Uuid::new_v4().simple());
                            made.push(value.clone());
                            (
                                201,
                                json!({ "data": { "hash": format!("hash-{n}") }, "key": value }),
                            )
                        }
                        ("GET", "/api/v1/key") => match status.load(Ordering::SeqCst) {
                            200 => (200, json!({ "data": { "limit_remaining": null } })),
                            code => (
                                code,
                                json!({ "error": { "code": code, "message": "refused" } }),
                            ),
                        },
                        ("GET", p) if p.starts_with("/api/v1/keys?") => {
                            match list_status.load(Ordering::SeqCst) {
                                200 if p.contains("offset=0") => {
                                    (200, json!({ "data": listed.lock().unwrap().clone() }))
                                }
                                200 => (200, json!({ "data": [] })),
                                code => (
                                    code,
                                    json!({ "error": { "code": code, "message": "refused" } }),
                                ),
                            }
                        }
                        ("GET", p) if p.starts_with("/api/v1/keys/hash-") => {
                            let n: usize = p["/api/v1/keys/hash-".len()..].parse().unwrap_or(0);
                            match (1..=created.lock().unwrap().len()).contains(&n) {
                                true => (200, json!({ "data": { "hash": format!("hash-{n}") } })),
                                false => (
                                    404,
                                    json!({ "error": { "code": 404, "message": "not found" } }),
                                ),
                            }
                        }
                        ("DELETE", p) if p.starts_with("/api/v1/keys/") => {
                            match deletes.load(Ordering::SeqCst) {
                                200 => (200, json!({ "deleted": true })),
                                code => (
                                    code,
                                    json!({ "error": { "code": code, "message": "refused" } }),
                                ),
                            }
                        }
                        _ => (
                            404,
                            json!({ "error": { "code": 404, "message": "not found" } }),
                        ),
                    };
                    let body = body.to_string();
                    let reply = format!(
                        "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(reply.as_bytes()).await;
                });
            }
        });
        fake
    }

    /// Configures provider `name` (type `openrouter`, with a management key) at this fake.
    pub(crate) async fn configure(&self, h: &Harness, name: &str) {
        let body = json!({ "type": "openrouter", "base_url": self.base_url, "admin_key": "sk-or-v1-admin-0123456789abcdef" });
        h.create(&format!("providers/{name}"), body)
            .await
            .expect("provider");
    }

    /// The request lines it received (`METHOD /path`).
    pub(crate) fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}
