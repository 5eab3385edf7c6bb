//! The room channel's messages, `{prefix}/room/{room}?token=…`. Text frames carry one JSON
//! object each, tagged by `type`; terminal output travels in binary frames (see
//! [`TERM_OUTPUT`] and [`TERM_SCREEN`]). Documented in `docs/protocol.md`; the TypeScript types
//! are generated from these (`ui/src/lib/protocol/types.ts`).

use serde::{Deserialize, Serialize};
use specta::Type;

use crate::tokens::Role;

/// First byte of a binary frame with terminal output to append.
pub const TERM_OUTPUT: u8 = 1;
/// First byte of a binary frame with the whole screen (scrollback tail): the client resets
/// its terminal and writes it. Sent on join and when the room's shell is replaced.
pub const TERM_SCREEN: u8 = 2;

/// Longest display name, in characters.
pub const MAX_NAME: usize = 60;

/// What a client sends.
#[derive(Debug, Clone, Serialize, Deserialize, Type, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Must come first: who is joining. Answered by [`ServerMessage::Welcome`].
    Hello {
        /// The name others see (1 to 60 characters).
        name: String,
        /// Interviewers only: join hidden from the candidate.
        #[serde(default)]
        stealth: bool,
        /// An id the page also gives its document socket (its `tab` parameter; 1 to 64
        /// letters, digits, `-` or `_`): going stealthy hides that socket's cursors too,
        /// without reconnecting it.
        #[serde(default)]
        tab: Option<String>,
    },
    /// Keystrokes for the shell (interviewers; candidates when the room allows).
    TermInput {
        /// What was typed, as the terminal encodes it.
        data: String,
    },
    /// This client's terminal size; the shell gets the smallest of everyone's.
    TermResize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// Run the language's run command in the shell (same rights as typing).
    Run,
    /// Whether this client's tab has focus (candidates' changes are also activity).
    Focus {
        /// True when focused.
        focused: bool,
    },
    /// Candidates: something the interviewers are told about.
    Activity {
        /// What happened.
        kind: ActivityKind,
        /// Characters pasted, copied or inserted, when it applies.
        #[serde(default)]
        size: Option<u32>,
        /// The file it happened in, when it applies.
        #[serde(default)]
        path: Option<String>,
    },
    /// Interviewers: hide from or show to the candidate.
    Stealth {
        /// True to hide.
        on: bool,
    },
    /// Interviewers: let the candidate type in the terminal, or not.
    SetCandidateTerminal {
        /// True to allow.
        allowed: bool,
    },
    /// Kill the shell and start a new one (same rights as typing).
    RestartShell,
    /// Ask for the file tree; answered by [`ServerMessage::Tree`].
    Tree,
    /// Create an empty file (or a folder with `dir`).
    Create {
        /// Relative to `/interview`.
        path: String,
        /// A folder rather than a file.
        #[serde(default)]
        dir: bool,
    },
    /// Rename or move a file or folder.
    Rename {
        /// Current path.
        from: String,
        /// New path.
        to: String,
    },
    /// Delete a file or folder.
    Delete {
        /// Relative to `/interview`.
        path: String,
    },
    /// Upload a file (any bytes, base64; at most 4 MiB), replacing it if it exists.
    Upload {
        /// Relative to `/interview`.
        path: String,
        /// The content, base64.
        data: String,
    },
    /// Ask for a file's bytes; answered by [`ServerMessage::FileData`].
    Download {
        /// Relative to `/interview`.
        path: String,
    },
}

/// Something interviewers are told the candidate did.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Type, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// Pasted into the editor or the terminal.
    Paste,
    /// Copied from the page.
    Copy,
    /// The tab or window lost focus.
    FocusLost,
    /// The tab or window got focus back.
    FocusGained,
    /// A very large insertion in one go (typed by a tool, not a person).
    LargeInsert,
}

