//! Everything the engine asks of AI providers: provider configurations (`providers/<name>`),
//! key tests, key creation in the engine's own accounts, ownership checks of an id an operator
//! supplies, and the write-ahead intents written before every provider mutation (settled by
//! [`super::recovery`]).
//!
//! The one part that calls [`crate::providers`]. It sits on [`super::policy`] (a created key's
//! lifetime follows the key's periods) and [`super::record`].

mod account;
mod belongings;
mod calls;
mod configs;
mod expiry;
mod federation;
mod intents;
mod lifetime;
mod manual;
mod origin;
mod ownership;

pub(super) use belongings::belongings;
pub(super) use calls::{can_create, create, kind_of, revoke_at, test, CreateFailure};
pub(super) use configs::{exists, load, provider_error, save, PROVIDERS_PREFIX};
pub(super) use expiry::{
    begin_expiry, can_update_expiry, full_lifetime_end, update_expiry_at, ExpiryFailure,
    ExpiryIntent, WAL_EXPIRY,
};
pub(super) use federation::{
    exchange as exchange_federated, exchange_basis, federation_config, federation_ids,
};
pub(super) use intents::{
    begin_revoke, decode, notify_failure_of, of_deleted_keys, rewrite, settle, CreateIntent, Retry,
    RevokeIntent, BUDGET, MIN_AGE, WAL_CREATE, WAL_REVOKE,
};
pub(super) use lifetime::{
    check_key as check_lifetime, check_provider_users as check_lifetime_of_users,
    check_schedule_users as check_lifetime_under_schedule,
};
pub(super) use manual::{
    forget_deleted_manual, keep_of_deleted, keep_unproven, of_deleted_keys_manual,
    of_key as deleted_manual_of, DeletedManual,
};
#[cfg(test)]
pub(super) use origin::origin_of;
pub(super) use origin::{mismatch, place_of, prove_and_locate};
pub(super) use ownership::Ownership;
