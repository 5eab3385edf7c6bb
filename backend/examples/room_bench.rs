//! Room benchmark: prints figures, side by side with a baseline measured in the same run.
//!
//!   cargo run --release -p backend --example room_bench -- [RUNS] [IMAGE]
//!
//! - room ready: create → the room's first shell byte at the backend, against a plain
//!   create + attach + start of the same image until its first output byte;
//! - terminal bulk output through the agent (PTY, frames) against the same bytes written to
//!   a plain container's attach stream;
//! - echo latency of one keystroke through the agent against a `cat` round trip through a
//!   plain attach.

use std::time::{Duration, Instant};

use backend::engine::Engine;
use backend::rooms::NewRoom;
use backend::{App, AppOptions};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures_util::StreamExt;
use insider::protocol::{Event, Request};
use serde_bytes::ByteBuf;
use tokio::io::AsyncWriteExt;

const BULK_MIB: usize = 32;

fn pct(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i.min(samples.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(15);
    let image = args
        .next()
        .unwrap_or_else(|| "interview-platform-test/busybox:latest".into());
    let dir = tempfile::tempdir()?;
    let catalog = dir.path().join("catalog.toml");
    std::fs::write(
        &catalog,
        format!("[languages.bench]\nimage = \"{image}\"\nrun = \"true\"\n"),
    )?;
    let app = App::new(AppOptions {
        data_dir: dir.path().join("data"),
        engine_endpoint: None,
        catalog_file: Some(catalog),
        agent_dirs: Vec::new(),
        version: None,
    })
    .await?;
    let docker = Engine::new(None).client().await?;

    // Warm both paths once (agent volume, image layers).
    let warm = app.create_room(new_room()).await?;
    app.delete_room(&warm.id).await?;
    plain_ready(&docker, &image).await?;

    let mut room_ready = Vec::new();
    let mut plain = Vec::new();
    for _ in 0..runs {
        let t0 = Instant::now();
        let room = app.create_room(new_room()).await?;
        let (link, _) = app.room_agent(&room.id).await?;
        // The shell's first byte (its prompt) is in the agent's scrollback once it arrived.
        loop {
            if let Event::Snapshot { scrollback, .. } = link.request(Request::Snapshot).await? {
                if !scrollback.is_empty() {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        room_ready.push(ms(t0.elapsed()));
        app.delete_room(&room.id).await?;
        plain.push(plain_ready(&docker, &image).await?);
    }

    println!("Room ready: create -> first shell byte at the backend ({runs} runs, image {image})");
    println!("  {:<34} {:>9} {:>9}", "", "p50 ms", "p95 ms");
    let (rp50, rp95) = (pct(&mut room_ready, 0.5), pct(&mut room_ready, 0.95));
    let (pp50, pp95) = (pct(&mut plain, 0.5), pct(&mut plain, 0.95));
    println!(
        "  {:<34} {:>9.1} {:>9.1}",
        "room (agent, hardened)", rp50, rp95
    );
    println!(
        "  {:<34} {:>9.1} {:>9.1}",
        "baseline: create+attach+start", pp50, pp95
    );
    println!("  {:<34} {:>9.2}x", "ratio p50", rp50 / pp50);

    // Terminal throughput and echo.
    let room = app.create_room(new_room()).await?;
    let (link, mut events) = app.room_agent(&room.id).await?;
    let cmd = format!(
        "head -c {}m /dev/zero | tr '\\0' a; echo; echo bulk-$((1+1))-done\r",
        BULK_MIB
    );
    let t0 = Instant::now();
    link.send(Request::PtyInput {
        data: ByteBuf::from(cmd.into_bytes()),
    })
    .await?;
    let mut got = 0usize;
    let mut tail = String::new();
    loop {
        match events.recv().await {
            Ok(Event::PtyOutput { data }) => {
                got += data.len();
                tail.push_str(&String::from_utf8_lossy(
                    &data[data.len().saturating_sub(64)..],
                ));
                if tail.contains("bulk-2-done") {
                    break;
                }
                let keep = tail.len().saturating_sub(64);
                tail.drain(..keep);
            }
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(e) => anyhow::bail!("terminal stream ended: {e}"),
        }
    }
    let agent_mbs = got as f64 / 1e6 / t0.elapsed().as_secs_f64();
    let plain_mbs = plain_bulk(&docker, &image).await?;

    let mut agent_echo = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        link.send(Request::PtyInput {
            data: ByteBuf::from(b"x".to_vec()),
        })
        .await?;
        loop {
            match events.recv().await {
                Ok(Event::PtyOutput { data }) if data.contains(&b'x') => break,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => anyhow::bail!("terminal stream ended: {e}"),
            }
        }
        agent_echo.push(ms(t.elapsed()));
    }
    link.send(Request::PtyInput {
        data: ByteBuf::from(b"\x15".to_vec()),
    })
    .await?;
    let mut plain_echo = plain_echo(&docker, &image, 200).await?;
    app.delete_room(&room.id).await?;
    app.shutdown().await;

    println!();
    println!("Terminal bulk output ({BULK_MIB} MiB)");
    println!(
        "  {:<34} {:>9.1} MB/s",
        "room: PTY -> agent -> backend", agent_mbs
    );
    println!(
        "  {:<34} {:>9.1} MB/s",
        "baseline: plain attach stdout", plain_mbs
    );
    println!();
    println!("Keystroke echo (200 keys)");
    println!("  {:<34} {:>9} {:>9}", "", "p50 ms", "p99 ms");
    println!(
        "  {:<34} {:>9.3} {:>9.3}",
        "room: agent PTY echo",
        pct(&mut agent_echo, 0.5),
        pct(&mut agent_echo, 0.99)
    );
    println!(
        "  {:<34} {:>9.3} {:>9.3}",
        "baseline: cat over plain attach",
        pct(&mut plain_echo, 0.5),
        pct(&mut plain_echo, 0.99)
    );
    Ok(())
}

fn new_room() -> NewRoom {
    NewRoom {
        name: "bench".into(),
        language: "bench".into(),
        candidate_terminal: true,
        network: false,
        time_limit_secs: None,
        limits: Default::default(),
        starter_files: None,
    }
}

async fn plain_container(
    docker: &bollard::Docker,
    image: &str,
    cmd: &[&str],
) -> anyhow::Result<String> {
    let name = format!("interview-platform-bench-{}", backend::rooms::new_id());
    docker
        .create_container(
            Some(CreateContainerOptionsBuilder::new().name(&name).build()),
            ContainerCreateBody {
                image: Some(image.into()),
                cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                open_stdin: Some(true),
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                host_config: Some(HostConfig {
                    network_mode: Some("none".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await?;
    Ok(name)
}

async fn remove(docker: &bollard::Docker, name: &str) {
    let _ = docker
        .remove_container(
            name,
            Some(RemoveContainerOptionsBuilder::new().force(true).build()),
        )
        .await;
}

/// Attaches to a plain container's stdout (and stdin when asked), then starts it.
async fn attach_and_start(
    docker: &bollard::Docker,
    name: &str,
    stdin: bool,
) -> anyhow::Result<bollard::container::AttachContainerResults> {
    let att = docker
        .attach_container(
            name,
            Some(
                AttachContainerOptionsBuilder::new()
                    .stdin(stdin)
                    .stdout(true)
                    .stream(true)
                    .build(),
            ),
        )
        .await?;
    docker
        .start_container(
            name,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await?;
    Ok(att)
}

/// Plain create + attach + start until the first output byte, in ms.
async fn plain_ready(docker: &bollard::Docker, image: &str) -> anyhow::Result<f64> {
    let t0 = Instant::now();
    let name = plain_container(docker, image, &["sh", "-c", "echo x; sleep 3600"]).await?;
    let mut att = attach_and_start(docker, &name, false).await?;
    let _ = att.output.next().await;
    let took = ms(t0.elapsed());
    remove(docker, &name).await;
    Ok(took)
}

/// The same bytes through a plain attach, in MB/s.
async fn plain_bulk(docker: &bollard::Docker, image: &str) -> anyhow::Result<f64> {
    let script = format!("sleep 0.5; head -c {BULK_MIB}m /dev/zero | tr '\\0' a");
    let name = plain_container(docker, image, &["sh", "-c", &script]).await?;
    let mut att = attach_and_start(docker, &name, false).await?;
    let mut got = 0usize;
    let mut t0 = None;
    while let Some(chunk) = att.output.next().await {
        let bytes = chunk?.into_bytes();
        t0.get_or_insert_with(Instant::now);
        got += bytes.len();
    }
    let secs = t0.map(|t| t.elapsed().as_secs_f64()).unwrap_or(1.0);
    remove(docker, &name).await;
    Ok(got as f64 / 1e6 / secs)
}

/// One byte to `cat` and back through a plain attach, `n` times, in ms.
async fn plain_echo(docker: &bollard::Docker, image: &str, n: usize) -> anyhow::Result<Vec<f64>> {
    let name = plain_container(docker, image, &["cat"]).await?;
    let mut att = attach_and_start(docker, &name, true).await?;
    let mut out = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        att.input.write_all(b"x").await?;
        att.input.flush().await?;
        let _ = att.output.next().await;
        out.push(ms(t.elapsed()));
    }
    remove(docker, &name).await;
    Ok(out)
}
