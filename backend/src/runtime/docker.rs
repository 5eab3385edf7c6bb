//! Rooms on a Docker engine: the hardened container configuration, delivery of the agent
//! through a volume (so a remote engine works too: no host bind mount), and attaching to it.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, HealthConfig, HostConfig, HostConfigLogConfig, Mount, MountType,
    RestartPolicy, RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveVolumeOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bollard::Docker;

use super::link::AgentLink;
use super::{AGENT_DIR, HOME, LABEL_APP, LABEL_INSTANCE, LABEL_ROOM, ROOM_USER, WORKDIR};

/// What went wrong with the container engine, in words for the interviewer.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The room's image is not on this machine.
    #[error("image {image} is not on this machine and could not be pulled: {reason}")]
    ImageMissing {
        /// The image reference.
        image: String,
        /// Why the pull failed.
        reason: String,
    },
    /// Any other engine failure.
    #[error("container engine: {0}")]
    Engine(#[from] bollard::errors::Error),
    /// The agent binary could not be used.
    #[error("the room agent: {0}")]
    Agent(String),
}

/// What a room container is made from. Defaults follow the container-runtime part of the
/// CIS Docker Benchmark.
#[derive(Debug, Clone)]
pub struct RoomContainerSpec {
    /// The room's id: part of the container's and volume's names, and a label.
    pub room_id: String,
    /// The image reference.
    pub image: String,
    /// Extra environment variables (`KEY=value`).
    pub env: Vec<String>,
    /// Memory limit in bytes; swap is limited to the same (no extra swap).
    pub memory_bytes: i64,
    /// CPU limit in billionths of a CPU.
    pub nano_cpus: i64,
    /// Most processes and threads at once.
    pub pids_limit: i64,
    /// Size of the `/tmp` tmpfs; it counts against the memory limit, so keep it well below.
    pub tmp_bytes: i64,
    /// Engine's default network when true; no network at all otherwise.
    pub network: bool,
}

impl RoomContainerSpec {
    /// The defaults: 1 GiB, 1 CPU, 512 processes, 256 MiB `/tmp`, no network.
    pub fn new(room_id: impl Into<String>, image: impl Into<String>) -> Self {
        Self {
            room_id: room_id.into(),
            image: image.into(),
            env: Vec::new(),
            memory_bytes: 1024 * 1024 * 1024,
            nano_cpus: 1_000_000_000,
            pids_limit: 512,
            tmp_bytes: 256 * 1024 * 1024,
            network: false,
        }
    }

    /// The container's name.
    pub fn container_name(&self) -> String {
        format!("interview-platform-room-{}", self.room_id)
    }

    /// The named volume holding `/interview`, kept across container restarts.
    pub fn volume_name(&self) -> String {
        format!("interview-platform-files-{}", self.room_id)
    }
}

/// The Docker implementation of the room runtime.
#[derive(Debug, Clone)]
pub struct DockerRuntime {
    docker: Docker,
    instance: String,
    /// Agent volumes known to be complete: checked once per process, not per room.
    ready_volumes: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    /// The engine's architecture, asked once.
    arch: std::sync::Arc<tokio::sync::OnceCell<String>>,
}

impl DockerRuntime {
    /// A runtime on `docker` for the app instance `instance` (its containers carry that label).
    pub fn new(docker: Docker, instance: impl Into<String>) -> Self {
        Self {
            docker,
            instance: instance.into(),
            ready_volumes: Default::default(),
            arch: Default::default(),
        }
    }

    /// The engine's architecture (`x86_64`, `aarch64`): rooms run the agent built for it.
    pub async fn arch(&self) -> Result<String, RuntimeError> {
        self.arch
            .get_or_try_init(|| async {
                let v = self.docker.version().await?;
                Ok::<_, RuntimeError>(crate::engine::normalise_arch(
                    v.arch.as_deref().unwrap_or("unknown"),
                ))
            })
            .await
            .cloned()
    }

