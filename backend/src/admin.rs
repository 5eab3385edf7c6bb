//! The admin socket: how the CLI drives a running instance (headless or desktop). A Unix
//! socket in the data dir that only its owner can open — never TCP, so nothing on the
//! network reaches it. One JSON request per line, one JSON reply per line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::rooms::{NewRoom, RoomSummary};
use crate::{App, EngineStatus, Error, ErrorBody, ErrorCode};

/// Longest request line accepted.
const MAX_REQUEST: usize = 64 * 1024;

/// Connections served at once; more wait.
const MAX_CONNECTIONS: usize = 16;

/// The socket's path in a data dir.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("admin.sock")
}

/// What the CLI asks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum AdminRequest {
    /// The instance's state.
    Status,
    /// Every room.
    ListRooms,
    /// A new room, ready when the reply comes.
    CreateRoom(NewRoom),
    /// Stop a room.
    StopRoom {
        /// Room id.
        id: String,
    },
    /// Resume a stopped room.
    ResumeRoom {
        /// Room id.
        id: String,
    },
    /// Delete a room.
    DeleteRoom {
        /// Room id.
        id: String,
    },
    /// A new container with the same files.
    RestartRoom {
        /// Room id.
        id: String,
    },
    /// Push a room's time limit.
    ExtendRoom {
        /// Room id.
        id: String,
        /// By how many seconds.
        secs: u64,
    },
    /// Turn this connection into the room's terminal: after the `Ok` reply, the client sends
    /// [`AttachInput`] lines and receives [`AttachOutput`] lines until either side closes.
    Attach {
        /// Room id.
        id: String,
    },
    /// A new link to a room.
    IssueLink {
        /// Room id.
        id: String,
        /// Who the link is for.
        role: crate::tokens::Role,
        /// How long it stays valid, in seconds.
        secs: u64,
    },
    /// Revoke links of a room.
    RevokeLinks {
        /// Room id.
        id: String,
        /// Which.
        which: crate::tokens::Revoke,
    },
    /// The links of a room.
    ListLinks {
        /// Room id.
        id: String,
    },
    /// Write the room's files as a zip.
    ExportRoom {
        /// Room id.
        id: String,
        /// Absolute path of the zip to write.
        output: PathBuf,
    },
}

/// A line the attached client sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachInput {
    /// Keystrokes, base64.
    Input(String),
    /// The client's terminal size.
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
}

/// A line the attached client receives.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachOutput {
    /// Terminal output, base64.
    Output(String),
    /// The room stopped or its agent went away.
    Closed(String),
}

/// The instance's state, for `status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceStatus {
    /// App version.
    pub version: String,
    /// Data dir.
    pub data_dir: String,
    /// Room server URL, when listening.
    pub room_server: Option<String>,
    /// The container engine.
    pub engine: EngineStatus,
    /// Rooms by state.
    pub rooms: usize,
    /// The label value (`app.interview-platform.instance`) on this instance's containers
    /// and volumes.
    pub instance: String,
}

/// A reply: the value asked for, or an error with its code.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminReply {
    /// A step of a long command (`create_room`); the final reply follows.
    Progress(String),
    /// Success, with the command's value.
    Ok(serde_json::Value),
    /// Failure.
    Error(ErrorBody),
}

