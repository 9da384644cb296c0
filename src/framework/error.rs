//! The framework's one error type.

use super::storage::StorageError;

/// Why a request failed. The transport turns it into the host's error types
/// (plugin-protocol.md 6.5) using [`Error::status`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The request is invalid (bad field value, conflicting state): HTTP 400,
    /// the message is shown to the user.
    #[error("{0}")]
    BadRequest(String),
    /// The caller may not do this (e.g. the two-person rule): HTTP 403 with the message.
    #[error("{0}")]
    PermissionDenied(String),
    /// Any other HTTP status chosen by the handler (e.g. 409, 503) with its message.
    #[error("{message}")]
    Coded {
        /// The HTTP status code.
        status: u16,
        /// The message shown to the user.
        message: String,
    },
    /// The path exists but what it names has nothing to give yet, and the caller should know
    /// why (as Vault's `logical.CodedError(404, ...)`): HTTP 404 with the message. For example a
    /// key whose first version waits for approval. (A read answering nothing is a bare 404.)
    #[error("{0}")]
    NotFound(String),
    /// No route matches the path: HTTP 404 "unsupported path".
    #[error("unsupported path")]
    UnsupportedPath,
    /// The route has no handler for the operation: HTTP 405 "unsupported operation".
    #[error("unsupported operation")]
    UnsupportedOperation,
    /// Storage failed; its message passes verbatim (the host recognises
    /// "cannot write to readonly storage" on performance standbys).
    #[error("{0}")]
    Storage(#[from] StorageError),
    /// A bug or an unexpected failure: HTTP 500.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// The HTTP status this error stands for: the one table of the engine's statuses, which
    /// the transport follows (`host::translate` derives its wire error from it).
    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest(_) => 400,
            Error::PermissionDenied(_) => 403,
            Error::Coded { status, .. } => *status,
            Error::NotFound(_) | Error::UnsupportedPath => 404,
            Error::UnsupportedOperation => 405,
            Error::Storage(_) | Error::Internal(_) => 500,
        }
    }

    /// The message for the caller when this is a user error (400 or 403, written by a handler
    /// for the caller, never containing secrets), shown as is. `None` for routing errors (the
    /// host has fixed texts for them), storage errors (whose text the host must see verbatim)
    /// and anything else.
    pub fn user_message(&self) -> Option<&str> {
        match self {
            Error::BadRequest(m) | Error::PermissionDenied(m) => Some(m),
            Error::Coded {
                status: 400 | 403,
                message,
            } => Some(message),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_messages() {
        let cases = [
            (Error::BadRequest("bad".into()), 400, "bad"),
            (Error::PermissionDenied("no".into()), 403, "no"),
            (
                Error::Coded {
                    status: 409,
                    message: "conflict".into(),
                },
                409,
                "conflict",
            ),
            (Error::NotFound("not yet".into()), 404, "not yet"),
            (Error::UnsupportedPath, 404, "unsupported path"),
            (Error::UnsupportedOperation, 405, "unsupported operation"),
            (
                Error::from(StorageError("cannot write to readonly storage".into())),
                500,
                "cannot write to readonly storage",
            ),
            (Error::Internal("boom".into()), 500, "boom"),
        ];
        for (err, status, msg) in cases {
            assert_eq!(err.status(), status, "{err:?}");
            assert_eq!(err.to_string(), msg);
        }
    }
}
