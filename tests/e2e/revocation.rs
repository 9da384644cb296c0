//! Revocation at the provider of the keys the engine created there (or whose id an operator gave
//! it), against a real OpenBao 2.7.2 and the fake provider: when a grace window ends (on the
//! periodic tick) and at once on rollback and delete; postponed while the provider reports the
//! previous key still in use, up to `max_grace`; a key created by a request whose plugin process
//! was killed, found and revoked by the recovery on the tick; the provider's own expiry as a
//! backstop for a key the engine loses track of; revocations that are never lost (intent
//! recorded with the retirement, pending until confirmed, sent to the creating provider); and
//! only keys the engine owns ever switched off.
//!
//! Most tests wait for the host's periodic tick (every 60 s, not triggerable) with
//! [`TICK_DEADLINE`](crate::providers::TICK_DEADLINE) and run in parallel.

mod crash_recovery;
mod created_keys;
mod never_lost;
mod ownership;
mod provider_expiry;
// Usage-aware revocation: its longest test waits for several ticks (about 150 s). libtest starts
// tests in name order, so here (not last in the order) it runs beside others instead of alone.
mod usage_aware;
