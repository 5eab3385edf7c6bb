//! The room lifecycle on the container engine: create, stop (files saved), resume (from the
//! saved files), delete. Each action is all-or-nothing: a failed create leaves no container,
//! volume or row behind.

use std::sync::Arc;
use std::time::Duration;

use insider::protocol::{Event, Request};
use sqlx::SqlitePool;
use tokio::sync::broadcast;

use crate::app::lock;
use crate::engine::EngineStatus;
use crate::events::AppEvent;
use crate::rooms::{self, status, NewRoom, RoomSummary};
use crate::runtime::{tar_starter, AgentLink, DockerRuntime, RoomContainerSpec};
use crate::{App, Error};

/// How long a started room's agent has to answer its first hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(20);

/// Largest file archive saved when a room stops.
const MAX_SAVED_FILES: usize = 512 * 1024 * 1024;

/// Agent events kept for slow subscribers; beyond it they skip ahead (terminal viewers
/// re-sync from the agent's scrollback).
const ROOM_EVENTS: usize = 1024;

/// Terminal output kept for people who join later (the tail of the screen).
const SCREEN_BYTES: usize = 256 * 1024;

/// The tail of a room's terminal output.
#[derive(Debug, Default)]
pub struct Screen {
    bytes: std::collections::VecDeque<u8>,
}

impl Screen {
    fn push(&mut self, data: &[u8]) {
        self.bytes.extend(data);
        if self.bytes.len() > SCREEN_BYTES {
            let mut cut = self.bytes.len() - SCREEN_BYTES;
            // Start at a line when one begins soon after the cut: no half escape sequence.
            if let Some(nl) = self.bytes.range(cut..).take(4096).position(|b| *b == b'\n') {
                cut += nl + 1;
            }
            self.bytes.drain(..cut);
        }
    }

    fn reset(&mut self, data: &[u8]) {
        self.bytes.clear();
        self.push(data);
    }

    /// The kept output, oldest first.
    pub fn contents(&self) -> Vec<u8> {
        self.bytes.iter().copied().collect()
    }
}

/// A room with a running container and a connected agent.
pub struct LiveRoom {
    /// The connection to the agent.
    pub link: AgentLink,
    /// Everything the agent reports by itself (terminal output, file changes).
    pub events: broadcast::Sender<Event>,
    /// The terminal's recent output; updated before each output event is sent.
    screen: Arc<std::sync::Mutex<Screen>>,
    pump: tokio::task::JoinHandle<()>,
}

impl Drop for LiveRoom {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

/// A room's own limits over the defaults. `/tmp` stays at most a quarter of the memory: its
/// pages count against the limit.
fn apply_limits(spec: &mut RoomContainerSpec, limits: &rooms::RoomLimits) {
    if let Some(mb) = limits.memory_mb {
        spec.memory_bytes = i64::from(mb) * 1024 * 1024;
        spec.tmp_bytes = spec.tmp_bytes.min(spec.memory_bytes / 4);
    }
    if let Some(cpus) = limits.cpus {
        spec.nano_cpus = (cpus * 1e9) as i64;
    }
    if let Some(pids) = limits.pids {
        spec.pids_limit = i64::from(pids);
    }
}

/// This app instance's id, made once and kept in the settings.
pub(crate) async fn instance_id(db: &SqlitePool) -> Result<String, Error> {
    if let Some((v,)) =
        sqlx::query_as::<_, (String,)>("SELECT value FROM settings WHERE key = 'instance_id'")
            .fetch_optional(db)
            .await?
    {
        if let Ok(id) = serde_json::from_str::<String>(&v) {
            return Ok(id);
        }
    }
    let id = rooms::new_id()[..16].to_string();
    sqlx::query("INSERT OR REPLACE INTO settings (key, value) VALUES ('instance_id', ?)")
        .bind(serde_json::to_string(&id).unwrap_or_default())
        .execute(db)
        .await?;
    Ok(id)
}

impl App {
    /// Stores a room's new state and announces it.
    async fn set_status(&self, id: &str, status: &str, error: Option<&str>) -> Result<(), Error> {
        rooms::set_status(&self.inner.db, id, status, error).await?;
        let _ = self.inner.events.send(AppEvent::RoomStatus {
            room: id.to_string(),
            status: status.to_string(),
            error: error.map(str::to_owned),
        });
        Ok(())
    }

