//! The desktop shell: a window onto `backend::App`, which runs in-process. Window glue only —
//! the tray, closing with live rooms, notifications — everything else lives in the backend.

mod commands;
pub mod updates;

use backend::events::AppEvent;
use backend::{App, AppOptions};
use serde::{Deserialize, Serialize};
use specta::Type;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, RunEvent, WindowEvent};
use tauri_specta::Event;

/// Where the app looks for a newer release unless the settings name another address.
pub const DEFAULT_UPDATE_ENDPOINT: &str =
    "https://github.com/interview-platform/interview-platform/releases/latest/download/latest.json";

/// The path of the generated TypeScript bindings, relative to this crate.
pub const BINDINGS_PATH: &str = "../ui/src/lib/ipc/bindings.ts";

/// Something the backend announced (room status, progress, presence, stop warnings).
#[derive(Debug, Clone, Serialize, Deserialize, Type, tauri_specta::Event)]
pub struct BackendEvent(pub AppEvent);

/// The window was asked to close while rooms are live: the page asks how.
#[derive(Debug, Clone, Serialize, Deserialize, Type, tauri_specta::Event)]
pub struct CloseRequested {
    /// How many rooms are running.
    pub live_rooms: u32,
}

/// Every IPC command and event, for the invoke handler and for the generated bindings alike.
pub fn ipc_builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(tauri_specta::collect_commands![
            commands::engine_status,
            commands::list_rooms,
            commands::app_info,
            commands::catalog,
            commands::create_room,
            commands::stop_room,
            commands::resume_room,
            commands::restart_room,
            commands::delete_room,
            commands::extend_room,
            commands::export_room,
            commands::issue_link,
            commands::list_links,
            commands::revoke_link,
            commands::window_session,
            commands::notes,
            commands::save_notes,
            commands::settings,
            commands::save_settings,
            commands::images,
            commands::prepare_image,
            commands::copy_text,
            commands::close_window,
            commands::agent_status,
            updates::check_update,
            updates::pending_update,
            updates::download_update,
            updates::install_update,
            updates::postpone_update,
        ])
        .events(tauri_specta::collect_events![
            BackendEvent,
            CloseRequested,
            updates::UpdateAvailable,
            updates::UpdateReadyToInstall
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

/// Whether a room in `status` has a container the app keeps running.
pub(crate) fn is_live(status: &str) -> bool {
    matches!(status, "creating" | "starting" | "ready" | "stopping")
}

/// The rooms whose containers run.
pub(crate) async fn live_rooms(app: &App) -> Vec<backend::RoomSummary> {
    let mut rooms = app.list_rooms().await.unwrap_or_default();
    rooms.retain(|r| is_live(&r.status));
    rooms
}

/// Stops every live room; the first that cannot be stopped ends it with its name and why.
pub(crate) async fn stop_live_rooms(app: &App) -> Result<(), String> {
    for room in live_rooms(app).await {
        app.stop_room(&room.id)
            .await
            .map_err(|e| format!("room \"{}\" could not be stopped ({e})", room.name))?;
    }
    Ok(())
}

/// Brings the main window to the front.
pub(crate) fn show_main(handle: &AppHandle) {
    if let Some(w) = handle.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

/// The tray icon: show the window, or quit the way closing the window would.
fn tray(handle: &AppHandle) -> tauri::Result<()> {
    let show = MenuItem::with_id(
        handle,
        "show",
        "Show Interview Platform",
        true,
        None::<&str>,
    )?;
    let quit = MenuItem::with_id(handle, "quit", "Quit…", true, None::<&str>)?;
    let menu = Menu::with_items(handle, &[&show, &quit])?;
    let mut builder = TrayIconBuilder::with_id("main")
        .tooltip("Interview Platform")
        .menu(&menu)
        .on_menu_event(|handle, event| match event.id().as_ref() {
            "show" => show_main(handle),
            "quit" => ask_to_close(handle),
            _ => {}
        });
    if let Some(icon) = handle.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(handle)?;
    Ok(())
}

/// Closing with live rooms asks the page how (stop them, keep them, stay in the tray); with
/// none, the app quits.
fn ask_to_close(handle: &AppHandle) {
    let live = handle.try_state::<App>().map_or(0, |app| {
        tauri::async_runtime::block_on(live_rooms(&app)).len()
    });
    if live == 0 {
        tracing::info!("no room is running: quitting");
        handle.exit(0);
        return;
    }
    show_main(handle);
    let _ = CloseRequested {
        live_rooms: live as u32,
    }
    .emit(handle);
}

/// Passes the backend's events to the page, and tells the interviewer (natively) when a
/// candidate joins or leaves.
fn forward_events(handle: AppHandle, app: App) {
    let mut events = app.subscribe();
    tauri::async_runtime::spawn(async move {
        loop {
            let ev = match events.recv().await {
                Ok(ev) => ev,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return,
            };
            if let AppEvent::Presence {
                room,
                name,
                role,
                joined,
            } = &ev
            {
                if role == "candidate" {
                    let room_name = backend::rooms::get(app.db(), room)
                        .await
                        .map(|r| r.name)
                        .unwrap_or_default();
                    notify(&handle, name, &room_name, *joined);
                }
            }
            updates::on_event(&handle, &app, &ev).await;
            let _ = BackendEvent(ev).emit(&handle);
        }
    });
}

fn notify(handle: &AppHandle, who: &str, room: &str, joined: bool) {
    use tauri_plugin_notification::NotificationExt;
    let title = if joined {
        format!("{who} joined")
    } else {
        format!("{who} left")
    };
    let handle = handle.clone();
    let body = format!("Room: {room}");
    // A desktop without a notification service must not hold anything up.
    std::thread::spawn(move || {
        if let Err(e) = handle
            .notification()
            .builder()
            .title(title)
            .body(body)
            .show()
        {
            tracing::debug!(error = %e, "notification not shown");
        }
    });
}

/// Starts the app: the backend in-process, then the window. A second start hands over to the
/// running one and ends.
pub fn run() {
    let app = match builder().build(context()) {
        Ok(app) => app,
        // The instance this one would hand over to went away while it started: once it is
        // gone, this one is the instance. (Plugins start before anything of the app opens.)
        Err(tauri::Error::PluginInitialization(plugin, why)) if plugin == "single-instance" => {
            eprintln!("the other instance went away ({why}): starting again");
            std::thread::sleep(std::time::Duration::from_secs(1));
            builder()
                .build(context())
                .expect("the desktop app could not be built")
        }
        Err(e) => panic!("the desktop app could not be built: {e}"),
    };

    app.run(|handle, event| {
        if let RunEvent::Exit = event {
            if let Some(core) = handle.try_state::<App>() {
                tauri::async_runtime::block_on(core.shutdown());
            }
        }
    });
}

/// The app's configuration and embedded page.
fn context() -> tauri::Context<tauri::Wry> {
    tauri::generate_context!()
}

/// The app with its plugins, commands, start-up and window handling.
fn builder() -> tauri::Builder<tauri::Wry> {
    let ipc = ipc_builder();
    tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|handle, _args, _cwd| {
            show_main(handle);
        }))
        .plugin(
            tauri_plugin_window_state::Builder::default()
                .with_state_flags(
                    tauri_plugin_window_state::StateFlags::SIZE
                        | tauri_plugin_window_state::StateFlags::POSITION
                        | tauri_plugin_window_state::StateFlags::MAXIMIZED,
                )
                .build(),
        )
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_updater::Builder::new().build())
        .manage(updates::Updates::default())
        .invoke_handler(ipc.invoke_handler())
        .setup(move |handle| {
            ipc.mount_events(handle);
            let mut options = AppOptions::resolve(None);
            options.version = Some(handle.package_info().version.to_string());
            // The packages carry the room agent for each architecture in the app's resources.
            if let Ok(dir) = handle.path().resource_dir() {
                options.agent_dirs.push(dir.join("agents"));
            }
            let log = backend::logging::init(&options.data_dir)?;
            let core = tauri::async_runtime::block_on(App::new(options))?;
            // A busy port is shown in the window rather than stopping the app: the rooms list
            // and the engine status are still useful, and the port can be changed there.
            let listen = core.settings().listen_addr();
            if let Err(e) = tauri::async_runtime::block_on(core.listen(listen)) {
                tracing::warn!(error = %e, "room server not started");
            }
            // The CLI drives the desktop app through the same owner-only socket.
            if let Err(e) = tauri::async_runtime::block_on(core.open_admin_socket()) {
                tracing::warn!(error = %e, "admin socket not opened");
            }
            tauri::async_runtime::block_on(core.start_background());
            forward_events(handle.handle().clone(), core.clone());
            updates::check_at_start(handle.handle().clone(), core.clone());
            handle.manage(core);
            handle.manage(LogGuardSlot(std::sync::Mutex::new(log)));
            if let Err(e) = tray(handle.handle()) {
                tracing::warn!(error = %e, "no tray icon");
            }
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                if window.label() == "main" {
                    tracing::info!("window close requested");
                    api.prevent_close();
                    ask_to_close(window.app_handle());
                }
            }
        })
}

/// Keeps the log file writer alive for the app's lifetime.
struct LogGuardSlot(#[allow(dead_code)] std::sync::Mutex<Option<backend::logging::LogGuard>>);
