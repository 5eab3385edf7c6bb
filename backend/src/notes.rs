//! The interviewer's private notes on a room: Markdown, autosaved from the desktop window,
//! stored in the database only. No WebSocket route reads them; they leave the app only in an
//! export the interviewer makes.

use serde::{Deserialize, Serialize};
use specta::Type;

use crate::{App, Error};

/// The largest note kept (a Markdown text, not a place for files).
pub const MAX_NOTES_BYTES: usize = 1024 * 1024;

/// A room's notes as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct Notes {
    /// Markdown text; empty when none were written.
    pub body: String,
    /// When they were last saved, milliseconds since the epoch; `None` when never.
    #[specta(type = Option<f64>)]
    pub updated_at: Option<i64>,
}

impl App {
    /// The interviewer's notes on `room`.
    pub async fn notes(&self, room: &str) -> Result<Notes, Error> {
        crate::rooms::get(&self.inner.db, room).await?;
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT body, updated_at FROM room_notes WHERE room_id = ?")
                .bind(room)
                .fetch_optional(&self.inner.db)
                .await?;
        Ok(match row {
            Some((body, at)) => Notes {
                body,
                updated_at: Some(at),
            },
            None => Notes {
                body: String::new(),
                updated_at: None,
            },
        })
    }

    /// Replaces the notes on `room`; returns them as stored.
    pub async fn save_notes(&self, room: &str, body: &str) -> Result<Notes, Error> {
        if body.len() > MAX_NOTES_BYTES {
            return Err(Error::Invalid(
                "notes are limited to 1 MiB; nothing was saved".into(),
            ));
        }
        crate::rooms::get(&self.inner.db, room).await?;
        let now = crate::db::now_ms();
        sqlx::query(
            "INSERT INTO room_notes (room_id, body, updated_at) VALUES (?, ?, ?)
             ON CONFLICT (room_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(room)
        .bind(body)
        .bind(now)
        .execute(&self.inner.db)
        .await?;
        Ok(Notes {
            body: body.to_string(),
            updated_at: Some(now),
        })
    }
}
