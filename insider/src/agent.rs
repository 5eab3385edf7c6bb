//! The agent's main loop: requests arrive as frames on stdin, replies and events leave as
//! frames on stdout, and a shell runs in a PTY. Threads, not async: the PTY and stdin are
//! blocking file descriptors, and the agent must stay tiny.

use std::collections::{HashSet, VecDeque};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, ChildKiller, CommandBuilder, MasterPty, PtySize};
use serde_bytes::ByteBuf;

use crate::files::{FileError, Workdir, UNWALKED_DIRS};
use crate::frame::{FrameDecoder, FrameError};
use crate::protocol::{self, ErrorCode, Event, FromAgent, Request, ToAgent, MAX_CHUNK};
use crate::PROTOCOL_VERSION;

/// How long PTY output is held to coalesce small reads into one frame. Short enough that
/// echo stays instant, long enough to batch bulk output.
pub const COALESCE_WINDOW: Duration = Duration::from_micros(200);

/// Most PTY output sent in one frame.
pub const COALESCE_MAX: usize = 64 * 1024;

/// Largest single read from the PTY.
const READ_BYTES: usize = 32 * 1024;

/// Terminal output kept for late joiners and re-attaches.
pub const SCROLLBACK_BYTES: usize = 256 * 1024;

/// How long file-change notifications are gathered before one `Changed` event.
pub const CHANGE_DEBOUNCE: Duration = Duration::from_millis(150);

/// Most keystrokes held while no shell runs.
const PENDING_INPUT_MAX: usize = 64 * 1024;

/// How the agent is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The working directory: every file path is relative to it and confined to it.
    pub workdir: PathBuf,
    /// The shell to run; `None` picks bash when present, else sh.
    pub shell: Option<String>,
    /// File touched every few seconds for the container's health check.
    pub heartbeat: Option<PathBuf>,
}

/// Picks the shell: bash when the image has it, else sh.
pub fn default_shell() -> String {
    for candidate in ["/bin/bash", "/usr/bin/bash"] {
        if Path::new(candidate).exists() {
            return candidate.to_string();
        }
    }
    "/bin/sh".to_string()
}

/// The tail of the terminal output.
#[derive(Debug, Default)]
struct Scrollback {
    bytes: VecDeque<u8>,
}

impl Scrollback {
    fn push(&mut self, data: &[u8]) {
        self.bytes.extend(data);
        let excess = self.bytes.len().saturating_sub(SCROLLBACK_BYTES);
        self.bytes.drain(..excess);
    }

    fn snapshot(&self) -> Vec<u8> {
        self.bytes.iter().copied().collect()
    }
}

/// The live shell session: what the request loop needs to reach it.
struct Session {
    writer: Box<dyn Write + Send>,
    master: Box<dyn MasterPty + Send>,
    killer: Box<dyn ChildKiller + Send + Sync>,
}

/// State shared by the agent's threads.
struct Shared {
    /// Where replies and events go, written by the thread that has them (no hop to a
    /// writing thread on the way of a keystroke's echo). When the backend stops reading,
    /// senders block: the shell is slowed down rather than memory growing.
    out: Mutex<Output>,
    session: Mutex<Option<Session>>,
    scrollback: Mutex<Scrollback>,
    size: Mutex<PtySize>,
    shell: String,
    /// Keystrokes that arrived while no shell was running (at start, during a restart),
    /// given to the next shell. Bounded by [`PENDING_INPUT_MAX`]: the oldest are dropped.
    pending_input: Mutex<Vec<u8>>,
    /// Set when input ends: every thread winds down.
    stopping: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in another thread leaves plain data behind: keep going.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    fn send(&self, reply_to: u32, body: Event) {
        let mut frame = Vec::new();
        push_message(&FromAgent { reply_to, body }, &mut frame);
        lock(&self.out).write(&frame);
    }

    fn error(&self, reply_to: u32, code: ErrorCode, message: impl Into<String>) {
        self.send(
            reply_to,
            Event::Error {
                code,
                message: message.into(),
            },
        );
    }
}

