//! The rooms lifecycle through the CLI, against a running headless instance, on the real
//! engine with the offline busybox image.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_interview-platform-server");

const CATALOG: &str = common::BASH_CATALOG;

struct Server {
    child: Child,
    /// `http://ADDR:PORT{prefix}`, as the server printed it.
    url: String,
    /// Dropped after the server stops: removes what its rooms left on the engine.
    _sweep: common::Sweep,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
    }
}

fn start_server(data: &Path, catalog: &Path) -> Server {
    start_server_with(data, catalog, &[])
}

fn start_server_with(data: &Path, catalog: &Path, extra: &[&str]) -> Server {
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0", "--catalog"])
        .arg(catalog)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !line.contains("listening on") {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "server exited early"
        );
        assert!(Instant::now() < deadline);
    }
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .expect("the server prints its URL")
        .to_string();
    std::thread::spawn(move || for _ in reader.lines() {});
    let status = cli_json(data, &["status", "--json"]);
    let instance = status["instance"]
        .as_str()
        .expect("status names the instance");
    Server {
        child,
        url,
        _sweep: common::Sweep::new(instance),
    }
}

/// Runs the CLI; returns (success, stdout, stderr).
fn cli(data: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Runs a `--json` command that must succeed; returns its one JSON value.
fn cli_json(data: &Path, args: &[&str]) -> serde_json::Value {
    let (ok, out, err) = cli(data, args);
    assert!(ok, "{args:?} failed: {err}");
    assert_eq!(
        out.lines().count(),
        1,
        "exactly one JSON value on stdout: {out:?}"
    );
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

#[test]
fn the_full_lifecycle_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let catalog = dir.path().join("catalog.toml");
    std::fs::write(&catalog, CATALOG).unwrap();
    let _server = start_server(&data, &catalog);

    use std::os::unix::fs::PermissionsExt;
    let sock = std::fs::metadata(data.join("admin.sock")).unwrap();
    assert_eq!(
        sock.permissions().mode() & 0o777,
        0o600,
        "the admin socket is owner-only"
    );

    let create = [
        "rooms",
        "create",
        "--name",
        "CLI room",
        "--language",
        "bash",
        "--json",
    ];
    let (ok, out, err) = cli(&data, &create);
    assert!(ok, "{err}");
    assert!(
        err.contains("creating the container") && err.contains("starting"),
        "progress goes to stderr: {err}"
    );
    assert_eq!(out.lines().count(), 1, "one JSON value on stdout: {out}");
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["status"], "ready");
    assert_eq!(created["name"], "CLI room");
    assert_eq!(created["language"], "bash");
    let id = created["id"].as_str().unwrap().to_string();

    let list = cli_json(&data, &["rooms", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id.as_str());

    let (ok, out, _) = cli(&data, &["rooms", "list"]);
    assert!(
        ok && out.contains(&id) && out.contains("ready") && out.contains("CLI room"),
        "{out}"
    );

    let status = cli_json(&data, &["status", "--json"]);
    assert_eq!(status["rooms"], 1);
    assert_eq!(status["engine"]["state"], "ready");

    assert_eq!(
        cli_json(&data, &["rooms", "stop", &id, "--json"])["status"],
        "stopped"
    );
    assert_eq!(
        cli_json(&data, &["rooms", "resume", &id, "--json"])["status"],
        "ready"
    );
    assert_eq!(
        cli_json(&data, &["rooms", "delete", &id, "--json"])["deleted"],
        true
    );
    assert_eq!(
        cli_json(&data, &["rooms", "list", "--json"]),
        serde_json::json!([])
    );

    let (ok, _, err) = cli(
        &data,
        &["rooms", "create", "--name", "x", "--language", "cobol"],
    );
    assert!(!ok);
    assert!(err.contains("unknown language \"cobol\""), "{err}");
    let (ok, _, err) = cli(
        &data,
        &["rooms", "stop", "0123456789abcdef0123456789abcdef"],
    );
    assert!(!ok);
    assert!(err.contains("no room with id"), "{err}");
}

#[test]
fn with_no_instance_running_the_cli_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = cli(dir.path(), &["rooms", "list", "--json"]);
    assert!(!ok);
    assert!(out.is_empty());
    assert!(err.contains("no Interview Platform is running"), "{err}");
}

#[test]
fn a_second_instance_on_the_same_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let catalog = dir.path().join("catalog.toml");
    std::fs::write(&catalog, CATALOG).unwrap();
    let _first = start_server(&data, &catalog);
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already running"));
}

