//! The agent in-process, over real pipes, with a real shell in a real PTY.

use std::io::{Read, Write};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use insider::agent::{run, Config};
use insider::frame::FrameDecoder;
use insider::protocol::{self, ErrorCode, Event, FromAgent, Request, ToAgent};
use serde_bytes::ByteBuf;

struct Harness {
    input: std::io::PipeWriter,
    events: Receiver<FromAgent>,
    next_id: u32,
    dir: tempfile::TempDir,
    agent: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Harness {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (in_read, in_write) = std::io::pipe().unwrap();
        let (mut out_read, out_write) = std::io::pipe().unwrap();
        let config = Config {
            workdir: dir.path().to_path_buf(),
            shell: Some("/bin/sh".into()),
            heartbeat: Some(dir.path().join(".heartbeat")),
        };
        let agent = std::thread::spawn(move || run(config, in_read, out_write));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut dec = FrameDecoder::new();
            let mut buf = [0u8; 65536];
            while let Ok(n) = out_read.read(&mut buf) {
                if n == 0 {
                    return;
                }
                dec.push(&buf[..n]);
                while let Some(f) = dec.next_frame() {
                    let msg: FromAgent =
                        protocol::decode(&f.expect("agent frames are valid")).unwrap();
                    if tx.send(msg).is_err() {
                        return;
                    }
                }
            }
        });
        Harness {
            input: in_write,
            events: rx,
            next_id: 1,
            dir,
            agent: Some(agent),
        }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.input.write_all(bytes).unwrap();
        self.input.flush().unwrap();
    }

    fn send(&mut self, body: Request) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        let mut wire = Vec::new();
        protocol::encode(&ToAgent { id, body }, &mut wire).unwrap();
        self.send_raw(&wire);
        id
    }

    /// The reply to request `id`, skipping unrelated events.
    fn reply(&self, id: u32) -> Event {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = self.events.recv_timeout(left).expect("a reply in time");
            if msg.reply_to == id {
                return msg.body;
            }
        }
    }

    fn call(&mut self, body: Request) -> Event {
        let id = self.send(body);
        self.reply(id)
    }

    /// Collects terminal output until it contains `needle`.
    fn output_until(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Ok(msg) = self.events.recv_timeout(Duration::from_millis(200)) {
                if let Event::PtyOutput { data } = msg.body {
                    seen.extend_from_slice(&data);
                    if String::from_utf8_lossy(&seen).contains(needle) {
                        return String::from_utf8_lossy(&seen).into_owned();
                    }
                }
            }
        }
        panic!(
            "{needle:?} never appeared; saw {:?}",
            String::from_utf8_lossy(&seen)
        );
    }

    fn type_line(&mut self, line: &str) {
        self.send(Request::PtyInput {
            data: ByteBuf::from(format!("{line}\r").into_bytes()),
        });
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        // Closing stdin ends the agent.
        let (_, dummy) = std::io::pipe().unwrap();
        drop(std::mem::replace(&mut self.input, dummy));
        if let Some(a) = self.agent.take() {
            let _ = a.join();
        }
    }
}

