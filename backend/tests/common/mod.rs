//! Helpers shared by the tests that run rooms on the real engine. Each test file uses a part
//! of them.
#![allow(dead_code)]

use std::time::Duration;

use backend::rooms::NewRoom;
use backend::{App, AppOptions};
use insider::protocol::{Event, Request};
use serde_bytes::ByteBuf;

/// The busybox image `scripts/build-test-images.sh` imports without a registry.
pub const BUSYBOX: &str = "interview-platform-test/busybox:latest";

/// An app on a fresh data dir in `dir`, with `catalog` applied over the built-in languages.
pub async fn app_with_catalog(dir: &tempfile::TempDir, catalog: &str) -> App {
    let file = dir.path().join("catalog.toml");
    std::fs::write(&file, catalog).unwrap();
    App::new(AppOptions {
        data_dir: dir.path().join("data"),
        engine_endpoint: None,
        catalog_file: Some(file),
    })
    .await
    .unwrap()
}

/// A room request with the defaults.
pub fn new_room(name: &str, language: &str) -> NewRoom {
    NewRoom {
        name: name.into(),
        language: language.into(),
        candidate_terminal: true,
        network: false,
        time_limit_secs: None,
        limits: Default::default(),
    }
}

/// Types `line` in the room's terminal and waits (generously) until `needle` shows in the
/// output. Pick a needle the typed line itself does not contain (`echo ok-$((1+1))` → `ok-2`):
/// the terminal echoes what is typed.
pub async fn run_and_see(app: &App, room: &str, line: &str, needle: &str) -> String {
    let (link, mut events) = app.room_agent(room).await.unwrap();
    link.send(Request::PtyInput {
        data: ByteBuf::from(format!("{line}\r").into_bytes()),
    })
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let mut seen = String::new();
    while !seen.contains(needle) {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(Event::PtyOutput { data })) => seen.push_str(&String::from_utf8_lossy(&data)),
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            other => panic!("{needle:?} never came: {other:?}; saw {seen:?}"),
        }
    }
    seen
}
