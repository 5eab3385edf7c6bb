//! Interview rooms: the rows that describe them and the lifecycle that runs them as
//! containers — create, stop (files saved), resume (from the saved files), delete.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use specta::Type;
use sqlx::SqlitePool;

use crate::Error;

/// One row of the rooms list.
#[derive(Debug, Clone, Serialize, Deserialize, Type, sqlx::FromRow, PartialEq, Eq)]
pub struct RoomSummary {
    /// Long random id; also the path segment of the room's links.
    pub id: String,
    /// Name given by the interviewer.
    pub name: String,
    /// Language catalog id (`python`, `go`, …).
    pub language: String,
    /// Lifecycle state: creating, starting, ready, stopping, stopped or error.
    pub status: String,
    /// Message of the last failure, when `status` is `error`.
    pub error: Option<String>,
    /// Creation time, milliseconds since the Unix epoch.
    #[specta(type = f64)]
    pub created_at: i64,
    /// When it stops by itself (its time limit), milliseconds since the Unix epoch.
    #[specta(type = Option<f64>)]
    pub stop_at: Option<i64>,
}

/// What a new room is made of.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct NewRoom {
    /// Shown in the rooms list.
    pub name: String,
    /// Catalog id.
    pub language: String,
    /// Whether the candidate may type in the terminal (interviewers always may).
    pub candidate_terminal: bool,
    /// Whether the room reaches the engine's default network.
    pub network: bool,
    /// Seconds until it stops by itself; `None` means the default (24 hours).
    #[serde(default)]
    pub time_limit_secs: Option<u32>,
    /// Resource limits; unset fields keep the defaults.
    #[serde(default)]
    pub limits: RoomLimits,
    /// The files the room starts with; `None`: the language's starter files.
    #[serde(default)]
    pub starter_files: Option<Vec<crate::catalog::StarterFile>>,
}

/// At most this many starter files, of at most [`MAX_STARTER_BYTES`] each.
pub const MAX_STARTER_FILES: usize = 100;
/// The largest starter file.
pub const MAX_STARTER_BYTES: usize = 1024 * 1024;

