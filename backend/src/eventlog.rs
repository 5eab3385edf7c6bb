//! The rooms' event log (the recording): terminal output and input, joins and leaves,
//! activity signals — appended with a timestamp, in order, by one writer that commits in
//! small batches. Document updates are written by the document itself, in the transaction
//! that stores them. Producers never wait: when the queue is full, entries are dropped and a
//! `gap` entry says how many. Terminal output is recorded within a budget per room (a burst,
//! then a steady rate): a program flooding the terminal cannot fill the disk with its output;
//! what is left out is recorded as a `term_out_gap` entry holding the number of bytes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::app::lock;
use crate::db::{now_ms, Writer};

/// Entries waiting for the writer.
const QUEUE: usize = 16 * 1024;

/// The writer commits at least this often while entries come in.
const BATCH_EVERY: Duration = Duration::from_millis(50);

/// Most entries in one transaction.
const BATCH_MAX: usize = 256;

/// Terminal output a room may record at once before the steady rate applies.
pub const TERM_OUT_BURST: u64 = 4 * 1024 * 1024;

/// Terminal output a room may record per second, sustained.
pub const TERM_OUT_RATE: u64 = 256 * 1024;

/// The end of the output left out that is kept, to be recorded once the budget allows: a
/// recording ends on the screen the room really showed.
pub const TERM_OUT_TAIL: usize = 16 * 1024;

/// How often output held back by the budget is looked at while nothing else happens.
const TAIL_EVERY: Duration = Duration::from_millis(500);

