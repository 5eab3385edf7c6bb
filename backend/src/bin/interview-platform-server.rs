//! `interview-platform-server`: the Interview Platform engine without a window, and the CLI
//! that drives a running instance (headless or desktop) over its admin socket.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use backend::admin::{self, AdminRequest, ClientError};
use backend::rooms::{NewRoom, RoomSummary};
use backend::tokens::{Revoke, Role, RoomLink};
use backend::{paths, App, AppOptions, EngineStatus};
use clap::{Parser, Subcommand, ValueEnum};

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
        /// A catalog file applied over the built-in languages [default: catalog.toml in the
        /// data dir]
        #[arg(long, value_name = "FILE")]
        catalog: Option<PathBuf>,
        /// The base written into room links when the server is reached through a tunnel or a
        /// proxy, e.g. https://interviews.example.com/p [default: this server's address]
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
        /// Serve every route under this prefix, e.g. /p (a proxy forwards the full path)
        #[arg(long, value_name = "PREFIX")]
        path_prefix: Option<String>,
    },
    /// Show the running instance's state.
    Status {
        /// Print one JSON value.
        #[arg(long)]
        json: bool,
    },
    /// Create, list, stop, resume and delete rooms of the running instance.
    Rooms {
        #[command(subcommand)]
        command: RoomsCommand,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Debug, Subcommand)]
