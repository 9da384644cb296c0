//! Shared end-to-end test support: a real OpenBao dev server per test ([`server::Bao`]), a
//! three-node Raft cluster ([`cluster::Cluster`]), a thin HTTP client ([`client::Client`]) and
//! `/proc` process helpers ([`process`]).
//!
//! Brought into the test binary with `#[path = "../support/mod.rs"] mod support;`.

// Each test module uses only part of the support code and its re-exports.
#![allow(dead_code, unused_imports)]

pub mod checks;
pub mod client;
pub mod cluster;
pub mod fake_provider;
pub mod process;
pub mod server;

pub use client::{Client, Reply};
pub use server::{bao_bin, plugin_sha256, plugin_version, poll_until, Bao};
