//! WebSocket clients for the room sockets: a raw socket with its close code, and a
//! y-websocket client built on yrs (what a browser's Yjs does, in the test).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as Ws;
use yrs::encoding::read::Cursor;
use yrs::sync::protocol::{MessageReader, SyncMessage};
use yrs::sync::Message;
use yrs::updates::decoder::{Decode, DecoderV1};
use yrs::updates::encoder::{Encode, Encoder, EncoderV1};
use yrs::{Doc, GetString, Map, MapRef, Out, ReadTxn, Text, Transact, Update};

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a socket (the server may still close it at once: see [`closed_with`]).
pub async fn open(url: &str, origin: Option<&str>) -> Result<Socket, String> {
    let mut req = url.into_client_request().unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(e) => Err(format!("handshake: {e}")),
    }
}

/// The close code and reason the server ends the socket with (waiting generously).
pub async fn closed_with(ws: &mut Socket) -> (u16, String) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Ws::Close(Some(f))))) => return (f.code.into(), f.reason.to_string()),
            Ok(Some(Ok(Ws::Close(None)))) | Ok(None) => return (0, String::new()),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => return (1, e.to_string()),
            Err(_) => panic!("the socket was not closed"),
        }
    }
}

/// A y-websocket client built on yrs, like a browser's but in the test.
pub struct YClient {
    pub ws: Socket,
    pub doc: Doc,
    pub files: MapRef,
    /// Awareness entries received, in order: (client id, clock, state JSON).
    pub awareness: Vec<(yrs::block::ClientID, u32, String)>,
}

impl YClient {
    /// Connects and syncs (sends its state vector, applies what the server sends).
    pub async fn join(url: &str) -> YClient {
        let ws = open(url, None).await.unwrap();
        let doc = Doc::new();
        let files = doc.get_or_insert_map("files");
        let mut c = YClient {
            ws,
            doc,
            files,
            awareness: Vec::new(),
        };
        let sv = c.doc.transact().state_vector();
        c.send(&[Message::Sync(SyncMessage::SyncStep1(sv))]).await;
        // The server answers our step 1 with its step 2.
        c.pump_until(|_| true, true).await;
        c
    }

    pub async fn send(&mut self, messages: &[Message]) {
        let mut enc = EncoderV1::new();
        for m in messages {
            m.encode(&mut enc);
        }
        self.ws.send(Ws::Binary(enc.to_vec().into())).await.unwrap();
    }

    /// Applies incoming messages until `done` holds (checked after each), replying to the
    /// server's sync step 1. With `until_step2`, stops at the first sync step 2.
    pub async fn pump_until(&mut self, mut done: impl FnMut(&YClient) -> bool, until_step2: bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if !until_step2 && done(self) {
                return;
            }
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .expect("the awaited change never came")
                .expect("socket open")
                .expect("socket healthy");
            let Ws::Binary(data) = msg else {
                panic!("unexpected {msg:?}")
            };
            let mut dec = DecoderV1::new(Cursor::new(&data));
            let mut step2 = false;
            for m in MessageReader::new(&mut dec) {
                match m.unwrap() {
                    Message::Sync(SyncMessage::SyncStep1(sv)) => {
                        let u = self.doc.transact().encode_state_as_update_v1(&sv);
                        self.send(&[Message::Sync(SyncMessage::SyncStep2(u))]).await;
                    }
                    Message::Sync(SyncMessage::SyncStep2(u))
                    | Message::Sync(SyncMessage::Update(u)) => {
                        self.doc
                            .transact_mut()
                            .apply_update(Update::decode_v1(&u).unwrap())
                            .unwrap();
                        step2 = true;
                    }
                    Message::Awareness(u) => {
                        for (id, e) in u.clients {
                            self.awareness.push((id, e.clock, e.json.to_string()));
                        }
                    }
                    _ => {}
                }
            }
            if until_step2 && step2 {
                return;
            }
        }
    }

    /// Publishes this client's awareness state (cursor, name) at `clock`.
    pub async fn publish(&mut self, clock: u32, json: &str) {
        let entry = yrs::sync::awareness::AwarenessUpdateEntry {
            clock,
            json: json.into(),
        };
        let update = yrs::sync::AwarenessUpdate {
            clients: [(self.doc.client_id(), entry)].into(),
        };
        self.send(&[Message::Awareness(update)]).await;
    }

    /// Whether an awareness entry of `client` at `clock` whose state contains `state` came.
    pub fn saw(&self, client: yrs::block::ClientID, clock: u32, state: &str) -> bool {
        self.awareness
            .iter()
            .any(|(id, c, json)| *id == client && *c == clock && json.contains(state))
    }

    /// Appends `text` to the file at `path` (creating it) and sends the change.
    pub async fn type_text(&mut self, path: &str, text: &str) {
        let update = {
            let mut txn = self.doc.transact_mut();
            let t = match self.files.get(&txn, path) {
                Some(Out::YText(t)) => t,
                _ => self.files.insert(&mut txn, path, yrs::TextPrelim::new("")),
            };
            let len = t.len(&txn);
            t.insert(&mut txn, len, text);
            txn.encode_update_v1()
        };
        self.send(&[Message::Sync(SyncMessage::Update(update))])
            .await;
    }

    /// Inserts `text` at byte `index` of the (existing) file at `path` and sends the change.
    pub async fn type_text_at(&mut self, path: &str, index: u32, text: &str) {
        let update = {
            let mut txn = self.doc.transact_mut();
            let Some(Out::YText(t)) = self.files.get(&txn, path) else {
                panic!("no file {path}")
            };
            t.insert(&mut txn, index, text);
            txn.encode_update_v1()
        };
        self.send(&[Message::Sync(SyncMessage::Update(update))])
            .await;
    }

    /// Removes the file at `path` from the document and sends the change.
    pub async fn delete_file(&mut self, path: &str) {
        let update = {
            let mut txn = self.doc.transact_mut();
            self.files.remove(&mut txn, path);
            txn.encode_update_v1()
        };
        self.send(&[Message::Sync(SyncMessage::Update(update))])
            .await;
    }

    pub fn file(&self, path: &str) -> Option<String> {
        let txn = self.doc.transact();
        match self.files.get(&txn, path) {
            Some(Out::YText(t)) => Some(t.get_string(&txn)),
            _ => None,
        }
    }

    pub fn keys(&self) -> Vec<String> {
        let txn = self.doc.transact();
        self.files.keys(&txn).map(str::to_string).collect()
    }
}

