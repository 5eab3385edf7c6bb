//! The room lifecycle through `App`, on the real engine with the offline busybox image:
//! create, stop (files saved), resume (files back), delete (nothing left), and the failures
//! that must leave nothing behind.

use std::time::Duration;

use backend::rooms::NewRoom;
use backend::{App, AppOptions, ErrorCode};
use bollard::query_parameters::{ListContainersOptionsBuilder, ListVolumesOptionsBuilder};
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

async fn app(dir: &tempfile::TempDir) -> App {
    let catalog = dir.path().join("catalog.toml");
    std::fs::write(&catalog, CATALOG).unwrap();
    App::new(AppOptions {
        data_dir: dir.path().join("data"),
        engine_endpoint: None,
        catalog_file: Some(catalog),
    })
    .await
    .unwrap()
}

fn bash_room(name: &str) -> NewRoom {
    NewRoom {
        name: name.into(),
        language: "bash".into(),
        candidate_terminal: true,
        network: false,
    }
}

/// Containers and volumes labelled with this room.
async fn leftovers(room: &str) -> (usize, usize) {
    let docker = backend::engine::Engine::new(None).client().await.unwrap();
    let label = format!("app.interview-platform.room={room}");
    let filters = std::collections::HashMap::from([("label".to_string(), vec![label])]);
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap();
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .unwrap();
    (containers.len(), volumes.volumes.unwrap_or_default().len())
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
            b"mkdir -p work && echo kept > work/notes.txt && echo done-writing\r".to_vec(),
        ),
    })
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut seen = String::new();
    while !seen.contains("done-writing\r\n") {
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
