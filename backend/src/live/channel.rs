//! The room channel, `{prefix}/room/{room}?token=…`: terminal, presence, activity, file
//! operations and control (see `docs/protocol.md` and [`super::protocol`]). Every message is
//! checked against the sender's role on the server; the page merely hides what a role cannot
//! do.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use insider::protocol::{EntryKind, Event, Request};
use tokio::sync::broadcast::error::RecvError;

use super::protocol::{
    ActivityKind, ClientMessage, FileEntry, Participant, RoomInfo, ServerMessage, MAX_NAME,
    TERM_OUTPUT, TERM_SCREEN,
};
use super::yjs::{close, close_with, TokenQuery};
use super::{Hub, HubEvent};
use crate::runtime::AgentLink;
use crate::tokens::{Refusal, Role};
use crate::App;

/// How long a client has to say hello.
const HELLO_WITHIN: Duration = Duration::from_secs(30);

/// Largest upload, in bytes (before base64).
const MAX_UPLOAD: usize = 4 * 1024 * 1024;

/// Participants' colours, in the order they are handed out.
const COLORS: [&str; 10] = [
    "#e5484d", "#0090ff", "#30a46c", "#f76b15", "#8e4ec6", "#12a594", "#d6409f", "#ab6400",
    "#3e63dd", "#7c66dc",
];

/// Upgrades to the room channel of `room`.
pub async fn socket(
    State(app): State<App>,
    Path(room): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let token = q.token.unwrap_or_default();
    super::upgrade(&app.clone(), &headers, ws, move |socket| {
        serve(app, room, token, socket)
    })
}

/// The terminal as a connection follows it: the agent link, and its output.
struct Term {
    link: AgentLink,
    events: tokio::sync::broadcast::Receiver<Event>,
}

/// A message to send: JSON or a binary terminal frame.
enum Out {
    Json(Box<ServerMessage>),
    Binary(Vec<u8>),
}

impl Out {
    fn json(m: ServerMessage) -> Out {
        Out::Json(Box::new(m))
    }
}

fn frame(tag: u8, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(data.len() + 1);
    v.push(tag);
    v.extend_from_slice(data);
    v
}

async fn send(tx: &mut futures_util::stream::SplitSink<WebSocket, Message>, out: Out) -> bool {
    let msg = match out {
        Out::Json(m) => Message::Text(serde_json::to_string(&*m).unwrap_or_default().into()),
        Out::Binary(b) => Message::Binary(b.into()),
    };
    tx.send(msg).await.is_ok()
}

