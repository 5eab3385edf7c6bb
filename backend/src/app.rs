//! `App`: the engine as one value. The desktop shell and the headless server each build one,
//! serve rooms with it, and shut it down on exit.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use specta::Type;

use sqlx::SqlitePool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::engine::{Engine, EngineStatus};
use crate::rooms::RoomSummary;
use crate::{db, paths, Error};

/// What an [`App`] is built from.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Where everything the app keeps lives (database, keys, logs, catalog, sockets).
    pub data_dir: PathBuf,
    /// The container engine's address; `None` means `DOCKER_HOST` or the local default.
    pub engine_endpoint: Option<String>,
    /// A catalog file to apply over the built-in languages; `None` means `catalog.toml` in
    /// the data dir, when it exists.
    pub catalog_file: Option<PathBuf>,
}

impl AppOptions {
    /// Options for the data dir given explicitly, else the one the environment or the OS
    /// names (see [`paths::resolve_data_dir`]).
    pub fn resolve(explicit_data_dir: Option<PathBuf>) -> Self {
        Self {
            data_dir: paths::resolve_data_dir(explicit_data_dir),
            engine_endpoint: None,
            catalog_file: None,
        }
    }
}

/// The running engine. Cheap to clone; every clone is the same app.
#[derive(Clone)]
pub struct App {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) data_dir: PathBuf,
    pub(crate) db: SqlitePool,
    pub(crate) engine: Engine,
    pub(crate) catalog: crate::catalog::Catalog,
    /// The engine-side runtime, made on first use (the engine may be down at start).
    pub(crate) runtime: tokio::sync::Mutex<Option<crate::runtime::DockerRuntime>>,
    /// This app instance's id: its containers carry it as a label.
    pub(crate) instance: String,
    /// Rooms with a container and a connected agent.
    pub(crate) live:
        tokio::sync::Mutex<std::collections::HashMap<String, crate::lifecycle::LiveRoom>>,
    /// Room status changes and the like, for the UIs and the CLI.
    pub(crate) events: tokio::sync::broadcast::Sender<crate::events::AppEvent>,
    /// Serialises lifecycle actions so two never race on one room.
    pub(crate) lifecycle: tokio::sync::Mutex<()>,
    /// Cancelled by [`App::shutdown`]; every long-running task races it.
    pub(crate) shutdown: CancellationToken,
    /// The servers and tasks that `shutdown` waits for.
    pub(crate) tasks: TaskTracker,
    /// Where the room server listens, or why it could not.
    room_server: Mutex<RoomServer>,
}

/// The state of the room server (the HTTP/WebSocket side candidates connect to).
#[derive(Debug, Clone, Default, Serialize, Type, PartialEq, Eq)]
pub struct RoomServer {
    /// `http://ADDR:PORT` once listening.
    pub url: Option<String>,
    /// Why it is not listening, when it tried and failed.
    pub error: Option<String>,
}

/// What the interviewer's window shows about the app itself.
#[derive(Debug, Clone, Serialize, Type)]
pub struct AppInfo {
    /// The app's version.
    pub version: String,
    /// Where the app keeps its data.
    pub data_dir: String,
    /// The room server's state.
    pub room_server: RoomServer,
}

impl App {
    /// Opens the data dir and the database (running migrations). The container engine is not
    /// required to be up: its status is reported, not assumed.
    pub async fn new(options: AppOptions) -> Result<App, Error> {
        create_private_dir(&options.data_dir)?;
        let db = db::open(&paths::database_file(&options.data_dir)).await?;
        let engine = Engine::new(options.engine_endpoint);
        let catalog_file = options
            .catalog_file
            .clone()
            .unwrap_or_else(|| options.data_dir.join("catalog.toml"));
        let catalog = crate::catalog::Catalog::load(&catalog_file);
        for p in &catalog.problems {
            tracing::warn!(file = %catalog_file.display(), line = ?p.line, "catalog: {}", p.message);
        }
        let instance = crate::lifecycle::instance_id(&db).await?;
        tracing::info!(data_dir = %options.data_dir.display(), engine = engine.endpoint(), "app started");
        Ok(App {
            inner: Arc::new(Inner {
                data_dir: options.data_dir,
                db,
                engine,
                catalog,
                runtime: tokio::sync::Mutex::new(None),
                instance,
                live: tokio::sync::Mutex::new(std::collections::HashMap::new()),
                lifecycle: tokio::sync::Mutex::new(()),
                events: tokio::sync::broadcast::channel(crate::events::APP_EVENTS).0,
                shutdown: CancellationToken::new(),
                tasks: TaskTracker::new(),
                room_server: Mutex::new(RoomServer::default()),
            }),
        })
    }

