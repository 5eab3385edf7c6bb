//! IPC commands of the interviewer's window. Each is a thin call into `backend::App`; their
//! TypeScript bindings are generated from these signatures (see [`crate::ipc_builder`]).

use backend::catalog::StarterFile;
use backend::events::Progress;
use backend::images::ImageState;
use backend::notes::Notes;
use backend::rooms::NewRoom;
use backend::settings::Settings;
use backend::tokens::{LinkInfo, Revoke, Role, RoomLink, WindowSession};
use backend::{App, AppInfo, EngineStatus, ErrorBody, ErrorCode, RoomSummary};
use serde::Serialize;
use specta::Type;
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, State};

/// A catalog language as the new-room form shows it.
#[derive(Debug, Clone, Serialize, Type)]
pub struct LanguageChoice {
    /// Catalog id.
    pub id: String,
    /// Shown to people.
    pub name: String,
    /// The image its rooms run.
    pub image: String,
    /// The files a room of it starts with.
    pub starter: Vec<StarterFile>,
}

/// The container engine's version, or what is wrong with it and how to fix it.
#[tauri::command]
#[specta::specta]
pub async fn engine_status(app: State<'_, App>) -> Result<EngineStatus, ErrorBody> {
    Ok(app.engine_status().await)
}

/// The rooms, newest first.
#[tauri::command]
#[specta::specta]
pub async fn list_rooms(app: State<'_, App>) -> Result<Vec<RoomSummary>, ErrorBody> {
    Ok(app.list_rooms().await?)
}

/// The app's version, data dir and room server state.
#[tauri::command]
#[specta::specta]
pub fn app_info(app: State<'_, App>) -> AppInfo {
    app.info()
}

/// The languages rooms can be for.
#[tauri::command]
#[specta::specta]
pub fn catalog(app: State<'_, App>) -> Vec<LanguageChoice> {
    app.catalog()
        .languages()
        .map(|l| LanguageChoice {
            id: l.id.clone(),
            name: l.name.clone(),
            image: l.image.clone(),
            starter: l.starter.clone(),
        })
        .collect()
}

/// Creates a room, reporting progress on `progress`; returns once it is ready. On failure
/// nothing of it is left.
#[tauri::command]
#[specta::specta]
pub async fn create_room(
    app: State<'_, App>,
    room: NewRoom,
    progress: Channel<Progress>,
) -> Result<RoomSummary, ErrorBody> {
    let (tx, forwarded) = forward(progress);
    let created = app.create_room_reporting(room, Some(tx)).await;
    let _ = forwarded.await;
    Ok(created?)
}

/// Stops a room, keeping its files.
#[tauri::command]
#[specta::specta]
pub async fn stop_room(app: State<'_, App>, id: String) -> Result<RoomSummary, ErrorBody> {
    Ok(app.stop_room(&id).await?)
}

/// Starts a stopped room again from its files.
#[tauri::command]
#[specta::specta]
pub async fn resume_room(app: State<'_, App>, id: String) -> Result<RoomSummary, ErrorBody> {
    Ok(app.resume_room(&id).await?)
}

/// Restarts a wedged room: a fresh container over the same files.
#[tauri::command]
#[specta::specta]
pub async fn restart_room(app: State<'_, App>, id: String) -> Result<RoomSummary, ErrorBody> {
    Ok(app.restart_room(&id).await?)
}

/// Deletes a room and everything kept of it.
#[tauri::command]
#[specta::specta]
pub async fn delete_room(app: State<'_, App>, id: String) -> Result<(), ErrorBody> {
    Ok(app.delete_room(&id).await?)
}

/// Pushes a room's time limit back by `minutes`.
#[tauri::command]
#[specta::specta]
pub async fn extend_room(
    app: State<'_, App>,
    id: String,
    minutes: u32,
) -> Result<RoomSummary, ErrorBody> {
    if minutes == 0 || minutes > 24 * 60 {
        return Err(invalid("extend by 1 minute to 24 hours"));
    }
    Ok(app.extend_room(&id, u64::from(minutes) * 60).await?)
}

/// Writes a zip of the room's code and notes into the Downloads folder; returns its path.
#[tauri::command]
#[specta::specta]
pub async fn export_room(
    handle: AppHandle,
    app: State<'_, App>,
    id: String,
) -> Result<String, ErrorBody> {
    let room = backend::rooms::get(app.db(), &id).await?;
    let dir = handle
        .path()
        .download_dir()
        .or_else(|_| handle.path().home_dir())
        .map_err(|e| invalid(&format!("no folder to save the export in: {e}")))?;
    let stem: String = room
        .name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut out = dir.join(format!("{stem}.zip"));
    let mut n = 2;
    while out.exists() {
        out = dir.join(format!("{stem} ({n}).zip"));
        n += 1;
    }
    app.export_room(&id, &out).await?;
    Ok(out.display().to_string())
}

