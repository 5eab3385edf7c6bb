//! `interview-platform-server`: the Interview Platform engine without a window.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use backend::{paths, App, AppOptions, EngineStatus};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "interview-platform-server",
    version,
    about = "Interview Platform without a window: serves interview rooms from this machine."
)]
struct Cli {
    /// Where the app keeps its database, keys and logs [default: the OS data dir]
    #[arg(long, global = true, env = paths::DATA_DIR_ENV, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve rooms until Ctrl-C or SIGTERM.
    Serve {
        /// Address and port to listen on. Loopback by default; the port is fixed so links
        /// stay valid across restarts.
        #[arg(long, value_name = "ADDR:PORT", default_value_t = paths::DEFAULT_LISTEN)]
        listen: SocketAddr,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        match cli.command {
            Command::Serve { listen } => serve(cli.data_dir, listen).await,
        }
    })
}

async fn serve(data_dir: Option<PathBuf>, listen: SocketAddr) -> anyhow::Result<()> {
    let options = AppOptions::resolve(data_dir);
    let _log = backend::logging::init(&options.data_dir).with_context(|| {
        format!(
            "cannot create the log folder in {}",
            options.data_dir.display()
        )
    })?;
    let app = App::new(options).await?;
    let addr = match app.listen(listen).await {
        Ok(addr) => addr,
        Err(e) => {
            app.shutdown().await;
            return Err(e.into());
        }
    };
    println!("Interview Platform server listening on http://{addr}");
    println!("Data directory: {}", app.data_dir().display());
    match app.engine_status().await {
        EngineStatus::Ready {
            version, endpoint, ..
        } => println!("Container engine: Docker {version} at {endpoint}"),
        EngineStatus::Unreachable { reason, fix, .. } => {
            println!("Container engine: not available. {reason} {fix}")
        }
    }
    shutdown_signal().await;
    app.shutdown().await;
    println!("Stopped.");
    Ok(())
}

/// Resolves on Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
