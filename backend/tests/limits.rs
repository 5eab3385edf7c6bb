//! A room's limits, enforced by the engine: a fork bomb or a memory hog in one room leaves
//! the host and the other rooms alive. Liveness checks with generous deadlines, not timings.

use std::time::Duration;

mod common;

use backend::rooms::NewRoom;
use backend::App;
use insider::protocol::{Event, Request};
use serde_bytes::ByteBuf;

const CATALOG: &str = common::BASH_CATALOG;

async fn app(dir: &tempfile::TempDir) -> common::TestApp {
    common::app_with_catalog(dir, CATALOG).await
}

fn room(name: &str) -> NewRoom {
    common::new_room(name, "bash")
}

async fn type_line(app: &App, room: &str, line: &str) {
    let (link, _) = app.room_agent(room).await.unwrap();
    link.send(Request::PtyInput {
        data: ByteBuf::from(format!("{line}\r").into_bytes()),
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_fork_bomb_leaves_the_host_and_other_rooms_alive() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let bomb = app.create_room(room("bomb")).await.unwrap();
    let calm = app.create_room(room("calm")).await.unwrap();

    type_line(&app, &bomb.id, "b(){ b|b& }; b").await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The other room still runs commands.
    common::run_and_see(&app, &calm.id, "echo calm-$((20+1))", "calm-21").await;
    // The host still answers: the engine, and this process.
    let docker = backend::engine::Engine::new(None).client().await.unwrap();
    tokio::time::timeout(Duration::from_secs(60), docker.version())
        .await
        .expect("engine answers")
        .unwrap();
    // The bombed room can be restarted into a working shell.
    tokio::time::timeout(Duration::from_secs(120), app.restart_room(&bomb.id))
        .await
        .expect("restart finishes")
        .unwrap();
    common::run_and_see(&app, &bomb.id, "echo alive-$((1+1))", "alive-2").await;

    app.delete_room(&bomb.id).await.unwrap();
    app.delete_room(&calm.id).await.unwrap();
    app.shutdown().await;
}

#[tokio::test]
async fn a_memory_hog_is_killed_and_the_room_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    app.start_background().await;
    let hog = app.create_room(room("hog")).await.unwrap();
    let mut app_events = app.subscribe();
    let (link, mut term) = app.room_agent(&hog.id).await.unwrap();
    // `tail` keeps a line without newlines in memory: 2 GiB is over the 1 GiB limit.
    link.send(Request::PtyInput {
        data: ByteBuf::from(
            b"head -c 2000m /dev/zero | tail -n 1 >/dev/null; echo hog-exit=$?\r".to_vec(),
        ),
    })
    .await
    .unwrap();
    // Either the kernel kills the hog alone (the shell reports 137) or the whole container,
    // which the app then starts again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut seen = String::new();
    let mut restarted = false;
    loop {
        tokio::select! {
            ev = term.recv() => match ev {
                Ok(Event::PtyOutput { data }) => {
                    seen.push_str(&String::from_utf8_lossy(&data));
                    // The typed line shows `hog-exit=$?`; the shell's answer carries digits.
                    let code = seen
                        .split("hog-exit=")
                        .skip(1)
                        .map(|rest| rest.chars().take_while(|c| c.is_ascii_digit()).collect::<String>())
                        .find(|digits| !digits.is_empty());
                    if let Some(code) = code {
                        assert_eq!(code, "137", "the hog was killed, not finished: {seen}");
                        break;
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => {}
            },
            ev = app_events.recv() => {
                if let Ok(backend::events::AppEvent::RoomStatus { room, status, .. }) = ev {
                    if room == hog.id && status == "ready" {
                        restarted = true;
                        break;
                    }
                }
            }
            _ = tokio::time::sleep_until(deadline) => panic!("the hog was not stopped: {seen}"),
        }
    }
    // Either way the room answers.
    let alive = common::run_and_see(&app, &hog.id, "echo back-$((3+4))", "back-7").await;
    assert!(alive.contains("back-7"), "restarted={restarted}");
    app.delete_room(&hog.id).await.unwrap();
    app.shutdown().await;
}