async fn serve(app: App, room: String, token: String, mut socket: WebSocket) {
    let Some((admitted, hub, reg)) = super::enter(&app, &room, &token, &mut socket).await else {
        return;
    };
    let role = admitted.role;

    // The first message says who is joining.
    let (name, stealth, tab) = match tokio::time::timeout(HELLO_WITHIN, socket.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => match serde_json::from_str::<ClientMessage>(&t) {
            Ok(ClientMessage::Hello { name, stealth, tab }) => match clean_name(&name) {
                Some(n) => (
                    n,
                    stealth && role == Role::Interviewer,
                    tab.filter(|t| super::valid_tab(t)),
                ),
                None => {
                    close_with(&mut socket, close::PROTOCOL, "a name of 1 to 60 characters").await;
                    return;
                }
            },
            _ => {
                close_with(&mut socket, close::PROTOCOL, "say hello first").await;
                return;
            }
        },
        _ => {
            close_with(&mut socket, close::PROTOCOL, "say hello first").await;
            return;
        }
    };
    let me = Participant {
        id: reg.id as u32,
        name,
        role,
        color: COLORS[(reg.id as usize - 1) % COLORS.len()].to_string(),
        focused: true,
        hidden: role == Role::Observer || stealth,
    };
    let info = match room_info(&app, &room, &hub).await {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(room = %room, error = %e, "room channel not opened");
            close_with(&mut socket, close::INTERNAL, "the room cannot be opened").await;
            return;
        }
    };
    let mut hub_events = hub.events.subscribe();
    let mut app_events = app.subscribe();
    hub.people
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(reg.id, me.clone());
    let _ = hub.events.send(HubEvent::Participants);
    app.inner.log.append(&room, "join", Some(&actor(&me)), &[]);
    let presence = |joined: bool| crate::events::AppEvent::Presence {
        room: room.clone(),
        name: me.name.clone(),
        role: me.role.as_str().to_string(),
        joined,
    };
    let _ = app.inner.events.send(presence(true));

    let (mut tx, mut rx) = socket.split();
    let conn = Conn {
        app: app.clone(),
        hub: hub.clone(),
        id: reg.id,
        role,
        page: tab.map(|t| (admitted.link_id.clone(), t)),
    };
    let mut ok = send(
        &mut tx,
        Out::json(ServerMessage::Welcome {
            you: me.clone(),
            room: info,
            can_type: conn.can_type(),
        }),
    )
    .await;
    ok = ok && send(&mut tx, Out::json(conn.participants())).await;
    // The terminal, when the room's shell is there (else the loop keeps trying).
    let mut term: Option<Term> = None;
    if let Ok((link, screen, events)) = app.room_terminal(&room).await {
        term = Some(Term { link, events });
        ok = ok && send(&mut tx, Out::Binary(frame(TERM_SCREEN, &screen))).await;
    }
    let mut retry = tokio::time::interval(Duration::from_millis(500));
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stop = app.inner.shutdown.clone();

    let (code, reason): (u16, String) = loop {
        if !ok {
            break (0, String::new());
        }
        tokio::select! {
            _ = reg.close.cancelled() => {
                let why = reg.why().unwrap_or(Refusal::RoomClosed);
                break (why.code(), why.reason().into());
            }
            _ = stop.cancelled() => break (close::GOING_AWAY, "the server is shutting down".into()),
            _ = retry.tick(), if term.is_none() => {
                if let Ok((link, screen, events)) = app.room_terminal(&room).await {
                    term = Some(Term { link, events });
                    conn.apply_size(term.as_ref().map(|t| &t.link)).await;
                    ok = send(&mut tx, Out::Binary(frame(TERM_SCREEN, &screen))).await;
                }
            }
            ev = async { term.as_mut().expect("guarded").events.recv().await }, if term.is_some() => match ev {
                Ok(Event::PtyOutput { data }) => {
                    ok = send(&mut tx, Out::Binary(frame(TERM_OUTPUT, &data))).await;
                }
                Ok(Event::Changed { paths }) => {
                    ok = send(&mut tx, Out::json(ServerMessage::FilesChanged { paths })).await;
                }
                Ok(_) => {}
                // Fell behind a flood of output: start again from the screen.
                Err(RecvError::Lagged(_)) => {
                    term = None;
                    retry.reset_immediately();
                }
                // The shell's container went away (restart, recovery): follow the new one.
                Err(RecvError::Closed) => term = None,
            },
            ev = hub_events.recv() => match ev {
                Ok(HubEvent::Participants) => ok = send(&mut tx, Out::json(conn.participants())).await,
                Ok(HubEvent::Policy) => ok = send(&mut tx, Out::json(ServerMessage::Policy {
                    candidate_terminal: hub.candidate_terminal.load(Ordering::SeqCst),
                    can_type: conn.can_type(),
                })).await,
                Ok(HubEvent::Activity(m)) => {
                    if role == Role::Interviewer {
                        ok = send(&mut tx, Out::Json(m)).await;
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    ok = send(&mut tx, Out::json(conn.participants())).await;
                }
                Err(RecvError::Closed) => break (close::GOING_AWAY, "the room closed".into()),
            },
            ev = app_events.recv() => {
                if let Ok(crate::events::AppEvent::StopSoon { room: r, stop_at }) = ev {
                    if r == room {
                        ok = send(&mut tx, Out::json(ServerMessage::StopSoon { at: stop_at })).await;
                    }
                }
            }
            incoming = rx.next() => match incoming {
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<ClientMessage>(&t) {
                    Ok(msg) => {
                        for out in conn.handle(msg, term.as_ref().map(|t| &t.link)).await {
                            ok = ok && send(&mut tx, out).await;
                        }
                    }
                    Err(e) => {
                        tracing::debug!(room = %room, error = %e, "room channel closed: bad message");
                        break (close::PROTOCOL, "malformed room message".into());
                    }
                },
                Some(Ok(Message::Binary(_))) => {
                    break (close::UNSUPPORTED, "text room messages only".into())
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | None => break (0, String::new()),
                Some(Err(e)) => break super::read_failure(&e),
            },
        }
    };
    if code != 0 {
        let _ = tx
            .send(Message::Close(Some(axum::extract::ws::CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
    }
    // Gone: out of the list, out of the size calculation.
    hub.people
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&reg.id);
    hub.sizes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .0
        .remove(&reg.id);
    conn.apply_size(term.as_ref().map(|t| &t.link)).await;
    let _ = hub.events.send(HubEvent::Participants);
    app.inner.log.append(&room, "leave", Some(&actor(&me)), &[]);
    let _ = app.inner.events.send(presence(false));
}

/// How a participant appears in the event log: `role:id:name`.
fn actor(p: &Participant) -> String {
    format!("{}:{}:{}", p.role, p.id, p.name)
}

/// A display name: trimmed, 1 to 60 characters, no control characters.
fn clean_name(name: &str) -> Option<String> {
    let n: String = name.trim().chars().filter(|c| !c.is_control()).collect();
    let len = n.chars().count();
    (1..=MAX_NAME).contains(&len).then_some(n)
}

async fn room_info(app: &App, room: &str, hub: &Hub) -> Result<RoomInfo, crate::Error> {
    let summary = crate::rooms::get(&app.inner.db, room).await?;
    let lang = app.catalog().get(&summary.language);
    Ok(RoomInfo {
        id: summary.id,
        name: summary.name,
        language_name: lang
            .map(|l| l.name.clone())
            .unwrap_or_else(|| summary.language.clone()),
        mode: lang.map(|l| l.mode.clone()).unwrap_or_default(),
        run: lang.map(|l| l.run.clone()).unwrap_or_default(),
        default_file: lang.and_then(|l| l.starter.first().map(|f| f.path.clone())),
        language: summary.language,
        candidate_terminal: hub.candidate_terminal.load(Ordering::SeqCst),
        stop_at: summary.stop_at,
        created_at: summary.created_at,
    })
}

/// One connection's view of its hub.
struct Conn {
    app: App,
    hub: Arc<Hub>,
    id: u64,
    role: Role,
    /// The link and the page's id, shared with the page's document socket.
    page: Option<(String, String)>,
}

impl Conn {
    fn can_type(&self) -> bool {
        match self.role {
            Role::Interviewer => true,
            Role::Candidate => self.hub.candidate_terminal.load(Ordering::SeqCst),
            Role::Observer => false,
        }
    }

    /// The people this connection may see: candidates do not see hidden ones.
    fn participants(&self) -> ServerMessage {
        let people = self.hub.people.lock().unwrap_or_else(|p| p.into_inner());
        ServerMessage::Participants {
            list: people
                .values()
                .filter(|p| self.role != Role::Candidate || !p.hidden || p.id == self.id as u32)
                .cloned()
                .collect(),
        }
    }

    fn update_me(&self, f: impl FnOnce(&mut Participant)) -> Option<Participant> {
        let mut people = self.hub.people.lock().unwrap_or_else(|p| p.into_inner());
        let me = people.get_mut(&self.id)?;
        f(me);
        Some(me.clone())
    }

    /// Gives the shell the smallest size among those who count (interviewers and the
    /// candidate; not observers or hidden people), when it changed.
    async fn apply_size(&self, link: Option<&AgentLink>) {
        let Some(link) = link else { return };
        let want = {
            let mut sizes = self.hub.sizes.lock().unwrap_or_else(|p| p.into_inner());
            let min = sizes
                .0
                .values()
                .copied()
                .reduce(|a, b| (a.0.min(b.0), a.1.min(b.1)));
            match min {
                Some(m) if Some(m) != sizes.1 => {
                    sizes.1 = Some(m);
                    Some(m)
                }
                _ => None,
            }
        };
        if let Some((cols, rows)) = want {
            let _ = link.send(Request::PtyResize { cols, rows }).await;
        }
    }

    fn refuse(request: &str, code: &str, message: impl Into<String>) -> Out {
        Out::json(ServerMessage::Error {
            code: code.into(),
            message: message.into(),
            request: request.into(),
        })
    }

    /// Handles one message; returns what to send back to this connection.
    async fn handle(&self, msg: ClientMessage, link: Option<&AgentLink>) -> Vec<Out> {
        let room = &self.hub.room;
        let kind = message_type(&msg);
        let may_edit = self.role != Role::Observer;
        let no_shell = || {
            Self::refuse(
                kind,
                "failed",
                "the room's shell is not available right now; it comes back by itself",
            )
        };
        match msg {
            ClientMessage::Hello { .. } => vec![Self::refuse(kind, "invalid", "already joined")],
            ClientMessage::TermInput { data } => {
                if !self.can_type() {
                    return vec![Self::refuse(kind, "forbidden", self.typing_refusal())];
                }
                let Some(link) = link else {
                    return vec![no_shell()];
                };
                self.app
                    .inner
                    .log
                    .append(room, "term_in", Some(&self.actor()), data.as_bytes());
                match link
                    .send(Request::PtyInput {
                        data: data.into_bytes().into(),
                    })
                    .await
                {
                    Ok(()) => vec![],
                    Err(_) => vec![no_shell()],
                }
            }
            ClientMessage::Run => {
                if !self.can_type() {
                    return vec![Self::refuse(kind, "forbidden", self.typing_refusal())];
                }
                let Some(link) = link else {
                    return vec![no_shell()];
                };
                let run = crate::rooms::get(&self.app.inner.db, room)
                    .await
                    .ok()
                    .and_then(|r| self.app.catalog().get(&r.language).map(|l| l.run.clone()))
                    .unwrap_or_default();
                if run.is_empty() {
                    return vec![Self::refuse(
                        kind,
                        "failed",
                        "this language has no run command",
                    )];
                }
                let line = format!("{run}\r");
                self.app
                    .inner
                    .log
                    .append(room, "term_in", Some(&self.actor()), line.as_bytes());
                match link
                    .send(Request::PtyInput {
                        data: line.into_bytes().into(),
                    })
                    .await
                {
                    Ok(()) => vec![],
                    Err(_) => vec![no_shell()],
                }
            }
            ClientMessage::RestartShell => {
                if !self.can_type() {
                    return vec![Self::refuse(kind, "forbidden", self.typing_refusal())];
                }
                let Some(link) = link else {
                    return vec![no_shell()];
                };
                match link.send(Request::PtyRestart).await {
                    Ok(()) => vec![],
                    Err(_) => vec![no_shell()],
                }
            }
            ClientMessage::TermResize { cols, rows } => {
                if !(2..=1000).contains(&cols) || !(2..=500).contains(&rows) {
                    return vec![Self::refuse(
                        kind,
                        "invalid",
                        "a terminal of 2–1000 columns and 2–500 rows",
                    )];
                }
                let counts = self.role != Role::Observer
                    && !self.update_me(|_| {}).is_some_and(|p| p.hidden);
                {
                    let mut sizes = self.hub.sizes.lock().unwrap_or_else(|p| p.into_inner());
                    if counts {
                        sizes.0.insert(self.id, (cols, rows));
                    } else if sizes.0.is_empty() {
                        // Nobody else to follow: an observer alone still gets a sane size.
                        sizes.0.insert(self.id, (cols, rows));
                    }
                }
                self.apply_size(link).await;
                vec![]
            }
            ClientMessage::Focus { focused } => {
                self.update_me(|p| p.focused = focused);
                let _ = self.hub.events.send(HubEvent::Participants);
                if self.role == Role::Candidate {
                    let kind = if focused {
                        ActivityKind::FocusGained
                    } else {
                        ActivityKind::FocusLost
                    };
                    self.activity(kind, None, None);
                }
                vec![]
            }
            ClientMessage::Activity {
                kind: what,
                size,
                path,
            } => {
                if self.role != Role::Candidate {
                    return vec![Self::refuse(
                        kind,
                        "forbidden",
                        "only the candidate's activity is reported",
                    )];
                }
                if matches!(what, ActivityKind::FocusLost | ActivityKind::FocusGained) {
                    self.update_me(|p| p.focused = what == ActivityKind::FocusGained);
                    let _ = self.hub.events.send(HubEvent::Participants);
                }
                let path = path.filter(|p| super::docs::valid_path(p));
                self.activity(what, size, path);
                vec![]
            }
            ClientMessage::Stealth { on } => {
                if self.role != Role::Interviewer {
                    return vec![Self::refuse(
                        kind,
                        "forbidden",
                        "only interviewers can go stealthy",
                    )];
                }
                self.update_me(|p| p.hidden = on);
                let _ = self.hub.events.send(HubEvent::Participants);
                if let Some((link, tab)) = &self.page {
                    self.hub.doc.set_hidden(link, tab, on).await;
                }
                vec![]
            }
            ClientMessage::SetCandidateTerminal { allowed } => {
                if self.role != Role::Interviewer {
                    return vec![Self::refuse(
                        kind,
                        "forbidden",
                        "only interviewers hand over the keyboard",
                    )];
                }
                if let Err(e) =
                    crate::rooms::set_candidate_terminal(&self.app.inner.db, room, allowed).await
                {
                    return vec![Self::refuse(kind, "failed", e.to_string())];
                }
                self.hub.candidate_terminal.store(allowed, Ordering::SeqCst);
                let _ = self.hub.events.send(HubEvent::Policy);
                vec![]
            }
            ClientMessage::Tree => {
                let Some(link) = link else {
                    return vec![no_shell()];
                };
                match link.request(Request::Tree).await {
                    Ok(Event::Tree { entries }) => vec![Out::json(ServerMessage::Tree {
                        entries: entries
                            .into_iter()
                            .filter(|e| e.kind != EntryKind::Symlink)
                            .map(|e| FileEntry {
                                dir: e.kind == EntryKind::Dir,
                                size: u32::try_from(e.size).unwrap_or(u32::MAX),
                                walked: e.walked,
                                path: e.path,
                            })
                            .collect(),
                    })],
                    other => vec![agent_failure(kind, other)],
                }
            }
            ClientMessage::Download { path } => {
                let Some(link) = link else {
                    return vec![no_shell()];
                };
                match link.request(Request::Read { path: path.clone() }).await {
                    Ok(Event::File { data }) => vec![Out::json(ServerMessage::FileData {
                        path,
                        data: base64::engine::general_purpose::STANDARD.encode(&data),
                    })],
                    other => vec![agent_failure(kind, other)],
                }
            }
            ClientMessage::Create { path, dir } => {
                if !may_edit {
                    return vec![Self::refuse(
                        kind,
                        "forbidden",
                        "observers cannot change files",
                    )];
                }
                let req = if dir {
                    Request::Mkdir { path }
                } else {
                    Request::Write {
                        path,
                        data: Vec::new().into(),
                        create_only: true,
                    }
                };
                self.file_op(kind, link, req).await
            }
            ClientMessage::Rename { from, to } => {
                if !may_edit {
                    return vec![Self::refuse(
                        kind,
                        "forbidden",
                        "observers cannot change files",
                    )];
                }
                self.file_op(kind, link, Request::Rename { from, to }).await
            }
            ClientMessage::Delete { path } => {
                if !may_edit {
                    return vec![Self::refuse(
                        kind,
                        "forbidden",
                        "observers cannot change files",
                    )];
                }
                self.file_op(kind, link, Request::Delete { path }).await
            }
            ClientMessage::Upload { path, data } => {
                if !may_edit {
                    return vec![Self::refuse(
                        kind,
                        "forbidden",
                        "observers cannot change files",
                    )];
                }
                if data.len() > MAX_UPLOAD / 3 * 4 + 4 {
                    return vec![Self::refuse(
                        kind,
                        "invalid",
                        "uploads are limited to 4 MiB",
                    )];
                }
                let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data.as_bytes())
                else {
                    return vec![Self::refuse(kind, "invalid", "the upload is not base64")];
                };
                let req = Request::Write {
                    path,
                    data: bytes.into(),
                    create_only: false,
                };
                self.file_op(kind, link, req).await
            }
        }
    }

    async fn file_op(&self, kind: &str, link: Option<&AgentLink>, req: Request) -> Vec<Out> {
        let Some(link) = link else {
            return vec![Self::refuse(
                kind,
                "failed",
                "the room's files are not available right now",
            )];
        };
        match link.request(req).await {
            Ok(Event::Done) => vec![],
            other => vec![agent_failure(kind, other)],
        }
    }

    fn typing_refusal(&self) -> &'static str {
        match self.role {
            Role::Observer => "observers cannot type in the terminal",
            _ => "the interviewer has not handed you the keyboard",
        }
    }

    fn actor(&self) -> String {
        self.update_me(|_| {})
            .map(|p| actor(&p))
            .unwrap_or_else(|| format!("{}:{}", self.role, self.id))
    }

    /// Tells the interviewers (only) what the candidate did, and records it.
    fn activity(&self, kind: ActivityKind, size: Option<u32>, path: Option<String>) {
        let name = self.update_me(|_| {}).map(|p| p.name).unwrap_or_default();
        let at = crate::db::now_ms();
        let msg = ServerMessage::Activity {
            at,
            participant: self.id as u32,
            name,
            kind,
            size,
            path,
        };
        let data = serde_json::to_vec(&msg).unwrap_or_default();
        self.app
            .inner
            .log
            .append(&self.hub.room, "activity", Some(&self.actor()), &data);
        let _ = self.hub.events.send(HubEvent::Activity(Box::new(msg)));
    }
}

/// The `type` tag of a client message, for error replies.
fn message_type(m: &ClientMessage) -> &'static str {
    match m {
        ClientMessage::Hello { .. } => "hello",
        ClientMessage::TermInput { .. } => "term_input",
        ClientMessage::TermResize { .. } => "term_resize",
        ClientMessage::Run => "run",
        ClientMessage::Focus { .. } => "focus",
        ClientMessage::Activity { .. } => "activity",
        ClientMessage::Stealth { .. } => "stealth",
        ClientMessage::SetCandidateTerminal { .. } => "set_candidate_terminal",
        ClientMessage::RestartShell => "restart_shell",
        ClientMessage::Tree => "tree",
        ClientMessage::Create { .. } => "create",
        ClientMessage::Rename { .. } => "rename",
        ClientMessage::Delete { .. } => "delete",
        ClientMessage::Upload { .. } => "upload",
        ClientMessage::Download { .. } => "download",
    }
}

/// An agent's refusal or failure as an error reply.
fn agent_failure(request: &str, result: Result<Event, crate::runtime::LinkError>) -> Out {
    use insider::protocol::ErrorCode as E;
    let agent = |code: E, message: String| {
        let code = match code {
            E::PathOutside => "forbidden",
            E::NotFound => "not_found",
            E::AlreadyExists | E::WrongKind | E::TooLarge => "invalid",
            _ => "failed",
        };
        (code, message)
    };
    let (code, message) = match result {
        Ok(Event::Error { code, message }) => agent(code, message),
        Err(crate::runtime::LinkError::Agent { code, message }) => agent(code, message),
        Ok(other) => ("failed", format!("unexpected answer {other:?}")),
        Err(e) => ("failed", e.to_string()),
    };
    Conn::refuse(request, code, message)
}
