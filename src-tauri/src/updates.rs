//! Updates: the release manifest is checked at start and when asked; the signed package is
//! downloaded and verified against the key built into the app; it is installed only when no
//! room is live (asked while rooms run, the app offers again once they have stopped); then
//! the app restarts into the new version.

use backend::events::{AppEvent, Progress};
use backend::App;
use serde::{Deserialize, Serialize};
use specta::Type;
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, State};
use tauri_plugin_updater::{Update, UpdaterExt};
use tauri_specta::Event;

/// What the updater holds between the steps.
#[derive(Default)]
pub struct Updates {
    slot: tokio::sync::Mutex<Slot>,
}

#[derive(Default)]
struct Slot {
    /// The newer release the last check found.
    update: Option<Update>,
    /// Its package, downloaded and verified.
    package: Option<Vec<u8>>,
    /// Install was asked for while rooms were live: offer it once they have stopped.
    offer_when_idle: bool,
}

/// A newer release.
#[derive(Debug, Clone, Serialize, Deserialize, Type, PartialEq, Eq)]
pub struct UpdateInfo {
    /// The version on offer.
    pub version: String,
    /// The version running.
    pub current_version: String,
    /// What changed, as the release describes it (Markdown).
    pub notes: Option<String>,
    /// When it was published (RFC 3339).
    pub date: Option<String>,
    /// Its package is downloaded and verified, ready to install.
    pub downloaded: bool,
    /// Installing waits for the live rooms to stop.
    pub waiting_for_rooms: bool,
}

/// What asking to install did.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum InstallOutcome {
    /// Installed: the app restarts into the new version.
    Restarting,
    /// Rooms are live: nothing installed; the app offers again when they have stopped.
    Deferred {
        /// How many rooms are live.
        live_rooms: u32,
    },
}

/// Why an update step failed.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Type, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UpdateErrorCode {
    /// The update server could not be reached.
    Offline,
    /// The server answered with something that is not a release manifest.
    BadManifest,
    /// The release has no package for this system.
    NoPackage,
    /// The package is not signed by the key this app trusts, or was altered.
    BadSignature,
    /// Installing needs administrator rights that were not given.
    NoPermission,
    /// The package could not be installed.
    InstallFailed,
    /// There is nothing to download or install (check first).
    NothingPending,
    /// The update address is not usable.
    Invalid,
}

/// An update step's failure, in words for the interviewer.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct UpdateError {
    /// Machine-readable code.
    pub code: UpdateErrorCode,
    /// What went wrong and what to do.
    pub message: String,
}

/// A newer release was found by the check at start.
#[derive(Debug, Clone, Serialize, Deserialize, Type, tauri_specta::Event)]
pub struct UpdateAvailable(pub UpdateInfo);

/// Installing was put off while rooms were live; they have all stopped now.
#[derive(Debug, Clone, Serialize, Deserialize, Type, tauri_specta::Event)]
pub struct UpdateReadyToInstall(pub UpdateInfo);

fn err(code: UpdateErrorCode, message: impl Into<String>) -> UpdateError {
    UpdateError {
        code,
        message: message.into(),
    }
}

/// Words for the updater's errors: what happened, and that nothing was installed.
pub fn explain(e: &tauri_plugin_updater::Error, endpoint: &str) -> UpdateError {
    use tauri_plugin_updater::Error as E;
    use UpdateErrorCode as C;
    match e {
        E::Reqwest(r) => err(
            C::Offline,
            format!(
                "The update server at {endpoint} could not be reached ({}). Check the network \
                 connection or the update address in Settings.",
                plain(r)
            ),
        ),
        E::Network(why) => err(
            C::Offline,
            format!("The update could not be downloaded from {endpoint}: {why}."),
        ),
        E::ReleaseNotFound | E::Serialization(_) | E::Semver(_) | E::UrlParse(_) => err(
            C::BadManifest,
            format!(
                "{endpoint} did not answer with a release manifest ({e}). Check the update \
                 address in Settings."
            ),
        ),
        E::TargetNotFound(t) => err(
            C::NoPackage,
            format!("The release has no package for this system ({t})."),
        ),
        E::TargetsNotFound(t) => err(
            C::NoPackage,
            format!(
                "The release has no package for this system ({}).",
                t.join(", ")
            ),
        ),
        E::Minisign(m) => err(
            C::BadSignature,
            match m {
                minisign_verify::Error::UnexpectedKeyId => {
                    "The update is signed with a key this app does not trust: it was not \
                     installed. Download Interview Platform from its release page if this keeps \
                     happening."
                        .to_string()
                }
                minisign_verify::Error::InvalidSignature => {
                    "The downloaded update does not match its signature (it was altered or \
                     damaged on the way): it was not installed."
                        .to_string()
                }
                other => {
                    format!("The update's signature is unreadable ({other}): it was not installed.")
                }
            },
        ),
        E::Base64(_)
        | E::SignatureUtf8(_)
        | E::SignedVersionMismatch { .. }
        | E::MissingSignedVersion => err(
            C::BadSignature,
            format!("The update's signature cannot be trusted ({e}): it was not installed."),
        ),
        E::InsecureTransportProtocol => err(
            C::Invalid,
            format!("The update address {endpoint} must use https."),
        ),
        E::AuthenticationFailed => err(
            C::NoPermission,
            "Installing needs administrator rights, and they were not given (the password \
             prompt was cancelled or refused). Nothing was changed.",
        ),
        E::DebInstallFailed | E::PackageInstallFailed => err(
            C::NoPermission,
            "The package manager did not install the update: installing needs administrator \
             rights (pkexec or sudo) and they were not given, or the package was refused. \
             Nothing was changed.",
        ),
        E::InvalidUpdaterFormat => err(
            C::InstallFailed,
            "The downloaded file is not a package this installation can install (it was \
             installed from another kind of package). Nothing was changed.",
        ),
        other => err(C::InstallFailed, format!("The update failed: {other}.")),
    }
}

