//! Interview rooms as stored in the database.

use serde::Serialize;
use specta::Type;
use sqlx::SqlitePool;

use crate::Error;

/// One row of the rooms list.
#[derive(Debug, Clone, Serialize, Type, sqlx::FromRow, PartialEq, Eq)]
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
}

/// Every room not deleted, newest first.
pub async fn list(db: &SqlitePool) -> Result<Vec<RoomSummary>, Error> {
    let rows = sqlx::query_as::<_, RoomSummary>(
        "SELECT id, name, language, status, error, created_at FROM rooms ORDER BY created_at DESC",
    )
    .fetch_all(db)
    .await?;
    Ok(rows)
}
