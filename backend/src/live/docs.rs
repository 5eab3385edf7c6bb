//! A room's shared document: a yrs document whose root map `files` holds one `Y.Text` per
//! file (key: the path relative to `/interview`, POSIX). Every change is committed to the
//! room's event log in SQLite before anyone else sees it; now and then the whole state is
//! stored as a snapshot, so loading replays only what came after it.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::SqlitePool;
use tokio::sync::{broadcast, Mutex};
use yrs::encoding::read::Cursor;
use yrs::sync::protocol::{MessageReader, SyncMessage};
use yrs::sync::{Awareness, AwarenessUpdate, Message};
use yrs::updates::decoder::{Decode, DecoderV1};
use yrs::updates::encoder::{Encode, Encoder, EncoderV1};
use yrs::{Doc, Map, MapRef, Out, ReadTxn, StateVector, Transact, Update};

use crate::db::{now_ms, Writer};
use crate::tokens::Role;
use crate::Error;

/// The root map holding the files.
pub const FILES: &str = "files";

/// Stored updates beyond which they are compacted into one.
const COMPACT_AFTER: usize = 500;

/// Largest awareness state (JSON) one client may publish.
const MAX_AWARENESS_STATE: usize = 16 * 1024;

/// Messages queued for the slowest listener before it skips ahead (and is disconnected).
const FANOUT: usize = 1024;

/// A message for the room's connections.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The connection it came from (it is not sent back there); 0 for everyone.
    pub from: u64,
    /// Who it is for, by role.
    pub to: Audience,
    /// The y-websocket message(s), encoded.
    pub bytes: Arc<[u8]>,
}

/// The roles a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Every connection.
    Everyone,
    /// Not for candidates' eyes (an observer's or stealthy interviewer's presence).
    NotCandidates,
    /// Candidates only (a stealthy interviewer's cursor taken away).
    Candidates,
}

impl Audience {
    /// Whether a connection of `role` gets the message.
    pub fn includes(self, role: Role) -> bool {
        match self {
            Audience::Everyone => true,
            Audience::NotCandidates => role != Role::Candidate,
            Audience::Candidates => role == Role::Candidate,
        }
    }
}

/// Who is on the other end of a connection, as far as the document is concerned.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// The connection's id.
    pub conn: u64,
    /// Its role.
    pub role: Role,
}

/// What the document knows of a connection besides its role.
#[derive(Debug, Clone)]
pub struct Joined {
    /// Whether candidates must not see its cursors.
    pub hidden: bool,
    /// The link it came through and the id its page gives both its sockets (the `tab`
    /// parameter), when the page gave one: the room channel of the same page hides or shows
    /// its cursors (stealth) through them.
    pub page: Option<(String, String)>,
}

/// A protocol violation: the connection is closed with this reason.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    /// The bytes are not y-websocket messages.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// Storing the change failed; it was not applied for anyone else.
    #[error("{0}")]
    Storage(#[from] Error),
}

struct State {
    awareness: Awareness,
    files: MapRef,
    /// Which connection publishes which awareness client id.
    owners: HashMap<yrs::block::ClientID, u64>,
    /// The open connections.
    conns: HashMap<u64, Joined>,
    /// Update rows stored since the last compaction.
    rows: usize,
}

/// One room's document and the fan-out of its changes.
pub struct RoomDoc {
    writer: Writer,
    room: Arc<str>,
    state: Mutex<State>,
    tx: broadcast::Sender<Outgoing>,
}

