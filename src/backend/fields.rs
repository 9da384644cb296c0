//! Field bounds that several path families declare alike (a key value, a rotation id, a
//! provider's key id), so one limit has one home.

/// Longest key value (at most 4096 bytes), checked by the framework on every field that takes
/// one.
pub(super) const MAX_KEY_VALUE_LEN: usize = crate::rotation::MAX_KEY_VALUE_BYTES;
/// Longest `rotation_id`.
pub(super) const MAX_ROTATION_ID_LEN: usize = 128;
/// Longest `provider_key_id` (providers' ids are far shorter).
pub(super) const MAX_PROVIDER_KEY_ID_LEN: usize = 256;