/// What the budget lets through: entries to record, in order.
type Recorded = Vec<(&'static str, Vec<u8>)>;

/// A room's terminal output budget: a token bucket of bytes, with the end of what it left
/// out kept aside.
#[derive(Debug, Clone)]
struct Budget {
    tokens: f64,
    at: Instant,
    /// Bytes left out since the last recorded output (the kept tail included).
    skipped: u64,
    /// The last bytes left out.
    tail: Vec<u8>,
}

impl Budget {
    fn new(now: Instant) -> Self {
        Budget {
            tokens: TERM_OUT_BURST as f64,
            at: now,
            skipped: 0,
            tail: Vec::new(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + elapsed * TERM_OUT_RATE as f64).min(TERM_OUT_BURST as f64);
    }

    /// What to record for `data` at `now`: nothing when the budget is spent (the bytes are
    /// counted and their end kept); else what was left out before (a `term_out_gap` with the
    /// count and the kept tail), then `data`.
    fn take(&mut self, data: &[u8], now: Instant) -> Recorded {
        self.refill(now);
        if (data.len() + self.tail.len()) as f64 > self.tokens {
            self.skipped += data.len() as u64;
            self.tail.extend_from_slice(data);
            let extra = self.tail.len().saturating_sub(TERM_OUT_TAIL);
            self.tail.drain(..extra);
            return Vec::new();
        }
        let mut out = self.release();
        self.tokens -= data.len() as f64;
        out.push(("term_out", data.to_vec()));
        out
    }

    /// Output left out, recorded once the budget has refilled enough for its kept tail.
    fn idle(&mut self, now: Instant) -> Recorded {
        self.refill(now);
        if self.skipped == 0 || self.tail.len() as f64 > self.tokens {
            return Vec::new();
        }
        self.release()
    }

    fn release(&mut self) -> Recorded {
        let mut out = Vec::new();
        let tail = std::mem::take(&mut self.tail);
        let counted = std::mem::take(&mut self.skipped) - tail.len() as u64;
        if counted > 0 {
            out.push(("term_out_gap", counted.to_string().into_bytes()));
        }
        if !tail.is_empty() {
            self.tokens -= tail.len() as f64;
            out.push(("term_out", tail));
        }
        out
    }
}

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
    budgets: Budgets,
}

/// Each room's terminal output budget.
type Budgets = Arc<Mutex<HashMap<String, Budget>>>;

impl EventLog {
    /// Starts the writer on `db`; it flushes and ends when `stop` is cancelled.
    pub fn start(
        db: Writer,
        stop: CancellationToken,
        tasks: &tokio_util::task::TaskTracker,
    ) -> EventLog {
        let (tx, rx) = mpsc::channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let budgets: Budgets = Default::default();
        tasks.spawn(write(db, rx, stop, dropped.clone(), budgets.clone()));
        EventLog {
            tx,
            dropped,
            budgets,
        }
    }

    /// Appends an event of `room`; never waits.
    pub fn append(&self, room: &str, kind: &'static str, actor: Option<&str>, data: &[u8]) {
        if kind == "term_out" {
            let now = Instant::now();
            let recorded = {
                let mut budgets = lock(&self.budgets);
                match budgets.get_mut(room) {
                    Some(b) => b.take(data, now),
                    None => budgets
                        .entry(room.to_string())
                        .or_insert_with(|| Budget::new(now))
                        .take(data, now),
                }
            };
            for (kind, data) in recorded {
                self.push(room, kind, None, &data);
            }
            return;
        }
        self.push(room, kind, actor, data);
    }

    fn push(&self, room: &str, kind: &'static str, actor: Option<&str>, data: &[u8]) {
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
    db: Writer,
    mut rx: mpsc::Receiver<Entry>,
    stop: CancellationToken,
    dropped: Arc<AtomicU64>,
    budgets: Budgets,
) {
    let mut batch: Vec<Entry> = Vec::new();
    let mut tick = tokio::time::interval(TAIL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let (stopping, idle) = tokio::select! {
            got = rx.recv() => match got {
                Some(e) => { batch.push(e); (false, false) }
                None => (true, false),
            },
            _ = tick.tick() => (false, true),
            _ = stop.cancelled() => (true, false),
        };
        if idle || stopping {
            // Output held back goes after what was queued before now; at the end it goes
            // whatever the budget says, so the recording ends on the last screen.
            while let Ok(e) = rx.try_recv() {
                batch.push(e);
            }
            let now = Instant::now();
            let mut budgets = lock(&budgets);
            for (room, budget) in budgets.iter_mut() {
                let held = if stopping {
                    budget.release()
                } else {
                    budget.idle(now)
                };
                for (kind, data) in held {
                    batch.push(Entry {
                        room: room.clone(),
                        at_ms: now_ms(),
                        kind,
                        actor: None,
                        data,
                    });
                }
            }
            // A budget back to full with nothing held is the same as none.
            budgets.retain(|_, b| b.skipped > 0 || b.tokens < TERM_OUT_BURST as f64);
        } else {
            // Gather what else arrives shortly, up to a batch.
            let deadline = tokio::time::Instant::now() + BATCH_EVERY;
            while batch.len() < BATCH_MAX {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(e)) => batch.push(e),
                    _ => break,
                }
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

async fn flush(db: &Writer, batch: &mut Vec<Entry>) -> Result<(), crate::Error> {
    if batch.is_empty() {
        return Ok(());
    }
    let entries = std::mem::take(batch);
    db.write_batch(move |c| {
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            // A room deleted meanwhile has no row to refer to: skip its events.
            let mut insert = tx.prepare_cached(
                "INSERT INTO room_events (room_id, at_ms, kind, actor, data)
                 SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM rooms WHERE id = ?1)",
            )?;
            for e in &entries {
                insert.execute(rusqlite::params![e.room, e.at_ms, e.kind, e.actor, e.data])?;
            }
        }
        tx.commit()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(r: &Recorded) -> Vec<(&'static str, usize)> {
        r.iter().map(|(k, d)| (*k, d.len())).collect()
    }

    #[test]
    fn terminal_output_is_recorded_within_a_burst_then_a_steady_rate() {
        let t0 = Instant::now();
        let mut b = Budget::new(t0);
        // A burst is recorded whole.
        for _ in 0..64 {
            assert_eq!(
                kinds(&b.take(&[b'x'; 64 * 1024], t0)),
                [("term_out", 65536)]
            );
        }
        // Beyond it, output is left out and counted; its end is kept.
        assert!(b.take(&[b'y'; 40 * 1024], t0).is_empty());
        assert!(b.take(b"$ ", t0).is_empty());
        assert_eq!(b.tail.len(), TERM_OUT_TAIL);
        assert!(b.tail.ends_with(b"y$ "));
        // A second later the next output is recorded after a count of what was left out and
        // the kept end.
        let t1 = t0 + Duration::from_secs(1);
        let r = b.take(b"ls\r\n", t1);
        let left_out = (40 * 1024 + 2 - TERM_OUT_TAIL).to_string();
        assert_eq!(
            kinds(&r),
            [
                ("term_out_gap", left_out.len()),
                ("term_out", TERM_OUT_TAIL),
                ("term_out", 4)
            ]
        );
        assert_eq!(r[0].1, left_out.as_bytes());
        // Quiet for a while: the budget refills, never past the burst.
        let t2 = t1 + Duration::from_secs(3600);
        assert_eq!(b.take(&vec![0; TERM_OUT_BURST as usize], t2).len(), 1);
        assert!(b.take(b"z", t2).is_empty());
    }

    #[test]
    fn output_held_back_is_recorded_once_the_budget_allows_even_if_nothing_follows() {
        let t0 = Instant::now();
        let mut b = Budget::new(t0);
        assert_eq!(b.take(&vec![b'x'; TERM_OUT_BURST as usize], t0).len(), 1);
        assert!(b.take(b"the last screen", t0).is_empty());
        assert!(b.idle(t0).is_empty(), "no budget yet");
        let r = b.idle(t0 + Duration::from_millis(100));
        assert_eq!(kinds(&r), [("term_out", 15)]);
        assert_eq!(r[0].1, b"the last screen");
        assert!(
            b.idle(t0 + Duration::from_secs(1)).is_empty(),
            "nothing held any more"
        );
    }
}