/// A room-channel client.
pub struct Chan {
    pub ws: Socket,
    /// Terminal output seen so far (screen and output frames, in order).
    pub terminal: String,
    /// JSON messages received and not yet taken.
    pub inbox: std::collections::VecDeque<backend::live::protocol::ServerMessage>,
}

impl Chan {
    /// Opens the channel and says hello; returns the client and the welcome.
    pub async fn join(
        url: &str,
        name: &str,
        stealth: bool,
    ) -> (Chan, backend::live::protocol::ServerMessage) {
        Chan::join_page(url, name, stealth, None).await
    }

    /// [`Chan::join`] for a page that gives its sockets the id `tab`.
    pub async fn join_page(
        url: &str,
        name: &str,
        stealth: bool,
        tab: Option<&str>,
    ) -> (Chan, backend::live::protocol::ServerMessage) {
        let ws = open(url, None).await.unwrap();
        let mut c = Chan {
            ws,
            terminal: String::new(),
            inbox: Default::default(),
        };
        c.send(&backend::live::protocol::ClientMessage::Hello {
            name: name.into(),
            stealth,
            tab: tab.map(str::to_string),
        })
        .await;
        let welcome = c
            .next_where(|m| matches!(m, backend::live::protocol::ServerMessage::Welcome { .. }))
            .await;
        (c, welcome)
    }

    pub async fn send(&mut self, m: &backend::live::protocol::ClientMessage) {
        let text = serde_json::to_string(m).unwrap();
        self.ws.send(Ws::Text(text.into())).await.unwrap();
    }

    /// Reads one frame (waiting generously); false when the socket ended.
    async fn read_one(&mut self, deadline: tokio::time::Instant) -> bool {
        let msg = match tokio::time::timeout_at(deadline, self.ws.next()).await {
            Ok(Some(Ok(m))) => m,
            Ok(_) => return false,
            Err(_) => panic!(
                "nothing came; terminal so far: {:?}; inbox: {:?}",
                self.terminal, self.inbox
            ),
        };
        match msg {
            Ws::Text(t) => self.inbox.push_back(serde_json::from_str(&t).unwrap()),
            Ws::Binary(b) => {
                if b.first() == Some(&2) {
                    self.terminal.clear();
                }
                self.terminal.push_str(&String::from_utf8_lossy(&b[1..]));
            }
            Ws::Close(f) => panic!("closed: {f:?}"),
            _ => {}
        }
        true
    }

    /// The first message (old or new) that `pick` accepts; others stay in the inbox.
    pub async fn next_where(
        &mut self,
        pick: impl Fn(&backend::live::protocol::ServerMessage) -> bool,
    ) -> backend::live::protocol::ServerMessage {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(i) = self.inbox.iter().position(&pick) {
                return self.inbox.remove(i).unwrap();
            }
            assert!(self.read_one(deadline).await, "socket ended");
        }
    }

    /// Waits until the terminal shows `needle`.
    pub async fn see(&mut self, needle: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !self.terminal.contains(needle) {
            assert!(self.read_one(deadline).await, "socket ended");
        }
    }

    /// Reads whatever arrives within `wait`, without expecting anything.
    pub async fn drain(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some(Ok(m))) = tokio::time::timeout_at(deadline, self.ws.next()).await {
            match m {
                Ws::Text(t) => self.inbox.push_back(serde_json::from_str(&t).unwrap()),
                Ws::Binary(b) => self.terminal.push_str(&String::from_utf8_lossy(&b[1..])),
                _ => {}
            }
        }
    }
}
