//! The room lifecycle through `App`, on the real engine with the offline busybox image:
//! create, stop (files saved), resume (files back), delete (nothing left), and the failures
//! that must leave nothing behind.

use std::time::Duration;

mod common;

use backend::rooms::NewRoom;
use backend::{App, AppOptions, ErrorCode};
use insider::protocol::{Event, Request};
use serde_bytes::ByteBuf;

const CATALOG: &str = r#"
[languages.bash]
image = "interview-platform-test/busybox:latest"
run = "sh main.sh"
starter = [{ path = "main.sh", content = "echo hello from the starter\n" }, { path = "lib/util.sh", content = "true\n" }]

[languages.ghost]
image = "interview-platform-test/does-not-exist:latest"
run = "true"
"#;

async fn app(dir: &tempfile::TempDir) -> common::TestApp {
    common::app_with_catalog(dir, CATALOG).await
}

fn bash_room(name: &str) -> NewRoom {
    common::new_room(name, "bash")
}

/// Containers and volumes labelled with this room.
async fn leftovers(room: &str) -> (usize, usize) {
    let left = common::labelled(&format!("app.interview-platform.room={room}"))
        .await
        .unwrap();
    (left.containers.len(), left.volumes.len())
}

async fn read_file(app: &App, room: &str, path: &str) -> Vec<u8> {
    let (link, _) = app.room_agent(room).await.unwrap();
    match link
        .request(Request::Read { path: path.into() })
        .await
        .unwrap()
    {
        Event::File { data } => data.into_vec(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn create_stop_resume_delete() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let room = app
        .create_room(bash_room("  Pairing with Ada  "))
        .await
        .expect("room created");
    assert_eq!(room.status, "ready");
    assert_eq!(room.name, "Pairing with Ada");
    assert_eq!(room.id.len(), 32, "a long random id");
    assert_eq!(leftovers(&room.id).await, (1, 1));
    assert_eq!(
        read_file(&app, &room.id, "main.sh").await,
        b"echo hello from the starter\n"
    );

    // The candidate's work, written from the shell, must survive stop and resume.
    let (link, mut events) = app.room_agent(&room.id).await.unwrap();
    link.send(Request::PtyInput {
        data: ByteBuf::from(
            b"mkdir -p work && echo kept > work/notes.txt && echo done-$((40+2))\r".to_vec(),
        ),
    })
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut seen = String::new();
    while !seen.contains("done-42") {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(Event::PtyOutput { data })) => seen.push_str(&String::from_utf8_lossy(&data)),
            Ok(Ok(_)) => {}
            other => panic!("no output: {other:?}; saw {seen:?}"),
        }
    }

    let stopped = app.stop_room(&room.id).await.expect("stopped");
    assert_eq!(stopped.status, "stopped");
    assert_eq!(
        leftovers(&room.id).await,
        (0, 0),
        "no container or volume while stopped"
    );
    assert!(backend::rooms::files_archive(&dir.path().join("data"), &room.id).is_file());
    assert_eq!(
        app.stop_room(&room.id).await.unwrap().status,
        "stopped",
        "stopping twice is fine"
    );

    let resumed = app.resume_room(&room.id).await.expect("resumed");
    assert_eq!(resumed.status, "ready");
    assert_eq!(read_file(&app, &room.id, "work/notes.txt").await, b"kept\n");
    assert_eq!(
        read_file(&app, &room.id, "main.sh").await,
        b"echo hello from the starter\n"
    );
    // The room's user still owns its files.
    let (link, _) = app.room_agent(&room.id).await.unwrap();
    assert_eq!(
        link.request(Request::Write {
            path: "lib/new.sh".into(),
            data: ByteBuf::from(b"x".to_vec()),
            create_only: true
        })
        .await
        .unwrap(),
        Event::Done
    );

    app.delete_room(&room.id).await.expect("deleted");
    assert_eq!(leftovers(&room.id).await, (0, 0));
    assert!(!backend::rooms::files_archive(&dir.path().join("data"), &room.id).exists());
    assert_eq!(
        app.delete_room(&room.id).await.unwrap_err().code(),
        ErrorCode::RoomNotFound
    );
    assert!(app.list_rooms().await.unwrap().is_empty());
    app.shutdown().await;
}

#[tokio::test]
async fn an_unknown_language_is_refused_with_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let err = app
        .create_room(NewRoom {
            language: "cobol".into(),
            ..bash_room("x")
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::UnknownLanguage);
    assert!(
        err.to_string().contains("cobol") && err.to_string().contains("python"),
        "{err}"
    );
    assert!(app.list_rooms().await.unwrap().is_empty());
    app.shutdown().await;
}

