//! Where the app keeps what it stores, and the fixed address the room server listens on.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;

/// Environment variable that overrides the data directory for every entry point.
pub const DATA_DIR_ENV: &str = "INTERVIEW_PLATFORM_DATA_DIR";

/// The room server's default port. Fixed, so links handed out stay valid across restarts.
pub const DEFAULT_PORT: u16 = 7417;

/// The default listen address: loopback only; LAN exposure is an explicit choice.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, DEFAULT_PORT));

/// The data directory: the explicit choice if any, else `INTERVIEW_PLATFORM_DATA_DIR`, else
/// the OS data dir (`~/.local/share/interview-platform` on Linux).
pub fn resolve_data_dir(explicit: Option<PathBuf>) -> PathBuf {
    if let Some(dir) = explicit {
        return dir;
    }
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("interview-platform")
}

/// The SQLite database inside a data dir.
pub fn database_file(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("interview-platform.sqlite3")
}

/// The log folder inside a data dir.
pub fn log_dir(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("logs")
}