    /// Follows room status changes, pull progress and stop warnings.
    pub fn subscribe(&self) -> broadcast::Receiver<AppEvent> {
        self.inner.events.subscribe()
    }

    /// The engine-side runtime, connecting on first use.
    pub(crate) async fn runtime(&self) -> Result<DockerRuntime, Error> {
        let mut slot = self.inner.runtime.lock().await;
        if let Some(rt) = slot.as_ref() {
            return Ok(rt.clone());
        }
        let docker = match self.engine().client().await {
            Ok(d) => d,
            Err(_) => {
                return Err(match self.engine().status().await {
                    EngineStatus::Unreachable { reason, fix, .. } => {
                        Error::EngineUnavailable { reason, fix }
                    }
                    EngineStatus::Ready { .. } => Error::EngineUnavailable {
                        reason: "the engine could not be used".into(),
                        fix: "Retry.".into(),
                    },
                })
            }
        };
        let rt = DockerRuntime::new(docker, self.inner.instance.clone());
        *slot = Some(rt.clone());
        Ok(rt)
    }

    /// The bytes of the agent built for the engine's architecture.
    async fn agent_binary(&self, rt: &DockerRuntime) -> Result<Vec<u8>, Error> {
        let arch = rt.arch().await?;
        let path = self.inner.agents.locate(&arch).map_err(Error::Runtime)?;
        std::fs::read(&path).map_err(|e| {
            Error::Runtime(format!(
                "cannot read the room agent {}: {e}",
                path.display()
            ))
        })
    }

    /// Which room agent builds this installation carries and which one the engine's rooms get.
    pub async fn agent_status(&self) -> crate::agent::AgentStatus {
        let arch = match self.engine().status().await {
            crate::engine::EngineStatus::Ready { arch, .. } => Some(arch),
            crate::engine::EngineStatus::Unreachable { .. } => None,
        };
        self.inner.agents.status(arch.as_deref())
    }

    /// The languages rooms can be for.
    pub fn catalog(&self) -> &crate::catalog::Catalog {
        &self.inner.catalog
    }

    /// Creates a room and starts it; returns once its agent answers. On failure nothing of
    /// the room is left.
    pub async fn create_room(&self, new: NewRoom) -> Result<RoomSummary, Error> {
        self.create_room_reporting(new, None).await
    }

