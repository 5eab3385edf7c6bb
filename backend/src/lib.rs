//! The Interview Platform engine. Everything but window glue lives here, so the desktop app,
//! the headless server and the tests all drive the same code.

pub mod admin;
pub mod agent;
pub mod app;
pub mod catalog;
pub mod db;
pub mod engine;
pub mod error;
pub mod eventlog;
pub mod events;
pub mod export;
pub mod http;
pub mod images;
pub mod lifecycle;
pub mod live;
pub mod logging;
pub mod notes;
pub mod paths;
pub mod rooms;
pub mod runtime;
pub mod settings;
pub mod tokens;

pub use app::{App, AppInfo, AppOptions, RoomServer};
pub use engine::EngineStatus;
pub use error::{Error, ErrorBody, ErrorCode};
pub use rooms::RoomSummary;

/// The product's version, shared by every binary of the workspace.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
