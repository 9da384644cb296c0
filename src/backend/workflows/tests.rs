//! Workflow mechanics through the engine: per-key locks under concurrent writers, and when
//! provider revocations happen relative to the writes that retire keys.

mod concurrency;
mod origin;
mod revocation_timing;
