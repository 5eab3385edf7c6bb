//! The document socket, `{prefix}/yjs/{room}?token=…`: the standard y-websocket protocol
//! (sync + awareness), so a stock `y-websocket` `WebsocketProvider` joins a room. A refused
//! socket is accepted, then closed at once — before any room data — with a code the page
//! turns into plain words (see [`crate::tokens::Refusal`]).

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;

use super::docs::{DocError, Joined, Peer};
use crate::tokens::Role;
use crate::App;

/// Close codes besides the refusals of [`crate::tokens::Refusal`].
pub mod close {
    /// The server is shutting down (clients reconnect).
    pub const GOING_AWAY: u16 = 1001;
    /// Text where binary was expected, or the like.
    pub const UNSUPPORTED: u16 = 1003;
    /// A message over the size limit.
    pub const TOO_BIG: u16 = 1009;
    /// The server failed (storage).
    pub const INTERNAL: u16 = 1011;
    /// A message that breaks the protocol.
    pub const PROTOCOL: u16 = 4400;
    /// The client fell too far behind (it re-syncs when it reconnects).
    pub const TOO_SLOW: u16 = 4408;
    /// The room has as many sockets as it accepts.
    pub const FULL: u16 = 4429;
}

/// The query of a room socket.
#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    /// The room token from the link's fragment.
    pub token: Option<String>,
    /// `1`: an interviewer's presence hidden from the candidate (document socket).
    pub stealth: Option<String>,
    /// An id the page gives its document socket and its room channel (`hello.tab`), so
    /// going stealthy on the channel hides the page's cursors too (document socket).
    pub tab: Option<String>,
}

/// Upgrades to the document socket of `room`.
pub async fn socket(
    State(app): State<App>,
    Path(room): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let stealth = q.stealth.as_deref() == Some("1");
    let token = q.token.unwrap_or_default();
    let tab = q.tab.filter(|t| super::valid_tab(t));
    super::upgrade(&app.clone(), &headers, ws, move |socket| {
        serve(app, room, token, stealth, tab, socket)
    })
}

/// Sends a close frame and lets the socket go.
pub async fn close_with(socket: &mut WebSocket, code: u16, reason: &str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

async fn serve(
    app: App,
    room: String,
    token: String,
    stealth: bool,
    tab: Option<String>,
    mut socket: WebSocket,
) {
    let Some((admitted, hub, reg)) = super::enter(&app, &room, &token, &mut socket).await else {
        return;
    };
    let peer = Peer {
        conn: reg.id,
        role: admitted.role,
    };
    let joined = Joined {
        hidden: admitted.role == Role::Observer || (admitted.role == Role::Interviewer && stealth),
        page: tab.map(|t| (admitted.link_id.clone(), t)),
    };
    let mut changes = hub.doc.subscribe();
    let greeting = hub.doc.join(peer, joined).await;
    let (mut tx, mut rx) = socket.split();
    if tx.send(Message::Binary(greeting.into())).await.is_err() {
        hub.doc.disconnect(peer).await;
        return;
    }
    let stop = app.inner.shutdown.clone();
    let (code, reason): (u16, String) = loop {
        tokio::select! {
            _ = reg.close.cancelled() => {
                let why = reg.why().unwrap_or(crate::tokens::Refusal::RoomClosed);
                break (why.code(), why.reason().into());
            }
            _ = stop.cancelled() => break (close::GOING_AWAY, "the server is shutting down".into()),
            change = changes.recv() => match change {
                Ok(m) => {
                    if m.from == peer.conn || !m.to.includes(peer.role) {
                        continue;
                    }
                    if tx.send(Message::Binary(m.bytes.to_vec().into())).await.is_err() {
                        break (0, String::new());
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    break (close::TOO_SLOW, "too far behind; reconnect to catch up".into())
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    break (close::GOING_AWAY, "the room closed".into())
                }
            },
            incoming = rx.next() => match incoming {
                Some(Ok(Message::Binary(data))) => match hub.doc.handle(peer, &data).await {
                    Ok(reply) if reply.is_empty() => {}
                    Ok(reply) => {
                        if tx.send(Message::Binary(reply.into())).await.is_err() {
                            break (0, String::new());
                        }
                    }
                    Err(DocError::Malformed(why)) => {
                        tracing::debug!(room = %room, %why, "document socket closed: bad message");
                        break (close::PROTOCOL, "malformed y-websocket message".into());
                    }
                    Err(DocError::Storage(e)) => {
                        tracing::error!(room = %room, error = %e, "document change not stored");
                        break (close::INTERNAL, "the change could not be saved".into());
                    }
                },
                Some(Ok(Message::Text(_))) => {
                    break (close::UNSUPPORTED, "binary y-websocket messages only".into())
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | None => break (0, String::new()),
                Some(Err(e)) => break super::read_failure(&e),
            },
        }
    };
    if code != 0 {
        let _ = tx
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
    }
    hub.doc.disconnect(peer).await;
}

/// Whether a socket's `Origin` may open rooms: absent (non-browser clients), our own (the
/// `Host`, or the `X-Forwarded-Host` a proxy sets — a page cannot forge either), the public
/// URL's, or the desktop app's.
pub fn origin_allowed(app: &App, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim_end_matches('/').to_ascii_lowercase();
    if matches!(
        origin.as_str(),
        "tauri://localhost" | "http://tauri.localhost" | "https://tauri.localhost"
    ) {
        return true;
    }
    let Some(authority) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let same = |h: Option<&axum::http::HeaderValue>| {
        h.and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(',')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .is_some_and(|v| !v.is_empty() && v == authority)
    };
    if same(headers.get(header::HOST)) || same(headers.get("x-forwarded-host")) {
        return true;
    }
    app.addressing()
        .public_url
        .is_some_and(|url| origin_of(&url).is_some_and(|o| o == origin))
}

/// `scheme://authority` of a URL, lower-cased.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    Some(format!("{scheme}://{authority}").to_ascii_lowercase())
}
