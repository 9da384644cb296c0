//! End-to-end tests: every test starts its own real OpenBao 2.7.2 dev server on a free loopback
//! port (see `support::server`), with the plugin built by cargo, copied, registered by sha256
//! and version, and mounted at `ai-keys/`.
//!
//! One binary with many modules keeps link time down. Run with `scripts/test.sh`, or
//! `cargo test --test e2e` once `BAO_BIN` (or `.tools/venv`) provides `bao`.

#[path = "../support/mod.rs"]
mod support;

mod audit;
mod automatic_rotation;
mod cache;
mod cluster;
mod config;
mod creds_clients;
mod cutover;
mod decommission;
mod harness;
mod input_validation;
mod key_records;
mod metrics;
mod plugin_host;
mod providers;
mod reliability;
mod reports;
mod revocation;
mod roles;
mod rotation;
mod upgrade;