/// Runs the agent until `input` ends. Replies and events are written to `output`.
pub fn run(
    config: Config,
    input: impl Read,
    output: impl Write + Send + 'static,
) -> io::Result<()> {
    let workdir = Workdir::new(&config.workdir)?;
    let shared = Arc::new(Shared {
        out: Mutex::new(Output {
            sink: Box::new(output),
            broken: false,
        }),
        session: Mutex::new(None),
        scrollback: Mutex::new(Scrollback::default()),
        size: Mutex::new(PtySize {
            rows: 24,
            cols: 80,
            pixel_width: 0,
            pixel_height: 0,
        }),
        shell: config.shell.clone().unwrap_or_else(default_shell),
        pending_input: Mutex::new(Vec::new()),
        stopping: AtomicBool::new(false),
    });

    let mut workers = Vec::new();
    {
        let shared = shared.clone();
        let dir = workdir.root().to_path_buf();
        workers.push(
            thread::Builder::new()
                .name("insider-shell".into())
                .spawn(move || supervise_shell(shared, dir))?,
        );
    }
    match start_watch(workdir.root()) {
        Ok(watch) => {
            let shared = shared.clone();
            let root = workdir.root().to_path_buf();
            workers.push(
                thread::Builder::new()
                    .name("insider-watch".into())
                    .spawn(move || watch_files(shared, root, watch))?,
            );
        }
        Err(e) => shared.error(0, ErrorCode::Io, format!("file watching unavailable: {e}")),
    }
    if let Some(path) = config.heartbeat.clone() {
        let shared = shared.clone();
        workers.push(
            thread::Builder::new()
                .name("insider-health".into())
                .spawn(move || heartbeat(shared, path))?,
        );
    }

    read_requests(&shared, &workdir, input);

    // Input ended: stop the shell and every worker.
    shared.stopping.store(true, Ordering::SeqCst);
    if let Some(s) = lock(&shared.session).as_mut() {
        let _ = s.killer.kill();
    }
    for w in workers {
        let _ = w.join();
    }
    Ok(())
}

/// The agent's stdout.
struct Output {
    sink: Box<dyn Write + Send>,
    /// A write failed: the backend is gone, and so is everything sent after.
    broken: bool,
}

impl Output {
    fn write(&mut self, frame: &[u8]) {
        if !self.broken
            && self
                .sink
                .write_all(frame)
                .and_then(|()| self.sink.flush())
                .is_err()
        {
            self.broken = true;
        }
    }
}

fn push_message(msg: &FromAgent, buf: &mut Vec<u8>) {
    if let Err(e) = protocol::encode(msg, buf) {
        // Only an oversized message can fail; say so instead.
        let fallback = FromAgent {
            reply_to: msg.reply_to,
            body: Event::Error {
                code: ErrorCode::TooLarge,
                message: e.to_string(),
            },
        };
        let _ = protocol::encode(&fallback, buf);
    }
}

/// Reads frames from `input` and answers each request. Never gives up on bad input.
fn read_requests(shared: &Shared, workdir: &Workdir, mut input: impl Read) {
    let mut decoder = FrameDecoder::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        decoder.push(&buf[..n]);
        while let Some(frame) = decoder.next_frame() {
            match frame {
                Ok(payload) => match protocol::decode::<ToAgent>(&payload) {
                    Ok(req) => handle(shared, workdir, req),
                    Err(e) => shared.error(0, ErrorCode::BadFrame, e.to_string()),
                },
                Err(e @ FrameError::TooLarge { .. }) => {
                    shared.error(0, ErrorCode::TooLarge, e.to_string())
                }
                Err(e) => shared.error(0, ErrorCode::BadFrame, e.to_string()),
            }
        }
    }
}

fn file_result(shared: &Shared, id: u32, r: Result<Event, FileError>) {
    match r {
        Ok(ev) => shared.send(id, ev),
        Err(e) => shared.error(id, e.code, e.message),
    }
}