    /// Serves the room server on `listener` until [`App::shutdown`] is called.
    pub async fn serve(&self, listener: TcpListener) -> Result<(), Error> {
        let stop = self.inner.shutdown.clone();
        let server = axum::serve(listener, crate::http::router())
            .with_graceful_shutdown(async move { stop.cancelled().await });
        self.inner
            .tasks
            .track_future(server.into_future())
            .await
            .map_err(Error::Server)
    }

    /// Binds `addr` and serves the room server there in the background until shutdown.
    /// The outcome is kept for [`App::info`], so the UI can say why rooms are unreachable.
    pub async fn listen(&self, addr: SocketAddr) -> Result<SocketAddr, Error> {
        let bound = TcpListener::bind(addr)
            .await
            .and_then(|l| Ok((l.local_addr()?, l)));
        let (local, listener) = match bound {
            Ok(ok) => ok,
            Err(source) => {
                let err = Error::Listen { addr, source };
                self.set_room_server(RoomServer {
                    url: None,
                    error: Some(err.to_string()),
                });
                return Err(err);
            }
        };
        self.set_room_server(RoomServer {
            url: Some(format!("http://{local}")),
            error: None,
        });
        let app = self.clone();
        self.inner.tasks.spawn(async move {
            if let Err(e) = app.serve(listener).await {
                tracing::error!(error = %e, "room server stopped");
                app.set_room_server(RoomServer {
                    url: None,
                    error: Some(e.to_string()),
                });
            }
        });
        tracing::info!(%local, "room server listening");
        Ok(local)
    }

    fn set_room_server(&self, state: RoomServer) {
        // A poisoned lock only means a panic elsewhere; the value is still a plain struct.
        let mut guard = self
            .inner
            .room_server
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *guard = state;
    }

    /// Version, data dir and room server state.
    pub fn info(&self) -> AppInfo {
        let room_server = self
            .inner
            .room_server
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        AppInfo {
            version: crate::VERSION.to_string(),
            data_dir: self.inner.data_dir.display().to_string(),
            room_server,
        }
    }

    /// Stops serving, waits for the servers to finish (freeing their ports) and closes the
    /// database. Safe to call more than once.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        // Rooms keep running without the app; their links end here.
        self.inner.live.lock().await.clear();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
        self.inner.db.close().await;
        tracing::info!("app stopped");
    }

    /// This instance's id: every container and volume it makes carries it in the
    /// `app.interview-platform.instance` label.
    pub fn instance_id(&self) -> &str {
        &self.inner.instance
    }

    /// The data directory in use.
    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// The database pool.
    pub fn db(&self) -> &SqlitePool {
        &self.inner.db
    }

    /// The container engine's status: its version, or what is wrong and how to fix it.
    pub async fn engine_status(&self) -> EngineStatus {
        self.inner.engine.status().await
    }

    /// The rooms, newest first.
    pub async fn list_rooms(&self) -> Result<Vec<RoomSummary>, Error> {
        crate::rooms::list(&self.inner.db).await
    }
}

/// Creates the data dir readable by its owner only: it will hold signing keys and recordings.
fn create_private_dir(dir: &Path) -> Result<(), Error> {
    let wrap = |source| Error::DataDir {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(wrap)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(wrap)?;
    }
    Ok(())
}