/// Refuses starter files a room could not hold: paths outside the working directory, too
/// many, too large, or the same path twice.
pub fn validate_starter(files: &[crate::catalog::StarterFile]) -> Result<(), Error> {
    if files.len() > MAX_STARTER_FILES {
        return Err(Error::Invalid(format!(
            "at most {MAX_STARTER_FILES} starter files"
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for f in files {
        if !crate::live::docs::valid_path(&f.path) {
            return Err(Error::Invalid(format!(
                "the starter file path {:?} must be relative to the room's folder, without `..`",
                f.path
            )));
        }
        if f.content.len() > MAX_STARTER_BYTES {
            return Err(Error::Invalid(format!(
                "the starter file {} is larger than 1 MiB",
                f.path
            )));
        }
        if !seen.insert(f.path.as_str()) {
            return Err(Error::Invalid(format!(
                "the starter file {} is given twice",
                f.path
            )));
        }
    }
    Ok(())
}

/// A room's resource limits. `None` keeps the default: 1 GiB, 1 CPU, 512 processes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, Type, sqlx::FromRow)]
pub struct RoomLimits {
    /// Memory in MiB (swap limited to the same: no extra swap), 128 to 65536.
    pub memory_mb: Option<u32>,
    /// CPUs, 0.1 to 64.
    pub cpus: Option<f64>,
    /// Processes and threads at once, 64 to 65536.
    pub pids: Option<u32>,
}

impl RoomLimits {
    /// Refuses limits a room cannot work with or a machine cannot give.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(m) = self.memory_mb.filter(|m| !(128..=65_536).contains(m)) {
            return Err(Error::Invalid(format!(
                "memory {m} MiB: use 128 to 65536 MiB"
            )));
        }
        if let Some(c) = self.cpus.filter(|c| !(0.1..=64.0).contains(c)) {
            return Err(Error::Invalid(format!("{c} CPUs: use 0.1 to 64")));
        }
        if let Some(p) = self.pids.filter(|p| !(64..=65_536).contains(p)) {
            return Err(Error::Invalid(format!("{p} processes: use 64 to 65536")));
        }
        Ok(())
    }
}

/// The time limit of a room when none is given.
pub const DEFAULT_TIME_LIMIT_SECS: u32 = 24 * 3600;

/// Lifecycle states, as stored.
pub mod status {
    /// The row exists; the container is being made.
    pub const CREATING: &str = "creating";
    /// The container is starting.
    pub const STARTING: &str = "starting";
    /// The agent answered: people can work.
    pub const READY: &str = "ready";
    /// Files are being saved and the container removed.
    pub const STOPPING: &str = "stopping";
    /// No container; files saved.
    pub const STOPPED: &str = "stopped";
    /// Something failed; `error` says what.
    pub const ERROR: &str = "error";
}

/// A new room id: 128 random bits, hex.
pub fn new_id() -> String {
    let mut buf = [0u8; 16];
    getrandom::fill(&mut buf).expect("the OS provides randomness");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every room not deleted, newest first.
pub async fn list(db: &SqlitePool) -> Result<Vec<RoomSummary>, Error> {
    let rows = sqlx::query_as::<_, RoomSummary>(
        "SELECT id, name, language, status, error, created_at, stop_at FROM rooms ORDER BY created_at DESC",
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}

/// One room.
pub async fn get(db: &SqlitePool, id: &str) -> Result<RoomSummary, Error> {
    sqlx::query_as::<_, RoomSummary>(
        "SELECT id, name, language, status, error, created_at, stop_at FROM rooms WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or_else(|| Error::RoomNotFound(id.to_string()))
}

/// The stored policy of a room.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoomRecord {
    /// Id.
    pub id: String,
    /// Language id.
    pub language: String,
    /// Image the room runs.
    pub image: String,
    /// Whether it reaches the network.
    pub network: bool,
    /// Lifecycle state.
    pub status: String,
    /// Its resource limits.
    #[sqlx(flatten)]
    pub limits: RoomLimits,
}

/// The policy and state of one room.
pub async fn record(db: &SqlitePool, id: &str) -> Result<RoomRecord, Error> {
    sqlx::query_as::<_, RoomRecord>(
        "SELECT id, language, image, network != 0 AS network, status, memory_mb, cpus, pids FROM rooms WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or_else(|| Error::RoomNotFound(id.to_string()))
}

/// Inserts a room in the `creating` state.
pub async fn insert(db: &SqlitePool, id: &str, room: &NewRoom, image: &str) -> Result<(), Error> {
    let now = crate::db::now_ms();
    sqlx::query(
        "INSERT INTO rooms (id, name, language, status, image, candidate_terminal, network, time_limit_secs, memory_mb, cpus, pids, created_at, updated_at)
         VALUES (?, ?, ?, 'creating', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(&room.name)
    .bind(&room.language)
    .bind(image)
    .bind(room.candidate_terminal)
    .bind(room.network)
    .bind(room.time_limit_secs.unwrap_or(DEFAULT_TIME_LIMIT_SECS))
    .bind(room.limits.memory_mb)
    .bind(room.limits.cpus)
    .bind(room.limits.pids)
    .bind(now)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// Moves a room to `status`, clearing or setting its error, stamping start and stop times.
pub async fn set_status(
    db: &SqlitePool,
    id: &str,
    status: &str,
    error: Option<&str>,
) -> Result<(), Error> {
    let sql = match status {
        status::READY => {
            "UPDATE rooms SET status = ?1, error = ?2, updated_at = ?3, started_at = ?3,
             stop_at = ?3 + time_limit_secs * 1000, stopped_at = NULL WHERE id = ?4"
        }
        status::STOPPED => {
            "UPDATE rooms SET status = ?1, error = ?2, updated_at = ?3, stopped_at = ?3,
             stop_at = NULL WHERE id = ?4"
        }
        _ => "UPDATE rooms SET status = ?1, error = ?2, updated_at = ?3 WHERE id = ?4",
    };
    sqlx::query(sql)
        .bind(status)
        .bind(error)
        .bind(crate::db::now_ms())
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Pushes a room's time limit (and its stop time, when it runs) by `secs`.
pub async fn extend(db: &SqlitePool, id: &str, secs: u64) -> Result<(), Error> {
    let secs = i64::try_from(secs).unwrap_or(i64::MAX / 2_000);
    sqlx::query(
        "UPDATE rooms SET time_limit_secs = time_limit_secs + ?1,
         stop_at = CASE WHEN stop_at IS NULL THEN NULL ELSE stop_at + ?1 * 1000 END,
         warned_at = NULL, updated_at = ?2 WHERE id = ?3",
    )
    .bind(secs)
    .bind(crate::db::now_ms())
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Running rooms whose stop time has come, and those whose 5-minute warning is due.
pub async fn due(
    db: &SqlitePool,
    now: i64,
    warn_ms: i64,
) -> Result<(Vec<String>, Vec<(String, i64)>), Error> {
    let stop: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM rooms WHERE status = 'ready' AND stop_at <= ?")
            .bind(now)
            .fetch_all(db)
            .await?;
    let warn: Vec<(String, i64)> = sqlx::query_as(
        "SELECT id, stop_at FROM rooms WHERE status = 'ready' AND stop_at > ?1 AND stop_at <= ?1 + ?2 AND warned_at IS NULL",
    )
    .bind(now)
    .bind(warn_ms)
    .fetch_all(db)
    .await?;
    for (id, _) in &warn {
        sqlx::query("UPDATE rooms SET warned_at = ? WHERE id = ?")
            .bind(now)
            .bind(id)
            .execute(db)
            .await?;
    }
    Ok((stop.into_iter().map(|(id,)| id).collect(), warn))
}

/// Stopped rooms past the retention period.
pub async fn expired(db: &SqlitePool, before: i64) -> Result<Vec<String>, Error> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM rooms WHERE status = 'stopped' AND stopped_at < ?")
            .bind(before)
            .fetch_all(db)
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Whether the candidate may type in the room's terminal.
pub async fn candidate_terminal(db: &SqlitePool, id: &str) -> Result<bool, Error> {
    let row: Option<(bool,)> =
        sqlx::query_as("SELECT candidate_terminal != 0 FROM rooms WHERE id = ?")
            .bind(id)
            .fetch_optional(db)
            .await?;
    row.map(|(b,)| b)
        .ok_or_else(|| Error::RoomNotFound(id.to_string()))
}

/// Lets the candidate type in the room's terminal, or not.
pub async fn set_candidate_terminal(db: &SqlitePool, id: &str, allowed: bool) -> Result<(), Error> {
    sqlx::query("UPDATE rooms SET candidate_terminal = ?, updated_at = ? WHERE id = ?")
        .bind(allowed)
        .bind(crate::db::now_ms())
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Rooms that should have a container: the active ones and those in error (whose container
/// may still be there).
pub async fn to_reconcile(db: &SqlitePool) -> Result<Vec<RoomRecord>, Error> {
    Ok(sqlx::query_as::<_, RoomRecord>(
        "SELECT id, language, image, network != 0 AS network, status, memory_mb, cpus, pids FROM rooms
         WHERE status IN ('creating', 'starting', 'ready', 'stopping', 'error')",
    )
    .fetch_all(db)
    .await?)
}

/// The ids of every room there is.
pub async fn ids(db: &SqlitePool) -> Result<Vec<String>, Error> {
    Ok(sqlx::query_scalar("SELECT id FROM rooms")
        .fetch_all(db)
        .await?)
}

/// Deletes a room's row.
pub async fn remove(db: &SqlitePool, id: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM rooms WHERE id = ?")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Where a room's saved files live in the data dir.
pub fn files_archive(data_dir: &Path, id: &str) -> PathBuf {
    data_dir.join("rooms").join(id).join("files.tar")
}