/// A network error without the library's noise.
fn plain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = s.to_string();
        source = s.source();
    }
    text
}

/// The updater for the address in the settings, else the one in the app's config.
fn updater(
    handle: &AppHandle,
    app: &App,
) -> Result<(tauri_plugin_updater::Updater, String), UpdateError> {
    let endpoint = app
        .settings()
        .update_endpoint
        .unwrap_or_else(|| crate::DEFAULT_UPDATE_ENDPOINT.to_string());
    let parsed = url::Url::parse(&endpoint)
        .map_err(|e| err(UpdateErrorCode::Invalid, format!("{endpoint}: {e}")))?;
    let builder = handle
        .updater_builder()
        .endpoints(vec![parsed])
        .map_err(|e| explain(&e, &endpoint))?;
    let updater = builder.build().map_err(|e| explain(&e, &endpoint))?;
    Ok((updater, endpoint))
}

fn info(update: &Update, slot: &Slot) -> UpdateInfo {
    UpdateInfo {
        version: update.version.clone(),
        current_version: update.current_version.clone(),
        notes: update.body.clone().filter(|b| !b.trim().is_empty()),
        date: update.date.and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        }),
        downloaded: slot.package.is_some(),
        waiting_for_rooms: slot.offer_when_idle,
    }
}

/// Asks the update server for a newer release; `None` when this is the newest.
pub async fn check(handle: &AppHandle, app: &App) -> Result<Option<UpdateInfo>, UpdateError> {
    let (updater, endpoint) = updater(handle, app)?;
    let found = updater.check().await.map_err(|e| explain(&e, &endpoint))?;
    let updates = handle.state::<Updates>();
    let mut slot = updates.slot.lock().await;
    match found {
        None => {
            *slot = Slot::default();
            Ok(None)
        }
        Some(update) => {
            // Another release, or the same version re-signed or moved: a package downloaded
            // for the previous one does not carry over.
            let same = slot.update.as_ref().is_some_and(|u| {
                u.version == update.version
                    && u.signature == update.signature
                    && u.download_url == update.download_url
            });
            if !same {
                *slot = Slot::default();
            }
            let out = info(&update, &slot);
            slot.update = Some(update);
            Ok(Some(out))
        }
    }
}

/// The check at start: a newer release is announced to the page; a failure only logged.
pub fn check_at_start(handle: AppHandle, app: App) {
    if !app.settings().check_updates {
        return;
    }
    tauri::async_runtime::spawn(async move {
        match check(&handle, &app).await {
            Ok(Some(found)) => {
                tracing::info!(version = %found.version, "an update is available");
                let _ = UpdateAvailable(found).emit(&handle);
            }
            Ok(None) => tracing::info!("no update"),
            Err(e) => tracing::info!(error = %e.message, "update check failed"),
        }
    });
}

/// Rooms changed state: when installing was put off and no room is live any more, the page
/// offers it again.
pub async fn on_event(handle: &AppHandle, app: &App, ev: &AppEvent) {
    if !matches!(ev, AppEvent::RoomStatus { .. }) {
        return;
    }
    let updates = handle.state::<Updates>();
    let mut slot = updates.slot.lock().await;
    if !slot.offer_when_idle || !crate::live_rooms(app).await.is_empty() {
        return;
    }
    slot.offer_when_idle = false;
    if let Some(update) = &slot.update {
        let ready = info(update, &slot);
        drop(slot);
        crate::show_main(handle);
        let _ = UpdateReadyToInstall(ready).emit(handle);
    }
}

/// Checks for a newer release.
#[tauri::command]
#[specta::specta]
pub async fn check_update(
    handle: AppHandle,
    app: State<'_, App>,
) -> Result<Option<UpdateInfo>, UpdateError> {
    check(&handle, &app).await
}

