//! Errors of the engine. Each carries a machine-readable code so the UI and the CLI can act on
//! it, and a message a person can read.

use serde::Serialize;
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
}

/// Stable codes for [`Error`], shared with the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
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
}

impl Error {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::DataDir { .. } => ErrorCode::DataDir,
            Error::Database(_) | Error::Migration(_) => ErrorCode::Database,
            Error::Listen { .. } => ErrorCode::Listen,
            Error::Server(_) => ErrorCode::Server,
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
#[derive(Debug, Clone, Serialize, Type)]
pub struct ErrorBody {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Human-readable message.
    pub message: String,
}

impl From<Error> for ErrorBody {
    fn from(e: Error) -> Self {
        e.body()
    }
}