/// A new link to a room for `role`, valid `hours` (default 24).
#[tauri::command]
#[specta::specta]
pub async fn issue_link(
    app: State<'_, App>,
    room: String,
    role: Role,
    hours: Option<u32>,
) -> Result<RoomLink, ErrorBody> {
    let secs = u64::from(hours.unwrap_or(24)) * 3600;
    Ok(app.issue_link(&room, role, secs).await?)
}

/// The links of a room (without their tokens).
#[tauri::command]
#[specta::specta]
pub async fn list_links(app: State<'_, App>, room: String) -> Result<Vec<LinkInfo>, ErrorBody> {
    Ok(app.list_links(&room).await?)
}

/// Revokes one link; its open sockets close at once.
#[tauri::command]
#[specta::specta]
pub async fn revoke_link(app: State<'_, App>, room: String, link: String) -> Result<(), ErrorBody> {
    app.revoke_links(&room, Revoke::Link(link)).await?;
    Ok(())
}

/// What the window needs to open a room as an interviewer.
#[tauri::command]
#[specta::specta]
pub async fn window_session(app: State<'_, App>, room: String) -> Result<WindowSession, ErrorBody> {
    Ok(app.window_session(&room).await?)
}

/// The interviewer's private notes on a room.
#[tauri::command]
#[specta::specta]
pub async fn notes(app: State<'_, App>, room: String) -> Result<Notes, ErrorBody> {
    Ok(app.notes(&room).await?)
}

/// Saves the interviewer's private notes on a room.
#[tauri::command]
#[specta::specta]
pub async fn save_notes(
    app: State<'_, App>,
    room: String,
    body: String,
) -> Result<Notes, ErrorBody> {
    Ok(app.save_notes(&room, &body).await?)
}

/// The settings in effect.
#[tauri::command]
#[specta::specta]
pub fn settings(app: State<'_, App>) -> Settings {
    app.settings()
}

/// Checks, stores and applies new settings; returns them as stored.
#[tauri::command]
#[specta::specta]
pub async fn save_settings(app: State<'_, App>, settings: Settings) -> Result<Settings, ErrorBody> {
    Ok(app.save_settings(settings).await?)
}

/// The catalog's images and whether the engine has them.
#[tauri::command]
#[specta::specta]
pub async fn images(app: State<'_, App>) -> Result<Vec<ImageState>, ErrorBody> {
    Ok(app.images().await?)
}

/// Pulls a language's image, reporting progress on `progress`.
#[tauri::command]
#[specta::specta]
pub async fn prepare_image(
    app: State<'_, App>,
    language: String,
    progress: Channel<Progress>,
) -> Result<ImageState, ErrorBody> {
    let (tx, forwarded) = forward(progress);
    let done = app.prepare_image(&language, Some(tx)).await;
    let _ = forwarded.await;
    Ok(done?)
}

/// Puts `text` on the system clipboard.
#[tauri::command]
#[specta::specta]
pub fn copy_text(handle: AppHandle, text: String) -> Result<(), ErrorBody> {
    use tauri_plugin_clipboard_manager::ClipboardExt;
    handle
        .clipboard()
        .write_text(text)
        .map_err(|e| invalid(&format!("the clipboard could not be written: {e}")))
}

/// How the window was asked to close: what the interviewer chose.
#[derive(Debug, Clone, Copy, serde::Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum CloseChoice {
    /// Stop every live room, then quit.
    StopRoomsAndQuit,
    /// Quit; rooms keep running and are re-attached at the next start.
    QuitKeepRooms,
    /// Hide the window; the app stays in the tray.
    KeepInTray,
}

/// Carries out the interviewer's answer to "rooms are live: close how?".
#[tauri::command]
#[specta::specta]
pub async fn close_window(
    handle: AppHandle,
    app: State<'_, App>,
    choice: CloseChoice,
) -> Result<(), ErrorBody> {
    match choice {
        CloseChoice::KeepInTray => {
            if let Some(w) = handle.get_webview_window("main") {
                w.hide().map_err(|e| invalid(&e.to_string()))?;
            }
        }
        CloseChoice::StopRoomsAndQuit => {
            if let Err(e) = crate::stop_live_rooms(&app).await {
                tracing::warn!(error = %e, "not every room stopped on quit");
            }
            handle.exit(0);
        }
        CloseChoice::QuitKeepRooms => handle.exit(0),
    }
    Ok(())
}

/// Which room agent builds this installation carries and which one the engine's rooms get.
#[tauri::command]
#[specta::specta]
pub async fn agent_status(app: State<'_, App>) -> Result<backend::agent::AgentStatus, ErrorBody> {
    Ok(app.agent_status().await)
}

/// A sender for the backend's progress whose messages reach the page on `channel`; the task
/// ends once the sender is dropped and every message is passed on.
fn forward(
    channel: Channel<Progress>,
) -> (
    tokio::sync::mpsc::Sender<Progress>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Progress>(64);
    let task = tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            let _ = channel.send(p);
        }
    });
    (tx, task)
}

fn invalid(message: &str) -> ErrorBody {
    ErrorBody {
        code: ErrorCode::Invalid,
        message: message.to_string(),
    }
}
