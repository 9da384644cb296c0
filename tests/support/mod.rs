//! Shared end-to-end test support: a real OpenBao dev server per test ([`server::Bao`]), a
//! three-node Raft cluster ([`cluster::Cluster`]), a thin HTTP client ([`client::Client`]), the
//! plugin's tick hook ([`tick`]), seeded random choices ([`seed`]) and `/proc` process helpers
//! ([`process`]).
//!
//! Brought into each test binary that needs it: the end-to-end one with
//! `#[path = "../support/mod.rs"] mod support;`, the providers one (which uses only
//! [`fake_provider`]) with `#[path = "support/mod.rs"] mod support;`.

// Each test module uses only part of the support code and its re-exports, and the providers
// binary uses only `fake_provider`.
#![allow(dead_code, unused_imports)]

pub mod builds;
pub mod checks;
pub mod client;
pub mod cluster;
pub mod fake_provider;
pub mod process;
pub mod raw;
pub mod seed;
pub mod server;
pub mod tick;

pub use client::{Client, Reply};
pub use server::{bao_bin, plugin_sha256, plugin_version, poll_until, Bao};
pub use tick::Tick;
