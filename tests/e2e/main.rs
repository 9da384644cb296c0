//! End-to-end tests: every test starts its own real OpenBao 2.7.2 dev server on a free loopback
//! port (see `support::server`), with the plugin built by cargo, copied, registered by sha256
//! and version, and mounted at `ai-keys/`.
//!
//! # Where each behaviour is tested
//!
//! | API area or behaviour | Module |
//! |---|---|
//! | `config` | `config`; through a reload and a crash: `plugin_host::lifetime` |
//! | `schedules/`, cron `rotation_schedule` | `automatic_rotation::cron` |
//! | `rotation_period`, `auto_rotate`: the tick's rotations | `automatic_rotation::due_keys` |
//! | the tick under stalls, bad records, failures | `automatic_rotation::never_stops` |
//! | `providers/` | `providers`; refused updates: `input_validation::provider_updates` |
//! | key tests per provider type, gating rotations | `providers::outcomes` |
//! | `keys/` create and read | `rotation::walkthrough` |
//! | `keys/` stored record, migration, broken records | `key_records`; the record cache: `cache` |
//! | `keys/` delete | `revocation::created_keys` |
//! | `keys/` and `stage/` `provider_key_id`, possession proofs, what revocation may delete | `revocation::ownership` |
//! | `manual` revocations, `acknowledge/` | `revocation::manual`; its alert's runbook: `metrics::runbooks` |
//! | `exposed` (leak response), the `responder` role | `revocation::exposed`; its alert's runbook: `metrics::runbooks`; the role: `roles` |
//! | `creds/` | `rotation::walkthrough`; applications reading it: `creds_clients` |
//! | `stage/`, `test/`, `promote/` | `rotation::walkthrough`, `rotation::concurrency` |
//! | two-person rule | `rotation::two_person`, `rotation::two_person_tokens`, `rotation::two_person_approval` |
//! | `rollback/` | `rotation::rollback`; revocation at once: `revocation::created_keys` |
//! | `rotate/` (and the emergency rotation) | `rotation::rotate` |
//! | `verify/` | `rotation::walkthrough`, `rotation::rotate` |
//! | `finalize/`, `extend/`, short grace warnings | `cutover` |
//! | `max_grace`, grace postponed while a key is in use | `revocation::usage_aware` |
//! | `history/` | `reports::overdue_and_history`; paging: `key_records` |
//! | `overdue` | `reports::overdue_and_history` |
//! | `metrics` | `metrics::text_format`, `metrics::json_and_promtool` |
//! | alert rules (deploy/prometheus) | `metrics::alerting` |
//! | alert runbooks: every command as its role, two-person rule off and on | `metrics::runbooks` |
//! | `report` | `reports::compliance` |
//! | `notifications/`: signed CloudEvents, outbox through outages and kills; failover; incidents (leaks, health checks, manual revocations) | `notifications::delivery`, `notifications::failover`, `notifications::incidents` |
//! | revocation at the provider: grace end, recovery, expiry | `revocation` |
//! | where a key lives (`origin`), revocations only there; what keeps a provider from deletion | `revocation::origin`, `decommission` |
//! | bad input: statuses, messages, bounds, typos | `input_validation` |
//! | hostile input on every operation | `reliability::hostile` |
//! | fuzzing | `reliability::schema_fuzz`, `reliability::fuzz_corpora` |
//! | plugin registration (also declared), lifetime, reload, logging | `plugin_host` |
//! | `path-help` and the OpenAPI document | `plugin_host::help` |
//! | audit log: values only hashed, never leaked | `audit` |
//! | ACL roles (`policies/`): headers, grants on a server, the docs' tables | `roles` |
//! | crash, restart, failover, load, provider faults | `reliability` (long runs: scripts/soak.sh) |
//! | clusters: standbys, forwarding, failover | `cluster::failover`; the cache on a standby: `cache` |
//! | clusters: metrics per node, upgrade and rollback, snapshot restore | `cluster::{metrics, upgrade, restore}` |
//! | upgrade and rollback of the plugin | `upgrade` |
//! | Vault Agent, hvac, riding out a Vault outage | `creds_clients` |
//! | decommissioning a mount (docs/operating.md) | `decommission` |
//! | federated keys: the mount's OIDC issuer, `creds/` by token exchange, `bao agent`, a standby | `keyless` |
//! | the test harness itself | `harness` |
//!
//! Outside this binary: tests/providers.rs (the provider clients against the fake provider, no
//! server) and tests/hand_run.rs (the plugin binary run by hand).
//!
//! One binary with many modules keeps link time down. Run with `scripts/test.sh`, or
//! `cargo test --features test-hooks --test e2e` once `BAO_BIN` (or `.tools/venv`) provides
//! `bao`: tests run the host's periodic work through the plugin's tick hook (`support::tick`),
//! which only builds with that feature have. libtest starts tests in name order, so a module
//! whose tests wait minutes (for the host's own tick, or for grace windows) should not sort
//! last: there its tests would run alone at the end instead of beside the others.

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
mod keyless;
mod metrics;
mod notifications;
mod plugin_host;
mod providers;
mod reliability;
mod reports;
mod revocation;
mod roles;
mod rotation;
mod upgrade;