    /// [`App::create_room`], telling `progress` what it is doing (image pull, container,
    /// start). Progress is informational: when the receiver falls behind, lines are dropped.
    pub async fn create_room_reporting(
        &self,
        new: NewRoom,
        progress: Option<tokio::sync::mpsc::Sender<crate::events::Progress>>,
    ) -> Result<RoomSummary, Error> {
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::Invalid(
                "a room needs a name of 1 to 100 characters".into(),
            ));
        }
        new.limits.validate()?;
        if let Some(files) = &new.starter_files {
            rooms::validate_starter(files)?;
        }
        let lang = self
            .inner
            .catalog
            .get(&new.language)
            .ok_or_else(|| Error::UnknownLanguage {
                id: new.language.clone(),
                known: self.inner.catalog.ids().join(", "),
            })?;
        let rt = self.runtime().await?;
        let _guard = self.inner.lifecycle.lock().await;
        let id = rooms::new_id();
        // What the form leaves unset comes from the settings.
        let defaults = self.settings();
        let new = NewRoom {
            name: name.to_string(),
            time_limit_secs: new
                .time_limit_secs
                .or(Some(defaults.auto_stop_hours.saturating_mul(3600))),
            limits: rooms::RoomLimits {
                memory_mb: new.limits.memory_mb.or(defaults.default_limits.memory_mb),
                cpus: new.limits.cpus.or(defaults.default_limits.cpus),
                pids: new.limits.pids.or(defaults.default_limits.pids),
            },
            ..new
        };
        rooms::insert(&self.inner.db, &id, &new, &lang.image).await?;
        let files: Vec<(String, Vec<u8>)> = new
            .starter_files
            .as_ref()
            .unwrap_or(&lang.starter)
            .iter()
            .map(|f| (f.path.clone(), f.content.clone().into_bytes()))
            .collect();
        let mut spec = self.spec(&id, &lang.image, new.network, &lang.env);
        apply_limits(&mut spec, &new.limits);
        match self
            .launch_reporting(&rt, &spec, tar_starter(&files), progress.as_ref())
            .await
        {
            Ok(()) => {
                self.set_status(&id, status::READY, None).await?;
                tracing::info!(room = %id, language = %new.language, "room ready");
                rooms::get(&self.inner.db, &id).await
            }
            Err(e) => {
                self.inner.live.lock().await.remove(&id);
                let _ = rt.remove(&spec, true).await;
                let _ = rooms::remove(&self.inner.db, &id).await;
                tracing::warn!(room = %id, error = %e, "room creation failed");
                Err(e)
            }
        }
    }

    /// The container spec of a stored room, with its language's environment.
    fn spec_of(&self, rec: &rooms::RoomRecord) -> RoomContainerSpec {
        let env = self
            .inner
            .catalog
            .get(&rec.language)
            .map(|l| l.env.clone())
            .unwrap_or_default();
        let mut spec = self.spec(&rec.id, &rec.image, rec.network, &env);
        apply_limits(&mut spec, &rec.limits);
        spec
    }

    fn spec(&self, id: &str, image: &str, network: bool, env: &[String]) -> RoomContainerSpec {
        let mut spec = RoomContainerSpec::new(id, image);
        spec.network = network;
        spec.env = env.to_vec();
        spec
    }

    /// Image, agent, container, files, attach, start, hello.
    async fn launch(
        &self,
        rt: &DockerRuntime,
        spec: &RoomContainerSpec,
        files: Vec<u8>,
    ) -> Result<(), Error> {
        self.launch_reporting(rt, spec, files, None).await
    }

    async fn launch_reporting(
        &self,
        rt: &DockerRuntime,
        spec: &RoomContainerSpec,
        files: Vec<u8>,
        progress: Option<&tokio::sync::mpsc::Sender<crate::events::Progress>>,
    ) -> Result<(), Error> {
        use crate::events::Progress;
        let say = |fraction: f32, line: String| {
            if let Some(p) = progress {
                let _ = p.try_send(Progress::at(fraction, line));
            }
        };
        let room = spec.room_id.clone();
        let events = self.inner.events.clone();
        say(0.05, format!("checking image {}", spec.image));
        rt.ensure_image(&spec.image, |line| {
            say(0.2, format!("pulling {}: {line}", spec.image));
            let _ = events.send(AppEvent::PullProgress {
                room: room.clone(),
                line: line.to_string(),
            });
        })
        .await?;
        say(0.5, "preparing the room agent".into());
        let agent = self.agent_binary(rt).await?;
        let volume = rt.ensure_agent_volume(&agent, &spec.image).await?;
        self.set_status(&spec.room_id, status::STARTING, None)
            .await?;
        say(0.65, "creating the container".into());
        let container = rt.create_container(spec, &volume).await?;
        rt.upload_files(&container, files).await?;
        say(0.8, "starting".into());
        self.connect(rt, spec, true).await
    }

    /// Attaches to the room's container (starting it when asked), checks that the agent
    /// answers, and keeps the link.
    async fn connect(
        &self,
        rt: &DockerRuntime,
        spec: &RoomContainerSpec,
        start: bool,
    ) -> Result<(), Error> {
        let container = spec.container_name();
        let (link, mut agent_events) = rt.attach(&container).await?;
        if start {
            rt.start(&container).await?;
        }
        let hello = tokio::time::timeout(
            HELLO_TIMEOUT,
            link.request(Request::Hello {
                protocol: insider::PROTOCOL_VERSION,
            }),
        )
        .await;
        match hello {
            Ok(Ok(Event::Hello { .. })) => {}
            Ok(Ok(other)) => {
                return Err(Error::Runtime(format!(
                    "the room's agent answered {other:?}"
                )))
            }
            Ok(Err(e)) => {
                return Err(Error::Runtime(format!(
                    "the room's agent did not start: {e}"
                )))
            }
            Err(_) => {
                return Err(Error::Runtime(format!(
                    "the room's agent did not answer within {} seconds (image {} may lack /bin/sh)",
                    HELLO_TIMEOUT.as_secs(),
                    spec.image
                )))
            }
        }
        // The screen so far; output already queued is part of it.
        let screen = Arc::new(std::sync::Mutex::new(Screen::default()));
        if let Ok(Ok(Event::Snapshot { scrollback, .. })) =
            tokio::time::timeout(HELLO_TIMEOUT, link.request(Request::Snapshot)).await
        {
            while let Ok(ev) = agent_events.try_recv() {
                if !matches!(ev, Event::PtyOutput { .. }) {
                    tracing::trace!(room = %spec.room_id, "event before the snapshot dropped");
                }
            }
            lock(&screen).reset(&scrollback);
        }
        let (events, _) = broadcast::channel(ROOM_EVENTS);
        let pump = {
            let events = events.clone();
            let screen = screen.clone();
            let log = self.inner.log.clone();
            let room = spec.room_id.clone();
            tokio::spawn(async move {
                while let Some(ev) = agent_events.recv().await {
                    if let Event::PtyOutput { data } = &ev {
                        log.append(&room, "term_out", None, data);
                        // Screen and subscribers change together (see `room_terminal`).
                        let mut screen = lock(&screen);
                        screen.push(data);
                        let _ = events.send(ev);
                    } else {
                        let _ = events.send(ev);
                    }
                }
            })
        };
        self.inner.live.lock().await.insert(
            spec.room_id.clone(),
            LiveRoom {
                link,
                events,
                screen,
                pump,
            },
        );
        // The room's files and its document are kept in step from now on.
        crate::live::sync::start(self, &spec.room_id);
        Ok(())
    }

    /// The agent link of a running room, the terminal's recent output and the events that
    /// follow it (nothing missed, nothing twice).
    pub async fn room_terminal(
        &self,
        id: &str,
    ) -> Result<(AgentLink, Vec<u8>, broadcast::Receiver<Event>), Error> {
        let live = self.inner.live.lock().await;
        let room = live
            .get(id)
            .filter(|r| !r.link.is_closed())
            .ok_or_else(|| Error::Invalid(format!("room {id} is not running")))?;
        let screen = lock(&room.screen);
        Ok((
            room.link.clone(),
            screen.contents(),
            room.events.subscribe(),
        ))
    }

    /// The agent link and event stream of a running room.
    pub async fn room_agent(
        &self,
        id: &str,
    ) -> Result<(AgentLink, broadcast::Receiver<Event>), Error> {
        let live = self.inner.live.lock().await;
        let room = live
            .get(id)
            .filter(|r| !r.link.is_closed())
            .ok_or_else(|| Error::Invalid(format!("room {id} is not running")))?;
        Ok((room.link.clone(), room.events.subscribe()))
    }

    /// Stops a room: saves its files with the room, removes its container. Stopping a
    /// stopped room does nothing.
    pub async fn stop_room(&self, id: &str) -> Result<RoomSummary, Error> {
        let rec = rooms::record(&self.inner.db, id).await?;
        if rec.status == status::STOPPED {
            return rooms::get(&self.inner.db, id).await;
        }
        let rt = self.runtime().await?;
        let _guard = self.inner.lifecycle.lock().await;
        self.set_status(id, status::STOPPING, None).await?;
        // The last edits reach the files before they are saved; then people in the room are
        // told it stopped (the document stays stored).
        self.inner.hubs.flush(id).await;
        self.inner.hubs.close_room(id).await;
        let spec = self.spec(id, &rec.image, rec.network, &[]);
        self.inner.live.lock().await.remove(id);
        let stopped = async {
            let saved = match rt
                .download_files(&spec.container_name(), MAX_SAVED_FILES)
                .await
                .map_err(Error::from)
            {
                Ok(tar) => self.save_files(id, &tar).await.map(|()| true)?,
                // Without the engine nothing can be saved or removed: stop trying.
                Err(e @ Error::EngineUnavailable { .. }) => return Err(e),
                Err(e) => {
                    tracing::warn!(room = %id, error = %e, "files not saved at stop");
                    false
                }
            };
            // Without a saved archive the volume still holds the files: keep it.
            rt.remove(&spec, saved).await.map_err(Error::from)
        }
        .await;
        if let Err(e) = stopped {
            // The container and its files are still there; reconciling re-attaches it once
            // the engine is back, and stopping can be tried again.
            self.set_status(
                id,
                status::ERROR,
                Some(&format!("the room could not be stopped: {e}")),
            )
            .await?;
            return Err(e);
        }
        self.set_status(id, status::STOPPED, None).await?;
        rooms::get(&self.inner.db, id).await
    }

    /// The files saved when the room last stopped; empty when none were.
    async fn saved_files(&self, id: &str) -> Result<Vec<u8>, Error> {
        match tokio::fs::read(rooms::files_archive(&self.inner.data_dir, id)).await {
            Ok(t) => Ok(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Error::Runtime(format!(
                "cannot read the room's saved files: {e}"
            ))),
        }
    }

    async fn save_files(&self, id: &str, tar: &[u8]) -> Result<(), Error> {
        let path = rooms::files_archive(&self.inner.data_dir, id);
        let dir = path.parent().unwrap_or(&self.inner.data_dir).to_path_buf();
        let tmp = dir.join("files.tar.tmp");
        let io = |e: std::io::Error| Error::Runtime(format!("cannot save the room's files: {e}"));
        tokio::fs::create_dir_all(&dir).await.map_err(io)?;
        tokio::fs::write(&tmp, tar).await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)?;
        Ok(())
    }

    /// Gives a stopped room a new container with its saved files.
    pub async fn resume_room(&self, id: &str) -> Result<RoomSummary, Error> {
        let rec = rooms::record(&self.inner.db, id).await?;
        if rec.status != status::STOPPED && rec.status != status::ERROR {
            return Err(Error::Invalid(format!(
                "room {id} is {}, not stopped",
                rec.status
            )));
        }
        let rt = self.runtime().await?;
        let _guard = self.inner.lifecycle.lock().await;
        let files = self.saved_files(id).await?;
        let spec = self.spec_of(&rec);
        // A volume left by a stop that could not save the files still holds them.
        let files = if files.is_empty() {
            tar_starter(&[])
        } else {
            files
        };
        match self.launch(&rt, &spec, files).await {
            Ok(()) => {
                self.set_status(id, status::READY, None).await?;
                rooms::get(&self.inner.db, id).await
            }
            Err(e) => {
                self.inner.live.lock().await.remove(id);
                let _ = rt.remove(&spec, false).await;
                self.set_status(id, status::STOPPED, Some(&e.to_string()))
                    .await?;
                Err(e)
            }
        }
    }

    /// Deletes a room: its container, its files volume, its saved files and its row.
    pub async fn delete_room(&self, id: &str) -> Result<(), Error> {
        let rec = rooms::record(&self.inner.db, id).await?;
        let _guard = self.inner.lifecycle.lock().await;
        self.inner.hubs.close_room(id).await;
        self.inner.live.lock().await.remove(id);
        // A stopped room whose files were saved has nothing on the engine; otherwise the
        // engine must be reachable to remove what is there.
        let saved = rooms::files_archive(&self.inner.data_dir, id);
        if rec.status != status::STOPPED || !saved.exists() {
            let rt = self.runtime().await?;
            rt.remove(&self.spec(id, &rec.image, rec.network, &[]), true)
                .await?;
        }
        if let Some(dir) = saved.parent() {
            match tokio::fs::remove_dir_all(dir).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Error::Runtime(format!(
                        "cannot delete the room's saved files: {e}"
                    )))
                }
            }
        }
        rooms::remove(&self.inner.db, id).await
    }
}

