//! Helpers shared by the tests that run rooms on the real engine. Each test file uses a part
//! of them.
#![allow(dead_code)]

use std::time::Duration;

pub mod ws;

use backend::rooms::NewRoom;
use backend::{App, AppOptions};
use insider::protocol::{Event, Request};
use serde_bytes::ByteBuf;

/// The busybox image `scripts/build-test-images.sh` imports without a registry.
pub const BUSYBOX: &str = "interview-platform-test/busybox:latest";

/// A catalog whose `bash` rooms run [`BUSYBOX`] with a one-line starter file.
pub const BASH_CATALOG: &str = r#"
[languages.bash]
image = "interview-platform-test/busybox:latest"
run = "sh main.sh"
starter = [{ path = "main.sh", content = "echo hi\n" }]
"#;

/// Removes, when dropped, every container and volume on the engine that carries an app
/// instance's label: a test that fails midway leaves nothing running.
pub struct Sweep {
    instance: String,
}

impl Sweep {
    /// Sweeps what the instance `instance` leaves behind.
    pub fn new(instance: impl Into<String>) -> Self {
        Self {
            instance: instance.into(),
        }
    }
}

impl Drop for Sweep {
    fn drop(&mut self) {
        let instance = self.instance.clone();
        // Drop cannot await, and may run inside the test's runtime: use a thread of its own.
        let swept = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(sweep(&instance))
        })
        .join();
        if let Ok(Err(e)) = swept {
            eprintln!("could not remove what instance {} left: {e}", self.instance);
        }
    }
}

/// What the engine holds with a label (`key=value`): containers (by id) and volumes (by
/// name), each with its labels.
pub struct Labelled {
    pub containers: Vec<(String, std::collections::HashMap<String, String>)>,
    pub volumes: Vec<(String, std::collections::HashMap<String, String>)>,
}

impl Labelled {
    /// The `app.interview-platform.room` labels of the containers and of the volumes.
    pub fn rooms(&self) -> (Vec<String>, Vec<String>) {
        let room = |l: &std::collections::HashMap<String, String>| {
            l.get("app.interview-platform.room").cloned()
        };
        (
            self.containers
                .iter()
                .filter_map(|(_, l)| room(l))
                .collect(),
            self.volumes.iter().filter_map(|(_, l)| room(l)).collect(),
        )
    }
}

/// Containers and volumes on the engine that carry `label` (`key=value`).
pub async fn labelled(label: &str) -> Result<Labelled, bollard::errors::Error> {
    use bollard::query_parameters::{ListContainersOptionsBuilder, ListVolumesOptionsBuilder};
    let docker = backend::engine::Engine::new(None).client().await?;
    let filters = std::collections::HashMap::from([("label".to_string(), vec![label.to_string()])]);
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await?
        .into_iter()
        .filter_map(|c| Some((c.id?, c.labels.unwrap_or_default())))
        .collect();
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::new().filters(&filters).build(),
        ))
        .await?
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| (v.name, v.labels))
        .collect();
    Ok(Labelled {
        containers,
        volumes,
    })
}

async fn sweep(instance: &str) -> Result<(), bollard::errors::Error> {
    use bollard::query_parameters::{RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder};
    let docker = backend::engine::Engine::new(None).client().await?;
    let left = labelled(&format!("app.interview-platform.instance={instance}")).await?;
    for (id, _) in left.containers {
        let force = RemoveContainerOptionsBuilder::new().force(true).build();
        let _ = docker.remove_container(&id, Some(force)).await;
    }
    for (name, _) in left.volumes {
        let force = RemoveVolumeOptionsBuilder::new().force(true).build();
        let _ = docker.remove_volume(&name, Some(force)).await;
    }
    Ok(())
}

/// An app whose containers and volumes are removed when it is dropped (see [`Sweep`]).
pub struct TestApp {
    app: App,
    _sweep: Sweep,
}

impl TestApp {
    /// Wraps `app`.
    pub fn new(app: App) -> Self {
        let sweep = Sweep::new(app.instance_id());
        Self { app, _sweep: sweep }
    }
}

impl std::ops::Deref for TestApp {
    type Target = App;
    fn deref(&self) -> &App {
        &self.app
    }
}

/// An app on a fresh data dir in `dir`, with `catalog` applied over the built-in languages.
pub async fn app_with_catalog(dir: &tempfile::TempDir, catalog: &str) -> TestApp {
    let file = dir.path().join("catalog.toml");
    std::fs::write(&file, catalog).unwrap();
    TestApp::new(
        App::new(AppOptions {
            data_dir: dir.path().join("data"),
            engine_endpoint: None,
            catalog_file: Some(file),
            agent_dirs: Vec::new(),
            version: None,
        })
        .await
        .unwrap(),
    )
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
        starter_files: None,
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

/// An app serving on a free loopback port, with one ready room.
pub struct Served {
    pub app: TestApp,
    pub addr: std::net::SocketAddr,
    pub room: String,
    _dir: tempfile::TempDir,
}

pub async fn served(catalog: &str, prefix: &str) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_catalog(&dir, catalog).await;
    app.set_addressing(None, Some(prefix)).unwrap();
    let addr = app.listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let room = app.create_room(new_room("Live", "bash")).await.unwrap().id;
    Served {
        app,
        addr,
        room,
        _dir: dir,
    }
}

impl Served {
    pub async fn token(&self, role: backend::tokens::Role) -> String {
        let link = self.app.issue_link(&self.room, role, 3600).await.unwrap();
        link.url.split_once('#').unwrap().1.to_string()
    }

    pub fn yjs_url(&self, room: &str, token: &str) -> String {
        let prefix = self.app.addressing().path_prefix;
        format!("ws://{}{prefix}/yjs/{room}?token={token}", self.addr)
    }

    pub fn room_url(&self, room: &str, token: &str) -> String {
        let prefix = self.app.addressing().path_prefix;
        format!("ws://{}{prefix}/room/{room}?token={token}", self.addr)
    }
}
