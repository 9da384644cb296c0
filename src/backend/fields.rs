//! Field bounds that several path families declare alike (a key value, a rotation id, a
//! provider's key id), so one limit has one home.

use crate::framework::Field;

/// Longest key value (at most 4096 bytes), checked by the framework on every field that takes
/// one.
pub(super) const MAX_KEY_VALUE_LEN: usize = crate::rotation::MAX_KEY_VALUE_BYTES;
/// Longest `rotation_id`.
pub(super) const MAX_ROTATION_ID_LEN: usize = 128;
/// Longest `provider_key_id` (providers' ids are far shorter).
pub(super) const MAX_PROVIDER_KEY_ID_LEN: usize = 256;

/// Text without control characters (Unicode's Cc: U+0000 to U+001F, U+007F to U+009F), as
/// `validate_key_value` requires of key values and admin keys.
pub(super) const NO_CONTROL_CHARACTERS: &str = r"^[^\x00-\x1f\x7f-\x9f]*$";
/// What [`NO_CONTROL_CHARACTERS`] means, for the 400.
pub(super) const NO_CONTROL_CHARACTERS_MEANING: &str =
    "must not contain control characters (newlines and tabs included)";

/// A field that takes a new key value (`keys/` create, `stage/`, `rotate/`): not empty, at most
/// [`MAX_KEY_VALUE_LEN`] bytes, no control characters; the rules of `validate_key_value`, which
/// the workflows still apply.
pub(super) fn new_key_value(field: Field) -> Field {
    field
        .sensitive()
        .max_len(MAX_KEY_VALUE_LEN)
        .min_len(1)
        .pattern(NO_CONTROL_CHARACTERS, NO_CONTROL_CHARACTERS_MEANING)
}