#[test]
fn links_are_made_listed_and_revoked_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let catalog = dir.path().join("catalog.toml");
    std::fs::write(&catalog, CATALOG).unwrap();
    let server = start_server_with(
        &data,
        &catalog,
        &[
            "--public-url",
            "https://tunnel.example/team/",
            "--path-prefix",
            "/team",
        ],
    );
    assert!(server.url.ends_with("/team"), "{}", server.url);

    let created = cli_json(
        &data,
        &[
            "rooms",
            "create",
            "--name",
            "Linked",
            "--language",
            "bash",
            "--json",
        ],
    );
    let id = created["id"].as_str().unwrap().to_string();
    for role in ["candidate", "interviewer"] {
        let url = created["links"][role].as_str().unwrap();
        assert!(
            url.starts_with(&format!("https://tunnel.example/team/r/{id}#")),
            "{role}: {url}"
        );
    }

    // `rooms link` prints the URL alone on a line.
    let (ok, out, err) = cli(
        &data,
        &[
            "rooms",
            "link",
            &id,
            "--role",
            "observer",
            "--expires",
            "2h",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 1);
    assert!(
        out.trim().starts_with("https://tunnel.example/team/r/"),
        "{out}"
    );
    let link = cli_json(
        &data,
        &["rooms", "link", &id, "--role", "observer", "--json"],
    );
    assert_eq!(link["role"], "observer");
    let expires = link["expires_at"].as_i64().unwrap();
    let day_ms = 86_400_000;
    let now = backend::db::now_ms();
    assert!(
        (now + day_ms - 5_000..=now + day_ms + 5_000).contains(&expires),
        "24h by default"
    );
    let link_id = link["id"].as_str().unwrap().to_string();

    let links = cli_json(&data, &["rooms", "links", &id, "--json"]);
    assert_eq!(links.as_array().unwrap().len(), 4, "{links}");

    let revoked = cli_json(
        &data,
        &["rooms", "revoke", &id, "--link", &link_id, "--json"],
    );
    assert_eq!(revoked["revoked"], 1);
    let revoked = cli_json(
        &data,
        &["rooms", "revoke", &id, "--role", "observer", "--json"],
    );
    assert_eq!(revoked["revoked"], 1, "the other observer link");
    let (ok, out, _) = cli(&data, &["rooms", "revoke", &id, "--all"]);
    assert!(ok);
    assert_eq!(out.trim(), "Revoked 2 links.");

    // Bad input says what is wrong.
    let (ok, _, err) = cli(&data, &["rooms", "revoke", &id]);
    assert!(!ok && err.contains("--link"), "{err}");
    let (ok, _, err) = cli(&data, &["rooms", "link", &id, "--role", "admin"]);
    assert!(!ok && err.contains("not a role"), "{err}");
    let (ok, _, err) = cli(
        &data,
        &[
            "rooms",
            "link",
            &id,
            "--role",
            "candidate",
            "--expires",
            "90d",
        ],
    );
    assert!(!ok && err.contains("30 days"), "{err}");
    let (ok, _, err) = cli(&data, &["rooms", "revoke", &id, "--link", "nope"]);
    assert!(!ok && err.contains("has no link"), "{err}");
    cli_json(&data, &["rooms", "delete", &id, "--json"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_another_client_saw_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let catalog = dir.path().join("catalog.toml");
    std::fs::write(&catalog, CATALOG).unwrap();
    let mut server = start_server(&data, &catalog);
    let created = cli_json(
        &data,
        &[
            "rooms",
            "create",
            "--name",
            "Durable",
            "--language",
            "bash",
            "--json",
        ],
    );
    let id = created["id"].as_str().unwrap().to_string();
    let link = |url: &str| {
        let (page, token) = url.split_once('#').unwrap();
        (page.to_string(), token.to_string())
    };
    let (_, token) = link(created["links"]["interviewer"].as_str().unwrap());
    let yjs = |base: &str| {
        format!(
            "{}/yjs/{id}?token={token}",
            base.replace("http://", "ws://")
        )
    };

    let mut a = common::ws::YClient::join(&yjs(&server.url)).await;
    let mut b = common::ws::YClient::join(&yjs(&server.url)).await;
    a.type_text("main.sh", "echo durable\n").await;
    b.pump_until(
        |c| c.file("main.sh").is_some_and(|t| t.contains("durable")),
        false,
    )
    .await;

    // kill -9: no shutdown, no flush.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    // Not dropped: its guard would stop the room; the next server sweeps the same instance.
    std::mem::forget(server);
    let server = start_server(&data, &catalog);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while cli_json(&data, &["rooms", "list", "--json"])[0]["status"] != "ready" {
        assert!(
            std::time::Instant::now() < deadline,
            "room never ready again"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let c = common::ws::YClient::join(&yjs(&server.url)).await;
    assert!(
        c.file("main.sh")
            .is_some_and(|t| t.contains("echo durable")),
        "{:?}",
        c.file("main.sh")
    );
    cli_json(&data, &["rooms", "delete", &id, "--json"]);
}