/// How often time limits and retention are checked.
const TICK: Duration = Duration::from_secs(1);

/// The warning comes this long before a room stops at its time limit.
const STOP_WARNING_MS: i64 = 5 * 60 * 1000;

/// Restarts of one crashed room within [`RECOVERY_WINDOW`] before it is left in error.
const MAX_RECOVERIES: usize = 5;
const RECOVERY_WINDOW: Duration = Duration::from_secs(600);

/// What reconciling found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconciled {
    /// Running containers re-attached.
    pub reattached: Vec<String>,
    /// Stopped (crashed) containers started again.
    pub restarted: Vec<String>,
    /// Rooms whose container was gone, now marked stopped.
    pub vanished: Vec<String>,
    /// Rooms with no row whose leftover container or volume was removed.
    pub orphans: Vec<String>,
}

impl App {
    /// Brings the rooms table and this instance's containers back in line after a start:
    /// running containers are re-attached (the shell keeps its state), stopped ones are
    /// started again (files kept), vanished ones are marked stopped.
    pub async fn reconcile(&self) -> Result<Reconciled, Error> {
        let rt = self.runtime().await?;
        let _guard = self.inner.lifecycle.lock().await;
        let mut report = Reconciled::default();
        for rec in rooms::to_reconcile(&self.inner.db).await? {
            {
                let mut live = self.inner.live.lock().await;
                match live.get(&rec.id) {
                    Some(room) if !room.link.is_closed() => continue,
                    // The attach stream broke (the engine went away): attach again.
                    Some(_) => drop(live.remove(&rec.id)),
                    None => {}
                }
            }
            let spec = self.spec(&rec.id, &rec.image, rec.network, &[]);
            match rt
                .docker()
                .inspect_container(&spec.container_name(), None)
                .await
            {
                Ok(info) => {
                    let running = info.state.and_then(|s| s.running).unwrap_or(false);
                    let outcome = self.connect(&rt, &spec, !running).await;
                    match outcome {
                        Ok(()) => {
                            self.set_status(&rec.id, status::READY, None).await?;
                            if running {
                                report.reattached.push(rec.id);
                            } else {
                                report.restarted.push(rec.id);
                            }
                        }
                        Err(e) => {
                            self.set_status(&rec.id, status::ERROR, Some(&e.to_string()))
                                .await?;
                        }
                    }
                }
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => {
                    self.set_status(
                        &rec.id,
                        status::STOPPED,
                        Some("the room's container was gone; its files are kept"),
                    )
                    .await?;
                    report.vanished.push(rec.id);
                }
                Err(e) => return Err(crate::runtime::RuntimeError::from(e).into()),
            }
        }
        // What a failed create or delete could not remove while the engine was away.
        let known: std::collections::HashSet<String> =
            rooms::ids(&self.inner.db).await?.into_iter().collect();
        for room in rt.rooms_on_engine().await? {
            if !known.contains(&room) {
                let spec = self.spec(&room, "", false, &[]);
                rt.remove(&spec, true).await?;
                tracing::info!(room = %room, "removed what was left of a room that no longer exists");
                report.orphans.push(room);
            }
        }
        Ok(report)
    }