impl App {
    /// Opens the admin socket and serves it until shutdown. A socket left by a crashed
    /// instance is replaced; one that answers means another instance runs on this data dir.
    pub async fn open_admin_socket(&self) -> Result<PathBuf, Error> {
        let path = socket_path(self.data_dir());
        if UnixStream::connect(&path).await.is_ok() {
            return Err(Error::Invalid(format!(
                "another Interview Platform is already running with the data dir {}",
                self.data_dir().display()
            )));
        }
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).map_err(Error::Server)?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(Error::Server)?;
        }
        let app = self.clone();
        let stop = self.inner.shutdown.clone();
        let limit = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        let socket = path.clone();
        self.inner.tasks.spawn(async move {
            loop {
                let conn = tokio::select! {
                    c = listener.accept() => c,
                    _ = stop.cancelled() => break,
                };
                let Ok((stream, _)) = conn else { continue };
                let Ok(permit) = limit.clone().acquire_owned().await else {
                    break;
                };
                let app = app.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = serve_connection(&app, stream) => {}
                        _ = stop.cancelled() => {}
                    }
                    drop(permit);
                });
            }
            let _ = std::fs::remove_file(&socket);
        });
        Ok(path)
    }

    /// Runs one admin request.
    pub async fn admin(&self, req: AdminRequest) -> Result<serde_json::Value, Error> {
        Ok(match req {
            AdminRequest::Status => {
                let info = self.info();
                let rooms = self.list_rooms().await?.len();
                json(&InstanceStatus {
                    version: info.version,
                    data_dir: info.data_dir,
                    room_server: info.room_server.url,
                    engine: self.engine_status().await,
                    rooms,
                    instance: self.instance_id().to_string(),
                })
            }
            AdminRequest::ListRooms => json(&self.list_rooms().await?),
            AdminRequest::CreateRoom(new) => json(&self.create_room(new).await?),
            AdminRequest::StopRoom { id } => json(&self.stop_room(&id).await?),
            AdminRequest::ResumeRoom { id } => json(&self.resume_room(&id).await?),
            AdminRequest::DeleteRoom { id } => {
                self.delete_room(&id).await?;
                serde_json::json!({ "id": id, "deleted": true })
            }
            AdminRequest::RestartRoom { id } => json(&self.restart_room(&id).await?),
            AdminRequest::ExtendRoom { id, secs } => json(&self.extend_room(&id, secs).await?),
            AdminRequest::Attach { .. } => {
                return Err(Error::Invalid(
                    "attach is served on its own connection".into(),
                ))
            }
            AdminRequest::IssueLink { id, role, secs } => {
                json(&self.issue_link(&id, role, secs).await?)
            }
            AdminRequest::RevokeLinks { id, which } => {
                let revoked = self.revoke_links(&id, which).await?;
                serde_json::json!({ "id": id, "revoked": revoked })
            }
            AdminRequest::ListLinks { id } => json(&self.list_links(&id).await?),
            AdminRequest::ExportRoom { id, output } => {
                if !output.is_absolute() {
                    return Err(Error::Invalid("the export path must be absolute".into()));
                }
                let bytes = self.export_room(&id, &output).await?;
                serde_json::json!({ "id": id, "output": output, "bytes": bytes })
            }
        })
    }
}

fn json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

async fn serve_connection(app: &App, stream: UnixStream) {
    use tokio::io::AsyncReadExt;
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut line = String::new();
    loop {
        line.clear();
        // At most MAX_REQUEST bytes per request: a longer line closes the connection.
        let read = (&mut lines)
            .take(MAX_REQUEST as u64 + 1)
            .read_line(&mut line)
            .await;
        let oversized = line.len() > MAX_REQUEST;
        let reply = match read {
            Ok(0) => return,
            Ok(_) if oversized => AdminReply::Error(ErrorBody {
                code: ErrorCode::Invalid,
                message: format!("request over {MAX_REQUEST} bytes"),
            }),
            Ok(_) => match serde_json::from_str::<AdminRequest>(line.trim()) {
                Ok(AdminRequest::Attach { id }) => {
                    attach(app, &id, lines, write).await;
                    return;
                }
                Ok(AdminRequest::CreateRoom(new)) => {
                    match create_reporting(app, new, &mut write).await {
                        Some(reply) => reply,
                        None => return,
                    }
                }
                Ok(req) => match app.admin(req).await {
                    Ok(v) => AdminReply::Ok(v),
                    Err(e) => AdminReply::Error(e.body()),
                },
                Err(e) => AdminReply::Error(ErrorBody {
                    code: ErrorCode::Invalid,
                    message: format!("malformed request: {e}"),
                }),
            },
            Err(_) => return,
        };
        let mut out = serde_json::to_vec(&reply).unwrap_or_default();
        out.push(b'\n');
        if write.write_all(&out).await.is_err() || oversized {
            return;
        }
    }
}

/// Creates a room, writing its progress lines to the client as they come. `None` when the
/// client went away.
async fn create_reporting(
    app: &App,
    new: NewRoom,
    write: &mut tokio::net::unix::OwnedWriteHalf,
) -> Option<AdminReply> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<crate::events::Progress>(64);
    let create = app.create_room_reporting(new, Some(tx));
    tokio::pin!(create);
    loop {
        tokio::select! {
            done = &mut create => {
                // Lines sent just before the end still go out first.
                while let Ok(p) = rx.try_recv() {
                    let mut out = serde_json::to_vec(&AdminReply::Progress(p.label)).unwrap_or_default();
                    out.push(b'\n');
                    write.write_all(&out).await.ok()?;
                }
                return Some(match done {
                    Ok(room) => AdminReply::Ok(json(&room)),
                    Err(e) => AdminReply::Error(e.body()),
                });
            }
            Some(p) = rx.recv() => {
                let mut out = serde_json::to_vec(&AdminReply::Progress(p.label)).unwrap_or_default();
                out.push(b'\n');
                write.write_all(&out).await.ok()?;
            }
        }
    }
}

