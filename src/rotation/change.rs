//! What a transition did, for the key's history.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The kind of a history event (api.md `history/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The key was created; its value became version 1, `current`. (Under the two-person rule
    /// version 1 is `staged` instead, and the caller records the creation with no version.)
    Created,
    /// A `pending` version was staged.
    Staged,
    /// A version was tested; the outcome is in the detail.
    Tested,
    /// A `pending` version became `current`.
    Promoted,
    /// A rollback undid the version named in the change (followed by its `failed` or `revoked`).
    RolledBack,
    /// A version was revoked before its grace window ended (superseded, rolled back, grace 0,
    /// key deleted). Its value is destroyed.
    Revoked,
    /// A `previous` version's grace window ended; it is now `revoked`, its value destroyed.
    Expired,
    /// A `pending` version was discarded (failed its test or rolled back); value destroyed.
    Failed,
    /// The key was deleted. Never produced by this module; the caller records it.
    Deleted,
    /// A person ended a previous version's grace window early (`finalize/`): it is now
    /// `revoked`, its value destroyed.
    Finalized,
    /// A person extended a previous version's grace window (`extend/`).
    GraceExtended,
    /// Under the two-person rule, a person asked to reinstate the previous version (the one
    /// named); a different person confirms it with another rollback.
    RollbackRequested,
}

impl EventKind {
    /// The API spelling (`created`, `rolled_back`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Staged => "staged",
            Self::Tested => "tested",
            Self::Promoted => "promoted",
            Self::RolledBack => "rolled_back",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::Failed => "failed",
            Self::Deleted => "deleted",
            Self::Finalized => "finalized",
            Self::GraceExtended => "grace_extended",
            Self::RollbackRequested => "rollback_requested",
        }
    }

    /// Whether this event leaves its version without a value (`revoked`, `expired`, `failed`,
    /// `finalized`):
    /// the events after which a provider-side key may have to be revoked.
    pub fn destroys_value(self) -> bool {
        matches!(
            self,
            Self::Revoked | Self::Expired | Self::Failed | Self::Finalized
        )
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of a transition: which version it touched and how. A transition returns its
/// changes in the order they happened; the caller turns each into a history event (adding
/// time, actor and request id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// What happened.
    pub event: EventKind,
    /// The version it happened to.
    pub version: u32,
    /// Short explanation for the history; never key material.
    pub detail: String,
}

impl Change {
    pub(crate) fn new(event: EventKind, version: u32, detail: impl Into<String>) -> Self {
        Self {
            event,
            version,
            detail: detail.into(),
        }
    }
}