#[tokio::test]
async fn a_missing_image_names_the_image_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let err = app
        .create_room(NewRoom {
            language: "ghost".into(),
            ..bash_room("x")
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ImageMissing, "{err}");
    assert!(
        err.to_string()
            .contains("interview-platform-test/does-not-exist:latest"),
        "{err}"
    );
    assert!(app.list_rooms().await.unwrap().is_empty(), "no row left");
    app.shutdown().await;
}

#[tokio::test]
async fn an_engine_that_is_down_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::new(AppOptions {
        data_dir: dir.path().join("data"),
        engine_endpoint: Some("tcp://127.0.0.1:1".into()),
        catalog_file: None,
        agent_dirs: Vec::new(),
        version: None,
    })
    .await
    .unwrap();
    let err = app
        .create_room(NewRoom {
            language: "python".into(),
            ..bash_room("x")
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::EngineUnavailable);
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
    assert!(app.list_rooms().await.unwrap().is_empty());
    app.shutdown().await;
}

#[tokio::test]
async fn an_empty_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let err = app.create_room(bash_room("   ")).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Invalid);
    app.shutdown().await;
}

async fn container_id(room: &str) -> String {
    let docker = backend::engine::Engine::new(None).client().await.unwrap();
    docker
        .inspect_container(&format!("interview-platform-room-{room}"), None)
        .await
        .unwrap()
        .id
        .unwrap()
}

#[tokio::test]
async fn a_backend_restart_reattaches_and_the_shell_keeps_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let first = app(&dir).await;
    let room = first.create_room(bash_room("reattach")).await.unwrap();
    common::run_and_see(
        &first,
        &room.id,
        "MARK=survived; echo set-$((2+3))",
        "set-5",
    )
    .await;
    first.shutdown().await;

    let second = app(&dir).await;
    let report = second.reconcile().await.unwrap();
    assert_eq!(report.reattached, vec![room.id.clone()]);
    common::run_and_see(&second, &room.id, "echo mark=$MARK", "mark=survived").await;
    second.delete_room(&room.id).await.unwrap();
    second.shutdown().await;
}

#[tokio::test]
async fn a_killed_container_comes_back_with_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    app.start_background().await;
    let room = app.create_room(bash_room("crash")).await.unwrap();
    common::run_and_see(
        &app,
        &room.id,
        "echo precious > keep.txt; echo wrote-$((6*7))",
        "wrote-42",
    )
    .await;
    let mut events = app.subscribe();
    let docker = backend::engine::Engine::new(None).client().await.unwrap();
    docker
        .kill_container(
            &format!("interview-platform-room-{}", room.id),
            None::<bollard::query_parameters::KillContainerOptions>,
        )
        .await
        .unwrap();
    // It goes through starting and comes back ready.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut saw_starting = false;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(backend::events::AppEvent::RoomStatus {
                room: r, status, ..
            })) if r == room.id => {
                if status == "starting" {
                    saw_starting = true;
                }
                if status == "ready" && saw_starting {
                    break;
                }
            }
            Ok(_) => {}
            Err(_) => panic!("the room did not come back"),
        }
    }
    assert_eq!(read_file(&app, &room.id, "keep.txt").await, b"precious\n");
    app.delete_room(&room.id).await.unwrap();
    app.shutdown().await;
}

#[tokio::test]
async fn restart_gives_a_new_container_with_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let room = app.create_room(bash_room("restart")).await.unwrap();
    common::run_and_see(
        &app,
        &room.id,
        "echo v1 > state.txt; MARK=old; echo ok$((1+1))",
        "ok2",
    )
    .await;
    let before = container_id(&room.id).await;
    assert_eq!(app.restart_room(&room.id).await.unwrap().status, "ready");
    assert_ne!(container_id(&room.id).await, before, "a new container");
    assert_eq!(read_file(&app, &room.id, "state.txt").await, b"v1\n");
    // The brackets come from command substitutions, so the typed line never matches.
    let out = common::run_and_see(
        &app,
        &room.id,
        "echo \"mark=$(echo '[')${MARK}$(echo ']')end\"",
        "end\r\n",
    )
    .await;
    assert!(out.contains("mark=[]end"), "a fresh shell: {out}");
    app.delete_room(&room.id).await.unwrap();
    app.shutdown().await;
}