    /// The client.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    fn labels(&self, room: Option<&str>) -> HashMap<String, String> {
        let mut l = HashMap::from([
            (LABEL_APP.to_string(), "1".to_string()),
            (LABEL_INSTANCE.to_string(), self.instance.clone()),
        ]);
        if let Some(room) = room {
            l.insert(LABEL_ROOM.to_string(), room.to_string());
        }
        l
    }

    /// Makes sure a volume holding this exact agent binary exists and returns its name. The
    /// name carries the binary's hash, so instances and versions never share a half-written
    /// one: the content is uploaded under a unique temporary name and only the last,
    /// atomic step (a hard link from a one-shot container) makes it visible.
    pub async fn ensure_agent_volume(
        &self,
        binary: &[u8],
        helper_image: &str,
    ) -> Result<String, RuntimeError> {
        let digest = format!("{:08x}", crc32fast_hash(binary));
        let name = format!(
            "interview-platform-agent-{}-{digest}-{}",
            insider::VERSION,
            binary.len()
        );
        if self.volume_known(&name) {
            return Ok(name);
        }
        if self.docker.inspect_volume(&name).await.is_ok()
            && self.agent_ready(&name, helper_image).await?
        {
            self.mark_volume_ready(&name);
            return Ok(name);
        }
        self.docker
            .create_volume(VolumeCreateRequest {
                name: Some(name.clone()),
                labels: Some(
                    self.labels(None)
                        .into_iter()
                        .filter(|(k, _)| k == LABEL_APP)
                        .collect(),
                ),
                ..Default::default()
            })
            .await?;
        // Upload under a unique name, then link it into place inside a one-shot container:
        // a reader sees either no agent or the whole agent.
        let unique = format!(".upload-{}-{}", std::process::id(), rand_suffix());
        let helper = format!("interview-platform-agent-fill-{}", rand_suffix());
        let mount = Mount {
            target: Some(AGENT_DIR.into()),
            source: Some(name.clone()),
            typ: Some(MountType::VOLUME),
            read_only: Some(false),
            ..Default::default()
        };
        let script = format!(
            "cd {AGENT_DIR} && ln {unique} insider 2>/dev/null; rm -f {unique}; test -x insider"
        );
        self.docker
            .create_container(
                Some(CreateContainerOptionsBuilder::new().name(&helper).build()),
                ContainerCreateBody {
                    image: Some(helper_image.into()),
                    entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
                    // The volume is root-owned whatever the image's default user.
                    user: Some("0:0".into()),
                    cmd: Some(vec![script]),
                    labels: Some(self.labels(None)),
                    network_disabled: Some(true),
                    host_config: Some(HostConfig {
                        mounts: Some(vec![mount]),
                        network_mode: Some("none".into()),
                        log_config: Some(HostConfigLogConfig {
                            typ: Some("none".into()),
                            config: None,
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            )
            .await?;
        let filled = async {
            self.docker
                .upload_to_container(
                    &helper,
                    Some(
                        UploadToContainerOptionsBuilder::new()
                            .path(AGENT_DIR)
                            .build(),
                    ),
                    bollard::body_full(tar_file(&unique, binary, 0o755, 0, 0).into()),
                )
                .await?;
            self.docker
                .start_container(
                    &helper,
                    None::<bollard::query_parameters::StartContainerOptions>,
                )
                .await?;
            let code = wait_exit(&self.docker, &helper).await?;
            if code != 0 {
                return Err(RuntimeError::Agent(format!(
                    "could not install the agent into volume {name} (exit {code})"
                )));
            }
            Ok(())
        }
        .await;
        self.force_remove(&helper).await;
        filled?;
        self.mark_volume_ready(&name);
        Ok(name)
    }

    /// Removes a short-lived helper container, whatever state it is in.
    async fn force_remove(&self, name: &str) {
        let _ = self
            .docker
            .remove_container(
                name,
                Some(RemoveContainerOptionsBuilder::new().force(true).build()),
            )
            .await;
    }

    fn volume_known(&self, name: &str) -> bool {
        self.ready_volumes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(name)
    }

    fn mark_volume_ready(&self, name: &str) {
        self.ready_volumes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string());
    }

    /// Whether the agent volume already holds the agent (a previous fill completed).
    async fn agent_ready(&self, volume: &str, helper_image: &str) -> Result<bool, RuntimeError> {
        let probe = format!("interview-platform-agent-probe-{}", rand_suffix());
        self.docker
            .create_container(
                Some(CreateContainerOptionsBuilder::new().name(&probe).build()),
                ContainerCreateBody {
                    image: Some(helper_image.into()),
                    labels: Some(self.labels(None)),
                    host_config: Some(HostConfig {
                        mounts: Some(vec![Mount {
                            target: Some(AGENT_DIR.into()),
                            source: Some(volume.into()),
                            typ: Some(MountType::VOLUME),
                            read_only: Some(true),
                            ..Default::default()
                        }]),
                        network_mode: Some("none".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            )
            .await?;
        let mut stream = self.docker.download_from_container(
            &probe,
            Some(
                bollard::query_parameters::DownloadFromContainerOptionsBuilder::new()
                    .path(&format!("{AGENT_DIR}/insider"))
                    .build(),
            ),
        );
        use futures_util::StreamExt;
        let present = matches!(stream.next().await, Some(Ok(_)));
        drop(stream);
        self.force_remove(&probe).await;
        Ok(present)
    }

    /// The container's configuration: hardened, labelled, the agent as its entrypoint.
    pub fn container_config(
        &self,
        spec: &RoomContainerSpec,
        agent_volume: &str,
    ) -> ContainerCreateBody {
        let mut env = vec![
            format!("HOME={HOME}"),
            "TERM=xterm-256color".to_string(),
            "LANG=C.UTF-8".to_string(),
            format!("INSIDER_HEARTBEAT=/tmp/.insider-heartbeat"),
        ];
        env.extend(spec.env.iter().cloned());
        let tmpfs = HashMap::from([
            // exec: compilers such as `go run` build there.
            (
                "/tmp".to_string(),
                format!("rw,exec,nosuid,nodev,size={},mode=1777", spec.tmp_bytes),
            ),
            (
                HOME.to_string(),
                "rw,nosuid,nodev,size=67108864,uid=1000,gid=1000,mode=0755".to_string(),
            ),
        ]);
        let mounts = vec![
            Mount {
                target: Some(WORKDIR.into()),
                source: Some(spec.volume_name()),
                typ: Some(MountType::VOLUME),
                read_only: Some(false),
                ..Default::default()
            },
            Mount {
                target: Some(AGENT_DIR.into()),
                source: Some(agent_volume.into()),
                typ: Some(MountType::VOLUME),
                read_only: Some(true),
                ..Default::default()
            },
        ];
        let agent = format!("{AGENT_DIR}/insider");
        ContainerCreateBody {
            image: Some(spec.image.clone()),
            entrypoint: Some(vec![agent.clone()]),
            cmd: Some(vec!["--workdir".into(), WORKDIR.into()]),
            user: Some(ROOM_USER.into()),
            env: Some(env),
            labels: Some(self.labels(Some(&spec.room_id))),
            open_stdin: Some(true),
            stdin_once: Some(false),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(false),
            network_disabled: Some(!spec.network),
            healthcheck: Some(HealthConfig {
                test: Some(vec!["CMD".into(), agent, "--health".into()]),
                interval: Some(10_000_000_000),
                timeout: Some(5_000_000_000),
                retries: Some(3),
                start_period: Some(5_000_000_000),
                ..Default::default()
            }),
            host_config: Some(HostConfig {
                network_mode: Some(if spec.network { "default" } else { "none" }.into()),
                memory: Some(spec.memory_bytes),
                memory_swap: Some(spec.memory_bytes),
                nano_cpus: Some(spec.nano_cpus),
                pids_limit: Some(spec.pids_limit),
                cap_drop: Some(vec!["ALL".into()]),
                cap_add: None,
                privileged: Some(false),
                security_opt: Some(vec!["no-new-privileges".into()]),
                readonly_rootfs: Some(true),
                init: Some(true),
                tmpfs: Some(tmpfs),
                mounts: Some(mounts),
                log_config: Some(HostConfigLogConfig {
                    typ: Some("none".into()),
                    config: None,
                }),
                // The backend restarts rooms itself; the engine does not.
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::NO),
                    maximum_retry_count: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Creates the room's container (and its files volume, owned by the room's user).
    pub async fn create_container(
        &self,
        spec: &RoomContainerSpec,
        agent_volume: &str,
    ) -> Result<String, RuntimeError> {
        self.docker
            .create_volume(VolumeCreateRequest {
                name: Some(spec.volume_name()),
                labels: Some(self.labels(Some(&spec.room_id))),
                ..Default::default()
            })
            .await?;
        let name = spec.container_name();
        self.docker
            .create_container(
                Some(CreateContainerOptionsBuilder::new().name(&name).build()),
                self.container_config(spec, agent_volume),
            )
            .await?;
        // A fresh volume is root-owned: hand /interview to the room's user.
        self.docker
            .upload_to_container(
                &name,
                Some(UploadToContainerOptionsBuilder::new().path(WORKDIR).build()),
                bollard::body_full(tar_dir(".", 0o755, 1000, 1000).into()),
            )
            .await?;
        Ok(name)
    }

    /// Attaches to the container's agent. Call before [`DockerRuntime::start`] so no output
    /// is missed.
    pub async fn attach(
        &self,
        container: &str,
    ) -> Result<
        (
            AgentLink,
            tokio::sync::mpsc::Receiver<insider::protocol::Event>,
        ),
        RuntimeError,
    > {
        let attached = self
            .docker
            .attach_container(
                container,
                Some(
                    AttachContainerOptionsBuilder::new()
                        .stdin(true)
                        .stdout(true)
                        .stderr(true)
                        .stream(true)
                        .build(),
                ),
            )
            .await?;
        Ok(AgentLink::new(attached.input, attached.output))
    }

    /// Starts the container.
    pub async fn start(&self, container: &str) -> Result<(), RuntimeError> {
        self.docker
            .start_container(
                container,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await?;
        Ok(())
    }

    /// The rooms this instance has a container or a files volume of on the engine.
    pub async fn rooms_on_engine(
        &self,
    ) -> Result<std::collections::BTreeSet<String>, RuntimeError> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{LABEL_INSTANCE}={}", self.instance)],
        )]);
        let containers = self
            .docker
            .list_containers(Some(
                bollard::query_parameters::ListContainersOptionsBuilder::new()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await?;
        let volumes = self
            .docker
            .list_volumes(Some(
                bollard::query_parameters::ListVolumesOptionsBuilder::new()
                    .filters(&filters)
                    .build(),
            ))
            .await?;
        let from_containers = containers.into_iter().filter_map(|c| c.labels);
        let from_volumes = volumes
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.labels);
        Ok(from_containers
            .chain(from_volumes)
            .filter_map(|mut labels| labels.remove(LABEL_ROOM))
            .collect())
    }

    /// Removes the container (killing it) and, with `files`, its files volume.
    pub async fn remove(&self, spec: &RoomContainerSpec, files: bool) -> Result<(), RuntimeError> {
        let removed = self
            .docker
            .remove_container(
                &spec.container_name(),
                Some(
                    RemoveContainerOptionsBuilder::new()
                        .force(true)
                        .v(false)
                        .build(),
                ),
            )
            .await;
        already_gone_is_fine(removed)?;
        if files {
            let removed = self
                .docker
                .remove_volume(
                    &spec.volume_name(),
                    Some(RemoveVolumeOptionsBuilder::new().force(true).build()),
                )
                .await;
            already_gone_is_fine(removed)?;
        }
        Ok(())
    }
}

impl DockerRuntime {
    /// Whether `image` is on the engine.
    pub async fn has_image(&self, image: &str) -> Result<bool, RuntimeError> {
        match self.docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(RuntimeError::Engine(e)),
        }
    }

    /// Makes sure `image` is on the engine: present → nothing to do; absent → pulled, with
    /// progress lines passed to `progress`; not pullable → [`RuntimeError::ImageMissing`].
    pub async fn ensure_image(
        &self,
        image: &str,
        mut progress: impl FnMut(&str) + Send,
    ) -> Result<(), RuntimeError> {
        use futures_util::StreamExt;
        if self.docker.inspect_image(image).await.is_ok() {
            return Ok(());
        }
        let (from, tag) = split_reference(image);
        let mut pull = self.docker.create_image(
            Some(
                bollard::query_parameters::CreateImageOptionsBuilder::new()
                    .from_image(from)
                    .tag(tag)
                    .build(),
            ),
            None,
            None,
        );
        while let Some(step) = pull.next().await {
            match step {
                Ok(info) => {
                    let line = [info.id.as_deref(), info.status.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ");
                    if !line.is_empty() {
                        progress(&line);
                    }
                }
                Err(e) => {
                    return Err(RuntimeError::ImageMissing {
                        image: image.to_string(),
                        reason: short_reason(&e),
                    })
                }
            }
        }
        if self.docker.inspect_image(image).await.is_err() {
            return Err(RuntimeError::ImageMissing {
                image: image.to_string(),
                reason: "the pull finished without the image".into(),
            });
        }
        Ok(())
    }

    /// Puts files into the room's `/interview` from a tar archive whose paths are relative
    /// to it. Entries are owned by the room's user.
    pub async fn upload_files(&self, container: &str, tar: Vec<u8>) -> Result<(), RuntimeError> {
        self.docker
            .upload_to_container(
                container,
                Some(UploadToContainerOptionsBuilder::new().path(WORKDIR).build()),
                bollard::body_full(tar.into()),
            )
            .await?;
        Ok(())
    }

    /// The room's `/interview` as a tar archive with paths relative to it, at most
    /// `limit` bytes.
    pub async fn download_files(
        &self,
        container: &str,
        limit: usize,
    ) -> Result<Vec<u8>, RuntimeError> {
        use futures_util::StreamExt;
        let mut stream = self.docker.download_from_container(
            container,
            Some(
                bollard::query_parameters::DownloadFromContainerOptionsBuilder::new()
                    .path(WORKDIR)
                    .build(),
            ),
        );
        let mut raw = Vec::new();
        while let Some(chunk) = stream.next().await {
            raw.extend_from_slice(&chunk?);
            if raw.len() > limit {
                return Err(RuntimeError::Agent(format!(
                    "the room's files are over {} MiB and cannot be saved",
                    limit / (1024 * 1024)
                )));
            }
        }
        reroot(&raw).map_err(|e| RuntimeError::Agent(format!("cannot read the room's files: {e}")))
    }
}

/// Rewrites an archive of `interview/...` as paths relative to the working directory.
fn reroot(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut archive = tar::Archive::new(raw);
    let mut out = tar::Builder::new(Vec::new());
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let mut parts = path.components();
        parts.next(); // "interview"
        let rel = parts.as_path();
        let rel = if rel.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            rel
        };
        let mut header = entry.header().clone();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data)?;
        match header.entry_type() {
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = entry
                    .link_name()?
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                out.append_link(&mut header, rel, target)?;
            }
            _ => out.append_data(&mut header, rel, data.as_slice())?,
        }
    }
    out.into_inner()
}

/// Splits `repo:tag` (a registry port's colon is not a tag).
fn split_reference(image: &str) -> (&str, &str) {
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (image, "latest"),
    }
}

/// The engine's message without the HTTP wrapping.
fn short_reason(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// A tar archive of starter files, owned by the room's user.
pub fn tar_starter(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    // Parent folders first, so they belong to the room's user too.
    let mut dirs = std::collections::BTreeSet::new();
    for (path, _) in files {
        let mut p = std::path::Path::new(path).parent();
        while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
            dirs.insert(d.to_path_buf());
            p = d.parent();
        }
    }
    for d in dirs {
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        header.set_mode(0o755);
        header.set_uid(1000);
        header.set_gid(1000);
        header.set_entry_type(tar::EntryType::Directory);
        header.set_cksum();
        let _ = builder.append_data(&mut header, &d, std::io::empty());
    }
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_uid(1000);
        header.set_gid(1000);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mtime(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        );
        header.set_cksum();
        let _ = builder.append_data(&mut header, path, content.as_slice());
    }
    builder.into_inner().unwrap_or_default()
}

/// Removing what is already gone succeeds: removal is idempotent.
fn already_gone_is_fine(result: Result<(), bollard::errors::Error>) -> Result<(), RuntimeError> {
    match result {
        Ok(())
        | Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn wait_exit(docker: &Docker, container: &str) -> Result<i64, RuntimeError> {
    use futures_util::StreamExt;
    let mut wait = docker.wait_container(
        container,
        None::<bollard::query_parameters::WaitContainerOptions>,
    );
    let outcome = tokio::time::timeout(Duration::from_secs(60), wait.next()).await;
    match outcome {
        Ok(Some(Ok(r))) => Ok(r.status_code),
        Ok(Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. }))) => Ok(code),
        Ok(Some(Err(e))) => Err(e.into()),
        Ok(None) => Ok(-1),
        Err(_) => Err(RuntimeError::Agent(format!(
            "{container} did not finish in time"
        ))),
    }
}

