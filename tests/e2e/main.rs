//! End-to-end tests: every test starts its own real OpenBao 2.7.2 dev server on a free loopback
//! port (see `support::server`), with the plugin built by cargo, copied, registered by sha256
//! and version, and mounted at `ai-keys/`.
//!
//! One binary with many modules keeps link time down. Run with `scripts/test.sh`, or
//! `cargo test --test e2e` once `BAO_BIN` (or `.tools/venv`) provides `bao`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap or expect is a failed test"
)]
#![allow(
    unreachable_pub,
    reason = "test code: shared modules (tests/support, fuzz/targets.rs) are pub for each includer"
)]

#[path = "../support/mod.rs"]
mod support;

mod agent;
mod applications;
mod cache;
mod cluster;
mod cron;
mod cutover;
mod declarative;
mod foundation;
mod governance;
mod harness;
mod lifecycle;
mod operations;
mod providers;
mod reliability;
mod trust;
mod upgrade;
