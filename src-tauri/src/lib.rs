//! The desktop shell: a window onto `backend::App`, which runs in-process. Window glue only;
//! everything else lives in the backend.

mod commands;

use backend::{paths, App, AppOptions};
use tauri::{Manager, RunEvent};

/// The path of the generated TypeScript bindings, relative to this crate.
pub const BINDINGS_PATH: &str = "../ui/src/lib/ipc/bindings.ts";

/// Every IPC command, for the invoke handler and for the generated bindings alike.
pub fn ipc_builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new().commands(tauri_specta::collect_commands![
        commands::engine_status,
        commands::list_rooms,
        commands::app_info,
    ])
}

/// Renders the TypeScript bindings as they should be on disk.
pub fn export_bindings(path: &std::path::Path) -> Result<(), String> {
    ipc_builder()
        .export(
            specta_typescript::Typescript::default()
                .header(
                    "// Generated from the Rust commands by `cargo test -p interview-platform`. Do not edit.\n// @ts-nocheck\n",
                )
                .bigint(specta_typescript::BigIntExportBehavior::Number),
            path,
        )
        .map_err(|e| e.to_string())
}

/// Starts the app: the backend in-process, then the window.
pub fn run() {
    let ipc = ipc_builder();
    let app = tauri::Builder::default()
        .invoke_handler(ipc.invoke_handler())
        .setup(move |handle| {
            ipc.mount_events(handle);
            let options = AppOptions::resolve(None);
            let log = backend::logging::init(&options.data_dir)?;
            let core = tauri::async_runtime::block_on(App::new(options))?;
            // A busy port is shown in the window rather than stopping the app: the rooms list
            // and the engine status are still useful.
            if let Err(e) = tauri::async_runtime::block_on(core.listen(paths::DEFAULT_LISTEN)) {
                tracing::warn!(error = %e, "room server not started");
            }
            // The CLI drives the desktop app through the same owner-only socket.
            if let Err(e) = tauri::async_runtime::block_on(core.open_admin_socket()) {
                tracing::warn!(error = %e, "admin socket not opened");
            }
            tauri::async_runtime::block_on(core.start_background());
            handle.manage(core);
            handle.manage(LogGuardSlot(std::sync::Mutex::new(log)));
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("the desktop app could not be built");

    app.run(|handle, event| {
        if let RunEvent::Exit = event {
            if let Some(core) = handle.try_state::<App>() {
                tauri::async_runtime::block_on(core.shutdown());
            }
        }
    });
}

/// Keeps the log file writer alive for the app's lifetime.
struct LogGuardSlot(#[allow(dead_code)] std::sync::Mutex<Option<backend::logging::LogGuard>>);