enum RoomsCommand {
    /// Create a room; returns when it is ready (or exits non-zero with the reason).
    Create {
        /// The room's name.
        #[arg(long)]
        name: String,
        /// Catalog language id (python, javascript, go, …).
        #[arg(long)]
        language: String,
        /// Whether the candidate may type in the terminal.
        #[arg(long, value_enum, default_value = "on")]
        candidate_terminal: OnOff,
        /// Whether the room reaches the network (the engine's default network: what the
        /// host reaches).
        #[arg(long, value_enum, default_value = "off")]
        network: OnOff,
        /// When the room stops by itself: 90m, 2h, 1d [default: 24h]
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        time_limit: Option<u64>,
        /// Memory limit in MiB [default: 1024]
        #[arg(long, value_name = "MIB")]
        memory_mb: Option<u32>,
        /// CPU limit [default: 1]
        #[arg(long, value_name = "CPUS")]
        cpus: Option<f64>,
        /// Most processes at once [default: 512]
        #[arg(long, value_name = "N")]
        pids: Option<u32>,
        /// Print one JSON value.
        #[arg(long)]
        json: bool,
    },
    /// Give a running room a new container with the same files (for a wedged shell).
    Restart {
        /// Room id.
        id: String,
        /// Print one JSON value.
        #[arg(long)]
        json: bool,
    },
    /// Push a room's time limit.
    Extend {
        /// Room id.
        id: String,
        /// How much longer: 30m, 2h, 1d.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        by: u64,
        /// Print one JSON value.
        #[arg(long)]
        json: bool,
    },
    /// Your terminal becomes the room's shell. Detach with Ctrl-] (the room keeps running).
    Attach {
        /// Room id.
        id: String,
    },
    /// Write the room's files as a zip archive.
    Export {
        /// Room id.
        id: String,
        /// The zip file to write.
        #[arg(long, value_name = "FILE.zip")]
        output: PathBuf,
        /// Print one JSON value.
        #[arg(long)]
        json: bool,
    },
    /// List the rooms, newest first.
    List {
        /// Print one JSON value.
        #[arg(long)]
        json: bool,
    },
    /// Stop a room: its files are saved with it and its container removed.
    Stop {
        /// Room id.
        id: String,
        /// Print one JSON value.
        #[arg(long)]
        json: bool,
    },
    /// Make a new link to a room; prints the URL alone on a line. Older links stay valid.
    Link {
        /// Room id.
        id: String,
        /// Who the link is for: interviewer, candidate or observer.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// How long the link stays valid: 30m, 2h, 7d (at most 30d)
        #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "24h")]
        expires: u64,
        /// Print one JSON value: {"url", "role", "expires_at" (ms since the epoch), "id"}.
        #[arg(long)]
        json: bool,
    },
    /// The links made for a room (ids, roles, expiry; never the links themselves).
    Links {
        /// Room id.
        id: String,
        /// Print one JSON value.
        #[arg(long)]
        json: bool,
    },
    /// Revoke links of a room; browsers using them are disconnected at once.
    #[command(group = clap::ArgGroup::new("which").required(true).multiple(false))]
    Revoke {
        /// Room id.
        id: String,
        /// One link, by the id `rooms link` printed.
        #[arg(long, value_name = "LINK_ID", group = "which")]
        link: Option<String>,
        /// Every link of a role.
        #[arg(long, value_parser = parse_role, group = "which")]
        role: Option<Role>,
        /// Every link of the room.
        #[arg(long, group = "which")]
        all: bool,
        /// Print one JSON value.
        #[arg(long)]
        json: bool,
    },
    /// Give a stopped room a new container with its saved files.
    Resume {
        /// Room id.
        id: String,
        /// Print one JSON value.
        #[arg(long)]
        json: bool,
    },
    /// Delete a room with its files.
    Delete {
        /// Room id.
        id: String,
        /// Print one JSON value.
        #[arg(long)]
        json: bool,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    text.parse()
}

fn parse_duration(text: &str) -> Result<u64, String> {
    backend::events::parse_duration(text)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let data_dir = paths::resolve_data_dir(cli.data_dir);
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve {
                listen,
                catalog,
                public_url,
                path_prefix,
            } => serve(data_dir, listen, catalog, public_url, path_prefix).await,
            Command::Status { json } => status(&data_dir, json).await,
            Command::Rooms { command } => rooms(&data_dir, command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(
    data_dir: PathBuf,
    listen: SocketAddr,
    catalog: Option<PathBuf>,
    public_url: Option<String>,
    path_prefix: Option<String>,
) -> anyhow::Result<()> {
    let options = AppOptions {
        catalog_file: catalog,
        agent_dirs: Vec::new(),
        version: None,
        ..AppOptions::resolve(Some(data_dir))
    };
    let _log = backend::logging::init(&options.data_dir).with_context(|| {
        format!(
            "cannot create the log folder in {}",
            options.data_dir.display()
        )
    })?;
    let app = App::new(options).await?;
    if let Err(e) = app.set_addressing(public_url.as_deref(), path_prefix.as_deref()) {
        app.shutdown().await;
        return Err(e.into());
    }
    let started = async {
        app.open_admin_socket().await?;
        app.listen(listen).await
    }
    .await;
    app.start_background().await;
    let addr = match started {
        Ok(addr) => addr,
        Err(e) => {
            app.shutdown().await;
            return Err(e.into());
        }
    };
    let addressing = app.addressing();
    println!(
        "Interview Platform server listening on http://{addr}{}",
        addressing.path_prefix
    );
    if let Some(url) = &addressing.public_url {
        println!("Room links start with {url}");
    }
    println!("Data directory: {}", app.data_dir().display());
    for p in &app.catalog().problems {
        match p.line {
            Some(line) => println!("Catalog problem (line {line}): {}", p.message),
            None => println!("Catalog problem: {}", p.message),
        }
    }
    print_engine(&app.engine_status().await);
    shutdown_signal().await;
    app.shutdown().await;
    println!("Stopped.");
    Ok(())
}

async fn call(data_dir: &std::path::Path, req: AdminRequest) -> anyhow::Result<serde_json::Value> {
    // Progress goes to stderr, so stdout keeps exactly the command's value.
    admin::call_reporting(data_dir, &req, |line| eprintln!("  {line}"))
        .await
        .map_err(|e| match e {
            ClientError::Failed(body) => {
                anyhow::anyhow!("{} ({})", body.message, code_name(&body.code))
            }
            other => anyhow::anyhow!(other),
        })
}

fn code_name(code: &backend::ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn print_engine(engine: &EngineStatus) {
    match engine {
        EngineStatus::Ready {
            version, endpoint, ..
        } => println!("Container engine: Docker {version} at {endpoint}"),
        EngineStatus::Unreachable { reason, fix, .. } => {
            println!("Container engine: not available. {reason} {fix}")
        }
    }
}

fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string(v).unwrap_or_default());
}

fn room(v: serde_json::Value) -> anyhow::Result<RoomSummary> {
    serde_json::from_value(v).context("unreadable room from the running instance")
}

async fn status(data_dir: &std::path::Path, json: bool) -> anyhow::Result<()> {
    let v = call(data_dir, AdminRequest::Status).await?;
    if json {
        print_json(&v);
        return Ok(());
    }
    let s: admin::InstanceStatus = serde_json::from_value(v)?;
    println!("Interview Platform {} running", s.version);
    println!("Data directory: {}", s.data_dir);
    match s.room_server {
        Some(url) => println!("Room server: {url}"),
        None => println!("Room server: not listening"),
    }
    print_engine(&s.engine);
    println!("Rooms: {}", s.rooms);
    println!(
        "Containers labelled: app.interview-platform.instance={}",
        s.instance
    );
    Ok(())
}

async fn rooms(data_dir: &std::path::Path, command: RoomsCommand) -> anyhow::Result<()> {
    match command {
        RoomsCommand::Create {
            name,
            language,
            candidate_terminal,
            network,
            time_limit,
            memory_mb,
            cpus,
            pids,
            json,
        } => {
            if !json {
                eprintln!("Creating room {name:?} ({language})…");
            }
            let req = AdminRequest::CreateRoom(NewRoom {
                name,
                language,
                candidate_terminal: matches!(candidate_terminal, OnOff::On),
                network: matches!(network, OnOff::On),
                time_limit_secs: time_limit.map(|s| u32::try_from(s).unwrap_or(u32::MAX)),
                limits: backend::rooms::RoomLimits {
                    memory_mb,
                    cpus,
                    pids,
                },
                starter_files: None,
            });
            let r = room(call(data_dir, req).await?)?;
            let candidate = issue_link(data_dir, &r.id, Role::Candidate, DEFAULT_LINK).await?;
            let interviewer = issue_link(data_dir, &r.id, Role::Interviewer, DEFAULT_LINK).await?;
            if json {
                let mut v = admin::room_json(&r);
                v["links"] = serde_json::json!({
                    "candidate": candidate.url,
                    "interviewer": interviewer.url,
                });
                print_json(&v);
            } else {
                println!("Room {} is {}: {} ({})", r.id, r.status, r.name, r.language);
                println!("Candidate link:   {}", candidate.url);
                println!("Interviewer link: {}", interviewer.url);
            }
        }
        RoomsCommand::Link {
            id,
            role,
            expires,
            json,
        } => {
            let link = issue_link(data_dir, &id, role, expires).await?;
            if json {
                print_json(&serde_json::to_value(&link)?);
            } else {
                println!("{}", link.url);
            }
        }
        RoomsCommand::Links { id, json } => {
            let v = call(data_dir, AdminRequest::ListLinks { id }).await?;
            if json {
                print_json(&v);
            } else {
                let links: Vec<backend::tokens::LinkInfo> = serde_json::from_value(v)?;
                if links.is_empty() {
                    println!("No links.");
                }
                for l in links {
                    let state = match l.revoked_at {
                        Some(_) => "revoked",
                        None if l.expires_at <= backend::db::now_ms() => "expired",
                        None => "valid",
                    };
                    println!("{:<32}  {:<11}  {state}", l.id, l.role);
                }
            }
        }
        RoomsCommand::Revoke {
            id,
            link,
            role,
            all,
            json,
        } => {
            let which = match (link, role, all) {
                (Some(l), _, _) => Revoke::Link(l),
                (_, Some(r), _) => Revoke::Role(r),
                _ => Revoke::All,
            };
            let v = call(data_dir, AdminRequest::RevokeLinks { id, which }).await?;
            if json {
                print_json(&v);
            } else {
                let n = v["revoked"].as_u64().unwrap_or(0);
                println!("Revoked {n} link{}.", if n == 1 { "" } else { "s" });
            }
        }
        RoomsCommand::List { json } => {
            let v = call(data_dir, AdminRequest::ListRooms).await?;
            let list: Vec<RoomSummary> = serde_json::from_value(v)?;
            if json {
                print_json(&serde_json::Value::Array(
                    list.iter().map(admin::room_json).collect(),
                ));
            } else if list.is_empty() {
                println!("No rooms.");
            } else {
                println!("{:<32}  {:<9}  {:<11}  NAME", "ID", "STATUS", "LANGUAGE");
                for r in list {
                    println!(
                        "{:<32}  {:<9}  {:<11}  {}",
                        r.id, r.status, r.language, r.name
                    );
                }
            }
        }
        RoomsCommand::Stop { id, json } => {
            let r = room(call(data_dir, AdminRequest::StopRoom { id }).await?)?;
            report(&r, json, "stopped; its files are saved");
        }
        RoomsCommand::Resume { id, json } => {
            let r = room(call(data_dir, AdminRequest::ResumeRoom { id }).await?)?;
            report(&r, json, "running again");
        }
        RoomsCommand::Restart { id, json } => {
            let r = room(call(data_dir, AdminRequest::RestartRoom { id }).await?)?;
            report(&r, json, "running in a new container with the same files");
        }
        RoomsCommand::Extend { id, by, json } => {
            let r = room(call(data_dir, AdminRequest::ExtendRoom { id, secs: by }).await?)?;
            report(&r, json, "extended");
        }
        RoomsCommand::Attach { id } => attach(data_dir, &id).await?,
        RoomsCommand::Export { id, output, json } => {
            let output = std::path::absolute(&output)
                .with_context(|| format!("cannot use {}", output.display()))?;
            let v = call(
                data_dir,
                AdminRequest::ExportRoom {
                    id,
                    output: output.clone(),
                },
            )
            .await?;
            if json {
                print_json(&v);
            } else {
                println!("Files written to {}", output.display());
            }
        }
        RoomsCommand::Delete { id, json } => {
            let v = call(data_dir, AdminRequest::DeleteRoom { id: id.clone() }).await?;
            if json {
                print_json(&v);
            } else {
                println!("Room {id} deleted.");
            }
        }
    }
    Ok(())
}

/// How long the links `rooms create` prints stay valid.
const DEFAULT_LINK: u64 = backend::tokens::DEFAULT_LINK_SECS;

async fn issue_link(
    data_dir: &std::path::Path,
    id: &str,
    role: Role,
    secs: u64,
) -> anyhow::Result<RoomLink> {
    let v = call(
        data_dir,
        AdminRequest::IssueLink {
            id: id.to_string(),
            role,
            secs,
        },
    )
    .await?;
    Ok(serde_json::from_value(v)?)
}

/// The byte Ctrl-] sends: it detaches, as in telnet.
const DETACH_KEY: u8 = 0x1d;

/// Puts the terminal back the way it was, whatever happens.
struct RawMode;

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

async fn attach(data_dir: &std::path::Path, id: &str) -> anyhow::Result<()> {
    use base64::Engine as _;
    use std::io::{IsTerminal, Read, Write};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let b64 = base64::engine::general_purpose::STANDARD;
    let path = admin::socket_path(data_dir);
    let stream = tokio::net::UnixStream::connect(&path)
        .await
        .map_err(|_| ClientError::NotRunning(data_dir.to_path_buf()))?;
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let req = serde_json::to_string(&AdminRequest::Attach { id: id.to_string() })?;
    write.write_all(format!("{req}\n").as_bytes()).await?;
    let first = lines
        .next_line()
        .await?
        .context("the instance closed the connection")?;
    if let admin::AdminReply::Error(e) = serde_json::from_str::<admin::AdminReply>(&first)? {
        anyhow::bail!("{}", e.message);
    }
    eprintln!("Attached to room {id}. Detach with Ctrl-] (the room keeps running).\r");

    let tty = std::io::stdin().is_terminal();
    let _raw = if tty {
        crossterm::terminal::enable_raw_mode().context("cannot put the terminal in raw mode")?;
        Some(RawMode)
    } else {
        None
    };
    let send_line =
        |msg: &admin::AttachInput| format!("{}\n", serde_json::to_string(msg).unwrap_or_default());
    if let Ok((cols, rows)) = crossterm::terminal::size() {
        write
            .write_all(send_line(&admin::AttachInput::Resize { cols, rows }).as_bytes())
            .await?;
    }

    // Keystrokes come from a thread: stdin is a blocking file descriptor.
    let (keys_tx, mut keys) = tokio::sync::mpsc::channel::<Vec<u8>>(64);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 4096];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if keys_tx.blocking_send(buf[..n].to_vec()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut winch = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())?;
    let mut stdout = std::io::stdout();
    loop {
        tokio::select! {
            key = keys.recv() => {
                let Some(mut bytes) = key else { break };
                let detach = bytes.iter().position(|b| *b == DETACH_KEY);
                if let Some(at) = detach {
                    bytes.truncate(at);
                }
                if !bytes.is_empty() {
                    write.write_all(send_line(&admin::AttachInput::Input(b64.encode(&bytes))).as_bytes()).await?;
                }
                if detach.is_some() {
                    break;
                }
            }
            _ = winch.recv() => {
                if let Ok((cols, rows)) = crossterm::terminal::size() {
                    write.write_all(send_line(&admin::AttachInput::Resize { cols, rows }).as_bytes()).await?;
                }
            }
            line = lines.next_line() => {
                let Some(line) = line? else { break };
                match serde_json::from_str::<admin::AttachOutput>(&line) {
                    Ok(admin::AttachOutput::Output(data)) => {
                        stdout.write_all(&b64.decode(data.trim()).unwrap_or_default())?;
                        stdout.flush()?;
                    }
                    Ok(admin::AttachOutput::Closed(why)) => {
                        drop(_raw);
                        eprintln!("\r\n{why}");
                        return Ok(());
                    }
                    Err(_) => {}
                }
            }
        }
    }
    drop(_raw);
    eprintln!("\r\nDetached from room {id}; it keeps running.");
    Ok(())
}

fn report(r: &RoomSummary, json: bool, words: &str) {
    if json {
        print_json(&admin::room_json(r));
    } else {
        println!("Room {} is {words}.", r.id);
    }
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
