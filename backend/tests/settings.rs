//! The interviewer's settings and private notes: stored, applied at once where they can be,
//! refused with a reason when they cannot, and kept across restarts.

mod common;

use backend::rooms::{NewRoom, RoomLimits};
use backend::settings::{Settings, Theme};
use backend::{App, AppOptions, ErrorCode};

async fn open(dir: &tempfile::TempDir) -> App {
    App::new(AppOptions::resolve(Some(dir.path().to_path_buf())))
        .await
        .unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn healthy(port: u16, prefix: &str) -> bool {
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let req = format!("GET {prefix}/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out).await;
    out.starts_with("HTTP/1.1 200")
}

#[tokio::test]
async fn settings_move_the_room_server_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(&dir).await;
    assert_eq!(app.settings(), Settings::default());

    let first = free_port();
    let start = app
        .save_settings(Settings {
            port: first,
            ..Settings::default()
        })
        .await
        .unwrap();
    // Nothing listened yet: saving does not start a server by itself.
    assert!(!healthy(first, "").await);
    app.listen(start.listen_addr()).await.unwrap();
    assert!(healthy(first, "").await);

    // A new port and prefix move the server at once; links follow the public URL.
    let second = free_port();
    let saved = app
        .save_settings(Settings {
            port: second,
            path_prefix: "/team/".into(),
            public_url: Some("https://rooms.example.org/x/".into()),
            theme: Theme::Dark,
            retention_days: 7,
            ..start.clone()
        })
        .await
        .unwrap();
    assert_eq!(saved.path_prefix, "/team", "normalised");
    assert_eq!(
        saved.public_url.as_deref(),
        Some("https://rooms.example.org/x")
    );
    assert!(healthy(second, "/team").await);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!healthy(first, "").await, "the old server stopped");
    assert_eq!(app.link_base().unwrap(), "https://rooms.example.org/x");

    // A busy port is refused and changes nothing.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    let err = app
        .save_settings(Settings {
            port: busy_port,
            ..saved.clone()
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot listen"), "{err}");
    assert_eq!(app.settings(), saved);
    assert!(
        healthy(second, "/team").await,
        "the running server is untouched"
    );
    assert_eq!(
        app.info().room_server.url,
        Some(format!("http://127.0.0.1:{second}")),
        "and still shown as running"
    );

    // Invalid values are refused with a reason.
    let err = app
        .save_settings(Settings {
            auto_stop_hours: 0,
            ..saved.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Invalid);
    app.shutdown().await;

    let again = open(&dir).await;
    assert_eq!(again.settings(), saved, "kept across a restart");
    assert_eq!(again.addressing().path_prefix, "/team");
    again.shutdown().await;
}

#[tokio::test]
async fn an_engine_endpoint_that_points_nowhere_is_reported_then_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(&dir).await;
    let good = app.engine_status().await;
    assert!(
        matches!(good, backend::EngineStatus::Ready { .. }),
        "{good:?}"
    );
    let nowhere = format!("tcp://127.0.0.1:{}", free_port());
    app.save_settings(Settings {
        engine_endpoint: Some(nowhere.clone()),
        ..app.settings()
    })
    .await
    .unwrap();
    match app.engine_status().await {
        backend::EngineStatus::Unreachable { endpoint, fix, .. } => {
            assert_eq!(endpoint, nowhere);
            assert!(!fix.is_empty());
        }
        other => panic!("still reachable: {other:?}"),
    }
    let err = app
        .create_room(common::new_room("no engine", "bash"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::EngineUnavailable);
    app.save_settings(Settings {
        engine_endpoint: None,
        ..app.settings()
    })
    .await
    .unwrap();
    assert!(matches!(
        app.engine_status().await,
        backend::EngineStatus::Ready { .. }
    ));
    app.shutdown().await;
}

#[tokio::test]
async fn new_rooms_take_the_defaults_and_their_own_starter_files() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app_with_catalog(&dir, common::BASH_CATALOG).await;
    app.save_settings(Settings {
        auto_stop_hours: 2,
        default_limits: RoomLimits {
            memory_mb: Some(256),
            ..RoomLimits::default()
        },
        ..app.settings()
    })
    .await
    .unwrap();
    let room = app
        .create_room(NewRoom {
            starter_files: Some(vec![backend::catalog::StarterFile {
                path: "task/README.md".into(),
                content: "# Reverse a list\n".into(),
            }]),
            ..common::new_room("defaults", "bash")
        })
        .await
        .unwrap();
    let stop_in = room.stop_at.unwrap() - room.created_at;
    assert!(
        (2 * 3_600_000 - 60_000..=2 * 3_600_000 + 60_000).contains(&stop_in),
        "stops after the default 2 h: {stop_in} ms"
    );
    let docker = backend::engine::Engine::new(None).client().await.unwrap();
    let host = docker
        .inspect_container(&format!("interview-platform-room-{}", room.id), None)
        .await
        .unwrap()
        .host_config
        .unwrap();
    assert_eq!(
        host.memory,
        Some(256 << 20),
        "the default memory limit applies"
    );
    let seen = common::run_and_see(&app, &room.id, "cat task/README.md; ls", "# Reverse").await;
    assert!(seen.contains("# Reverse a list"), "{seen}");
    assert!(
        !seen.contains("main.sh"),
        "the language's starter files are replaced: {seen}"
    );

    for bad in ["../escape.txt", "/etc/passwd", "a//b"] {
        let err = app
            .create_room(NewRoom {
                starter_files: Some(vec![backend::catalog::StarterFile {
                    path: bad.into(),
                    content: String::new(),
                }]),
                ..common::new_room("bad", "bash")
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Invalid, "{bad}");
    }
    assert_eq!(
        app.list_rooms().await.unwrap().len(),
        1,
        "nothing half-made"
    );

    // Private notes: kept, bounded, and part of the export.
    assert_eq!(app.notes(&room.id).await.unwrap().body, "");
    let saved = app
        .save_notes(&room.id, "## Impressions\n- clear naming\n")
        .await
        .unwrap();
    assert!(saved.updated_at.is_some());
    let too_big = "x".repeat(backend::notes::MAX_NOTES_BYTES + 1);
    assert_eq!(
        app.save_notes(&room.id, &too_big).await.unwrap_err().code(),
        ErrorCode::Invalid
    );
    assert_eq!(
        app.notes(&room.id).await.unwrap().body,
        saved.body,
        "nothing lost"
    );
    let out = dir.path().join("export.zip");
    app.export_room(&room.id, &out).await.unwrap();
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let mut notes = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name(backend::export::NOTES_NAME).unwrap(),
        &mut notes,
    )
    .unwrap();
    assert_eq!(notes, saved.body);
    assert!(zip.by_name("task/README.md").is_ok());
    app.delete_room(&room.id).await.unwrap();
    assert_eq!(
        app.notes(&room.id).await.unwrap_err().code(),
        ErrorCode::RoomNotFound
    );
    app.shutdown().await;
}

#[tokio::test]
async fn the_catalog_images_say_which_are_present_and_a_missing_one_explains_itself() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = format!(
        "{}\n[languages.absent]\nname = \"Absent\"\nimage = \"interview-platform-test/absent:{}\"\nrun = \"true\"\n",
        common::BASH_CATALOG,
        std::process::id()
    );
    let app = common::app_with_catalog(&dir, &catalog).await;
    let images = app.images().await.unwrap();
    let find = |id: &str| images.iter().find(|i| i.language == id).unwrap().clone();
    assert!(find("bash").present);
    let absent = find("absent");
    assert!(!absent.present);
    assert_eq!(absent.name, "Absent");

    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let err = app.prepare_image("absent", Some(tx)).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::ImageMissing);
    assert!(err.to_string().contains(&absent.image), "{err}");
    let first = rx.recv().await.unwrap();
    assert!(first.label.contains("pulling"), "{first:?}");
    assert_eq!(
        app.prepare_image("cobol", None).await.unwrap_err().code(),
        ErrorCode::UnknownLanguage
    );
    // Already present: nothing to pull, done at once.
    assert!(app.prepare_image("bash", None).await.unwrap().present);
    app.shutdown().await;
}

