//! The engine's own work on the host's periodic tick (active node only): usage checks before a
//! grace window ends, grace ends and the revocations they cause, health checks of current keys,
//! automatic rotations (at once, with no grace, for a key its provider refuses), overdue
//! warnings; and the index of when each key next needs that work, so an idle tick reads no
//! record.
//!
//! Above [`super::workflows`] (an automatic rotation is the scheduler running one) and below
//! the mount, which owns the [`TickState`] and calls [`tick`].

mod auto;
mod due_index;
mod health;
mod plan;
mod state;
mod tick;
mod usage;

pub(super) use health::{check_live_versions, VersionCheck};
pub(super) use state::TickState;
pub(super) use tick::tick;

#[cfg(test)]
mod tests;
