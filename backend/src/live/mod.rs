//! The live side of rooms: one hub per room people are in, holding its shared document
//! (served over the standard y-websocket protocol, see [`yjs`]) and the connections to it.
//! Connections are registered with their link and role, so revoking a link or stopping the
//! room closes exactly the sockets it should.

pub mod channel;
pub mod docs;
pub mod protocol;
pub mod sync;
pub mod yjs;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::tokens::{Admitted, Refusal, Revoke, Role};

/// Largest WebSocket message a client may send; larger ones close its socket.
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

/// Sockets one room accepts at once (each person uses two: document and channel); more are
/// closed with [`yjs::close::FULL`].
pub const MAX_ROOM_CONNECTIONS: usize = 64;

/// Messages queued for one client before it counts as too slow and is disconnected (it
/// re-syncs when it reconnects). A slow client never holds up the others.
pub const CLIENT_QUEUE: usize = 1024;

/// The hubs of rooms people are in.
#[derive(Default)]
pub struct Hubs {
    rooms: Mutex<HashMap<String, Arc<Hub>>>,
}

/// A connection as the hub knows it.
struct Conn {
    link_id: String,
    role: Role,
    /// Cancelled to close the socket, with the code and reason set first.
    close: CancellationToken,
    why: Arc<std::sync::Mutex<Option<Refusal>>>,
}

/// What changed in a room, for its channel connections (each renders it for its role).
#[derive(Debug, Clone)]
pub enum HubEvent {
    /// Someone joined, left, or changed focus or visibility.
    Participants,
    /// The room's rules changed.
    Policy,
    /// The candidate did something interviewers are told about.
    Activity(Box<protocol::ServerMessage>),
}

/// Columns and rows.
pub type Size = (u16, u16);

/// Terminal sizes by connection, and the size last given to the shell.
pub type TermSizes = (HashMap<u64, Size>, Option<Size>);

/// One room's live state.
pub struct Hub {
    /// The room's id.
    pub room: String,
    /// The shared document.
    pub doc: docs::RoomDoc,
    conns: std::sync::Mutex<HashMap<u64, Conn>>,
    next_conn: AtomicU64,
    /// The people on the room channel, by connection.
    pub people: std::sync::Mutex<std::collections::BTreeMap<u64, protocol::Participant>>,
    /// Terminal sizes reported by those whose size counts, and the size last applied.
    pub sizes: std::sync::Mutex<TermSizes>,
    /// Whether the candidate may type in the terminal.
    pub candidate_terminal: std::sync::atomic::AtomicBool,
    /// Changes for the channel connections.
    pub events: tokio::sync::broadcast::Sender<HubEvent>,
    /// Cancelled when the room stops or is deleted: the hub's tasks end.
    pub closed: CancellationToken,
    /// Whether the task that keeps document and files in step runs.
    pub syncing: std::sync::atomic::AtomicBool,
    /// Asks that task to write pending document edits to the files now.
    pub flush:
        std::sync::Mutex<Option<tokio::sync::mpsc::Sender<tokio::sync::oneshot::Sender<()>>>>,
}

impl Hub {
    /// Writes pending document edits to the files (before the room stops), waiting a few
    /// seconds at most.
    pub async fn flush(&self) {
        let tx = self.flush.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(tx) = tx else { return };
        let (done, wait) = tokio::sync::oneshot::channel();
        if tx.send(done).await.is_ok() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), wait).await;
        }
    }
}

/// A connection's registration; dropping it unregisters.
pub struct Registration {
    hub: Arc<Hub>,
    /// The connection's id within the hub.
    pub id: u64,
    /// Cancelled when the server closes this connection.
    pub close: CancellationToken,
    why: Arc<std::sync::Mutex<Option<Refusal>>>,
}

