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
    /// Folders holding packaged room agent builds (`insider-<arch>`), looked in before the
    /// executable's own folder (the desktop app passes its resources).
    pub agent_dirs: Vec<PathBuf>,
    /// The version the app reports (the desktop app's release version); `None`: this
    /// library's.
    pub version: Option<String>,
}

impl AppOptions {
    /// Options for the data dir given explicitly, else the one the environment or the OS
    /// names (see [`paths::resolve_data_dir`]).
    pub fn resolve(explicit_data_dir: Option<PathBuf>) -> Self {
        Self {
            data_dir: paths::resolve_data_dir(explicit_data_dir),
            engine_endpoint: None,
            catalog_file: None,
            agent_dirs: Vec::new(),
            version: None,
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
    /// The connection the rooms' events are written through.
    pub(crate) writer: db::Writer,
    /// The container engine; replaced when the endpoint setting changes.
    engine: Mutex<Engine>,
    /// The settings as stored.
    settings: Mutex<crate::settings::Settings>,
    /// Stops the room server currently listening (a settings change moves it).
    listener: Mutex<Option<CancellationToken>>,
    pub(crate) catalog: crate::catalog::Catalog,
    /// Where the room agent builds are.
    pub(crate) agents: crate::agent::AgentFinder,
    /// The version reported to the window, the CLI and the room page.
    pub(crate) version: String,
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
    /// The key room links are signed with.
    pub(crate) keys: crate::tokens::Keys,
    /// The public base URL and path prefix of the room server.
    addressing: Mutex<Addressing>,
    /// The shared documents and channels of rooms people are in.
    pub(crate) hubs: crate::live::Hubs,
    /// The rooms' event log (the recording).
    pub(crate) log: crate::eventlog::EventLog,
}

/// How the room server is reached from outside.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addressing {
    /// The base written into links (a tunnel's or a proxy's URL; may carry a path). `None`:
    /// the server's own address plus the path prefix.
    pub public_url: Option<String>,
    /// Every route is served under this prefix (`""` or `/p`, no trailing slash).
    pub path_prefix: String,
}

impl Addressing {
    /// Checks and normalises a public URL: `http(s)://host[:port][/path]`, no query or
    /// fragment; a trailing slash is dropped.
    pub fn parse_public_url(url: &str) -> Result<String, Error> {
        let url = url.trim().trim_end_matches('/');
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "the public URL {url:?} must start with http:// or https://"
                ))
            })?;
        if rest.is_empty() || rest.starts_with('/') {
            return Err(Error::Invalid(format!(
                "the public URL {url:?} names no host"
            )));
        }
        if url.contains(['?', '#', ' ']) {
            return Err(Error::Invalid(format!(
                "the public URL {url:?} may not carry a query, a fragment or spaces"
            )));
        }
        Ok(url.to_string())
    }

    /// Checks and normalises a path prefix: `""`, or `/segment[/segment…]` of URL-safe
    /// characters; a trailing slash is dropped.
    pub fn parse_path_prefix(prefix: &str) -> Result<String, Error> {
        let prefix = prefix.trim().trim_end_matches('/');
        if prefix.is_empty() {
            return Ok(String::new());
        }
        let ok = prefix.starts_with('/')
            && !prefix.contains("//")
            && prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/-._~".contains(c))
            && !prefix.split('/').any(|seg| seg == "." || seg == "..");
        if !ok {
            return Err(Error::Invalid(format!(
                "the path prefix {prefix:?} must look like /interviews (letters, digits, - . _ ~)"
            )));
        }
        Ok(prefix.to_string())
    }
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
        let db_file = paths::database_file(&options.data_dir);
        let db = db::open(&db_file).await?;
        let writer = db::Writer::open(&db_file)?;
        let settings = crate::settings::load(&db).await?;
        let engine = Engine::new(
            options
                .engine_endpoint
                .or_else(|| settings.engine_endpoint.clone()),
        );
        let catalog_file = options
            .catalog_file
            .clone()
            .unwrap_or_else(|| options.data_dir.join("catalog.toml"));
        let catalog = crate::catalog::Catalog::load(&catalog_file);
        for p in &catalog.problems {
            tracing::warn!(file = %catalog_file.display(), line = ?p.line, "catalog: {}", p.message);
        }
        let instance = crate::lifecycle::instance_id(&db).await?;
        let keys = crate::tokens::Keys::load_or_create(&options.data_dir)?;
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        let log = crate::eventlog::EventLog::start(writer.clone(), shutdown.clone(), &tasks);
        tracing::info!(data_dir = %options.data_dir.display(), engine = engine.endpoint(), "app started");
        let addressing = Addressing {
            public_url: settings.public_url.clone(),
            path_prefix: settings.path_prefix.clone(),
        };
        Ok(App {
            inner: Arc::new(Inner {
                data_dir: options.data_dir,
                db,
                writer,
                engine: Mutex::new(engine),
                settings: Mutex::new(settings),
                listener: Mutex::new(None),
                catalog,
                agents: crate::agent::AgentFinder::from_env(options.agent_dirs),
                version: options
                    .version
                    .unwrap_or_else(|| crate::VERSION.to_string()),
                runtime: tokio::sync::Mutex::new(None),
                instance,
                live: tokio::sync::Mutex::new(std::collections::HashMap::new()),
                lifecycle: tokio::sync::Mutex::new(()),
                events: tokio::sync::broadcast::channel(crate::events::APP_EVENTS).0,
                shutdown,
                tasks,
                room_server: Mutex::new(RoomServer::default()),
                keys,
                addressing: Mutex::new(addressing),
                hubs: crate::live::Hubs::default(),
                log,
            }),
        })
    }

    /// Serves the room server on `listener` until [`App::shutdown`] is called.
    pub async fn serve(&self, listener: TcpListener) -> Result<(), Error> {
        self.serve_until(listener, self.inner.shutdown.clone())
            .await
    }

    async fn serve_until(
        &self,
        listener: TcpListener,
        stop: CancellationToken,
    ) -> Result<(), Error> {
        let router = crate::http::router(self.clone(), &self.addressing().path_prefix);
        // Keystrokes and edits are small writes that must leave at once, not wait for the
        // acknowledgement of the previous one.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY not set on a connection");
            }
        });
        let server = axum::serve(listener, router)
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
                // A server already listening keeps serving: only a first bind that fails
                // leaves the room server down.
                let serving = lock(&self.inner.listener)
                    .as_ref()
                    .is_some_and(|t| !t.is_cancelled());
                if !serving {
                    self.set_room_server(RoomServer {
                        url: None,
                        error: Some(err.to_string()),
                    });
                }
                return Err(err);
            }
        };
        self.set_room_server(RoomServer {
            url: Some(format!("http://{local}")),
            error: None,
        });
        // A server already listening (the settings moved it) stops once the new one is up.
        let stop = self.inner.shutdown.child_token();
        if let Some(old) = lock(&self.inner.listener).replace(stop.clone()) {
            old.cancel();
        }
        let app = self.clone();
        self.inner.tasks.spawn(async move {
            if let Err(e) = app.serve_until(listener, stop).await {
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

    /// How the room server is reached from outside.
    pub fn addressing(&self) -> Addressing {
        self.inner
            .addressing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sets the public URL and path prefix (checked and normalised). The prefix applies to
    /// servers started afterwards; the public URL to links issued afterwards.
    pub fn set_addressing(
        &self,
        public_url: Option<&str>,
        path_prefix: Option<&str>,
    ) -> Result<Addressing, Error> {
        let next = Addressing {
            public_url: public_url
                .filter(|u| !u.trim().is_empty())
                .map(Addressing::parse_public_url)
                .transpose()?,
            path_prefix: Addressing::parse_path_prefix(path_prefix.unwrap_or(""))?,
        };
        *self
            .inner
            .addressing
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = next.clone();
        Ok(next)
    }

    /// The base of room links: the public URL, else the server's own address and prefix.
    pub fn link_base(&self) -> Result<String, Error> {
        let a = self.addressing();
        if let Some(url) = a.public_url {
            return Ok(url);
        }
        let server = self
            .inner
            .room_server
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match server.url {
            Some(url) => Ok(format!("{url}{}", a.path_prefix)),
            None => Err(Error::Invalid(format!(
                "the room server is not listening{}, so links cannot be made; set a public URL or start the server",
                server.error.map(|e| format!(" ({e})")).unwrap_or_default()
            ))),
        }
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
            version: self.inner.version.clone(),
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
        self.engine().status().await
    }

    /// The container engine in use.
    pub(crate) fn engine(&self) -> Engine {
        lock(&self.inner.engine).clone()
    }

    /// The settings in effect.
    pub fn settings(&self) -> crate::settings::Settings {
        lock(&self.inner.settings).clone()
    }

    /// Checks, stores and applies `next`: links use the new public URL at once; a new port,
    /// bind address or path prefix moves a running room server (bound before the old one
    /// stops, so a busy port changes nothing); a new engine endpoint is used from the next
    /// engine call on. Returns the settings as stored (normalised).
    pub async fn save_settings(
        &self,
        next: crate::settings::Settings,
    ) -> Result<crate::settings::Settings, Error> {
        let next = next.validated()?;
        let prev = self.settings();
        let moved =
            prev.listen_addr() != next.listen_addr() || prev.path_prefix != next.path_prefix;
        let listening = lock(&self.inner.listener).is_some();
        let old_addressing = self.addressing();
        self.set_addressing(next.public_url.as_deref(), Some(&next.path_prefix))?;
        if moved && listening {
            if let Err(e) = self.listen(next.listen_addr()).await {
                *lock(&self.inner.addressing) = old_addressing;
                return Err(e);
            }
        }
        if prev.engine_endpoint != next.engine_endpoint {
            *lock(&self.inner.engine) = Engine::new(next.engine_endpoint.clone());
            *self.inner.runtime.lock().await = None;
        }
        crate::settings::store(&self.inner.db, &next).await?;
        *lock(&self.inner.settings) = next.clone();
        tracing::info!("settings saved");
        Ok(next)
    }

    /// The rooms, newest first.
    pub async fn list_rooms(&self) -> Result<Vec<RoomSummary>, Error> {
        crate::rooms::list(&self.inner.db).await
    }
}

/// A plain value behind a mutex: a poisoned lock only means a panic elsewhere.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
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
