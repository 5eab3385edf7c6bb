//! The container engine going away while rooms run or are being made: a clear error, nothing
//! lost, nothing left behind once it is back, and rooms re-attached by themselves.
//!
//! The app reaches the real engine through `FlakyEngine`, a Unix-socket relay in the test that
//! can cut every connection and refuse new ones (as an engine that stops or restarts does).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod common;

use backend::{App, AppOptions, ErrorCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

const CATALOG: &str = common::BASH_CATALOG;

type Trigger = Box<dyn Fn(&[u8]) -> bool + Send>;

/// A relay in front of the engine's socket that can be taken down and brought back.
struct FlakyEngine {
    socket: PathBuf,
    down: Arc<AtomicBool>,
    /// Bumped to cut every open connection.
    cut: tokio::sync::watch::Sender<u64>,
    /// When a request to the engine matches, the engine goes away before it arrives.
    trigger: Arc<Mutex<Option<Trigger>>>,
}

/// The real engine's socket.
fn engine_socket() -> PathBuf {
    match std::env::var("DOCKER_HOST") {
        Ok(h) if h.starts_with("unix://") => PathBuf::from(&h["unix://".len()..]),
        _ => PathBuf::from("/var/run/docker.sock"),
    }
}

impl FlakyEngine {
    fn start(dir: &Path) -> FlakyEngine {
        let socket = dir.join("engine.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let engine = FlakyEngine {
            socket,
            down: Arc::default(),
            cut,
            trigger: Arc::default(),
        };
        let (down, cut, trigger) = (
            engine.down.clone(),
            engine.cut.clone(),
            engine.trigger.clone(),
        );
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if down.load(Ordering::SeqCst) {
                    continue; // dropped: the connection closes at once
                }
                let Ok(upstream) = UnixStream::connect(engine_socket()).await else {
                    continue;
                };
                tokio::spawn(relay(
                    client,
                    upstream,
                    cut.subscribe(),
                    down.clone(),
                    cut.clone(),
                    trigger.clone(),
                ));
            }
        });
        engine
    }

    fn endpoint(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The engine goes away: open connections are cut, new ones refused.
    fn go_away(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.cut.send_modify(|g| *g += 1);
    }

    fn come_back(&self) {
        self.down.store(false, Ordering::SeqCst);
    }

    /// The engine goes away just before a request that `matches` reaches it.
    fn go_away_at(&self, matches: impl Fn(&[u8]) -> bool + Send + 'static) {
        *self.trigger.lock().unwrap() = Some(Box::new(matches));
    }
}

