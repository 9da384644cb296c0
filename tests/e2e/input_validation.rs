//! What the engine does with bad input, against a real OpenBao 2.7.2 and, for providers, the
//! fake provider: the status and message of refused operations and of bad names, values and
//! durations; user errors shown as the handler wrote them and never logged as server errors;
//! durations, times and sizes bounded where they are parsed; misspelt fields that never act;
//! provider updates that keep credentials bound to where they were given and never take away
//! what `auto_rotate` keys need. Hostile input on every operation, and the fuzzers, are in
//! `reliability`.

mod bounds;
mod clean_messages;
mod error_statuses;
mod provider_updates;
mod typos;

use serde_json::{json, Value};

use crate::support::checks::expect_error;
use crate::support::{Bao, Reply};

/// An `openai` provider at `base_url` with project `proj_test` and `admin` as admin key.
fn openai_provider(base_url: &str, admin: &str) -> Value {
    json!({
        "type": "openai",
        "base_url": base_url,
        "project_id": "proj_test",
        "admin_key": admin,
        "timeout": "2s",
    })
}

/// The message of a refused request, asserted to be shown as the handler wrote it: no
/// "1 error occurred" wrapping, one message.
#[track_caller]
fn clean_error(reply: &Reply, status: u16, needles: &[&str], what: &str) -> String {
    expect_error(reply, status, needles, what);
    let errors = reply.body["errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 1, "{what}: one message: {}", reply.text);
    let message = reply.errors();
    assert!(
        !message.contains("error occurred") && !message.contains("\n\t*"),
        "{what}: the message is wrapped: {message:?}"
    );
    message
}

/// The server log has no panic, no failed existence check and no ERROR line from the plugin
/// (a bad input is the caller's problem, never the server's).
fn assert_log_has_no_errors(bao: &Bao) {
    let log = bao.server_log();
    for bad in [
        "panicked",
        "failed to run existence check",
        "internal error",
    ] {
        assert!(
            !log.contains(bad),
            "the server log mentions {bad:?}:\n{}",
            bao.server_log_tail(60)
        );
    }
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("[ERROR]")).collect();
    assert!(
        errors.is_empty(),
        "ERROR lines in the server log: {errors:#?}"
    );
}
