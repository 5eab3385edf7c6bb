//! The HTTP side of the room server: health check and the browser room page with its assets,
//! all embedded in the binary. No admin action has an HTTP route: those go over IPC or the
//! owner-only admin socket, so exposing this port through a tunnel exposes rooms only.

use axum::extract::{Path, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rust_embed::RustEmbed;
use serde::Serialize;

/// The UI's build output: the room page and the hashed assets it loads.
#[derive(RustEmbed)]
#[folder = "../ui/dist/"]
#[include = "room.html"]
#[include = "assets/*"]
struct RoomAssets;

/// Content-Security-Policy of the room page: everything from our own origin, WebSockets back
/// to it, no framing by other sites.
const ROOM_CSP: &str = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; \
                        style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

/// The body of `/healthz`.
#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
}

/// The router of the room server: every route under `prefix` (`""` or `/p`), since a proxy
/// forwards the full path.
pub fn router(app: crate::App, prefix: &str) -> Router {
    let routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/r/{room}", get(room_page))
        // The editor and terminal make the page's script large: compress it for tunnels.
        .route(
            "/r/assets/{*file}",
            get(asset).layer(tower_http::compression::CompressionLayer::new()),
        )
        .route("/yjs/{room}", get(crate::live::yjs::socket))
        .route("/room/{room}", get(crate::live::channel::socket))
        .with_state(app);
    let routes = if prefix.is_empty() {
        routes
    } else {
        Router::new().nest(prefix, routes)
    };
    routes
        .fallback(not_found)
        .layer(middleware::from_fn(log_request))
}

async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: crate::VERSION,
    })
}

/// The room page is the same for every room: it reads the room from its path and the token
/// from the URL fragment, which browsers never send to the server.
async fn room_page(Path(_room): Path<String>) -> Response {
    let Some(page) = RoomAssets::get("room.html") else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "room page missing from this build",
        )
            .into_response();
    };
    let mut res = page.data.into_owned().into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(ROOM_CSP),
    );
    res
}

async fn asset(Path(file): Path<String>) -> Response {
    let Some(content) = RoomAssets::get(&format!("assets/{file}")) else {
        return not_found().await.into_response();
    };
    let mime = mime_guess::from_path(&file).first_or_octet_stream();
    let mut res = content.data.into_owned().into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
        h.insert(header::CONTENT_TYPE, v);
    }
    // Asset names carry a content hash.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        "Not found. Room links look like /r/ROOM#KEY.\n",
    )
}

/// Logs method, path and status. Only the path: query strings may carry room tokens.
async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let res = next.run(req).await;
    tracing::debug!(%method, %path, status = res.status().as_u16(), "http");
    res
}
