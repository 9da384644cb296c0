//! Trust review: inputs (see ../trust.rs). Provider credentials bound to where they were given
//! (item 1), typos that never act (3b), provider updates that keep what keys need (5), bounded
//! durations and times (7) and sizes (12), and user errors that come back clean and are never
//! logged as server errors.

mod bounds;
mod errors;
mod providers;
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
