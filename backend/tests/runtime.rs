//! Room containers on the real engine: the hardened configuration read back from the engine,
//! the agent delivered through a volume, and the backend talking to it over the attach stream.
//! Needs the offline busybox image and the static agent (the README's test command provides
//! both).

use std::time::{Duration, Instant};

mod common;

use backend::engine::Engine;
use backend::runtime::{DockerRuntime, RoomContainerSpec};
use insider::protocol::{ErrorCode, Event, Request};
use serde_bytes::ByteBuf;
use tokio::sync::mpsc::Receiver;

/// A runtime with an instance id of its own, and the guard that removes what it leaves.
async fn runtime() -> (DockerRuntime, common::Sweep) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let instance = format!("test-{}-{n}", std::process::id());
    let docker = Engine::new(None).client().await.expect("engine reachable");
    (
        DockerRuntime::new(docker, instance.clone()),
        common::Sweep::new(instance),
    )
}

fn agent_binary() -> Vec<u8> {
    std::fs::read(
        backend::agent::AgentFinder::from_env(vec![])
            .locate(std::env::consts::ARCH)
            .expect("the static agent is built"),
    )
    .unwrap()
}

fn room_id() -> String {
    format!(
        "t{}{:x}",
        std::process::id(),
        Instant::now().elapsed().as_nanos() ^ rand_u32()
    )
}

fn rand_u32() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u128
}

/// Terminal output until it contains `needle`.
async fn output_until(events: &mut Receiver<Event>, needle: &str) -> String {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(Event::PtyOutput { data })) => {
                seen.extend_from_slice(&data);
                let text = String::from_utf8_lossy(&seen);
                if text.contains(needle) {
                    return text.into_owned();
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => panic!(
                "the agent link closed; saw {:?}",
                String::from_utf8_lossy(&seen)
            ),
            Err(_) => panic!(
                "{needle:?} never appeared; saw {:?}",
                String::from_utf8_lossy(&seen)
            ),
        }
    }
}

async fn type_line(link: &backend::runtime::AgentLink, line: &str) {
    link.send(Request::PtyInput {
        data: ByteBuf::from(format!("{line}\r").into_bytes()),
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_hardened_room_runs_the_agent_and_the_backend_talks_to_it() {
    let (rt, _sweep) = runtime().await;
    let volume = rt
        .ensure_agent_volume(&agent_binary(), common::BUSYBOX)
        .await
        .expect("agent volume");
    let spec = RoomContainerSpec::new(room_id(), common::BUSYBOX);
    let result = async {
        let name = rt.create_container(&spec, &volume).await.expect("create");
        let (link, mut events) = rt.attach(&name).await.expect("attach");
        rt.start(&name).await.expect("start");

        match link
            .request(Request::Hello {
                protocol: insider::PROTOCOL_VERSION,
            })
            .await
            .unwrap()
        {
            Event::Hello { version, .. } => assert_eq!(version, insider::VERSION),
            other => panic!("{other:?}"),
        }

        // The room's user, its writable places, and what it cannot touch.
        type_line(&link, "echo uid=$(id -u) home=$HOME pwd=$(pwd)").await;
        output_until(&mut events, "uid=1000 home=/home/candidate pwd=/interview").await;
        type_line(
            &link,
            "touch /etc/x 2>&1 | grep -o 'Read-only file system'; echo rootfs-$((0+1))",
        )
        .await;
        let out = output_until(&mut events, "rootfs-1").await;
        assert!(out.contains("Read-only file system"), "{out}");
        type_line(
            &link,
            "echo ok > ~/h && echo ok > /tmp/t && echo writable-$(cat ~/h)-$(cat /tmp/t)",
        )
        .await;
        output_until(&mut events, "writable-ok-ok").await;
        // Network off: only the loopback interface.
        type_line(
            &link,
            "echo ifaces: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ')",
        )
        .await;
        let out = output_until(&mut events, "ifaces: lo").await;
        assert!(out.contains("ifaces: lo\r\n"), "{out}");

        // Files written through the agent are seen by the shell, and the reverse.
        assert_eq!(
            link.request(Request::Write {
                path: "main.py".into(),
                data: ByteBuf::from(b"print(42)\n".to_vec()),
                create_only: false
            })
            .await
            .unwrap(),
            Event::Done
        );
        type_line(&link, "cat main.py; echo from-shell > out.txt").await;
        output_until(&mut events, "print(42)").await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match link
                .request(Request::Read {
                    path: "out.txt".into(),
                })
                .await
            {
                Ok(Event::File { data }) if data.as_slice() == b"from-shell\n" => break,
                _ if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                other => panic!("{other:?}"),
            }
        }
        match link
            .request(Request::Read {
                path: "../etc/passwd".into(),
            })
            .await
        {
            Err(backend::runtime::LinkError::Agent { code, .. }) => {
                assert_eq!(code, ErrorCode::PathOutside)
            }
            other => panic!("{other:?}"),
        }

        // The hardened defaults, as the engine reports them.
        let inspect = rt.docker().inspect_container(&name, None).await.unwrap();
        let host = inspect.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.memory, Some(1 << 30));
        assert_eq!(host.memory_swap, Some(1 << 30));
        assert_eq!(host.nano_cpus, Some(1_000_000_000));
        assert_eq!(host.pids_limit, Some(512));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert!(host.cap_add.unwrap_or_default().is_empty());
        assert_eq!(
            host.security_opt,
            Some(vec!["no-new-privileges".to_string()])
        );
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.init, Some(true));
        assert_eq!(host.privileged, Some(false));
        assert_eq!(host.log_config.unwrap().typ.as_deref(), Some("none"));
        assert!(
            host.binds.unwrap_or_default().is_empty(),
            "no host directory inside"
        );
        let mounts = host.mounts.unwrap();
        assert!(mounts
            .iter()
            .all(|m| m.typ == Some(bollard::models::MountType::VOLUME)));
        assert!(mounts
            .iter()
            .any(|m| m.target.as_deref() == Some("/interview") && m.read_only != Some(true)));
        assert!(mounts
            .iter()
            .any(|m| m.target.as_deref() == Some("/opt/interview-platform")
                && m.read_only == Some(true)));
        let tmp = host.tmpfs.unwrap();
        assert!(tmp["/tmp"].contains("exec") && tmp["/tmp"].contains("size="));
        let config = inspect.config.unwrap();
        assert_eq!(config.user.as_deref(), Some("1000:1000"));
        assert_eq!(config.open_stdin, Some(true));
        assert_eq!(config.stdin_once, Some(false));
        assert_eq!(config.tty, Some(false));
        let labels = config.labels.unwrap();
        assert_eq!(
            labels.get("app.interview-platform.room"),
            Some(&spec.room_id)
        );
        assert!(labels.contains_key("app.interview-platform.instance"));
        assert!(config
            .healthcheck
            .unwrap()
            .test
            .unwrap()
            .contains(&"--health".to_string()));
        let mounts_rt = inspect.mounts.unwrap_or_default();
        assert!(!mounts_rt.iter().any(|m| m
            .source
            .as_deref()
            .is_some_and(|s| s.contains("docker.sock"))));
    }
    .await;
    rt.remove(&spec, true).await.expect("cleanup");
    result
}