/// The release found by the last check, if any.
#[tauri::command]
#[specta::specta]
pub async fn pending_update(
    updates: State<'_, Updates>,
) -> Result<Option<UpdateInfo>, UpdateError> {
    let slot = updates.slot.lock().await;
    Ok(slot.update.as_ref().map(|u| info(u, &slot)))
}

/// Downloads the release found by the last check and verifies its signature, reporting
/// progress on `progress`. Nothing is installed.
#[tauri::command]
#[specta::specta]
pub async fn download_update(
    updates: State<'_, Updates>,
    progress: Channel<Progress>,
) -> Result<UpdateInfo, UpdateError> {
    let update = {
        let slot = updates.slot.lock().await;
        slot.update.clone().ok_or_else(|| {
            err(
                UpdateErrorCode::NothingPending,
                "There is no update to download: check for updates first.",
            )
        })?
    };
    let endpoint = update.download_url.to_string();
    let mut received = 0u64;
    let version = update.version.clone();
    let mb = |b: u64| b as f64 / 1_048_576.0;
    let package = update
        .download(
            |chunk, total| {
                received += chunk as u64;
                let (fraction, label) = match total.filter(|t| *t > 0) {
                    Some(t) => (
                        (received as f64 / t as f64).min(1.0) as f32,
                        format!(
                            "Downloading {version}: {:.1} of {:.1} MB",
                            mb(received),
                            mb(t)
                        ),
                    ),
                    None => (
                        0.0,
                        format!("Downloading {version}: {:.1} MB", mb(received)),
                    ),
                };
                let _ = progress.send(Progress::at(fraction, label));
            },
            || {
                let _ = progress.send(Progress::at(1.0, "Verifying the signature"));
            },
        )
        .await
        .map_err(|e| explain(&e, &endpoint))?;
    tracing::info!(version = %update.version, bytes = package.len(), "update downloaded and verified");
    let mut slot = updates.slot.lock().await;
    slot.package = Some(package);
    Ok(info(&update, &slot))
}

/// Installs the downloaded release and restarts. With rooms live nothing is installed unless
/// `stop_rooms` says to stop them first; otherwise the app offers again once they stop.
#[tauri::command]
#[specta::specta]
pub async fn install_update(
    handle: AppHandle,
    app: State<'_, App>,
    updates: State<'_, Updates>,
    stop_rooms: bool,
) -> Result<InstallOutcome, UpdateError> {
    let mut slot = updates.slot.lock().await;
    let (Some(update), Some(package)) = (slot.update.clone(), slot.package.clone()) else {
        return Err(err(
            UpdateErrorCode::NothingPending,
            "There is no downloaded update to install: download it first.",
        ));
    };
    let live = crate::live_rooms(&app).await.len() as u32;
    if live > 0 && !stop_rooms {
        slot.offer_when_idle = true;
        return Ok(InstallOutcome::Deferred { live_rooms: live });
    }
    slot.offer_when_idle = false;
    drop(slot);
    crate::stop_live_rooms(&app).await.map_err(|e| {
        err(
            UpdateErrorCode::InstallFailed,
            format!("The {e}; nothing was installed."),
        )
    })?;
    let endpoint = update.download_url.to_string();
    let version = update.version.clone();
    // The package manager (and its password prompt) blocks.
    tokio::task::spawn_blocking(move || update.install(package))
        .await
        .map_err(|e| err(UpdateErrorCode::InstallFailed, e.to_string()))?
        .map_err(|e| explain(&e, &endpoint))?;
    tracing::info!(%version, "update installed: restarting");
    let restart = handle.clone();
    tauri::async_runtime::spawn(async move {
        // Let the answer reach the page first.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        restart.request_restart();
    });
    Ok(InstallOutcome::Restarting)
}

/// Puts off the offer to install until asked again.
#[tauri::command]
#[specta::specta]
pub async fn postpone_update(updates: State<'_, Updates>) -> Result<(), UpdateError> {
    updates.slot.lock().await.offer_when_idle = false;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_failures_say_nothing_was_installed() {
        let other_key = explain(
            &tauri_plugin_updater::Error::Minisign(minisign_verify::Error::UnexpectedKeyId),
            "x",
        );
        assert_eq!(other_key.code, UpdateErrorCode::BadSignature);
        assert!(other_key.message.contains("key this app does not trust"));
        let tampered = explain(
            &tauri_plugin_updater::Error::Minisign(minisign_verify::Error::InvalidSignature),
            "x",
        );
        assert!(tampered.message.contains("altered or damaged"));
        assert!(tampered.message.contains("not installed"));
        let denied = explain(&tauri_plugin_updater::Error::AuthenticationFailed, "x");
        assert_eq!(denied.code, UpdateErrorCode::NoPermission);
        assert!(denied.message.contains("administrator"));
    }
}
