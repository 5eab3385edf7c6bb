//! The interviewer's settings: where the room server listens and how it is reached from
//! outside, which container engine to use, the defaults new rooms get, and how long rooms
//! are kept. Stored in the database; the desktop app edits them, most take effect at once.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde::{Deserialize, Serialize};
use specta::Type;
use sqlx::SqlitePool;

use crate::app::Addressing;
use crate::rooms::RoomLimits;
use crate::Error;

/// The row the settings are kept in (one JSON value).
const KEY: &str = "app_settings";

/// Light, dark, or whatever the OS prefers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Follow the OS.
    #[default]
    System,
    /// Always light.
    Light,
    /// Always dark.
    Dark,
}

/// Everything the settings screen edits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(default)]
pub struct Settings {
    /// The room server's port.
    pub port: u16,
    /// Listen on every network interface (the LAN can reach rooms) instead of loopback only.
    pub lan: bool,
    /// The base written into links (a tunnel's or a proxy's URL); `None`: the server's own.
    pub public_url: Option<String>,
    /// Every route is served under this prefix (`""` or `/p`).
    pub path_prefix: String,
    /// The container engine's address; `None`: `DOCKER_HOST` or the local default.
    pub engine_endpoint: Option<String>,
    /// Limits new rooms get unless the new-room form says otherwise.
    pub default_limits: RoomLimits,
    /// A new room stops by itself after this many hours unless given its own limit.
    pub auto_stop_hours: u32,
    /// Stopped rooms are deleted after this many days.
    pub retention_days: u32,
    /// The window's theme.
    pub theme: Theme,
    /// The interviewer's name as others in a room see it.
    pub display_name: String,
    /// Where the desktop app looks for a newer release (an update manifest's URL); `None`:
    /// the project's release manifest.
    pub update_endpoint: Option<String>,
    /// Look for a newer release when the app starts.
    pub check_updates: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            port: crate::paths::DEFAULT_PORT,
            lan: false,
            public_url: None,
            path_prefix: String::new(),
            engine_endpoint: None,
            default_limits: RoomLimits::default(),
            auto_stop_hours: 24,
            retention_days: 30,
            theme: Theme::System,
            display_name: "Interviewer".into(),
            update_endpoint: None,
            check_updates: true,
        }
    }
}

impl Settings {
    /// Checks every field and normalises the URL, the prefix and the endpoint.
    pub fn validated(mut self) -> Result<Settings, Error> {
        if self.port == 0 {
            return Err(Error::Invalid("the port must be 1 to 65535".into()));
        }
        self.public_url = self
            .public_url
            .filter(|u| !u.trim().is_empty())
            .map(|u| Addressing::parse_public_url(&u))
            .transpose()?;
        self.path_prefix = Addressing::parse_path_prefix(&self.path_prefix)?;
        self.engine_endpoint = self
            .engine_endpoint
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty());
        if let Some(e) = &self.engine_endpoint {
            let known = ["unix://", "tcp://", "http://", "https://", "npipe://"];
            if !known.iter().any(|p| e.starts_with(p)) {
                return Err(Error::Invalid(format!(
                    "the engine endpoint {e:?} must start with unix://, tcp://, http://, https:// or npipe://"
                )));
            }
        }
        self.default_limits.validate()?;
        if !(1..=720).contains(&self.auto_stop_hours) {
            return Err(Error::Invalid(
                "rooms stop by themselves after 1 to 720 hours".into(),
            ));
        }
        if !(1..=3650).contains(&self.retention_days) {
            return Err(Error::Invalid(
                "stopped rooms are kept 1 to 3650 days".into(),
            ));
        }
        self.update_endpoint = self
            .update_endpoint
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty());
        if let Some(u) = &self.update_endpoint {
            let ok = (u.starts_with("https://") || u.starts_with("http://"))
                && u.split("://").nth(1).is_some_and(|rest| {
                    !rest.is_empty()
                        && !rest.starts_with('/')
                        && !rest.contains(char::is_whitespace)
                });
            if !ok {
                return Err(Error::Invalid(format!(
                    "the update address {u:?} must be an https:// URL of an update manifest"
                )));
            }
        }
        self.display_name = self.display_name.trim().to_string();
        if !(1..=60).contains(&self.display_name.chars().count()) {
            return Err(Error::Invalid(
                "your name in rooms must be 1 to 60 characters".into(),
            ));
        }
        Ok(self)
    }

    /// Where the room server listens.
    pub fn listen_addr(&self) -> SocketAddr {
        let ip = if self.lan {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        };
        SocketAddr::new(ip, self.port)
    }
}

/// The stored settings; defaults for anything missing or unreadable.
pub async fn load(db: &SqlitePool) -> Result<Settings, Error> {
    let row: Option<(String,)> = sqlx::query_as("SELECT value FROM settings WHERE key = ?")
        .bind(KEY)
        .fetch_optional(db)
        .await?;
    Ok(match row {
        None => Settings::default(),
        Some((json,)) => serde_json::from_str::<Settings>(&json)
            .ok()
            .and_then(|s| s.validated().ok())
            .unwrap_or_else(|| {
                tracing::warn!("stored settings are unreadable: using the defaults");
                Settings::default()
            }),
    })
}

/// Stores `settings` (already validated).
pub async fn store(db: &SqlitePool, settings: &Settings) -> Result<(), Error> {
    let json = serde_json::to_string(settings)
        .map_err(|e| Error::Invalid(format!("settings not stored: {e}")))?;
    sqlx::query("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)")
        .bind(KEY)
        .bind(json)
        .execute(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_listen_on_loopback() {
        let s = Settings::default().validated().unwrap();
        assert!(s.listen_addr().ip().is_loopback());
        assert_eq!(s.listen_addr().port(), crate::paths::DEFAULT_PORT);
    }

    #[test]
    fn bad_values_are_refused_with_a_reason() {
        let bad = |f: fn(&mut Settings)| {
            let mut s = Settings::default();
            f(&mut s);
            match s.validated() {
                Err(Error::Invalid(msg)) => msg,
                other => panic!("accepted: {other:?}"),
            }
        };
        assert!(bad(|s| s.port = 0).contains("port"));
        assert!(bad(|s| s.public_url = Some("ftp://x".into())).contains("http"));
        assert!(bad(|s| s.path_prefix = "/a/../b".into()).contains("prefix"));
        assert!(bad(|s| s.engine_endpoint = Some("docker.sock".into())).contains("unix://"));
        assert!(bad(|s| s.auto_stop_hours = 0).contains("hours"));
        assert!(bad(|s| s.retention_days = 99_999).contains("days"));
        assert!(bad(|s| s.default_limits.memory_mb = Some(1)).contains("MiB"));
        assert!(bad(|s| s.display_name = "  ".into()).contains("name"));
        assert!(bad(|s| s.update_endpoint = Some("latest.json".into())).contains("update"));
        assert!(bad(|s| s.update_endpoint = Some("https:///x".into())).contains("update"));
        let blank = Settings {
            update_endpoint: Some("  ".into()),
            ..Settings::default()
        };
        assert_eq!(blank.validated().unwrap().update_endpoint, None);
    }

    #[test]
    fn missing_fields_take_their_defaults() {
        let s: Settings = serde_json::from_str(r#"{"port": 9000}"#).unwrap();
        assert_eq!(s.port, 9000);
        assert_eq!(s.retention_days, 30);
        let lan = Settings {
            lan: true,
            ..Settings::default()
        };
        assert!(lan.listen_addr().ip().is_unspecified());
    }
}