#[test]
fn hello_and_version_mismatch() {
    let mut h = Harness::start();
    match h.call(Request::Hello {
        protocol: insider::PROTOCOL_VERSION,
    }) {
        Event::Hello {
            protocol,
            version,
            shell,
        } => {
            assert_eq!(protocol, insider::PROTOCOL_VERSION);
            assert_eq!(version, insider::VERSION);
            assert_eq!(shell, "/bin/sh");
        }
        other => panic!("{other:?}"),
    }
    match h.call(Request::Hello { protocol: 999 }) {
        Event::Error { code, message } => {
            assert_eq!(code, ErrorCode::VersionMismatch);
            assert!(message.contains("999"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_shell_runs_commands_and_keeps_state() {
    let mut h = Harness::start();
    h.type_line("ANSWER=42");
    h.type_line("echo the answer is $ANSWER");
    h.output_until("the answer is 42");
    h.type_line("pwd");
    let dir = std::fs::canonicalize(h.dir.path()).unwrap();
    h.output_until(&dir.display().to_string());
    match h.call(Request::Snapshot) {
        Event::Snapshot { scrollback, .. } => {
            assert!(String::from_utf8_lossy(&scrollback).contains("the answer is 42"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_exited_shell_is_replaced() {
    let mut h = Harness::start();
    h.type_line("exit 3");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let msg = h
            .events
            .recv_timeout(deadline - Instant::now())
            .expect("shell exit reported");
        if let Event::PtyExited { status } = msg.body {
            assert_eq!(status, Some(3));
            break;
        }
    }
    h.type_line("echo back-$((1+1))");
    h.output_until("back-2");
}

#[test]
fn resize_reaches_the_terminal() {
    let mut h = Harness::start();
    h.send(Request::PtyResize {
        cols: 123,
        rows: 45,
    });
    h.type_line("stty size");
    h.output_until("45 123");
}

#[test]
fn file_operations_and_refusals() {
    let mut h = Harness::start();
    assert_eq!(
        h.call(Request::Write {
            path: "src/main.py".into(),
            data: ByteBuf::from(b"print('hi')\n".to_vec()),
            create_only: false,
        }),
        Event::Done
    );
    assert_eq!(
        h.call(Request::Read {
            path: "src/main.py".into()
        }),
        Event::File {
            data: ByteBuf::from(b"print('hi')\n".to_vec())
        }
    );
    match h.call(Request::Read {
        path: "../../etc/passwd".into(),
    }) {
        Event::Error { code, .. } => assert_eq!(code, ErrorCode::PathOutside),
        other => panic!("{other:?}"),
    }
    match h.call(Request::Tree) {
        Event::Tree { entries } => {
            let paths: Vec<_> = entries.iter().map(|e| e.path.as_str()).collect();
            assert!(paths.contains(&"src/main.py"), "{paths:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        h.call(Request::Rename {
            from: "src".into(),
            to: "lib".into()
        }),
        Event::Done
    );
    assert_eq!(h.call(Request::Delete { path: "lib".into() }), Event::Done);
    assert!(!h.dir.path().join("lib").exists());
}

#[test]
fn changes_made_in_the_shell_are_reported() {
    let mut h = Harness::start();
    // Let the watcher settle before the change.
    h.call(Request::Ping);
    h.type_line("echo data > made-by-shell.txt");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let msg = h
            .events
            .recv_timeout(deadline - Instant::now())
            .expect("a change event");
        if let Event::Changed { paths } = msg.body {
            if paths.iter().any(|p| p == "made-by-shell.txt") {
                break;
            }
        }
    }
}

#[test]
fn garbage_and_oversized_frames_do_not_kill_the_agent() {
    let mut h = Harness::start();
    h.send_raw(b"this is not a frame at all \x00\xff\xf8");
    // A well-formed frame whose payload is not a message.
    let mut bad = Vec::new();
    insider::frame::encode(b"\xff\xff\xff\xff\xff\xff", &mut bad).unwrap();
    h.send_raw(&bad);
    // A header announcing more than the limit.
    let mut huge = insider::frame::MARKER.to_vec();
    huge.extend_from_slice(&u32::MAX.to_be_bytes());
    huge.extend_from_slice(&[0; 4]);
    h.send_raw(&huge);
    let mut codes = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while codes.len() < 2 && Instant::now() < deadline {
        if let Ok(msg) = h.events.recv_timeout(Duration::from_millis(200)) {
            if let Event::Error { code, .. } = msg.body {
                codes.push(code);
            }
        }
    }
    assert!(codes.contains(&ErrorCode::BadFrame), "{codes:?}");
    assert_eq!(
        h.call(Request::Ping),
        Event::Pong,
        "the agent still answers"
    );
}

#[test]
fn the_health_check_follows_the_heartbeat() {
    let h = Harness::start();
    let beat = h.dir.path().join(".heartbeat");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !beat.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(insider::agent::check_health(&beat).is_ok());
    assert!(insider::agent::check_health(&h.dir.path().join("missing")).is_err());
}