#[tokio::test]
async fn extend_pushes_the_stop_time_and_export_zips_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let room = app
        .create_room(NewRoom {
            time_limit_secs: Some(3600),
            ..bash_room("extend")
        })
        .await
        .unwrap();
    let stop_at = room.stop_at.expect("a running room has a stop time");
    let extended = app.extend_room(&room.id, 1800).await.unwrap();
    assert_eq!(extended.stop_at, Some(stop_at + 1_800_000));

    let out = dir.path().join("export.zip");
    assert!(app.export_room(&room.id, &out).await.unwrap() > 0);
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let mut main = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("main.sh").unwrap(), &mut main).unwrap();
    assert_eq!(main, "echo hello from the starter\n");
    assert!(zip.by_name("lib/util.sh").is_ok());

    // A stopped room exports from its saved files.
    app.stop_room(&room.id).await.unwrap();
    let out2 = dir.path().join("stopped.zip");
    app.export_room(&room.id, &out2).await.unwrap();
    assert!(zip::ZipArchive::new(std::fs::File::open(&out2).unwrap())
        .unwrap()
        .by_name("main.sh")
        .is_ok());
    app.delete_room(&room.id).await.unwrap();
    app.shutdown().await;
}

#[tokio::test]
async fn a_room_stops_by_itself_at_its_time_limit() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let mut events = app.subscribe();
    app.start_background().await;
    let room = app
        .create_room(NewRoom {
            time_limit_secs: Some(3),
            ..bash_room("short")
        })
        .await
        .unwrap();
    let mut warned = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(backend::events::AppEvent::StopSoon { room: r, .. })) if r == room.id => {
                warned = true
            }
            Ok(Ok(backend::events::AppEvent::RoomStatus {
                room: r, status, ..
            })) if r == room.id && status == "stopped" => break,
            Ok(_) => {}
            Err(_) => panic!("the room did not stop at its time limit"),
        }
    }
    assert!(warned, "the warning came before the stop");
    assert!(backend::rooms::files_archive(&dir.path().join("data"), &room.id).is_file());
    app.delete_room(&room.id).await.unwrap();
    app.shutdown().await;
}

#[tokio::test]
async fn stopped_rooms_past_the_retention_period_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let room = app.create_room(bash_room("old")).await.unwrap();
    app.stop_room(&room.id).await.unwrap();
    // Stopped 31 days ago, past the 30-day default.
    let long_ago = backend::db::now_ms() - 31 * 86_400_000;
    sqlx::query("UPDATE rooms SET stopped_at = ? WHERE id = ?")
        .bind(long_ago)
        .bind(&room.id)
        .execute(app.db())
        .await
        .unwrap();
    let kept = app.create_room(bash_room("recent")).await.unwrap();
    app.stop_room(&kept.id).await.unwrap();
    app.start_background().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let ids: Vec<String> = app
            .list_rooms()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        if !ids.contains(&room.id) {
            assert!(ids.contains(&kept.id), "a recently stopped room is kept");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the old room was not deleted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!backend::rooms::files_archive(&dir.path().join("data"), &room.id).exists());
    app.delete_room(&kept.id).await.unwrap();
    app.shutdown().await;
}

#[tokio::test]
async fn a_room_can_have_its_own_limits_and_keeps_them_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let limits = backend::rooms::RoomLimits {
        memory_mb: Some(512),
        cpus: Some(0.5),
        pids: Some(128),
    };
    let room = app
        .create_room(NewRoom {
            limits,
            ..bash_room("limits")
        })
        .await
        .unwrap();
    let docker = backend::engine::Engine::new(None).client().await.unwrap();
    let name = format!("interview-platform-room-{}", room.id);
    for _ in 0..2 {
        let host = docker
            .inspect_container(&name, None)
            .await
            .unwrap()
            .host_config
            .unwrap();
        assert_eq!(host.memory, Some(512 << 20));
        assert_eq!(host.memory_swap, Some(512 << 20));
        assert_eq!(host.nano_cpus, Some(500_000_000));
        assert_eq!(host.pids_limit, Some(128));
        assert!(host.tmpfs.unwrap()["/tmp"].contains(&format!("size={}", 128 << 20)));
        app.restart_room(&room.id).await.unwrap();
    }
    let err = app
        .create_room(NewRoom {
            limits: backend::rooms::RoomLimits {
                memory_mb: Some(16),
                ..Default::default()
            },
            ..bash_room("too small")
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Invalid);
    assert!(err.to_string().contains("128 to 65536"), "{err}");
    app.delete_room(&room.id).await.unwrap();
    app.shutdown().await;
}