impl RoomDoc {
    /// Loads the room's document from its stored updates; changes are stored through
    /// `writer`.
    pub async fn load(db: &SqlitePool, writer: Writer, room: &str) -> Result<RoomDoc, Error> {
        let snapshot: Option<(Vec<u8>, i64)> =
            sqlx::query_as("SELECT data, upto_seq FROM doc_snapshots WHERE room_id = ?")
                .bind(room)
                .fetch_optional(db)
                .await?;
        let upto = snapshot.as_ref().map(|s| s.1).unwrap_or(0);
        let mut rows: Vec<(Vec<u8>,)> = snapshot.map(|(d, _)| vec![(d,)]).unwrap_or_default();
        rows.extend(
            sqlx::query_as::<_, (Vec<u8>,)>(
                "SELECT data FROM room_events WHERE room_id = ? AND kind = 'doc' AND seq > ?
                 ORDER BY seq",
            )
            .bind(room)
            .bind(upto)
            .fetch_all(db)
            .await?,
        );
        let doc = Doc::new();
        let files = doc.get_or_insert_map(FILES);
        {
            let mut txn = doc.transact_mut();
            for (data,) in &rows {
                match Update::decode_v1(data) {
                    Ok(u) => {
                        if let Err(e) = txn.apply_update(u) {
                            tracing::warn!(room, error = %e, "a stored document update did not apply");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(room, error = %e, "a stored document update is unreadable")
                    }
                }
            }
        }
        Ok(RoomDoc {
            writer,
            room: room.into(),
            state: Mutex::new(State {
                awareness: Awareness::new(doc),
                files,
                owners: HashMap::new(),
                conns: HashMap::new(),
                rows: rows.len(),
            }),
            tx: broadcast::channel(FANOUT).0,
        })
    }

    /// Sends `message` to the room's connections in `to` (not back to `from`).
    fn fan_out(&self, message: Message, from: u64, to: Audience) {
        let mut enc = EncoderV1::new();
        message.encode(&mut enc);
        // No connection listening is fine.
        let _ = self.tx.send(Outgoing {
            from,
            to,
            bytes: enc.to_vec().into(),
        });
    }

    /// Follows the changes meant for connections.
    pub fn subscribe(&self) -> broadcast::Receiver<Outgoing> {
        self.tx.subscribe()
    }

    /// Registers a connection; returns what the server sends it first: its state vector
    /// (asking for what the client has that it lacks) and the awareness states the peer may
    /// see.
    pub async fn join(&self, peer: Peer, joined: Joined) -> Vec<u8> {
        let mut st = self.state.lock().await;
        st.conns.insert(peer.conn, joined);
        let sv = st.awareness.doc().transact().state_vector();
        let mut enc = EncoderV1::new();
        Message::Sync(SyncMessage::SyncStep1(sv)).encode(&mut enc);
        if let Some(update) = visible_states(&st, peer) {
            Message::Awareness(update).encode(&mut enc);
        }
        enc.to_vec()
    }

    /// Handles one WebSocket message from `peer`; returns the reply to send it (possibly
    /// empty). Changes are stored, then fanned out.
    pub async fn handle(&self, peer: Peer, data: &[u8]) -> Result<Vec<u8>, DocError> {
        let mut decoder = DecoderV1::new(Cursor::new(data));
        let messages: Vec<Message> = MessageReader::new(&mut decoder)
            .collect::<Result<_, _>>()
            .map_err(|e| DocError::Malformed(e.to_string()))?;
        let mut reply = EncoderV1::new();
        let mut st = self.state.lock().await;
        for m in messages {
            match m {
                Message::Sync(SyncMessage::SyncStep1(sv)) => {
                    let update = st.awareness.doc().transact().encode_state_as_update_v1(&sv);
                    Message::Sync(SyncMessage::SyncStep2(update)).encode(&mut reply);
                }
                Message::Sync(SyncMessage::SyncStep2(u))
                | Message::Sync(SyncMessage::Update(u)) => {
                    if peer.role == Role::Observer {
                        // Read-only: an observer's edits go nowhere.
                        continue;
                    }
                    let update =
                        Update::decode_v1(&u).map_err(|e| DocError::Malformed(e.to_string()))?;
                    self.apply(&mut st, peer, update).await?;
                }
                Message::Awareness(update) => self.awareness(&mut st, peer, update),
                Message::AwarenessQuery => {
                    if let Some(update) = visible_states(&st, peer) {
                        Message::Awareness(update).encode(&mut reply);
                    }
                }
                Message::Auth(_) => {}
                Message::Custom(tag, _) => {
                    return Err(DocError::Malformed(format!("unknown message type {tag}")))
                }
            }
        }
        Ok(reply.to_vec())
    }

    /// Applies a client's update, drops what the schema does not allow, stores the result
    /// and fans it out.
    async fn apply(&self, st: &mut State, peer: Peer, update: Update) -> Result<(), DocError> {
        let (encoded, sanitized) = {
            let files = st.files.clone();
            let mut txn = st.awareness.doc().transact_mut();
            txn.apply_update(update)
                .map_err(|e| DocError::Malformed(e.to_string()))?;
            let bad: Vec<String> = files
                .iter(&txn)
                .filter(|(k, v)| !valid_path(k) || !matches!(v, Out::YText(_)))
                .map(|(k, _)| k.to_string())
                .collect();
            for k in &bad {
                files.remove(&mut txn, k);
            }
            if !bad.is_empty() {
                tracing::debug!(room = %self.room, dropped = bad.len(), "invalid document entries dropped");
            }
            (txn.encode_update_v1(), !bad.is_empty())
        };
        if is_empty_update(&encoded) {
            return Ok(());
        }
        let encoded: Arc<[u8]> = encoded.into();
        let seq = self.store(&encoded, peer.role.as_str()).await?;
        // A sanitized update goes back to its sender too: it removes what was dropped.
        let from = if sanitized { 0 } else { peer.conn };
        self.fan_out(
            Message::Sync(SyncMessage::Update(encoded.to_vec())),
            from,
            Audience::Everyone,
        );
        self.stored(st, seq).await?;
        Ok(())
    }

    /// Commits an update to the room's event log (one statement: the update is durable when
    /// it returns); returns its sequence number.
    async fn store(&self, update: &Arc<[u8]>, actor: &'static str) -> Result<i64, Error> {
        let (room, update, at) = (self.room.clone(), update.clone(), now_ms());
        self.writer
            .write(move |c| {
                c.prepare_cached(
                    "INSERT INTO room_events (room_id, at_ms, kind, actor, data)
                     VALUES (?, ?, 'doc', ?, ?)",
                )?
                .execute(rusqlite::params![&*room, at, actor, &*update])?;
                Ok(c.last_insert_rowid())
            })
            .await
    }

    /// Counts a stored update (once it is on its way to the others); every
    /// [`COMPACT_AFTER`] updates, stores the whole state as of event `seq`: loading starts
    /// from it.
    async fn stored(&self, st: &mut State, seq: i64) -> Result<(), Error> {
        st.rows += 1;
        if st.rows < COMPACT_AFTER {
            return Ok(());
        }
        let full = st
            .awareness
            .doc()
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let (room, bytes) = (self.room.clone(), full.len());
        self.writer
            .write_batch(move |c| {
                c.prepare_cached(
                    "INSERT INTO doc_snapshots (room_id, data, upto_seq) VALUES (?, ?, ?)
                     ON CONFLICT (room_id) DO UPDATE
                     SET data = excluded.data, upto_seq = excluded.upto_seq",
                )?
                .execute(rusqlite::params![&*room, full, seq])
            })
            .await?;
        tracing::debug!(room = %self.room, updates = st.rows, bytes, "document compacted");
        st.rows = 0;
        Ok(())
    }

    /// Applies a client's awareness (cursor, name) and fans it out. A connection may only
    /// speak for the awareness clients it introduced.
    fn awareness(&self, st: &mut State, peer: Peer, mut update: AwarenessUpdate) {
        update.clients.retain(|id, entry| {
            *st.owners.entry(*id).or_insert(peer.conn) == peer.conn
                && entry.json.len() <= MAX_AWARENESS_STATE
        });
        if update.clients.is_empty() {
            return;
        }
        if let Err(e) = st.awareness.apply_update(update.clone()) {
            tracing::debug!(room = %self.room, error = %e, "awareness update ignored");
            return;
        }
        self.fan_out(
            Message::Awareness(update),
            peer.conn,
            st.audience(peer.conn),
        );
    }

    /// Forgets a closed connection: its awareness clients are removed for everyone.
    pub async fn disconnect(&self, peer: Peer) {
        let mut st = self.state.lock().await;
        let to = st.audience(peer.conn);
        st.conns.remove(&peer.conn);
        let mine = st.owned_by(&[peer.conn]);
        if mine.is_empty() {
            return;
        }
        for id in &mine {
            st.owners.remove(id);
            st.awareness.remove_state(*id);
        }
        if let Ok(update) = st.awareness.update_with_clients(mine) {
            self.fan_out(Message::Awareness(update), peer.conn, to);
        }
    }

    /// Hides from candidates the cursors of the page that gave its sockets the id `tab`,
    /// opened through `link`, or shows them again: its interviewer went stealthy or came
    /// back. Other pages of the same link keep theirs.
    pub async fn set_hidden(&self, link: &str, tab: &str, hidden: bool) {
        let mut st = self.state.lock().await;
        let conns: Vec<u64> = st
            .conns
            .iter_mut()
            .filter(|(_, j)| {
                j.hidden != hidden
                    && j.page
                        .as_ref()
                        .is_some_and(|(l, t)| l.as_str() == link && t.as_str() == tab)
            })
            .map(|(conn, j)| {
                j.hidden = hidden;
                *conn
            })
            .collect();
        let mine = st.owned_by(&conns);
        if mine.is_empty() {
            return;
        }
        let Ok(mut update) = st.awareness.update_with_clients(mine) else {
            return;
        };
        if hidden {
            // A state announced null at the clock a client knows is dropped there.
            for entry in update.clients.values_mut() {
                entry.json = "null".into();
            }
            self.fan_out(Message::Awareness(update), 0, Audience::Candidates);
        } else {
            // Candidates dropped these states at their clock: one tick later brings them
            // back. Everyone, the owner included, moves to the new clock.
            for entry in update.clients.values_mut() {
                entry.clock += 1;
            }
            if st.awareness.apply_update(update.clone()).is_ok() {
                self.fan_out(Message::Awareness(update), 0, Audience::Everyone);
            }
        }
    }

    /// Changes the document on the server's behalf (files changed in the room): `edit` runs
    /// in one transaction on the `files` map; the change is stored and sent to everyone.
    pub async fn edit<R>(
        &self,
        edit: impl FnOnce(&mut yrs::TransactionMut, &MapRef) -> R,
    ) -> Result<R, Error> {
        let mut st = self.state.lock().await;
        let (result, encoded) = {
            let files = st.files.clone();
            let mut txn = st.awareness.doc().transact_mut();
            let result = edit(&mut txn, &files);
            (result, txn.encode_update_v1())
        };
        if !is_empty_update(&encoded) {
            let encoded: Arc<[u8]> = encoded.into();
            let seq = self.store(&encoded, "room").await?;
            self.fan_out(
                Message::Sync(SyncMessage::Update(encoded.to_vec())),
                0,
                Audience::Everyone,
            );
            self.stored(&mut st, seq).await?;
        }
        Ok(result)
    }

    /// The text of every file in the document, by path.
    pub async fn files(&self) -> std::collections::BTreeMap<String, String> {
        let st = self.state.lock().await;
        let txn = st.awareness.doc().transact();
        st.files
            .iter(&txn)
            .filter_map(|(k, v)| match v {
                Out::YText(t) => Some((k.to_string(), yrs::GetString::get_string(&t, &txn))),
                _ => None,
            })
            .collect()
    }
}

impl State {
    /// Who may see what connection `conn` publishes.
    fn audience(&self, conn: u64) -> Audience {
        match self.conns.get(&conn) {
            Some(j) if j.hidden => Audience::NotCandidates,
            _ => Audience::Everyone,
        }
    }