/// Serves an attached terminal: the room's scrollback first, then live output one way and
/// keystrokes the other, until either side ends.
async fn attach(
    app: &App,
    id: &str,
    mut lines: BufReader<tokio::net::unix::OwnedReadHalf>,
    mut write: tokio::net::unix::OwnedWriteHalf,
) {
    use base64::Engine as _;
    use insider::protocol::{Event, Request};
    use tokio::io::AsyncReadExt;
    let b64 = base64::engine::general_purpose::STANDARD;
    let send = |msg: &AttachOutput| {
        let mut out = serde_json::to_vec(msg).unwrap_or_default();
        out.push(b'\n');
        out
    };
    let (link, screen, mut events) = match app.room_terminal(id).await {
        Ok(pair) => pair,
        Err(e) => {
            let mut out = serde_json::to_vec(&AdminReply::Error(e.body())).unwrap_or_default();
            out.push(b'\n');
            let _ = write.write_all(&out).await;
            return;
        }
    };
    let mut hello =
        serde_json::to_vec(&AdminReply::Ok(serde_json::json!({ "id": id }))).unwrap_or_default();
    hello.push(b'\n');
    if write.write_all(&hello).await.is_err() {
        return;
    }
    if write
        .write_all(&send(&AttachOutput::Output(b64.encode(&screen))))
        .await
        .is_err()
    {
        return;
    }
    let mut line = String::new();
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(Event::PtyOutput { data }) => {
                    if write.write_all(&send(&AttachOutput::Output(b64.encode(&data)))).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => {
                    let _ = write.write_all(&send(&AttachOutput::Closed("the room stopped".into()))).await;
                    return;
                }
            },
            read = async {
                line.clear();
                (&mut lines).take(MAX_REQUEST as u64 + 1).read_line(&mut line).await
            } => {
                match read {
                    Ok(0) | Err(_) => return,
                    Ok(_) if line.len() > MAX_REQUEST => return,
                    Ok(_) => {}
                }
                let msg = match serde_json::from_str::<AttachInput>(line.trim()) {
                    Ok(AttachInput::Input(data)) => match b64.decode(data.trim()) {
                        Ok(bytes) => Request::PtyInput { data: bytes.into() },
                        Err(_) => continue,
                    },
                    Ok(AttachInput::Resize { cols, rows }) => Request::PtyResize { cols, rows },
                    Err(_) => continue,
                };
                if link.send(msg).await.is_err() {
                    let _ = write.write_all(&send(&AttachOutput::Closed("the room's agent went away".into()))).await;
                    return;
                }
            }
        }
    }
}

/// Sends one request to the instance on `data_dir` and returns its reply.
pub async fn call(data_dir: &Path, req: &AdminRequest) -> Result<serde_json::Value, ClientError> {
    call_reporting(data_dir, req, |_| {}).await
}

/// [`call`], passing each progress line to `on_progress` as it arrives.
pub async fn call_reporting(
    data_dir: &Path,
    req: &AdminRequest,
    mut on_progress: impl FnMut(&str),
) -> Result<serde_json::Value, ClientError> {
    let path = socket_path(data_dir);
    let stream = UnixStream::connect(&path)
        .await
        .map_err(|_| ClientError::NotRunning(data_dir.to_path_buf()))?;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_vec(req).map_err(|e| ClientError::Protocol(e.to_string()))?;
    line.push(b'\n');
    write
        .write_all(&line)
        .await
        .map_err(|e| ClientError::Protocol(e.to_string()))?;
    let mut reader = BufReader::new(read);
    loop {
        let mut reply = String::new();
        let n = reader
            .read_line(&mut reply)
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        if n == 0 {
            return Err(ClientError::Protocol(
                "the instance closed the connection".into(),
            ));
        }
        match serde_json::from_str::<AdminReply>(&reply) {
            Ok(AdminReply::Progress(line)) => on_progress(&line),
            Ok(AdminReply::Ok(v)) => return Ok(v),
            Ok(AdminReply::Error(e)) => return Err(ClientError::Failed(e)),
            Err(e) => return Err(ClientError::Protocol(format!("unreadable reply: {e}"))),
        }
    }
}

/// Why a CLI call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the data dir's socket.
    #[error("no Interview Platform is running with the data dir {}: start it with `interview-platform-server serve` or open the desktop app", .0.display())]
    NotRunning(PathBuf),
    /// The instance refused or failed the request.
    #[error("{}", .0.message)]
    Failed(ErrorBody),
    /// The conversation broke.
    #[error("admin socket: {0}")]
    Protocol(String),
}

/// The summary as `rooms create --json` prints it.
pub fn room_json(room: &RoomSummary) -> serde_json::Value {
    serde_json::json!({
        "id": room.id,
        "name": room.name,
        "language": room.language,
        "status": room.status,
        "stop_at": room.stop_at,
    })
}
