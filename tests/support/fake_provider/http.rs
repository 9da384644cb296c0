//! Request and response plumbing shared by every endpoint: counting requests, stalls and modes,
//! reading headers and queries, random ids, masked keys, JSON answers, and the 404 fallback.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use rand::Rng;
use serde_json::{json, Value};

use super::{Mode, Shared};

pub(super) fn record(state: &Shared, uri: &Uri) {
    let mut s = state.lock().unwrap();
    *s.hits.entry(uri.path().to_string()).or_default() += 1;
    s.uris.push(uri.to_string());
}

/// Counts a request that would change key `id` (delete, deactivate), before any check.
pub(super) fn note_mutation(state: &Shared, id: &str) {
    *state
        .lock()
        .unwrap()
        .mutations
        .entry(id.to_string())
        .or_default() += 1;
}

/// Waits while `stall_after_create` is set (bounded to 60 s).
pub(super) async fn stall_after_create(state: &Shared) {
    let started = Instant::now();
    while state.lock().unwrap().stall_after_create && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Counts the request, waits out a stall, and returns the mode in force.
pub(super) async fn enter(state: &Shared, uri: &Uri, admin: bool) -> Mode {
    record(state, uri);
    let started = Instant::now();
    loop {
        let mode = {
            let s = state.lock().unwrap();
            if admin { s.admin_mode } else { s.mode }.unwrap_or(Mode::Normal)
        };
        if mode != Mode::Stall || started.elapsed() > Duration::from_secs(60) {
            return mode;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(super) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    header(headers, "authorization").and_then(|v| v.strip_prefix("Bearer "))
}

pub(super) fn query<'a>(uri: &'a Uri, name: &str) -> Option<&'a str> {
    uri.query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

fn random(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

pub(super) fn hex(len: usize) -> String {
    random(b"0123456789abcdef", len)
}

pub(super) fn base62(len: usize) -> String {
    random(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        len,
    )
}

/// `sk-ab...wxyz`, the way providers show a key back.
pub(super) fn masked(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("{}...{tail}", chars.iter().take(5).collect::<String>())
}

/// Anthropic's `partial_key_hint`: `sk-ant-api03-R2D...igAA`, the first 16 and last 4
/// characters.
pub(super) fn anthropic_hint(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("{}...{tail}", chars.iter().take(16).collect::<String>())
}

/// One page of an OpenAI list (`first_id`, `last_id`, `has_more`): `page` of the items after
/// the cursor, and whether more follow.
pub(super) fn openai_page(page: Vec<Value>, more: bool) -> Response {
    let (first, last) = (
        page.first().map(|a| a["id"].clone()),
        page.last().map(|a| a["id"].clone()),
    );
    respond(
        200,
        &[],
        json!({"object": "list", "data": page, "first_id": first, "last_id": last, "has_more": more}),
    )
}

pub(super) fn respond(status: u16, headers: &[(&str, String)], body: Value) -> Response {
    let mut b = Response::builder().status(StatusCode::from_u16(status).unwrap());
    b = b.header("content-type", "application/json");
    for (name, value) in headers {
        b = b.header(*name, value.as_str());
    }
    b.body(body.to_string().into()).unwrap()
}

pub(super) fn body_json(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

/// Any other path: counted, answered like a web server that does not know it.
pub(super) async fn not_found(State(s): State<Shared>, uri: Uri) -> Response {
    record(&s, &uri);
    let page = "<html><body><h1>404 Not Found</h1></body></html>";
    let mut r = Response::new(page.into());
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}
