//! Logging: `tracing` to stderr and to a daily file in the data dir. Request logs carry the
//! path only, never the query string, because room tokens travel there.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter};

/// Default filter when `RUST_LOG` is not set.
const DEFAULT_FILTER: &str = "info,sqlx=warn,hyper=warn,bollard=warn,tao=warn,wry=warn";

/// Keeps the file writer flushing; drop it last, at exit.
#[must_use = "dropping the guard stops the log file writer"]
pub struct LogGuard {
    _file: WorkerGuard,
}

/// Installs the global subscriber. Returns `None` when one is already installed (tests that
/// start several apps in one process), which is not an error.
pub fn init(data_dir: &Path) -> std::io::Result<Option<LogGuard>> {
    let dir = crate::paths::log_dir(data_dir);
    std::fs::create_dir_all(&dir)?;
    let appender = tracing_appender::rolling::daily(&dir, "interview-platform.log");
    let (file_writer, guard) = tracing_appender::non_blocking(appender);
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_writer(std::io::stderr))
        .with(fmt::layer().with_ansi(false).with_writer(file_writer))
        .try_init()
        .is_ok();
    Ok(installed.then_some(LogGuard { _file: guard }))
}
