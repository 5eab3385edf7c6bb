//! What the app tells its UIs and the CLI as it happens: room status changes, image pull
//! progress, and the warning before a room stops at its time limit.

use serde::{Deserialize, Serialize};
use specta::Type;

/// Events kept for a slow subscriber; beyond it the subscriber skips ahead and re-reads the
/// rooms list.
pub const APP_EVENTS: usize = 256;

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AppEvent {
    /// A room changed state.
    RoomStatus {
        /// Room id.
        room: String,
        /// The new state.
        status: String,
        /// What failed, when it failed.
        error: Option<String>,
    },
    /// A line of progress while a room's image is pulled.
    PullProgress {
        /// Room id.
        room: String,
        /// What the engine reported.
        line: String,
    },
    /// Someone joined or left a room (for the interviewer's notifications; never sent into a
    /// room).
    Presence {
        /// Room id.
        room: String,
        /// Their display name.
        name: String,
        /// `interviewer`, `candidate` or `observer`.
        role: String,
        /// Joined (`true`) or left.
        joined: bool,
    },
    /// The room reaches its time limit soon and will stop then unless extended.
    StopSoon {
        /// Room id.
        room: String,
        /// When it stops, milliseconds since the Unix epoch.
        #[specta(type = f64)]
        stop_at: i64,
    },
}

/// How far a long action (creating a room, preparing an image) has come.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct Progress {
    /// 0 to 1.
    pub fraction: f32,
    /// What it is doing, in words.
    pub label: String,
}

impl Progress {
    /// `label` at `fraction`.
    pub fn at(fraction: f32, label: impl Into<String>) -> Self {
        Self {
            fraction: fraction.clamp(0.0, 1.0),
            label: label.into(),
        }
    }
}

/// `30s`, `30m`, `2h`, `7d` → seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (num, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30m, 2h or 7d"))?;
    let factor = match unit {
        "s" => 1,
        "m" | "" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?} is not a duration like 30m, 2h or 7d")),
    };
    n.checked_mul(factor)
        .filter(|s| *s > 0)
        .ok_or_else(|| format!("{text:?} is not a usable duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("30m"), Ok(1800));
        assert_eq!(parse_duration("2h"), Ok(7200));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert_eq!(parse_duration("45"), Ok(2700), "bare numbers are minutes");
        assert!(parse_duration("0m").is_err());
        assert!(parse_duration("2 weeks").is_err());
        assert!(parse_duration("-5m").is_err());
        assert!(parse_duration("").is_err());
    }
}
