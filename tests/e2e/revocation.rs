//! Revocation at the provider of the keys the engine created there (or whose id an operator gave
//! it), against a real OpenBao 2.7.2 and the fake provider: when a grace window ends (on the
//! periodic tick) and at once on rollback and delete; postponed while the provider reports the
//! previous key still in use, up to `max_grace`; a key created by a request whose plugin process
//! was killed, found and revoked by the recovery on the tick; the provider's own expiry as a
//! backstop for a key the engine loses track of; revocations that are never lost (intent
//! recorded with the retirement, pending until confirmed, sent to the creating provider); sent
//! only where the key lives, its origin, never confirmed from elsewhere; only keys the engine
//! owns ever switched off; `reconcile` after a restore revoking a key the engine made that no
//! record claims; and the leak response (`exposed`), which revokes or rotates away the versions
//! a leaked value belongs to.
//!
//! The tests run the host's periodic work themselves through the plugin's tick hook
//! ([`tick_until`](crate::providers::tick_until)) and poll for its outcome. Two deliberately wait
//! for the host's own tick (every 60 s) with [`TICK_DEADLINE`](crate::providers::TICK_DEADLINE),
//! so that the real path stays covered: `created_keys::tick_revokes_keys_at_the_provider_when_grace_ends`
//! (grace ends) and `never_lost::a_failed_revocation_stays_pending_until_the_provider_confirms`
//! (a revocation retried by the recovery, with its production minimum age of 30 s).

mod crash_recovery;
mod created_keys;
mod exposed;
mod exposed_crash;
mod lifetime_policy;
mod manual;
mod never_lost;
mod origin;
mod ownership;
mod provider_expiry;
mod reconcile;
// Usage-aware revocation: its longest test waits for grace windows to pass (about 80 s). libtest
// starts tests in name order, so here (not last in the order) it runs beside others instead of
// alone.
mod usage_aware;
