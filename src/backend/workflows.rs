//! The engine's workflows, in one place: create and delete a key, stage, test, promote, roll
//! back, rotate (and what a failed rotation leaves), finalize and extend a grace window,
//! acknowledge a revocation done by hand, respond to a leaked value (`exposed`), and `rotation_id`
//! replays; all through [`Locked`], a
//! key opened for writing (its lock held, its
//! record checked, grace ends applied, history recorded, revocation intents written before the
//! record that retires a version).
//!
//! Path files parse fields, open the key and call these; the periodic tick calls [`rotate`] as
//! the scheduler, and recovery reopens a key through [`Locked`] to tell it a revocation's
//! outcome. Below them: [`super::provider_ops`], [`super::policy`], [`super::record`].

mod acknowledge;
mod cutover;
mod delete;
mod exposed;
mod federated;
mod keys;
mod locked;
mod promote;
mod records;
mod replay;
mod rotate;
mod stage;
mod test;

pub(super) use acknowledge::acknowledge_named;
pub(super) use cutover::{extend, finalize};
pub(super) use delete::delete as delete_key;
pub(super) use exposed::{
    find as find_exposed, respond as respond_exposed, Leak, Report as LeakReport,
};
pub(super) use federated::{
    creds as federated_creds, define as define_federated, remove as delete_federated,
    FederatedInput, DEFAULT_TOKEN_TTL, MAX_CLAIM_LEN, MAX_TOKEN_TTL, MIN_TOKEN_TTL,
};
pub(super) use keys::{
    check_references, create as create_key, Created as CreatedKey, KeySettings, NewKey,
};
pub(super) use locked::Locked;
#[cfg(test)]
pub(super) use locked::STANDBY_SETTLE;
pub(super) use promote::{promote, rollback};
pub(super) use records::{inspect as inspect_record, remove as remove_record};
pub(super) use replay::{input_digest, replay};
pub(super) use rotate::rotate;
pub(super) use stage::{stage, StageInput};
pub(super) use test::run_test;

#[cfg(test)]
mod tests;