#[tokio::test]
async fn the_window_opens_a_room_through_loopback_with_a_link_nobody_else_sees() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app_with_catalog(&dir, common::BASH_CATALOG).await;
    let room = app
        .create_room(common::new_room("window", "bash"))
        .await
        .unwrap();
    // No server yet: a plain reason, not a broken link.
    let err = app.window_session(&room.id).await.unwrap_err();
    assert!(
        err.to_string().contains("room server is not running"),
        "{err}"
    );

    let port = free_port();
    app.save_settings(Settings {
        port,
        lan: true,
        path_prefix: "/p".into(),
        ..app.settings()
    })
    .await
    .unwrap();
    app.listen(app.settings().listen_addr()).await.unwrap();
    let session = app.window_session(&room.id).await.unwrap();
    assert_eq!(session.ws_base, format!("ws://127.0.0.1:{port}/p"));
    let admitted = app.admit(&room.id, &session.token).await.unwrap();
    assert_eq!(admitted.role, backend::tokens::Role::Interviewer);
    assert!(
        app.list_links(&room.id).await.unwrap().is_empty(),
        "not listed"
    );
    let again = app.window_session(&room.id).await.unwrap();
    assert_eq!(
        again.token, session.token,
        "opening the room again reuses the link"
    );
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM links WHERE window = 1")
        .fetch_one(app.db())
        .await
        .unwrap();
    assert_eq!(rows, 1);
    app.revoke_links(&room.id, backend::tokens::Revoke::All)
        .await
        .unwrap();
    assert!(
        app.admit(&room.id, &session.token).await.is_ok(),
        "revoking the room's links leaves the window in"
    );
    app.delete_room(&room.id).await.unwrap();
    assert!(app.admit(&room.id, &session.token).await.is_err());
    app.shutdown().await;
}