fn handle(shared: &Shared, workdir: &Workdir, req: ToAgent) {
    let id = req.id;
    match req.body {
        Request::Hello { protocol } if protocol == PROTOCOL_VERSION => shared.send(
            id,
            Event::Hello {
                protocol: PROTOCOL_VERSION,
                version: crate::VERSION.to_string(),
                shell: shared.shell.clone(),
            },
        ),
        Request::Hello { protocol } => shared.error(
            id,
            ErrorCode::VersionMismatch,
            format!("the agent speaks protocol {PROTOCOL_VERSION}, the backend {protocol}"),
        ),
        Request::Ping => shared.send(id, Event::Pong),
        Request::PtyInput { data } => {
            let mut session = lock(&shared.session);
            match session.as_mut() {
                Some(s) => {
                    if let Err(e) = s.writer.write_all(&data).and_then(|()| s.writer.flush()) {
                        drop(session);
                        shared.error(id, ErrorCode::Io, format!("terminal input failed: {e}"));
                    }
                }
                None => {
                    let mut pending = lock(&shared.pending_input);
                    pending.extend_from_slice(&data);
                    let excess = pending.len().saturating_sub(PENDING_INPUT_MAX);
                    pending.drain(..excess);
                }
            }
        }
        Request::PtyResize { cols, rows } => {
            let size = PtySize {
                rows: rows.clamp(2, 1000),
                cols: cols.clamp(2, 1000),
                pixel_width: 0,
                pixel_height: 0,
            };
            *lock(&shared.size) = size;
            if let Some(s) = lock(&shared.session).as_ref() {
                let _ = s.master.resize(size);
            }
        }
        Request::PtyRestart => {
            if let Some(s) = lock(&shared.session).as_mut() {
                let _ = s.killer.kill();
            }
            if id != 0 {
                shared.send(id, Event::Done);
            }
        }
        Request::Tree => shared.send(
            id,
            Event::Tree {
                entries: workdir.tree(),
            },
        ),
        Request::Read { path } => file_result(
            shared,
            id,
            workdir.read(&path).map(|data| Event::File {
                data: ByteBuf::from(data),
            }),
        ),
        Request::Write {
            path,
            data,
            create_only,
        } => file_result(
            shared,
            id,
            workdir
                .write(&path, &data, create_only)
                .map(|()| Event::Done),
        ),
        Request::Mkdir { path } => {
            file_result(shared, id, workdir.mkdir(&path).map(|()| Event::Done))
        }
        Request::Rename { from, to } => {
            file_result(shared, id, workdir.rename(&from, &to).map(|()| Event::Done))
        }
        Request::Delete { path } => {
            file_result(shared, id, workdir.delete(&path).map(|()| Event::Done))
        }
        Request::Snapshot => {
            let scrollback = lock(&shared.scrollback).snapshot();
            let size = *lock(&shared.size);
            shared.send(
                id,
                Event::Snapshot {
                    scrollback: ByteBuf::from(scrollback),
                    cols: size.cols,
                    rows: size.rows,
                    entries: workdir.tree(),
                },
            );
        }
    }
}

/// Keeps a shell running: starts one, waits for it to end, reports it, starts the next.
fn supervise_shell(shared: Arc<Shared>, dir: PathBuf) {
    let mut quick_exits = 0u32;
    loop {
        let started = Instant::now();
        let status = match run_shell(&shared, &dir) {
            Ok(status) => status,
            Err(e) => {
                shared.error(0, ErrorCode::Io, format!("cannot start the shell: {e}"));
                None
            }
        };
        *lock(&shared.session) = None;
        shared.send(0, Event::PtyExited { status });
        // A shell that dies at once (broken image) must not spin the CPU.
        quick_exits = if started.elapsed() < Duration::from_secs(2) {
            quick_exits + 1
        } else {
            0
        };
        if shared.stopping() {
            return;
        }
        if quick_exits > 3 {
            thread::sleep(Duration::from_secs(2));
        }
    }
}