impl Registration {
    /// Why the server closed the connection, once `close` is cancelled.
    pub fn why(&self) -> Option<Refusal> {
        *self.why.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub
            .conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

impl Hub {
    /// Registers a connection through `link_id` as `role`; `None` when the room already has
    /// [`MAX_ROOM_CONNECTIONS`].
    pub fn register(self: &Arc<Self>, link_id: &str, role: Role) -> Option<Registration> {
        let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        if conns.len() >= MAX_ROOM_CONNECTIONS {
            return None;
        }
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let close = CancellationToken::new();
        let why = Arc::new(std::sync::Mutex::new(None));
        conns.insert(
            id,
            Conn {
                link_id: link_id.to_string(),
                role,
                close: close.clone(),
                why: why.clone(),
            },
        );
        drop(conns);
        Some(Registration {
            hub: self.clone(),
            id,
            close,
            why,
        })
    }

    /// Closes the connections that `matches` selects, telling them `why`.
    fn close_where(&self, why: Refusal, matches: impl Fn(&Conn) -> bool) {
        for c in self
            .conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
        {
            if matches(c) {
                *c.why.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
                c.close.cancel();
            }
        }
    }

    /// How many connections are open.
    pub fn connections(&self) -> usize {
        self.conns.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl Hubs {
    /// The hub of `room`, loading its document from the database the first time.
    pub async fn get_or_open(
        &self,
        db: &sqlx::SqlitePool,
        writer: &crate::db::Writer,
        room: &str,
    ) -> Result<Arc<Hub>, crate::Error> {
        let mut rooms = self.rooms.lock().await;
        if let Some(h) = rooms.get(room) {
            return Ok(h.clone());
        }
        let doc = docs::RoomDoc::load(db, writer.clone(), room).await?;
        let candidate_terminal = crate::rooms::candidate_terminal(db, room).await?;
        let hub = Arc::new(Hub {
            room: room.to_string(),
            doc,
            conns: Default::default(),
            next_conn: AtomicU64::new(1),
            people: Default::default(),
            sizes: Default::default(),
            candidate_terminal: candidate_terminal.into(),
            events: tokio::sync::broadcast::channel(256).0,
            closed: CancellationToken::new(),
            syncing: false.into(),
            flush: Default::default(),
        });
        rooms.insert(room.to_string(), hub.clone());
        Ok(hub)
    }

    /// Closes the sockets opened with links that were just revoked.
    pub async fn revoked(&self, room: &str, which: &Revoke) {
        let Some(hub) = self.rooms.lock().await.get(room).cloned() else {
            return;
        };
        hub.close_where(Refusal::Expired, |c| match which {
            Revoke::Link(id) => &c.link_id == id,
            Revoke::Role(r) => c.role == *r,
            Revoke::All => true,
        });
    }

    /// Writes `room`'s pending document edits to its files, if it has a hub.
    pub async fn flush(&self, room: &str) {
        let hub = self.rooms.lock().await.get(room).cloned();
        if let Some(hub) = hub {
            hub.flush().await;
        }
    }

    /// Closes every socket of `room` (it stopped or was deleted) and forgets its hub; the
    /// document stays in the database.
    pub async fn close_room(&self, room: &str) {
        if let Some(hub) = self.rooms.lock().await.remove(room) {
            hub.closed.cancel();
            hub.close_where(Refusal::RoomClosed, |_| true);
        }
    }
}

/// Upgrades a room socket request: refuses foreign origins (HTTP 403), bounds message sizes,
/// then hands the socket to `serve`.
pub fn upgrade<F, Fut>(
    app: &crate::App,
    headers: &axum::http::HeaderMap,
    ws: axum::extract::ws::WebSocketUpgrade,
    serve: F,
) -> axum::response::Response
where
    F: FnOnce(axum::extract::ws::WebSocket) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    use axum::response::IntoResponse;
    if !yjs::origin_allowed(app, headers) {
        return (
            axum::http::StatusCode::FORBIDDEN,
            "this origin may not open room sockets\n",
        )
            .into_response();
    }
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(serve)
}

/// Lets a socket into `room` with `token`: checks the token, opens the room's hub and
/// registers the connection. On refusal the socket is closed with the code that says why,
/// before any room data, and `None` is returned.
pub async fn enter(
    app: &crate::App,
    room: &str,
    token: &str,
    socket: &mut axum::extract::ws::WebSocket,
) -> Option<(Admitted, Arc<Hub>, Registration)> {
    let admitted = match app.admit(room, token).await {
        Ok(a) => a,
        Err(refusal) => {
            yjs::close_with(socket, refusal.code(), refusal.reason()).await;
            return None;
        }
    };
    let hub = match app
        .inner
        .hubs
        .get_or_open(&app.inner.db, &app.inner.writer, room)
        .await
    {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(room = %room, error = %e, "room not opened for a socket");
            yjs::close_with(socket, yjs::close::INTERNAL, "the room cannot be opened").await;
            return None;
        }
    };
    let Some(reg) = hub.register(&admitted.link_id, admitted.role) else {
        yjs::close_with(socket, yjs::close::FULL, "the room is full").await;
        return None;
    };
    Some((admitted, hub, reg))
}

/// How a socket whose read failed ends: a message over the size limit is told so (1009); a
/// broken connection gets no close frame (code 0: nobody is there to read it).
pub(crate) fn read_failure(e: &axum::Error) -> (u16, String) {
    let text = e.to_string();
    if text.contains("too long") || text.contains("too big") {
        (yjs::close::TOO_BIG, "message too big".into())
    } else {
        (0, String::new())
    }
}

/// Whether `tab` may be a page's id (see [`protocol::ClientMessage::Hello`]): 1 to 64
/// letters, digits, `-` or `_`.
pub(crate) fn valid_tab(tab: &str) -> bool {
    (1..=64).contains(&tab.len())
        && tab
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
