//! The error of provider admin calls (create and revoke).

use super::classify::redact;

/// Why a create or revoke at a provider did not happen. Messages name the HTTP status and the
/// provider's error type or code, never a key or a response body.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// This provider type or configuration cannot do that (no admin key, no create API, invalid
    /// settings or id). A client error: 400.
    #[error("{0}")]
    Unsupported(String),
    /// The provider answered and refused the admin call (401/403 for a wrong admin key, other
    /// 4xx for a request it would not do). 400 (or 502 where the caller prefers).
    #[error("provider refused the request (HTTP {status}): {detail}")]
    Rejected {
        /// The provider's HTTP status.
        status: u16,
        /// The status meaning and the provider's error type or code.
        detail: String,
    },
    /// The provider refused the key's expiry (OpenAI `expires_in_seconds`): the organization's
    /// or project's key-expiry policy (a maximum lifetime, or an expiry required), or its
    /// range. Nothing was created or changed. 502.
    #[error("the provider's key-expiry policy refused the request (HTTP {status}): {detail}")]
    ExpiryPolicy {
        /// The provider's HTTP status.
        status: u16,
        /// The refused parameter and the provider's error type or code.
        detail: String,
    },
    /// The provider could not be asked or did not answer: 429, 5xx, 529, a timeout or a
    /// connection error, after the retries the call allows. 503; try again later.
    #[error("provider unavailable: {detail}")]
    Unavailable {
        /// The provider's HTTP status, when it answered.
        status: Option<u16>,
        /// What went wrong.
        detail: String,
    },
    /// The provider answered 2xx (or an unexpected status) with a shape the engine does not
    /// understand, for example a created key without its value.
    #[error("unexpected answer from provider: {0}")]
    Protocol(String),
}

impl ProviderError {
    /// Whether trying again later may succeed ([`ProviderError::Unavailable`]).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// Whether the provider refused the key's expiry ([`ProviderError::ExpiryPolicy`]).
    pub fn is_expiry_policy(&self) -> bool {
        matches!(self, Self::ExpiryPolicy { .. })
    }

    /// The same error with any word drawn from `secrets` removed from its text.
    pub(super) fn redacted(self, secrets: &[&str]) -> Self {
        match self {
            Self::Unsupported(m) => Self::Unsupported(redact(&m, secrets)),
            Self::Rejected { status, detail } => Self::Rejected {
                status,
                detail: redact(&detail, secrets),
            },
            Self::ExpiryPolicy { status, detail } => Self::ExpiryPolicy {
                status,
                detail: redact(&detail, secrets),
            },
            Self::Unavailable { status, detail } => Self::Unavailable {
                status,
                detail: redact(&detail, secrets),
            },
            Self::Protocol(m) => Self::Protocol(redact(&m, secrets)),
        }
    }
}