    /// The awareness clients the connections `conns` publish.
    fn owned_by(&self, conns: &[u64]) -> Vec<yrs::block::ClientID> {
        self.owners
            .iter()
            .filter(|(_, c)| conns.contains(c))
            .map(|(id, _)| *id)
            .collect()
    }
}

/// The awareness states `peer` may see: candidates do not see hidden participants.
fn visible_states(st: &State, peer: Peer) -> Option<AwarenessUpdate> {
    let mut update = st.awareness.update().ok()?;
    update.clients.retain(|id, _| {
        st.owners
            .get(id)
            .is_none_or(|c| st.audience(*c).includes(peer.role))
    });
    (!update.clients.is_empty()).then_some(update)
}

/// An update that changes nothing (no structs, no deletions).
fn is_empty_update(update: &[u8]) -> bool {
    update == [0, 0]
}

/// Whether `key` may name a file: a relative POSIX path without empty, `.` or `..` parts,
/// NUL or backslashes, at most 1024 bytes.
pub fn valid_path(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 1024
        && !key.starts_with('/')
        && !key.contains(['\0', '\\'])
        && key
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_keys_are_relative_posix_paths() {
        for ok in ["main.py", "src/lib.rs", "a b/c-d_e.txt", ".gitignore"] {
            assert!(valid_path(ok), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "a/",
            "./a",
            "a\\b",
            "a\0b",
        ] {
            assert!(!valid_path(bad), "{bad:?}");
        }
        assert!(!valid_path(&"a".repeat(1025)));
    }

    #[tokio::test]
    async fn stored_updates_are_compacted_and_load_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let (db, writer, _) = crate::db::with_room(dir.path()).await;
        let doc = RoomDoc::load(&db, writer.clone(), "r1").await.unwrap();
        let peer = Peer {
            conn: 1,
            role: Role::Candidate,
        };
        // A client types 2.5 times the compaction threshold, one character per update.
        let client = Doc::new();
        let files = client.get_or_insert_map(FILES);
        let n = COMPACT_AFTER * 5 / 2;
        for i in 0..n {
            let update = {
                let mut txn = client.transact_mut();
                let text = match files.get(&txn, "a.txt") {
                    Some(Out::YText(t)) => t,
                    _ => files.insert(&mut txn, "a.txt", yrs::TextPrelim::new("")),
                };
                let len = yrs::Text::len(&text, &txn);
                yrs::Text::insert(&text, &mut txn, len, if i % 10 == 9 { "\n" } else { "x" });
                txn.encode_update_v1()
            };
            let mut enc = EncoderV1::new();
            Message::Sync(SyncMessage::Update(update)).encode(&mut enc);
            doc.handle(peer, &enc.to_vec()).await.unwrap();
        }
        let (upto,): (i64,) =
            sqlx::query_as("SELECT upto_seq FROM doc_snapshots WHERE room_id = 'r1'")
                .fetch_one(&db)
                .await
                .unwrap();
        let after: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM room_events WHERE room_id = 'r1' AND kind = 'doc' AND seq > ?",
        )
        .bind(upto)
        .fetch_one(&db)
        .await
        .unwrap();
        assert!(
            after < COMPACT_AFTER as i64,
            "loading replays {after} updates after {n}"
        );
        let events: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM room_events WHERE room_id = 'r1' AND kind = 'doc'",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        assert_eq!(events, n as i64, "the recording keeps every update");
        let want = doc.files().await;
        let reloaded = RoomDoc::load(&db, writer, "r1").await.unwrap();
        assert_eq!(reloaded.files().await, want);
        assert_eq!(want["a.txt"].len(), n);
    }

    #[test]
    fn the_empty_update_is_recognised() {
        let doc = Doc::new();
        let txn = doc.transact_mut();
        assert!(is_empty_update(&txn.encode_update_v1()));
    }
}
