//! The rooms' event log (the recording): terminal output and input, joins and leaves,
//! activity signals — appended with a timestamp, in order, by one writer that commits in
//! small batches. Document updates are written by the document itself, in the transaction
//! that stores them. Producers never wait: when the queue is full (a flood of output), entries
//! are dropped and a `gap` entry says how many.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlitePool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::db::now_ms;

/// Entries waiting for the writer.
const QUEUE: usize = 16 * 1024;

/// The writer commits at least this often while entries come in.
const BATCH_EVERY: Duration = Duration::from_millis(50);

/// Most entries in one transaction.
const BATCH_MAX: usize = 256;

struct Entry {
    room: String,
    at_ms: i64,
    kind: &'static str,
    actor: Option<String>,
    data: Vec<u8>,
}

/// The handle producers append through. Cheap to clone.
#[derive(Clone)]
pub struct EventLog {
    tx: mpsc::Sender<Entry>,
    dropped: Arc<AtomicU64>,
}

impl EventLog {
    /// Starts the writer on `db`; it flushes and ends when `stop` is cancelled.
    pub fn start(
        db: SqlitePool,
        stop: CancellationToken,
        tasks: &tokio_util::task::TaskTracker,
    ) -> EventLog {
        let (tx, rx) = mpsc::channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        tasks.spawn(write(db, rx, stop, dropped.clone()));
        EventLog { tx, dropped }
    }

    /// Appends an event of `room`; never waits.
    pub fn append(&self, room: &str, kind: &'static str, actor: Option<&str>, data: &[u8]) {
        let entry = Entry {
            room: room.to_string(),
            at_ms: now_ms(),
            kind,
            actor: actor.map(str::to_string),
            data: data.to_vec(),
        };
        if self.tx.try_send(entry).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn write(
    db: SqlitePool,
    mut rx: mpsc::Receiver<Entry>,
    stop: CancellationToken,
    dropped: Arc<AtomicU64>,
) {
    let mut batch: Vec<Entry> = Vec::new();
    loop {
        let stopping = tokio::select! {
            got = rx.recv() => match got {
                Some(e) => { batch.push(e); false }
                None => true,
            },
            _ = stop.cancelled() => true,
        };
        if !stopping {
            // Gather what else arrives shortly, up to a batch.
            let deadline = tokio::time::Instant::now() + BATCH_EVERY;
            while batch.len() < BATCH_MAX {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(e)) => batch.push(e),
                    _ => break,
                }
            }
        } else {
            while let Ok(e) = rx.try_recv() {
                batch.push(e);
            }
        }
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            // One gap entry per room seen in this batch (or a room-less one).
            let mut rooms: HashMap<String, ()> = HashMap::new();
            for e in &batch {
                rooms.insert(e.room.clone(), ());
            }
            for room in rooms.into_keys() {
                batch.push(Entry {
                    room,
                    at_ms: now_ms(),
                    kind: "gap",
                    actor: None,
                    data: lost.to_string().into_bytes(),
                });
            }
            tracing::warn!(lost, "room events dropped: the log could not keep up");
        }
        if let Err(e) = flush(&db, &mut batch).await {
            tracing::warn!(error = %e, "room events not written");
            batch.clear();
        }
        if stopping {
            return;
        }
    }
}

async fn flush(db: &SqlitePool, batch: &mut Vec<Entry>) -> Result<(), sqlx::Error> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    for e in batch.drain(..) {
        // A room deleted meanwhile has no row to refer to: skip its events.
        sqlx::query(
            "INSERT INTO room_events (room_id, at_ms, kind, actor, data)
             SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM rooms WHERE id = ?)",
        )
        .bind(&e.room)
        .bind(e.at_ms)
        .bind(e.kind)
        .bind(&e.actor)
        .bind(&e.data)
        .bind(&e.room)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}
