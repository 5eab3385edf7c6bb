//! The SQLite database: opened in WAL mode with the migrations in `migrations/` applied.
//! Most queries go through the sqlx pool; the rooms' events (document updates and the event
//! log) are written through [`Writer`], a synchronous connection on the same file.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use crate::Error;

/// The migrations, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Opens (creating if needed) the database file and brings its schema up to date.
pub async fn open(file: &Path) -> Result<SqlitePool, Error> {
    let options = SqliteConnectOptions::from_str("sqlite://")?
        .filename(file)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // With WAL, NORMAL keeps every committed transaction across an application crash.
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        // One connection: SQLite has one writer, and waiting in the pool is a wakeup where
        // waiting in SQLite's busy handler is a sleep of milliseconds.
        .max_connections(1)
        .connect_with(options)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// Milliseconds since the Unix epoch, the unit every stored time uses.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Commits through the writer after which its log is copied into the database file.
const CHECKPOINT_EVERY: u64 = 256;

/// How long the writer sleeps between tries while another connection holds SQLite's write
/// lock, and how many tries it makes (5 s in all, as the pool waits).
const BUSY_SLEEP: Duration = Duration::from_micros(100);
const BUSY_TRIES: i32 = 50_000;

thread_local! {
    /// Set while a write is tried on an async task's thread: SQLite's write lock being taken
    /// is then reported at once instead of waited for.
    static NO_WAIT: Cell<bool> = const { Cell::new(false) };
}

fn busy(tries: i32) -> bool {
    if NO_WAIT.get() {
        return false;
    }
    std::thread::sleep(BUSY_SLEEP);
    tries < BUSY_TRIES
}

/// The connection the rooms' events are written through. A document update must be
/// committed before anyone else sees it, so its commit is on the path of every keystroke:
/// here it commits on the task that received it, in microseconds, instead of a round trip
/// to the pool's connection thread. The log is copied into the database file (a checkpoint,
/// which waits for the disk) in the background, on a connection of its own, so no commit
/// waits for the disk either. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    inner: Arc<WriterInner>,
}

struct WriterInner {
    file: PathBuf,
    conn: std::sync::Mutex<rusqlite::Connection>,
    /// Commits since the last checkpoint began.
    commits: AtomicU64,
    /// The checkpoints' own connection, opened by the first; held while one runs.
    checkpointer: std::sync::Mutex<Option<rusqlite::Connection>>,
}

/// Resets [`NO_WAIT`] however the write ends.
struct NoWait;

impl NoWait {
    fn set() -> NoWait {
        NO_WAIT.set(true);
        NoWait
    }
}

impl Drop for NoWait {
    fn drop(&mut self) {
        NO_WAIT.set(false);
    }
}

impl Writer {
    /// Opens the writer on a database [`open`] has prepared.
    pub fn open(file: &Path) -> Result<Writer, Error> {
        let conn = rusqlite::Connection::open(file)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        // Checkpoints are the background's job (see `committed`).
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.busy_handler(Some(busy))?;
        Ok(Writer {
            inner: Arc::new(WriterInner {
                file: file.to_path_buf(),
                conn: std::sync::Mutex::new(conn),
                commits: AtomicU64::new(0),
                checkpointer: std::sync::Mutex::new(None),
            }),
        })
    }

    /// Runs a small write: at once on this thread when the connection and SQLite's write
    /// lock are free (the common case), otherwise on a blocking thread that waits for both.
    /// `write` may run twice: a first try that found the write lock taken changed nothing.
    pub async fn write<R, F>(&self, write: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: Fn(&mut rusqlite::Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        if let Ok(mut conn) = self.inner.conn.try_lock() {
            let tried = {
                let _no_wait = NoWait::set();
                write(&mut conn)
            };
            drop(conn);
            match tried {
                Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => {}
                done => {
                    let done = done?;
                    self.committed();
                    return Ok(done);
                }
            }
        }
        self.write_batch(write).await
    }

    /// Runs a write on a blocking thread, waiting for the connection and SQLite's write
    /// lock: for writes too large to hold up an async task's thread.
    pub async fn write_batch<R, F>(&self, write: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        let inner = self.inner.clone();
        let done = tokio::task::spawn_blocking(move || {
            let mut conn = inner.conn.lock().unwrap_or_else(|p| p.into_inner());
            write(&mut conn)
        })
        .await
        .map_err(|e| match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(_) => Error::Invalid("the app is shutting down".into()),
        })??;
        self.committed();
        Ok(done)
    }

