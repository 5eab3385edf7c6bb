//! The seam to the container engine: rooms as containers running the insider agent.
//! The Docker implementation speaks to the engine's API through bollard, never to a
//! container's network address.

pub mod docker;
pub mod link;

pub use docker::{tar_starter, DockerRuntime, RoomContainerSpec, RuntimeError};
pub use link::{AgentLink, LinkError};

/// Label on every container and volume this app creates.
pub const LABEL_APP: &str = "app.interview-platform";
/// Label naming the app instance that owns a container (one data dir = one instance).
pub const LABEL_INSTANCE: &str = "app.interview-platform.instance";
/// Label naming the room a container or volume belongs to.
pub const LABEL_ROOM: &str = "app.interview-platform.room";

/// Where the agent's volume is mounted in every room.
pub const AGENT_DIR: &str = "/opt/interview-platform";
/// The working directory of every room.
pub const WORKDIR: &str = "/interview";
/// HOME of the room's user: writable, outside the file tree.
pub const HOME: &str = "/home/candidate";
/// The room's user where the image allows.
pub const ROOM_USER: &str = "1000:1000";
