//! The backend's end of the insider protocol, over a container's attach stream: requests go
//! out as frames on the container's stdin; replies are matched to their request by id, and
//! everything the agent sends by itself (terminal output, file changes) comes out of one
//! bounded channel.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::container::LogOutput;
use futures_util::{Stream, StreamExt};
use insider::frame::FrameDecoder;
use insider::protocol::{self, ErrorCode, Event, FromAgent, Request, ToAgent};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// How long a request waits for its reply.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Events from the agent waiting for their consumer. When it falls behind, the reader stops
/// reading and the agent (and its shell) is slowed down: nothing is dropped silently.
const EVENT_QUEUE: usize = 1024;

/// Why a request to the agent failed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// The attach stream ended: the container stopped or the engine went away.
    #[error("the room's agent is not connected")]
    Closed,
    /// No reply came in time.
    #[error("the room's agent did not answer within {} seconds", REQUEST_TIMEOUT.as_secs())]
    Timeout,
    /// The agent refused the request.
    #[error("{message}")]
    Agent {
        /// The agent's code for it.
        code: ErrorCode,
        /// In plain words.
        message: String,
    },
    /// The request could not be encoded (too large).
    #[error("{0}")]
    Encode(String),
}

type Pending = Arc<Mutex<HashMap<u32, oneshot::Sender<Event>>>>;

/// A connection to one container's agent. Cheap to clone.
#[derive(Clone)]
pub struct AgentLink {
    input: Arc<tokio::sync::Mutex<Input>>,
    pending: Pending,
    next_id: Arc<AtomicU32>,
    closed: CancellationToken,
}

impl std::fmt::Debug for AgentLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentLink")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The attach stream's output, as bollard gives it.
pub type AttachOutput =
    Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

/// The attach stream's input.
pub type AttachInput = Pin<Box<dyn AsyncWrite + Send>>;

impl AgentLink {
    /// Starts the reader and writer tasks. Returns the link and the agent's own events.
    pub fn new(input: AttachInput, output: AttachOutput) -> (AgentLink, mpsc::Receiver<Event>) {
        let (ev_tx, ev_rx) = mpsc::channel(EVENT_QUEUE);
        let pending: Pending = Arc::default();
        let closed = CancellationToken::new();
        tokio::spawn(read_frames(output, pending.clone(), ev_tx, closed.clone()));
        (
            AgentLink {
                input: Arc::new(tokio::sync::Mutex::new(Input {
                    sink: input,
                    unsent: Vec::new(),
                    sent: 0,
                })),
                pending,
                next_id: Arc::new(AtomicU32::new(1)),
                closed,
            },
            ev_rx,
        )
    }

    /// Whether the attach stream has ended.
    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// Resolves when the attach stream ends.
    pub async fn closed(&self) {
        self.closed.cancelled().await
    }

    /// Sends a message that wants no reply (terminal input, resize).
    pub async fn send(&self, body: Request) -> Result<(), LinkError> {
        self.write(ToAgent { id: 0, body }).await
    }

    /// Sends a request and waits for its reply. An [`Event::Error`] reply becomes
    /// [`LinkError::Agent`].
    pub async fn request(&self, body: Request) -> Result<Event, LinkError> {
        let id = loop {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            if id != 0 {
                break id;
            }
        };
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, tx);
        let result = async {
            self.write(ToAgent { id, body }).await?;
            tokio::select! {
                reply = rx => reply.map_err(|_| LinkError::Closed),
                _ = tokio::time::sleep(REQUEST_TIMEOUT) => Err(LinkError::Timeout),
                _ = self.closed.cancelled() => Err(LinkError::Closed),
            }
        }
        .await;
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        match result? {
            Event::Error { code, message } => Err(LinkError::Agent { code, message }),
            other => Ok(other),
        }
    }

    /// Writes a frame to the agent's stdin, from the caller's task (no hop to another task
    /// on the way of a keystroke). A caller given up on mid-frame leaves the rest of its
    /// frame to the next writer, who sends it first: frames never interleave.
    async fn write(&self, msg: ToAgent) -> Result<(), LinkError> {
        if self.is_closed() {
            return Err(LinkError::Closed);
        }
        let mut frame = Vec::new();
        protocol::encode(&msg, &mut frame).map_err(|e| LinkError::Encode(e.to_string()))?;
        let mut input = self.input.lock().await;
        input.unsent.extend_from_slice(&frame);
        let written = input.send().await;
        if written.is_err() {
            self.closed.cancel();
        }
        written
    }
}

/// The attach stream's input, with the bytes of frames not written yet.
struct Input {
    sink: AttachInput,
    unsent: Vec<u8>,
    /// How much of `unsent` is written.
    sent: usize,
}

impl Input {
    /// Writes out every pending byte. Cancel-safe: what was written is accounted for.
    async fn send(&mut self) -> Result<(), LinkError> {
        while self.sent < self.unsent.len() {
            match self.sink.write(&self.unsent[self.sent..]).await {
                Ok(0) | Err(_) => return Err(LinkError::Closed),
                Ok(n) => self.sent += n,
            }
        }
        self.unsent.clear();
        self.sent = 0;
        self.sink.flush().await.map_err(|_| LinkError::Closed)
    }
}

async fn read_frames(
    mut output: AttachOutput,
    pending: Pending,
    events: mpsc::Sender<Event>,
    closed: CancellationToken,
) {
    let mut decoder = FrameDecoder::new();
    while let Some(item) = output.next().await {
        let bytes = match item {
            Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => message,
            Ok(LogOutput::StdErr { message }) => {
                tracing::debug!(agent_stderr = %String::from_utf8_lossy(&message).trim_end());
                continue;
            }
            Ok(LogOutput::StdIn { .. }) => continue,
            Err(e) => {
                tracing::debug!(error = %e, "attach stream failed");
                break;
            }
        };
        decoder.push(&bytes);
        while let Some(frame) = decoder.next_frame() {
            let msg = match frame
                .map_err(|e| e.to_string())
                .and_then(|p| protocol::decode::<FromAgent>(&p).map_err(|e| e.to_string()))
            {
                Ok(msg) => msg,
                Err(e) => {
                    // After a re-attach the stream may start mid-frame: skip to the next one.
                    tracing::debug!(error = %e, "skipped bytes from the agent");
                    continue;
                }
            };
            if msg.reply_to != 0 {
                let waiter = pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&msg.reply_to);
                if let Some(w) = waiter {
                    let _ = w.send(msg.body);
                }
            } else if events.send(msg.body).await.is_err() {
                // Nobody listens for events any more; replies still matter.
            }
        }
    }
    closed.cancel();
}