#[tokio::test]
async fn the_agent_volume_is_filled_once_even_when_raced() {
    let (rt, _sweep) = runtime().await;
    // A binary of our own (the agent plus a marker) so this test owns a fresh volume.
    let mut binary = agent_binary();
    binary.extend_from_slice(format!("race-{}", room_id()).as_bytes());
    let (a, b) = tokio::join!(
        rt.ensure_agent_volume(&binary, common::BUSYBOX),
        rt.ensure_agent_volume(&binary, common::BUSYBOX)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b);
    // A third call finds it ready.
    assert_eq!(
        rt.ensure_agent_volume(&binary, common::BUSYBOX)
            .await
            .unwrap(),
        a
    );
    let _ = rt
        .docker()
        .remove_volume(&a, None::<bollard::query_parameters::RemoveVolumeOptions>)
        .await;
}

#[tokio::test]
async fn garbage_on_the_attach_stream_does_not_kill_the_agent() {
    use tokio::io::AsyncWriteExt;
    let (rt, _sweep) = runtime().await;
    let volume = rt
        .ensure_agent_volume(&agent_binary(), common::BUSYBOX)
        .await
        .unwrap();
    let spec = RoomContainerSpec::new(room_id(), common::BUSYBOX);
    let result = async {
        let name = rt.create_container(&spec, &volume).await.unwrap();
        // A raw attach, to write bytes no well-behaved client would.
        let raw = rt
            .docker()
            .attach_container(
                &name,
                Some(
                    bollard::query_parameters::AttachContainerOptionsBuilder::new()
                        .stdin(true)
                        .stream(true)
                        .build(),
                ),
            )
            .await
            .unwrap();
        let (link, _events) = rt.attach(&name).await.unwrap();
        rt.start(&name).await.unwrap();
        let mut input = raw.input;
        input
            .write_all(b"\xf8IP\xf9\xff\xff\xff\xffgarbage garbage\x00\x01")
            .await
            .unwrap();
        let mut big = insider::frame::MARKER.to_vec();
        big.extend_from_slice(&u32::MAX.to_be_bytes());
        input.write_all(&big).await.unwrap();
        input.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(link.request(Request::Ping).await.unwrap(), Event::Pong);
    }
    .await;
    rt.remove(&spec, true).await.unwrap();
    result
}

#[tokio::test]
async fn a_network_on_room_uses_the_engines_default_network() {
    // Read back from the engine only: nothing sends traffic to a container address.
    let (rt, _sweep) = runtime().await;
    let volume = rt
        .ensure_agent_volume(&agent_binary(), common::BUSYBOX)
        .await
        .unwrap();
    let mut spec = RoomContainerSpec::new(room_id(), common::BUSYBOX);
    spec.network = true;
    let result = async {
        let name = rt.create_container(&spec, &volume).await.unwrap();
        let inspect = rt.docker().inspect_container(&name, None).await.unwrap();
        assert_eq!(
            inspect.host_config.unwrap().network_mode.as_deref(),
            Some("default")
        );
        assert_ne!(inspect.config.unwrap().network_disabled, Some(true));
    }
    .await;
    rt.remove(&spec, true).await.unwrap();
    result
}
