//! # vault-plugin-secrets-ai-keys
//!
//! A secrets engine for OpenBao and HashiCorp Vault that keeps AI provider API keys safe through
//! their whole life: two live versions during a cut-over, rotation schedules and grace windows,
//! and rotations that stage a new key, test it against the provider and promote it.
//!
//! ## Layers, bottom up
//! - [`proto`]: generated code for our own `.proto` files (the host's wire format).
//! - [`plugin`]: the go-plugin transport. Checks the launch environment, generates a fresh
//!   certificate, serves gRPC over mutual TLS on a Unix socket (both directions pinned to the
//!   host's certificate), prints the handshake line, runs the broker, and exits when told to or
//!   when the host is gone. Knows nothing of paths.
//! - [`host`]: the `pb.Backend` service. Setup dials the host's broker listener for Storage and
//!   SystemView; requests are translated to and from the framework.
//! - [`framework`]: transport-free routing in the style of Vault's `sdk/framework`: paths, typed
//!   fields, operations, existence checks, help and OpenAPI, a Storage trait with an in-memory
//!   implementation, and a write-ahead log for crash safety.
//! - [`engine`]: the contract between the host glue and a secrets engine (the engine trait, the
//!   host's system information and the standby flag), so neither imports the other.
//! - [`secret`] and [`key_test`]: the secret value type and a key test's result, shared by the
//!   state machine and the providers without either importing the other.
//! - [`rotation`]: the version state machine, pure and exhaustively tested.
//! - [`providers`]: one file per AI provider behind a registry: key tests, create, revoke.
//! - [`backend`]: the engine itself, one file per path family.
//! - [`logging`]: tracing events as hclog JSON lines on stderr.
//!
//! ## Launch sequence
//! `main` checks the magic cookie and protocol version (exiting fast on the host's database-plugin
//! probes), starts logging, then [`plugin::serve`] runs until Shutdown, SIGTERM, parent death, or
//! no connection within 60 s.

// No unsafe code: Cargo.toml's [lints] forbid it (no `#[allow]` can lift that). The two glibc
// allocator calls `framework::memory` needs (mallopt and malloc_trim, which no maintained crate
// wraps safely) are in our own crate, crates/glibc-malloc, behind a safe interface.

pub mod backend;
pub mod engine;
pub mod framework;
pub mod host;
pub mod key_test;
pub mod logging;
pub mod plugin;
pub mod proto;
pub mod providers;
pub mod rotation;
pub mod secret;

/// The plugin version, reported as `v` + this everywhere (the host's plugin version RPC, the
/// OpenAPI `info.version`, the backend's running version, `--version`, the startup log line).
///
/// It is the crate version unless `AI_KEYS_VERSION` is set at compile time (without the leading
/// `v`, e.g. `AI_KEYS_VERSION=0.2.0`): that builds a second binary reporting another version, for
/// upgrade and rollback rehearsals.
pub const VERSION: &str = match option_env!("AI_KEYS_VERSION") {
    Some(v) => v,
    None => env!("CARGO_PKG_VERSION"),
};
