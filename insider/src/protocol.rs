//! The messages the backend and the agent exchange, one per frame, encoded with postcard.
//! One enum per direction; every request carries an id that its reply repeats.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::frame::{self, FrameError};

/// Largest PTY output or file chunk carried in one message.
pub const MAX_CHUNK: usize = 1024 * 1024;

/// A request from the backend, with the id its reply will carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToAgent {
    /// Chosen by the backend; echoed in the reply. 0 for messages that want no reply.
    pub id: u32,
    /// What is asked.
    pub body: Request,
}

/// What the backend asks of the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Opens (or re-opens, after a re-attach) the conversation; answered by
    /// [`Event::Hello`] or an error when the versions do not match.
    Hello {
        /// The backend's [`crate::PROTOCOL_VERSION`].
        protocol: u32,
    },
    /// Liveness check; answered by [`Event::Pong`].
    Ping,
    /// Bytes typed into the shell.
    PtyInput {
        /// The keystrokes.
        data: ByteBuf,
    },
    /// The terminal's size changed.
    PtyResize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// Kills the shell and starts a new one.
    PtyRestart,
    /// Lists the working directory; answered by [`Event::Tree`].
    Tree,
    /// Reads a file; answered by [`Event::File`].
    Read {
        /// Relative to the working directory.
        path: String,
    },
    /// Writes a whole file, creating parent folders; answered by [`Event::Done`].
    Write {
        /// Relative to the working directory.
        path: String,
        /// The file's new content.
        data: ByteBuf,
        /// Refuse when the file exists (a "new file" action) instead of replacing it.
        create_only: bool,
    },
    /// Creates a folder (and its parents); answered by [`Event::Done`].
    Mkdir {
        /// Relative to the working directory.
        path: String,
    },
    /// Renames or moves a file or folder; answered by [`Event::Done`].
    Rename {
        /// Current path.
        from: String,
        /// New path; must not exist.
        to: String,
    },
    /// Deletes a file or a folder with its contents; answered by [`Event::Done`].
    Delete {
        /// Relative to the working directory.
        path: String,
    },
    /// Asks for the state a freshly attached backend needs; answered by [`Event::Snapshot`].
    Snapshot,
}

/// A message from the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FromAgent {
    /// The id of the request this answers; 0 for events the agent sends by itself.
    pub reply_to: u32,
    /// What happened.
    pub body: Event,
}

/// What the agent tells the backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// Answer to [`Request::Hello`].
    Hello {
        /// The agent's [`crate::PROTOCOL_VERSION`].
        protocol: u32,
        /// The agent's version.
        version: String,
        /// The shell the agent runs.
        shell: String,
    },
    /// Answer to [`Request::Ping`].
    Pong,
    /// A request succeeded and has nothing else to say.
    Done,
    /// A request failed, or a frame could not be read.
    Error {
        /// What kind of failure.
        code: ErrorCode,
        /// In plain words.
        message: String,
    },
    /// Output of the shell.
    PtyOutput {
        /// Raw terminal bytes.
        data: ByteBuf,
    },
    /// The shell exited; a new one has been started.
    PtyExited {
        /// Its exit status, when it had one.
        status: Option<u32>,
    },
    /// Answer to [`Request::Tree`].
    Tree {
        /// Every entry, parents before children.
        entries: Vec<TreeEntry>,
    },
    /// Answer to [`Request::Read`].
    File {
        /// The file's bytes.
        data: ByteBuf,
    },
    /// Files changed inside the container (debounced).
    Changed {
        /// Paths relative to the working directory.
        paths: Vec<String>,
    },
    /// Answer to [`Request::Snapshot`].
    Snapshot {
        /// The tail of the terminal output, so a late viewer sees the screen.
        scrollback: ByteBuf,
        /// The terminal's size.
        cols: u16,
        /// The terminal's size.
        rows: u16,
        /// The file tree.
        entries: Vec<TreeEntry>,
    },
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// A frame could not be decoded or was damaged.
    BadFrame,
    /// A frame or file was over its limit.
    TooLarge,
    /// The two ends speak different protocol versions.
    VersionMismatch,
    /// A path was absolute, held `..` or NUL, or led outside the working directory.
    PathOutside,
    /// No such file or folder.
    NotFound,
    /// The target exists already.
    AlreadyExists,
    /// A file was expected and something else was found (or the reverse).
    WrongKind,
    /// Any other I/O failure.
    Io,
}

/// One file or folder of the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeEntry {
    /// Relative to the working directory, `/`-separated.
    pub path: String,
    /// File, folder or link.
    pub kind: EntryKind,
    /// Size in bytes (files).
    pub size: u64,
    /// False for large generated folders (`node_modules`, `.git`, `target`…), listed but not
    /// walked.
    pub walked: bool,
}

/// The kind of a tree entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A folder.
    Dir,
    /// A symbolic link (not followed).
    Symlink,
}

/// Why a message could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The frame layer refused it.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The payload is not a message of this protocol.
    #[error("malformed message: {0}")]
    Malformed(#[from] postcard::Error),
}

/// Appends `msg` as one frame to `out`.
pub fn encode<T: Serialize>(msg: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    let payload = postcard::to_allocvec(msg)?;
    frame::encode(&payload, out)?;
    Ok(())
}

/// Reads one message from a frame's payload.
pub fn decode<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, CodecError> {
    Ok(postcard::from_bytes(payload)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FrameDecoder;

    #[test]
    fn messages_round_trip_through_frames() {
        let sent = vec![
            ToAgent {
                id: 1,
                body: Request::Hello { protocol: 1 },
            },
            ToAgent {
                id: 2,
                body: Request::Write {
                    path: "src/main.py".into(),
                    data: ByteBuf::from(vec![0, 159, 146, 150]),
                    create_only: false,
                },
            },
            ToAgent {
                id: 0,
                body: Request::PtyInput {
                    data: ByteBuf::from(b"ls\r".to_vec()),
                },
            },
        ];
        let mut wire = Vec::new();
        for m in &sent {
            encode(m, &mut wire).unwrap();
        }
        let mut dec = FrameDecoder::new();
        dec.push(&wire);
        let mut got = Vec::new();
        while let Some(frame) = dec.next_frame() {
            got.push(decode::<ToAgent>(&frame.unwrap()).unwrap());
        }
        assert_eq!(got, sent);
    }

    #[test]
    fn garbage_payloads_are_malformed_not_panics() {
        for bytes in [&b""[..], b"\xff\xff\xff\xff\xff", b"\x63garbage"] {
            assert!(decode::<ToAgent>(bytes).is_err());
        }
    }
}