/// Runs one shell to its end; returns its exit status.
fn run_shell(shared: &Arc<Shared>, dir: &Path) -> io::Result<Option<u32>> {
    let to_io = |e: anyhow::Error| io::Error::other(e.to_string());
    let size = *lock(&shared.size);
    let pair = native_pty_system().openpty(size).map_err(to_io)?;
    let mut cmd = CommandBuilder::new(&shared.shell);
    cmd.cwd(dir);
    // Set explicitly: without them the PTY library asks the passwd database, which a static
    // binary cannot do through NSS.
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".into());
    cmd.env("HOME", home);
    cmd.env("SHELL", &shared.shell);
    cmd.env("TERM", "xterm-256color");
    cmd.env("COLORTERM", "truecolor");
    let mut child = pair.slave.spawn_command(cmd).map_err(to_io)?;
    drop(pair.slave);
    let reader = pair.master.try_clone_reader().map_err(to_io)?;
    let mut writer = pair.master.take_writer().map_err(to_io)?;
    {
        let mut session = lock(&shared.session);
        let pending = std::mem::take(&mut *lock(&shared.pending_input));
        if !pending.is_empty() {
            let _ = writer.write_all(&pending).and_then(|()| writer.flush());
        }
        let mut killer = child.clone_killer();
        // Shutdown may have begun while this shell started: it kills under the same lock.
        if shared.stopping() {
            let _ = killer.kill();
        }
        // A resize that came while the shell started applies now.
        let current = *lock(&shared.size);
        if current != size {
            let _ = pair.master.resize(current);
        }
        *session = Some(Session {
            writer,
            master: pair.master,
            killer,
        });
    }
    let pump = {
        let shared = shared.clone();
        thread::Builder::new()
            .name("insider-pty".into())
            .spawn(move || pump_output(shared, reader))?
    };
    let status = child.wait().ok().map(|s| s.exit_code());
    // The reader ends once the PTY closes; dropping the session closes our side.
    *lock(&shared.session) = None;
    let _ = pump.join();
    Ok(status)
}

/// Output smaller than this with nothing queued behind it is sent at once: it is an echo or a
/// prompt, and someone is waiting for it.
pub const INTERACTIVE_BYTES: usize = 256;

/// PTY output read but not sent yet, beyond which the reader waits (the shell then blocks on
/// a full PTY, as it would on a slow terminal).
const PENDING_OUTPUT_MAX: usize = 1024 * 1024;

/// PTY output between the reading thread and the sending one.
#[derive(Default)]
struct OutputQueue {
    data: Vec<u8>,
    /// The sender sleeps until output arrives: the reader wakes it.
    sender_waiting: bool,
    /// The reader waits for room: the sender wakes it.
    reader_waiting: bool,
    /// The PTY closed.
    closed: bool,
}

/// Moves PTY output to the backend. A little output with nothing behind it (an echo, a
/// prompt) goes at once; more (a program streaming output) is gathered for up to
/// [`COALESCE_WINDOW`] into fewer, larger frames. The reader only wakes the sender when it
/// sleeps for want of output, not for every read: a stream of small reads costs one wakeup
/// per frame, not one per read.
fn pump_output(shared: Arc<Shared>, mut reader: Box<dyn Read + Send>) {
    let queue = Arc::new((
        Mutex::new(OutputQueue::default()),
        std::sync::Condvar::new(),
    ));
    let read_thread = {
        let queue = queue.clone();
        let reader_shared = shared.clone();
        thread::spawn(move || {
            let (lock_q, cv) = &*queue;
            let mut buf = vec![0u8; READ_BYTES];
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) | Err(_) => 0,
                    Ok(n) => n,
                };
                let mut q = lock(lock_q);
                if n == 0 {
                    q.closed = true;
                    cv.notify_all();
                    return;
                }
                if q.sender_waiting && q.data.is_empty() && n < INTERACTIVE_BYTES {
                    // An echo while the sender sleeps: sent from here, a wakeup sooner. Only
                    // this thread adds output, so nothing can overtake it.
                    drop(q);
                    emit(&reader_shared, buf[..n].to_vec());
                    continue;
                }
                q.data.extend_from_slice(&buf[..n]);
                if q.sender_waiting {
                    cv.notify_all();
                }
                while q.data.len() >= PENDING_OUTPUT_MAX && !q.closed {
                    q.reader_waiting = true;
                    q = cv.wait(q).unwrap_or_else(|p| p.into_inner());
                }
                q.reader_waiting = false;
            }
        })
    };
    let (lock_q, cv) = &*queue;
    loop {
        let mut q = lock(lock_q);
        while q.data.is_empty() && !q.closed {
            q.sender_waiting = true;
            q = cv.wait(q).unwrap_or_else(|p| p.into_inner());
        }
        q.sender_waiting = false;
        if q.data.is_empty() {
            break; // closed, and everything sent
        }
        if q.data.len() >= INTERACTIVE_BYTES && q.data.len() < COALESCE_MAX && !q.closed {
            drop(q);
            thread::sleep(COALESCE_WINDOW);
            q = lock(lock_q);
        }
        // All of it: what is beyond one frame's size goes as several frames.
        let chunk = std::mem::take(&mut q.data);
        if q.reader_waiting {
            cv.notify_all();
        }
        drop(q);
        emit(&shared, chunk);
    }
    let _ = read_thread.join();
}

