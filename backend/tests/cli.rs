//! The headless server binary as a user runs it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_interview-platform-server");

/// Reads stdout lines until `pred` matches one; returns the lines read.
fn read_until(child: &mut Child, pred: impl Fn(&str) -> bool) -> Vec<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = Vec::new();
    let mut reader = BufReader::new(stdout);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        let done = pred(&line);
        lines.push(line.trim_end().to_string());
        if done {
            break;
        }
    }
    child.stdout = None;
    // Keep draining so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in reader.lines() {});
    lines
}

/// A plain HTTP/1.1 GET, so the test needs no client library or tool.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        sock,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    sock.read_to_string(&mut out).unwrap();
    out
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn check_serves(mut child: Child, data_dir: &std::path::Path) {
    let lines = read_until(&mut child, |l| l.starts_with("Container engine:"));
    let url = lines
        .iter()
        .find_map(|l| l.strip_prefix("Interview Platform server listening on "))
        .unwrap_or_else(|| panic!("no URL printed: {lines:?}"))
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(
        lines
            .iter()
            .any(|l| l == &format!("Data directory: {}", data_dir.display())),
        "{lines:?}"
    );
    assert!(backend::paths::database_file(data_dir).is_file());
    let health = http_get(url.trim_start_matches("http://"), "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains(r#""status":"ok""#), "{health}");
    let status = terminate(&mut child);
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("port freed on exit");
}

#[test]
fn data_dir_flag_is_accepted_after_the_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("after");
    let child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env_remove(backend::paths::DATA_DIR_ENV)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    check_serves(child, &data);
}

#[test]
fn data_dir_flag_is_accepted_before_the_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("before");
    let child = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove(backend::paths::DATA_DIR_ENV)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    check_serves(child, &data);
}

#[test]
fn data_dir_comes_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("env");
    let child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env(backend::paths::DATA_DIR_ENV, &data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    check_serves(child, &data);
    assert!(
        backend::paths::log_dir(&data).is_dir(),
        "logs are kept in the data dir"
    );
}

#[test]
fn a_busy_port_fails_with_a_clear_message() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", &addr.to_string()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
    assert!(stderr.contains("--listen"), "{stderr}");
}

#[test]
fn the_default_port_is_documented() {
    let out = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("127.0.0.1:7417"), "{help}");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    assert!(readme.contains("127.0.0.1:7417"));
}