/// A tar archive holding one file.
pub fn tar_file(name: &str, bytes: &[u8], mode: u32, uid: u64, gid: u64) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(mode);
    header.set_uid(uid);
    header.set_gid(gid);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    let mut builder = tar::Builder::new(Vec::new());
    // Appending to an in-memory Vec cannot fail.
    let _ = builder.append_data(&mut header, name, bytes);
    builder.into_inner().unwrap_or_default()
}

/// A tar archive holding one folder entry (used to set a folder's owner and mode).
pub fn tar_dir(name: &str, mode: u32, uid: u64, gid: u64) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.set_size(0);
    header.set_mode(mode);
    header.set_uid(uid);
    header.set_gid(gid);
    header.set_entry_type(tar::EntryType::Directory);
    header.set_cksum();
    let mut builder = tar::Builder::new(Vec::new());
    let _ = builder.append_data(&mut header, name, std::io::empty());
    builder.into_inner().unwrap_or_default()
}

fn crc32fast_hash(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// A short random suffix for temporary names.
fn rand_suffix() -> String {
    let mut buf = [0u8; 6];
    // getrandom failing means the OS cannot give randomness at all; time is enough for a name.
    if getrandom::fill(&mut buf).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        buf.copy_from_slice(&t.to_le_bytes()[..6]);
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
