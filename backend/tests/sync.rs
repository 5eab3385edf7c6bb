//! The room's document and its files stay in step both ways, on the real engine: starter
//! files are in the document as soon as the room is ready; edits reach the files; files
//! written, created or deleted inside the container reach the document without losing what
//! someone is typing; after the app was away, the side that changed wins.

use std::time::Duration;

mod common;

use backend::tokens::Role;
use common::ws::YClient;
use insider::protocol::{Event, Request};

const CATALOG: &str = r#"
[languages.bash]
image = "interview-platform-test/busybox:latest"
run = "sh main.sh"
starter = [{ path = "main.sh", content = "echo starter\n" }, { path = "lib/util.sh", content = "true\n" }]
"#;

async fn disk(app: &backend::App, room: &str, path: &str) -> Option<String> {
    let (link, _) = app.room_agent(room).await.unwrap();
    match link.request(Request::Read { path: path.into() }).await {
        Ok(Event::File { data }) => Some(String::from_utf8(data.into_vec()).unwrap()),
        _ => None,
    }
}

async fn eventually_on_disk(app: &backend::App, room: &str, path: &str, want: Option<&str>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let have = disk(app, room, path).await;
        if have.as_deref() == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} on disk is {have:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn document_and_files_stay_in_step_both_ways() {
    let s = common::served(CATALOG, "").await;
    let url = s.yjs_url(&s.room, &s.token(Role::Candidate).await);
    let mut a = YClient::join(&url).await;
    // Starter files are there from the start, folders included.
    a.pump_until(
        |c| {
            c.file("main.sh").as_deref() == Some("echo starter\n")
                && c.file("lib/util.sh").is_some()
        },
        false,
    )
    .await;

    // An edit in the document reaches the file.
    a.type_text("main.sh", "echo typed\n").await;
    eventually_on_disk(
        &s.app,
        &s.room,
        "main.sh",
        Some("echo starter\necho typed\n"),
    )
    .await;
    // A new file in the document becomes a file.
    a.type_text("notes/plan.md", "# plan\n").await;
    eventually_on_disk(&s.app, &s.room, "notes/plan.md", Some("# plan\n")).await;

    // A program in the room writes files: they reach the document.
    common::run_and_see(
        &s.app,
        &s.room,
        "mkdir -p out && echo generated > out/gen.txt && echo w-$((3+4))",
        "w-7",
    )
    .await;
    a.pump_until(
        |c| c.file("out/gen.txt").as_deref() == Some("generated\n"),
        false,
    )
    .await;
    // Binary files stay out of the document.
    common::run_and_see(
        &s.app,
        &s.room,
        "printf '\\000\\001' > blob.bin; echo b-$((1+1))",
        "b-2",
    )
    .await;

    // Someone types at the top while a program appends at the end: both survive.
    a.type_text_at("main.sh", 0, "# top\n").await;
    common::run_and_see(
        &s.app,
        &s.room,
        "echo 'echo tail' >> main.sh; echo t-$((2+2))",
        "t-4",
    )
    .await;
    a.pump_until(
        |c| c.file("main.sh").as_deref() == Some("# top\necho starter\necho typed\necho tail\n"),
        false,
    )
    .await;
    eventually_on_disk(
        &s.app,
        &s.room,
        "main.sh",
        Some("# top\necho starter\necho typed\necho tail\n"),
    )
    .await;
    assert!(
        a.file("blob.bin").is_none(),
        "binary files are not in the document"
    );

    // Deleted in the container: gone from the document. Deleted in the document: gone from disk.
    common::run_and_see(&s.app, &s.room, "rm out/gen.txt; echo d-$((4+4))", "d-8").await;
    a.pump_until(|c| c.file("out/gen.txt").is_none(), false)
        .await;
    a.delete_file("notes/plan.md").await;
    eventually_on_disk(&s.app, &s.room, "notes/plan.md", None).await;

    // A second client sees the same files.
    let b = YClient::join(&url).await;
    assert_eq!(b.file("main.sh"), a.file("main.sh"));
    s.app.delete_room(&s.room).await.unwrap();
    s.app.shutdown().await;
}

#[tokio::test]
async fn after_the_app_was_away_the_side_that_changed_wins() {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app_with_catalog(&dir, CATALOG).await;
    app.listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let room = app
        .create_room(common::new_room("Away", "bash"))
        .await
        .unwrap()
        .id;
    // The document has the starter file.
    let link = app.issue_link(&room, Role::Interviewer, 600).await.unwrap();
    let token = link.url.split_once('#').unwrap().1.to_string();
    let addr = app
        .info()
        .room_server
        .url
        .unwrap()
        .replace("http://", "ws://");
    let mut a = YClient::join(&format!("{addr}/yjs/{room}?token={token}")).await;
    a.pump_until(|c| c.file("main.sh").is_some(), false).await;
    drop(a);
    app.shutdown().await;

    // While no app runs, a program changes a file in the still-running room.
    let out = std::process::Command::new("docker")
        .args([
            "exec",
            &format!("interview-platform-room-{room}"),
            "sh",
            "-c",
            "echo 'echo changed while away' > /interview/main.sh",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The next app re-attaches and takes the disk's side.
    let app = common::app_with_catalog(&dir, CATALOG).await;
    app.start_background().await;
    let addr = app.listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while app.room_agent(&room).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "never re-attached");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut b = YClient::join(&format!("ws://{addr}/yjs/{room}?token={token}")).await;
    b.pump_until(
        |c| c.file("main.sh").as_deref() == Some("echo changed while away\n"),
        false,
    )
    .await;
    app.delete_room(&room).await.unwrap();
    app.shutdown().await;
}
