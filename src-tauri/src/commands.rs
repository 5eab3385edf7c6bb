//! IPC commands of the interviewer's window. Each is a thin call into `backend::App`; their
//! TypeScript bindings are generated from these signatures (see [`crate::ipc_builder`]).

use backend::{App, AppInfo, EngineStatus, ErrorBody, RoomSummary};
use tauri::State;

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
