//! The insider: the agent that runs inside every room container, and the wire protocol it
//! speaks with the backend over the container's attach stream. Both ends use these types, so
//! the protocol is written once.

pub mod agent;
pub mod files;
pub mod frame;
pub mod protocol;

/// The agent's version, as printed by `insider --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The protocol version exchanged in the hello; bumped on any incompatible change.
pub const PROTOCOL_VERSION: u32 = 1;

/// The line `insider --version` prints.
pub fn version_line() -> String {
    format!("insider {VERSION} (protocol {PROTOCOL_VERSION})")
}

/// The working directory inside a room.
pub const DEFAULT_WORKDIR: &str = "/interview";

/// Where the agent keeps its heartbeat for the container's health check.
pub const DEFAULT_HEARTBEAT: &str = "/tmp/.insider-heartbeat";