    /// Starts what runs beside the rooms until shutdown: reconciling, restarting crashed
    /// rooms as the engine reports them, and time limits and retention.
    pub async fn start_background(&self) {
        let app = self.clone();
        self.inner
            .tasks
            .spawn(async move { app.watch_engine().await });
        let app = self.clone();
        self.inner.tasks.spawn(async move { app.tick().await });
    }

    /// Reconciles whenever the engine is (back) within reach, then restarts rooms whose
    /// container dies unexpectedly, following the engine's events.
    async fn watch_engine(&self) {
        use futures_util::StreamExt;
        let stop = self.inner.shutdown.clone();
        let mut recoveries: std::collections::HashMap<String, Vec<std::time::Instant>> =
            Default::default();
        while !stop.is_cancelled() {
            let Ok(rt) = self.runtime().await else {
                tokio::select! { _ = tokio::time::sleep(Duration::from_secs(5)) => continue, _ = stop.cancelled() => return }
            };
            let filters = std::collections::HashMap::from([
                ("type".to_string(), vec!["container".to_string()]),
                ("event".to_string(), vec!["die".to_string()]),
                (
                    "label".to_string(),
                    vec![format!(
                        "{}={}",
                        crate::runtime::LABEL_INSTANCE,
                        self.inner.instance
                    )],
                ),
            ]);
            // Subscribe first, so that a container dying while reconciling is not missed.
            let mut stream = rt.docker().events(Some(
                bollard::query_parameters::EventsOptionsBuilder::new()
                    .filters(&filters)
                    .build(),
            ));
            match self.reconcile().await {
                Ok(r) => tracing::info!(
                    reattached = r.reattached.len(),
                    restarted = r.restarted.len(),
                    vanished = r.vanished.len(),
                    orphans = r.orphans.len(),
                    "rooms reconciled"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "rooms not reconciled");
                    tokio::select! { _ = tokio::time::sleep(Duration::from_secs(5)) => continue, _ = stop.cancelled() => return }
                }
            }
            loop {
                let next =
                    tokio::select! { n = stream.next() => n, _ = stop.cancelled() => return };
                let Some(Ok(ev)) = next else { break };
                let room = ev
                    .actor
                    .and_then(|a| a.attributes)
                    .and_then(|attrs| attrs.get(crate::runtime::LABEL_ROOM).cloned());
                let Some(room) = room else { continue };
                let times = recoveries.entry(room.clone()).or_default();
                times.retain(|t| t.elapsed() < RECOVERY_WINDOW);
                if times.len() >= MAX_RECOVERIES {
                    let _ = self
                        .set_status(
                            &room,
                            status::ERROR,
                            Some("the room's container keeps stopping; restart the room"),
                        )
                        .await;
                    continue;
                }
                times.push(std::time::Instant::now());
                if let Err(e) = self.recover(&room).await {
                    tracing::warn!(room = %room, error = %e, "crashed room not restarted");
                }
            }
            // The engine went away: try again shortly.
            tokio::select! { _ = tokio::time::sleep(Duration::from_secs(2)) => {}, _ = stop.cancelled() => return }
        }
    }

    /// Starts a crashed room's container again (same container, same files) and re-attaches.
    async fn recover(&self, id: &str) -> Result<(), Error> {
        let rt = self.runtime().await?;
        let _guard = self.inner.lifecycle.lock().await;
        let rec = rooms::record(&self.inner.db, id).await?;
        if rec.status != status::READY {
            return Ok(()); // stopping, stopped or deleted on purpose
        }
        let spec = self.spec(id, &rec.image, rec.network, &[]);
        let info = rt
            .docker()
            .inspect_container(&spec.container_name(), None)
            .await;
        let running = match info {
            Ok(i) => i.state.and_then(|s| s.running).unwrap_or(false),
            Err(_) => return Ok(()), // removed on purpose (restart, delete)
        };
        if running {
            return Ok(());
        }
        tracing::warn!(room = %id, "room container died; starting it again");
        self.inner.live.lock().await.remove(id);
        self.set_status(id, status::STARTING, None).await?;
        match self.connect(&rt, &spec, true).await {
            Ok(()) => self.set_status(id, status::READY, None).await,
            Err(e) => {
                self.set_status(id, status::ERROR, Some(&e.to_string()))
                    .await
            }
        }
    }

    /// Gives a running room a new container with the same files (for a wedged shell).
    pub async fn restart_room(&self, id: &str) -> Result<RoomSummary, Error> {
        let rec = rooms::record(&self.inner.db, id).await?;
        if rec.status == status::STOPPED || rec.status == status::STOPPING {
            return Err(Error::Invalid(format!(
                "room {id} is {}; resume it instead",
                rec.status
            )));
        }
        let rt = self.runtime().await?;
        let _guard = self.inner.lifecycle.lock().await;
        self.inner.live.lock().await.remove(id);
        let spec = self.spec_of(&rec);
        rt.remove(&spec, false).await?;
        match self.launch(&rt, &spec, tar_starter(&[])).await {
            Ok(()) => {
                self.set_status(id, status::READY, None).await?;
                rooms::get(&self.inner.db, id).await
            }
            Err(e) => {
                self.set_status(id, status::ERROR, Some(&e.to_string()))
                    .await?;
                Err(e)
            }
        }
    }

    /// Pushes a room's time limit by `secs`.
    pub async fn extend_room(&self, id: &str, secs: u64) -> Result<RoomSummary, Error> {
        rooms::record(&self.inner.db, id).await?;
        rooms::extend(&self.inner.db, id, secs).await?;
        rooms::get(&self.inner.db, id).await
    }

    /// The room's files, with the interviewer's notes, as a zip archive at `out`.
    pub async fn export_room(&self, id: &str, out: &std::path::Path) -> Result<u64, Error> {
        let rec = rooms::record(&self.inner.db, id).await?;
        let tar = if rec.status == status::STOPPED {
            self.saved_files(id).await?
        } else {
            let rt = self.runtime().await?;
            let spec = self.spec(id, &rec.image, rec.network, &[]);
            rt.download_files(&spec.container_name(), MAX_SAVED_FILES)
                .await?
        };
        let notes = self.notes(id).await?.body;
        let zip = crate::export::tar_to_zip(&tar, Some(&notes))
            .map_err(|e| Error::Runtime(format!("cannot build the zip: {e}")))?;
        let tmp = out.with_extension("zip.part");
        let io = |e: std::io::Error| Error::Invalid(format!("cannot write {}: {e}", out.display()));
        tokio::fs::write(&tmp, &zip).await.map_err(io)?;
        tokio::fs::rename(&tmp, out).await.map_err(io)?;
        Ok(zip.len() as u64)
    }

    /// Stops rooms at their time limit (warning 5 minutes before) and deletes stopped rooms
    /// past the retention period.
    async fn tick(&self) {
        let stop = self.inner.shutdown.clone();
        while !stop.is_cancelled() {
            tokio::select! { _ = tokio::time::sleep(TICK) => {}, _ = stop.cancelled() => return }
            let now = crate::db::now_ms();
            match rooms::due(&self.inner.db, now, STOP_WARNING_MS).await {
                Ok((stop_now, warn)) => {
                    for (room, stop_at) in warn {
                        let _ = self.inner.events.send(AppEvent::StopSoon { room, stop_at });
                    }
                    for room in stop_now {
                        tracing::info!(room = %room, "time limit reached: stopping");
                        if let Err(e) = self.stop_room(&room).await {
                            tracing::warn!(room = %room, error = %e, "auto-stop failed");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "time limits not checked"),
            }
            let retention_ms = self.retention_days().await * 86_400_000;
            if let Ok(expired) = rooms::expired(&self.inner.db, now - retention_ms).await {
                for room in expired {
                    tracing::info!(room = %room, "retention period over: deleting");
                    if let Err(e) = self.delete_room(&room).await {
                        tracing::warn!(room = %room, error = %e, "retention delete failed");
                    }
                }
            }
        }
    }

    /// Days a stopped room is kept (setting `retention_days`).
    async fn retention_days(&self) -> i64 {
        i64::from(self.settings().retention_days)
    }
}
