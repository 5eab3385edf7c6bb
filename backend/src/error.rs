//! Errors of the engine. Each carries a machine-readable code so the UI and the CLI can act on
//! it, and a message a person can read.

use serde::{Deserialize, Serialize};
use specta::Type;

/// What went wrong, as a value.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data directory could not be created or used.
    #[error("cannot use the data directory {path}: {source}")]
    DataDir {
        /// The directory in question.
        path: std::path::PathBuf,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// The database could not be opened or queried.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A write through the event writer failed.
    #[error("database error: {0}")]
    Write(#[from] rusqlite::Error),
    /// A migration failed to apply.
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The room server could not listen on its address.
    #[error("cannot listen on {addr}: {source}. Is another Interview Platform already running? Choose another port in the settings or with --listen")]
    Listen {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// The HTTP server failed.
    #[error("the room server failed: {0}")]
    Server(#[source] std::io::Error),
    /// No room has this id.
    #[error("no room with id {0}")]
    RoomNotFound(String),
    /// The language is not in the catalog.
    #[error("unknown language {id:?}; the catalog has: {known}")]
    UnknownLanguage {
        /// What was asked for.
        id: String,
        /// The ids there are, comma-separated.
        known: String,
    },
    /// The request itself is wrong (empty name, and the like).
    #[error("{0}")]
    Invalid(String),
    /// The container engine cannot be reached.
    #[error("the container engine is not available: {reason} {fix}")]
    EngineUnavailable {
        /// What is wrong.
        reason: String,
        /// What to do.
        fix: String,
    },
    /// The room's image is missing and could not be pulled.
    #[error("image {image} is not on this machine and no registry could provide it ({reason}). Connect to a registry and prepare it on the Engine screen (or `docker pull {image}`), or load it with `docker load`")]
    ImageMissing {
        /// The image reference.
        image: String,
        /// Why the pull failed.
        reason: String,
    },
    /// The engine failed while running a room.
    #[error("{0}")]
    Runtime(String),
}

/// Stable codes for [`Error`], shared with the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// See [`Error::DataDir`].
    DataDir,
    /// See [`Error::Database`] and [`Error::Migration`].
    Database,
    /// See [`Error::Listen`].
    Listen,
    /// See [`Error::Server`].
    Server,
    /// See [`Error::RoomNotFound`].
    RoomNotFound,
    /// See [`Error::UnknownLanguage`].
    UnknownLanguage,
    /// See [`Error::Invalid`].
    Invalid,
    /// See [`Error::EngineUnavailable`].
    EngineUnavailable,
    /// See [`Error::ImageMissing`].
    ImageMissing,
    /// See [`Error::Runtime`].
    Runtime,
}

impl Error {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::DataDir { .. } => ErrorCode::DataDir,
            Error::Database(_) | Error::Write(_) | Error::Migration(_) => ErrorCode::Database,
            Error::Listen { .. } => ErrorCode::Listen,
            Error::Server(_) => ErrorCode::Server,
            Error::RoomNotFound(_) => ErrorCode::RoomNotFound,
            Error::UnknownLanguage { .. } => ErrorCode::UnknownLanguage,
            Error::Invalid(_) => ErrorCode::Invalid,
            Error::EngineUnavailable { .. } => ErrorCode::EngineUnavailable,
            Error::ImageMissing { .. } => ErrorCode::ImageMissing,
            Error::Runtime(_) => ErrorCode::Runtime,
        }
    }

    /// The form that crosses into the UI.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code(),
            message: self.to_string(),
        }
    }
}

/// An error as the UI receives it: a code to branch on and a message to show.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct ErrorBody {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Human-readable message.
    pub message: String,
}

impl From<crate::runtime::RuntimeError> for Error {
    fn from(e: crate::runtime::RuntimeError) -> Self {
        match e {
            crate::runtime::RuntimeError::ImageMissing { image, reason } => {
                Error::ImageMissing { image, reason }
            }
            crate::runtime::RuntimeError::Engine(e) if connection_lost(&e) => {
                Error::EngineUnavailable {
                    reason: format!("the connection to the container engine was lost ({e})."),
                    fix: "Check that the engine is running (`docker info`), then try again; \
                          rooms are re-attached by themselves when it is back."
                        .into(),
                }
            }
            other => Error::Runtime(other.to_string()),
        }
    }
}

/// Whether a Docker client error means the engine could not be reached at all (as opposed to
/// the engine answering with an error).
fn connection_lost(e: &bollard::errors::Error) -> bool {
    use bollard::errors::Error as E;
    matches!(
        e,
        E::IOError { .. }
            | E::HyperResponseError { .. }
            | E::HyperLegacyError { .. }
            | E::RequestTimeoutError
            | E::SocketNotFoundError(_)
    )
}

impl From<crate::runtime::LinkError> for Error {
    fn from(e: crate::runtime::LinkError) -> Self {
        Error::Runtime(e.to_string())
    }
}

impl From<Error> for ErrorBody {
    fn from(e: Error) -> Self {
        e.body()
    }
}