/// A person in the room, as others see them.
#[derive(Debug, Clone, Serialize, Deserialize, Type, PartialEq, Eq)]
pub struct Participant {
    /// The connection's id in the room.
    pub id: u32,
    /// Display name.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// Their colour (CSS hex), also used for their cursor.
    pub color: String,
    /// Whether their tab has focus.
    pub focused: bool,
    /// Hidden from the candidate (observers always; interviewers when stealthy).
    pub hidden: bool,
}

/// The room as a client needs it.
#[derive(Debug, Clone, Serialize, Deserialize, Type, PartialEq, Eq)]
pub struct RoomInfo {
    /// The room's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Language id.
    pub language: String,
    /// Language name.
    pub language_name: String,
    /// The editor mode for the language.
    pub mode: String,
    /// The run command.
    pub run: String,
    /// The file everyone opens first.
    pub default_file: Option<String>,
    /// Whether the candidate may type in the terminal.
    pub candidate_terminal: bool,
    /// When the room stops by itself, milliseconds since the epoch.
    #[specta(type = Option<f64>)]
    pub stop_at: Option<i64>,
    /// When it was created, milliseconds since the epoch.
    #[specta(type = f64)]
    pub created_at: i64,
}

/// One file or folder of the room.
#[derive(Debug, Clone, Serialize, Deserialize, Type, PartialEq, Eq)]
pub struct FileEntry {
    /// Relative to `/interview`.
    pub path: String,
    /// A folder rather than a file.
    pub dir: bool,
    /// Size in bytes (files).
    pub size: u32,
    /// False for large generated folders (listed, not walked).
    pub walked: bool,
}

/// What the server sends (text frames).
#[derive(Debug, Clone, Serialize, Deserialize, Type, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The answer to `hello`.
    Welcome {
        /// This connection, as others see it.
        you: Participant,
        /// The room.
        room: RoomInfo,
        /// Whether this client may type in the terminal now.
        can_type: bool,
    },
    /// Everyone this client may see, whenever it changes.
    Participants {
        /// The people.
        list: Vec<Participant>,
    },
    /// The room's rules changed.
    Policy {
        /// Whether the candidate may type in the terminal.
        candidate_terminal: bool,
        /// Whether this client may type in the terminal now.
        can_type: bool,
    },
    /// Interviewers only: what the candidate did.
    Activity {
        /// When, milliseconds since the epoch.
        #[specta(type = f64)]
        at: i64,
        /// Who.
        participant: u32,
        /// Their name.
        name: String,
        /// What.
        kind: ActivityKind,
        /// Characters, when it applies.
        size: Option<u32>,
        /// The file, when it applies.
        path: Option<String>,
    },
    /// The file tree.
    Tree {
        /// Every entry, parents before children.
        entries: Vec<FileEntry>,
    },
    /// A file's bytes (answer to `download`).
    FileData {
        /// Relative to `/interview`.
        path: String,
        /// The content, base64.
        data: String,
    },
    /// Files changed in the room (created, written, deleted, renamed) by anyone or any program.
    FilesChanged {
        /// The paths.
        paths: Vec<String>,
    },
    /// The room stops by itself soon.
    StopSoon {
        /// When, milliseconds since the epoch.
        #[specta(type = f64)]
        at: i64,
    },
    /// A request was refused or failed; the connection stays open.
    Error {
        /// What kind of failure (`forbidden`, `invalid`, `not_found`, `failed`).
        code: String,
        /// In plain words.
        message: String,
        /// The `type` of the message it answers.
        request: String,
    },
}

/// Every type of the channel, for the TypeScript export.
pub fn types() -> specta::TypeCollection {
    let mut t = specta::TypeCollection::default();
    t.register::<ClientMessage>()
        .register::<ServerMessage>()
        .register::<Participant>()
        .register::<RoomInfo>()
        .register::<FileEntry>()
        .register::<ActivityKind>()
        .register::<Role>();
    t
}
