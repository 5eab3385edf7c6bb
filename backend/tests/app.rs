//! The app on a real SQLite file and a real port-0 socket.

use std::time::Duration;

use backend::{App, AppOptions, ErrorCode};

fn options(dir: &tempfile::TempDir) -> AppOptions {
    AppOptions {
        data_dir: dir.path().join("data"),
        engine_endpoint: None,
        catalog_file: None,
        agent_dirs: Vec::new(),
        version: None,
    }
}

async fn schema(app: &App) -> (Vec<(String, String)>, i64) {
    let objects: Vec<(String, String)> =
        sqlx::query_as("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .fetch_all(app.db())
            .await
            .unwrap();
    let (applied,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(app.db())
        .await
        .unwrap();
    (objects, applied)
}

#[tokio::test]
async fn migrations_apply_to_a_fresh_file_and_a_second_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let first = App::new(options(&dir)).await.unwrap();
    let before = schema(&first).await;
    assert!(
        before.0.iter().any(|(name, _)| name == "rooms"),
        "rooms table missing: {:?}",
        before.0
    );
    assert_eq!(before.1, backend::db::MIGRATOR.iter().count() as i64);
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(first.db())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    first.shutdown().await;

    let second = App::new(options(&dir)).await.unwrap();
    let after = schema(&second).await;
    assert_eq!(before, after);
    assert!(second.list_rooms().await.unwrap().is_empty());
    second.shutdown().await;
}

#[tokio::test]
async fn rooms_are_listed_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::new(options(&dir)).await.unwrap();
    for (id, name, at) in [
        ("r_old_aaaaaaaa", "Old", 1_000i64),
        ("r_new_bbbbbbbb", "New", 2_000),
    ] {
        sqlx::query("INSERT INTO rooms (id, name, language, status, created_at, updated_at) VALUES (?, ?, 'python', 'stopped', ?, ?)")
            .bind(id).bind(name).bind(at).bind(at)
            .execute(app.db()).await.unwrap();
    }
    let names: Vec<String> = app
        .list_rooms()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["New", "Old"]);
    app.shutdown().await;
}

#[tokio::test]
async fn serves_healthz_and_the_room_page_and_frees_the_port_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::new(options(&dir)).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn({
        let app = app.clone();
        async move { app.serve(listener).await }
    });
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();

    let health: serde_json::Value = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], backend::VERSION);

    let page = client
        .get(format!("{base}/r/room_abc123"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.headers()["cache-control"], "no-store");
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert!(page.headers().contains_key("content-security-policy"));
    let html = page.text().await.unwrap();
    // The page loads its script relative to itself, so it also works under a path prefix.
    let script = html
        .split("src=\"./assets/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the room page references its script under ./assets/");
    let js = client
        .get(format!("{base}/r/assets/{script}"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    let plain = js.bytes().await.unwrap().len();
    // Browsers that accept gzip get it: the script is large (editor, terminal).
    let gz = client
        .get(format!("{base}/r/assets/{script}"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let packed = gz.bytes().await.unwrap().len();
    assert!(packed * 2 < plain, "{packed} gzip bytes for {plain}");

    let missing = client
        .get(format!("{base}/r/assets/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let admin = client.post(format!("{base}/rooms")).send().await.unwrap();
    assert_eq!(admin.status(), 404, "no admin action has an HTTP route");

    drop(client);
    tokio::time::timeout(Duration::from_secs(10), app.shutdown())
        .await
        .expect("shutdown returns");
    let served = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve returns")
        .unwrap();
    assert!(served.is_ok());
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "nothing listens after shutdown"
    );
    tokio::net::TcpListener::bind(addr)
        .await
        .expect("the port is free again");
}

#[tokio::test]
async fn a_busy_port_is_a_clear_error_kept_for_the_ui() {
    let dir = tempfile::tempdir().unwrap();
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap();
    let app = App::new(options(&dir)).await.unwrap();
    let err = app.listen(addr).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Listen);
    assert!(err.to_string().contains(&addr.to_string()));
    let info = app.info();
    assert_eq!(info.room_server.url, None);
    assert!(info
        .room_server
        .error
        .unwrap()
        .contains("another Interview Platform"));
    app.shutdown().await;
}

#[tokio::test]
async fn listen_reports_its_url_and_stops_with_the_app() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::new(options(&dir)).await.unwrap();
    let addr = app.listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
    assert_eq!(app.info().room_server.url, Some(format!("http://{addr}")));
    let res = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    tokio::time::timeout(Duration::from_secs(10), app.shutdown())
        .await
        .expect("shutdown returns");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn the_data_dir_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let app = App::new(options(&dir)).await.unwrap();
    let mode = std::fs::metadata(app.data_dir())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700);
    assert!(backend::paths::database_file(app.data_dir()).is_file());
    app.shutdown().await;
}

#[tokio::test]
async fn the_agent_for_the_engines_architecture_is_chosen_and_the_version_is_the_apps() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::new(AppOptions {
        version: Some("7.8.9".into()),
        ..options(&dir)
    })
    .await
    .unwrap();
    assert_eq!(app.info().version, "7.8.9");
    let status = app.agent_status().await;
    // The engine runs on this machine: its architecture is this machine's.
    assert_eq!(status.engine_arch.as_deref(), Some(std::env::consts::ARCH));
    assert!(status.problem.is_none(), "{:?}", status.problem);
    let chosen = std::path::PathBuf::from(status.chosen.expect("an agent is chosen"));
    assert_eq!(
        backend::agent::file_arch(&chosen),
        Some(std::env::consts::ARCH)
    );
    assert!(status.available.iter().any(|a| a == std::env::consts::ARCH));
    app.shutdown().await;
}