    /// Counts a commit; every [`CHECKPOINT_EVERY`] commits, copies the log into the database
    /// file on a blocking thread (a passive checkpoint: writers go on meanwhile).
    fn committed(&self) {
        let inner = &self.inner;
        if inner.commits.fetch_add(1, Ordering::Relaxed) + 1 < CHECKPOINT_EVERY {
            return;
        }
        inner.commits.store(0, Ordering::Relaxed);
        let inner = inner.clone();
        tokio::task::spawn_blocking(move || {
            // One running already copies these commits too.
            let Ok(mut checkpointer) = inner.checkpointer.try_lock() else {
                return;
            };
            let done = match &mut *checkpointer {
                Some(c) => Ok(c),
                empty => rusqlite::Connection::open(&inner.file).map(|c| empty.insert(c)),
            }
            .and_then(|c| {
                c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                    Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
                })
            });
            match done {
                Ok((log, copied)) => tracing::trace!(log, copied, "database log checkpointed"),
                Err(e) => tracing::warn!(error = %e, "database log not checkpointed"),
            }
        });
    }
}

/// A database in `dir` with the writer on it and one room, `r1`, for tests.
#[cfg(test)]
pub(crate) async fn with_room(dir: &Path) -> (SqlitePool, Writer, PathBuf) {
    let file = dir.join("db.sqlite3");
    let pool = open(&file).await.unwrap();
    sqlx::query(
        "INSERT INTO rooms (id, name, language, status, created_at, updated_at)
         VALUES ('r1', 'R', 'bash', 'ready', 0, 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let writer = Writer::open(&file).unwrap();
    (pool, writer, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert_event(
        room: &'static str,
        data: Vec<u8>,
    ) -> impl Fn(&mut rusqlite::Connection) -> rusqlite::Result<i64> {
        move |c| {
            c.prepare_cached(
                "INSERT INTO room_events (room_id, at_ms, kind, data) VALUES (?, 0, 'doc', ?)",
            )?
            .execute(rusqlite::params![room, data])?;
            Ok(c.last_insert_rowid())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_waits_while_another_connection_writes_then_lands() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("db.sqlite3");
        let pool = open(&file).await.unwrap();
        let writer = Writer::open(&file).unwrap();
        // The pool holds SQLite's write lock, with the room the event needs not committed.
        let mut tx = pool.begin().await.unwrap();
        sqlx::query(
            "INSERT INTO rooms (id, name, language, status, created_at, updated_at)
             VALUES ('r1', 'R', 'bash', 'ready', 0, 0)",
        )
        .execute(&mut *tx)
        .await
        .unwrap();
        let pending = tokio::spawn({
            let writer = writer.clone();
            async move { writer.write(insert_event("r1", b"edit".to_vec())).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!pending.is_finished(), "the write went ahead of the lock");
        tx.commit().await.unwrap();
        let seq = pending
            .await
            .unwrap()
            .expect("the write lands once the lock is free");
        let data: Vec<u8> = sqlx::query_scalar("SELECT data FROM room_events WHERE seq = ?")
            .bind(seq)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(data, b"edit");
        // A write the database refuses is an error, not a wait.
        let refused = writer.write(insert_event("no-such-room", Vec::new())).await;
        assert!(
            matches!(refused, Err(Error::Write(_))),
            "{:?}",
            refused.map(|_| ())
        );
    }

    #[tokio::test]
    async fn the_log_reaches_the_database_file_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let (pool, writer, file) = with_room(dir.path()).await;
        let before = std::fs::metadata(&file).unwrap().len();
        for _ in 0..CHECKPOINT_EVERY {
            writer
                .write(insert_event("r1", vec![7; 4096]))
                .await
                .unwrap();
        }
        // Written pages sit in the log until a checkpoint copies them into the file.
        let grown = 4096 * CHECKPOINT_EVERY / 2;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&file).unwrap().len() < before + grown {
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpoint after {CHECKPOINT_EVERY} commits"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM room_events")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(count, CHECKPOINT_EVERY as i64);
    }
}