async fn relay(
    mut client: UnixStream,
    mut upstream: UnixStream,
    mut cut: tokio::sync::watch::Receiver<u64>,
    down: Arc<AtomicBool>,
    cut_all: tokio::sync::watch::Sender<u64>,
    trigger: Arc<Mutex<Option<Trigger>>>,
) {
    let (mut cr, mut cw) = client.split();
    let (mut ur, mut uw) = upstream.split();
    let to_engine = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = cr.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(());
            }
            let fire = trigger
                .lock()
                .unwrap()
                .as_ref()
                .is_some_and(|t| t(&buf[..n]));
            if fire {
                trigger.lock().unwrap().take();
                down.store(true, Ordering::SeqCst);
                cut_all.send_modify(|g| *g += 1);
                return Ok(());
            }
            uw.write_all(&buf[..n]).await?;
        }
    };
    let from_engine = tokio::io::copy(&mut ur, &mut cw);
    tokio::select! {
        _ = to_engine => {}
        _ = from_engine => {}
        _ = cut.changed() => {}
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn app_through(dir: &tempfile::TempDir, engine: &FlakyEngine) -> common::TestApp {
    let catalog = dir.path().join("catalog.toml");
    std::fs::write(&catalog, CATALOG).unwrap();
    common::TestApp::new(
        App::new(AppOptions {
            data_dir: dir.path().join("data"),
            engine_endpoint: Some(engine.endpoint()),
            catalog_file: Some(catalog),
            agent_dirs: Vec::new(),
            version: None,
        })
        .await
        .unwrap(),
    )
}

/// The rooms (by their room label) that have a container, and a volume, of `instance` on
/// the real engine.
async fn on_engine(instance: &str) -> (Vec<String>, Vec<String>) {
    common::labelled(&format!("app.interview-platform.instance={instance}"))
        .await
        .unwrap()
        .rooms()
}

/// Waits (generously) until `done` holds.
async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while !done().await {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_engine_lost_while_a_room_is_made_leaves_nothing_once_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let engine = FlakyEngine::start(dir.path());
    let app = app_through(&dir, &engine).await;
    app.start_background().await;
    // The room's container exists and its files are uploaded; the engine vanishes as the
    // container is about to start.
    engine.go_away_at(|req| {
        contains(req, b"/containers/interview-platform-room-") && contains(req, b"/start")
    });
    let err = app
        .create_room(common::new_room("Lost", "bash"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::EngineUnavailable, "{err}");
    assert!(
        err.to_string()
            .contains("connection to the container engine was lost"),
        "{err}"
    );
    assert!(app.list_rooms().await.unwrap().is_empty(), "no row left");

    // What could not be removed while the engine was away is still there...
    let (containers, volumes) = on_engine(app.instance_id()).await;
    assert_eq!(
        containers.len(),
        1,
        "the half-made container: {containers:?}"
    );
    assert_eq!(volumes, containers, "and its files volume");

    // ...until the engine is back: then the app removes it by itself.
    engine.come_back();
    eventually("the half-made room is removed", || async {
        on_engine(app.instance_id()).await == (vec![], vec![])
    })
    .await;
    app.shutdown().await;
}

#[tokio::test]
async fn rooms_are_reattached_with_their_shell_when_the_engine_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let engine = FlakyEngine::start(dir.path());
    let app = app_through(&dir, &engine).await;
    app.start_background().await;
    let room = app
        .create_room(common::new_room("Through a blip", "bash"))
        .await
        .unwrap();
    common::run_and_see(&app, &room.id, "X=41; echo set-$((X-40))", "set-1").await;
    common::run_and_see(
        &app,
        &room.id,
        "echo keep > kept.txt; echo w-$((2+2))",
        "w-4",
    )
    .await;
    // A second room nobody touches while the engine is away.
    let other = app
        .create_room(common::new_room("Left alone", "bash"))
        .await
        .unwrap();
    common::run_and_see(&app, &other.id, "Y=6; echo set-$((Y+1))", "set-7").await;

    engine.go_away();
    eventually("the room's link is seen broken", || async {
        app.room_agent(&room.id).await.is_err()
    })
    .await;
    // Stopping needs the engine: a clear error, and the room is not lost.
    let err = app.stop_room(&room.id).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::EngineUnavailable, "{err}");
    let row = app
        .list_rooms()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.id == room.id)
        .unwrap();
    assert_eq!(row.status, "error");
    assert!(
        row.error
            .as_deref()
            .unwrap_or_default()
            .contains("could not be stopped"),
        "{row:?}"
    );

    engine.come_back();
    eventually("both rooms are ready again", || async {
        app.list_rooms()
            .await
            .unwrap()
            .iter()
            .all(|r| r.status == "ready")
            && app.room_agent(&room.id).await.is_ok()
            && app.room_agent(&other.id).await.is_ok()
    })
    .await;
    // Same containers, same shells: the variables are still set.
    common::run_and_see(&app, &room.id, "echo got-$((X+1))", "got-42").await;
    common::run_and_see(&app, &other.id, "echo got-$((Y+1))", "got-7").await;
    app.delete_room(&other.id).await.unwrap();

    // And now it stops as usual, its files saved.
    let stopped = app.stop_room(&room.id).await.unwrap();
    assert_eq!(stopped.status, "stopped");
    let resumed = app.resume_room(&room.id).await.unwrap();
    assert_eq!(resumed.status, "ready");
    common::run_and_see(&app, &room.id, "cat kept.txt; echo r-$((1+2))", "r-3").await;
    app.delete_room(&room.id).await.unwrap();
    app.shutdown().await;
}