/// Keeps `chunk` for late joiners and sends it, in frames of at most [`MAX_CHUNK`].
fn emit(shared: &Shared, chunk: Vec<u8>) {
    lock(&shared.scrollback).push(&chunk);
    if chunk.len() <= MAX_CHUNK {
        shared.send(
            0,
            Event::PtyOutput {
                data: ByteBuf::from(chunk),
            },
        );
    } else {
        for piece in chunk.chunks(MAX_CHUNK) {
            shared.send(
                0,
                Event::PtyOutput {
                    data: ByteBuf::from(piece.to_vec()),
                },
            );
        }
    }
}

/// Reports files changed inside the working directory, debounced.
/// Sets up the watch on `root`. Done before the agent answers anything, so a change made
/// after the first reply is always seen.
fn start_watch(root: &Path) -> Result<FileWatch, String> {
    use notify::{RecursiveMode, Watcher};
    let (tx, rx) = mpsc::channel::<notify::Result<notify::Event>>();
    let mut watcher = notify::recommended_watcher(tx).map_err(|e| e.to_string())?;
    watcher
        .watch(root, RecursiveMode::Recursive)
        .map_err(|e| e.to_string())?;
    Ok(FileWatch {
        _watcher: watcher,
        rx,
    })
}

/// A live watch and its events.
struct FileWatch {
    _watcher: notify::RecommendedWatcher,
    rx: Receiver<notify::Result<notify::Event>>,
}

fn watch_files(shared: Arc<Shared>, root: PathBuf, watch: FileWatch) {
    let rx = watch.rx;
    while !shared.stopping() {
        let first = match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(ev) => ev,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut paths = HashSet::new();
        collect_paths(&root, first, &mut paths);
        let deadline = Instant::now() + CHANGE_DEBOUNCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(ev) => collect_paths(&root, ev, &mut paths),
                Err(_) => break,
            }
        }
        if !paths.is_empty() {
            let mut paths: Vec<String> = paths.into_iter().collect();
            paths.sort();
            shared.send(0, Event::Changed { paths });
        }
    }
}

fn collect_paths(root: &Path, ev: notify::Result<notify::Event>, out: &mut HashSet<String>) {
    let Ok(ev) = ev else {
        return;
    };
    if matches!(ev.kind, notify::EventKind::Access(_)) {
        return;
    }
    for p in ev.paths {
        let Ok(rel) = p.strip_prefix(root) else {
            continue;
        };
        let Some(rel) = rel.to_str() else {
            continue;
        };
        if rel.is_empty() {
            continue;
        }
        let (dirs, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        let inside_unwalked = dirs.split('/').any(|c| UNWALKED_DIRS.contains(&c));
        let own_temp = name.starts_with('.') && name.contains(".insider-");
        if !inside_unwalked && !own_temp {
            out.insert(rel.to_string());
        }
    }
}

/// Touches `path` every few seconds so the container's health check can tell the agent lives.
fn heartbeat(shared: Arc<Shared>, path: PathBuf) {
    let mut last: Option<Instant> = None;
    while !shared.stopping() {
        if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(3)) {
            let _ = std::fs::write(&path, b"ok\n");
            last = Some(Instant::now());
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// How old the heartbeat may be before the agent counts as unhealthy.
pub const HEARTBEAT_STALE: Duration = Duration::from_secs(15);

/// The health check: healthy when the heartbeat file was touched recently.
pub fn check_health(path: &Path) -> Result<(), String> {
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|e| format!("no heartbeat at {}: {e}", path.display()))?;
    let age = modified.elapsed().unwrap_or_default();
    if age > HEARTBEAT_STALE {
        return Err(format!("heartbeat is {} s old", age.as_secs()));
    }
    Ok(())
}
