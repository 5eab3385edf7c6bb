//! The container engine, for real: these tests need a running Docker engine, the offline
//! test images (`scripts/build-test-images.sh`) and the static agent
//! (`scripts/build-insider.sh`). The README's test command provides all three.

use std::process::Command;
use std::time::Duration;

use backend::engine::Engine;
use backend::EngineStatus;
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder,
    UploadToContainerOptionsBuilder, WaitContainerOptions,
};
use futures_util::StreamExt;

/// The busybox image imported without a registry by `scripts/build-test-images.sh`.
const BUSYBOX: &str = "interview-platform-test/busybox:latest";

fn docker_cli_server_version() -> String {
    let out = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .expect("the docker CLI runs");
    assert!(
        out.status.success(),
        "no engine answers the docker CLI: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn status_reports_the_engines_own_version() {
    let want = docker_cli_server_version();
    match Engine::new(None).status().await {
        EngineStatus::Ready {
            version,
            api_version,
            os,
            arch,
            ..
        } => {
            assert_eq!(version, want);
            assert!(!api_version.is_empty());
            assert_eq!(os, "linux");
            assert_eq!(arch, std::env::consts::ARCH);
        }
        other => panic!("engine not ready: {other:?}"),
    }
}

#[tokio::test]
async fn nothing_listening_is_a_clear_error_not_a_hang() {
    let status = tokio::time::timeout(
        Duration::from_secs(10),
        Engine::new(Some("tcp://127.0.0.1:1".into())).status(),
    )
    .await
    .expect("the status check returns");
    match status {
        EngineStatus::Unreachable {
            endpoint,
            reason,
            fix,
        } => {
            assert_eq!(endpoint, "tcp://127.0.0.1:1");
            assert!(reason.contains("127.0.0.1:1"), "{reason}");
            assert!(reason.contains("Nothing answers"), "{reason}");
            assert!(fix.contains("DOCKER_HOST"), "{fix}");
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_socket_says_the_engine_is_not_running() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("docker.sock");
    let status = Engine::new(Some(format!("unix://{}", sock.display())))
        .status()
        .await;
    match status {
        EngineStatus::Unreachable { reason, fix, .. } => {
            assert!(reason.contains(&sock.display().to_string()), "{reason}");
            assert!(reason.contains("not running"), "{reason}");
            assert!(fix.contains("start"), "{fix}");
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn an_engine_that_never_answers_times_out_with_words() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    // Accept and hold connections without ever answering.
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            held.push(sock);
        }
    });
    let status = tokio::time::timeout(
        Duration::from_secs(15),
        Engine::new(Some(format!("tcp://{addr}"))).status(),
    )
    .await
    .expect("the status check gives up by itself");
    holder.abort();
    match status {
        EngineStatus::Unreachable { reason, .. } => {
            assert!(reason.contains("did not answer"), "{reason}")
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
}

/// A tar archive holding one executable file.
fn tar_with(name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o755);
    header.set_cksum();
    builder.append_data(&mut header, name, bytes).unwrap();
    builder.into_inner().unwrap()
}

#[tokio::test]
async fn the_static_agent_runs_in_an_offline_busybox_image() {
    let insider = backend::agent::AgentFinder::from_env(vec![])
        .locate(std::env::consts::ARCH)
        .expect("the static agent is built");
    let bytes = std::fs::read(&insider).unwrap();
    let docker = Engine::new(None).client().await.expect("engine reachable");
    docker
        .inspect_image(BUSYBOX)
        .await
        .unwrap_or_else(|e| panic!("{BUSYBOX} missing ({e}): run scripts/build-test-images.sh"));

    let name = format!("ip-test-insider-{}", std::process::id());
    let config = bollard::models::ContainerCreateBody {
        image: Some(BUSYBOX.into()),
        cmd: Some(vec!["/insider".into(), "--version".into()]),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        network_disabled: Some(true),
        host_config: Some(bollard::models::HostConfig {
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    docker
        .create_container(
            Some(CreateContainerOptionsBuilder::new().name(&name).build()),
            config,
        )
        .await
        .unwrap();

    let run = async {
        docker
            .upload_to_container(
                &name,
                Some(UploadToContainerOptionsBuilder::new().path("/").build()),
                bollard::body_full(tar_with("insider", &bytes).into()),
            )
            .await?;
        // Attach before start so no output is missed.
        let mut attached = docker
            .attach_container(
                &name,
                Some(
                    AttachContainerOptionsBuilder::new()
                        .stdout(true)
                        .stderr(true)
                        .stream(true)
                        .build(),
                ),
            )
            .await?;
        docker
            .start_container(
                &name,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await?;
        let mut out = String::new();
        while let Some(chunk) = attached.output.next().await {
            out.push_str(&chunk?.to_string());
        }
        let mut wait = docker.wait_container(&name, None::<WaitContainerOptions>);
        let code = match wait.next().await {
            Some(Ok(r)) => r.status_code,
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
            Some(Err(e)) => return Err(e),
            None => -1,
        };
        Ok::<_, bollard::errors::Error>((out, code))
    };
    let outcome = tokio::time::timeout(Duration::from_secs(60), run).await;
    let _ = docker
        .remove_container(
            &name,
            Some(RemoveContainerOptionsBuilder::new().force(true).build()),
        )
        .await;
    let (out, code) = outcome
        .expect("the container finishes")
        .expect("docker calls succeed");
    assert_eq!(code, 0, "insider --version failed: {out}");
    assert_eq!(out.trim(), insider::version_line());
}
