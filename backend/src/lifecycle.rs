//! The room lifecycle on the container engine: create, stop (files saved), resume (from the
//! saved files), delete. Each action is all-or-nothing: a failed create leaves no container,
//! volume or row behind.

use std::time::Duration;

use insider::protocol::{Event, Request};
use sqlx::SqlitePool;
use tokio::sync::broadcast;

use crate::engine::EngineStatus;
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

/// A room with a running container and a connected agent.
pub struct LiveRoom {
    /// The connection to the agent.
    pub link: AgentLink,
    /// Everything the agent reports by itself (terminal output, file changes).
    pub events: broadcast::Sender<Event>,
    pump: tokio::task::JoinHandle<()>,
}

impl Drop for LiveRoom {
    fn drop(&mut self) {
        self.pump.abort();
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
    /// The engine-side runtime, connecting on first use.
    async fn runtime(&self) -> Result<DockerRuntime, Error> {
        let mut slot = self.inner.runtime.lock().await;
        if let Some(rt) = slot.as_ref() {
            return Ok(rt.clone());
        }
        let docker = match self.inner.engine.client().await {
            Ok(d) => d,
            Err(_) => {
                return Err(match self.inner.engine.status().await {
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

    /// The agent binary's bytes.
    fn agent_binary(&self) -> Result<Vec<u8>, Error> {
        let path = crate::agent::locate().map_err(Error::Runtime)?;
        std::fs::read(&path).map_err(|e| {
            Error::Runtime(format!(
                "cannot read the room agent {}: {e}",
                path.display()
            ))
        })
    }

    /// The languages rooms can be for.
    pub fn catalog(&self) -> &crate::catalog::Catalog {
        &self.inner.catalog
    }

    /// Creates a room and starts it; returns once its agent answers. On failure nothing of
    /// the room is left.
    pub async fn create_room(&self, new: NewRoom) -> Result<RoomSummary, Error> {
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::Invalid(
                "a room needs a name of 1 to 100 characters".into(),
            ));
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
        let new = NewRoom {
            name: name.to_string(),
            ..new
        };
        rooms::insert(&self.inner.db, &id, &new, &lang.image).await?;
        let files: Vec<(String, Vec<u8>)> = lang
            .starter
            .iter()
            .map(|f| (f.path.clone(), f.content.clone().into_bytes()))
            .collect();
        let spec = self.spec(&id, &lang.image, new.network, &lang.env);
        match self.launch(&rt, &spec, tar_starter(&files)).await {
            Ok(()) => {
                rooms::set_status(&self.inner.db, &id, status::READY, None).await?;
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
        let room = spec.room_id.clone();
        rt.ensure_image(
            &spec.image,
            |line| tracing::info!(room = %room, "pull: {line}"),
        )
        .await?;
        let agent = self.agent_binary()?;
        let volume = rt.ensure_agent_volume(&agent, &spec.image).await?;
        rooms::set_status(&self.inner.db, &spec.room_id, status::STARTING, None).await?;
        let container = rt.create_container(spec, &volume).await?;
        rt.upload_files(&container, files).await?;
        let (link, mut agent_events) = rt.attach(&container).await?;
        rt.start(&container).await?;
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
        let (events, _) = broadcast::channel(ROOM_EVENTS);
        let pump = {
            let events = events.clone();
            tokio::spawn(async move {
                while let Some(ev) = agent_events.recv().await {
                    // No subscriber is fine: the agent keeps the scrollback.
                    let _ = events.send(ev);
                }
            })
        };
        self.inner
            .live
            .lock()
            .await
            .insert(spec.room_id.clone(), LiveRoom { link, events, pump });
        Ok(())
    }

    /// The agent link and event stream of a running room.
    pub async fn room_agent(
        &self,
        id: &str,
    ) -> Result<(AgentLink, broadcast::Receiver<Event>), Error> {
        let live = self.inner.live.lock().await;
        let room = live
            .get(id)
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
        rooms::set_status(&self.inner.db, id, status::STOPPING, None).await?;
        let spec = self.spec(id, &rec.image, rec.network, &[]);
        self.inner.live.lock().await.remove(id);
        let saved = match rt
            .download_files(&spec.container_name(), MAX_SAVED_FILES)
            .await
        {
            Ok(tar) => self.save_files(id, &tar).await.map(|()| true),
            Err(e) => {
                tracing::warn!(room = %id, error = %e, "files not saved at stop");
                Ok(false)
            }
        }?;
        // Without a saved archive the volume still holds the files: keep it.
        rt.remove(&spec, saved).await?;
        rooms::set_status(&self.inner.db, id, status::STOPPED, None).await?;
        rooms::get(&self.inner.db, id).await
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
        let archive = rooms::files_archive(&self.inner.data_dir, id);
        let files = match tokio::fs::read(&archive).await {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(Error::Runtime(format!(
                    "cannot read the room's saved files: {e}"
                )))
            }
        };
        let env = self
            .inner
            .catalog
            .get(&rec.language)
            .map(|l| l.env.clone())
            .unwrap_or_default();
        let spec = self.spec(id, &rec.image, rec.network, &env);
        // A volume left by a stop that could not save the files still holds them.
        let files = if files.is_empty() {
            tar_starter(&[])
        } else {
            files
        };
        match self.launch(&rt, &spec, files).await {
            Ok(()) => {
                rooms::set_status(&self.inner.db, id, status::READY, None).await?;
                rooms::get(&self.inner.db, id).await
            }
            Err(e) => {
                self.inner.live.lock().await.remove(id);
                let _ = rt.remove(&spec, false).await;
                rooms::set_status(&self.inner.db, id, status::STOPPED, Some(&e.to_string()))
                    .await?;
                Err(e)
            }
        }
    }

    /// Deletes a room: its container, its files volume, its saved files and its row.
    pub async fn delete_room(&self, id: &str) -> Result<(), Error> {
        let rec = rooms::record(&self.inner.db, id).await?;
        let _guard = self.inner.lifecycle.lock().await;
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
