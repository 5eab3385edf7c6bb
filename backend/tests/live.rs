//! The live room over real WebSockets: room links and their close codes, the y-websocket
//! document channel (a Rust client here, a stock JavaScript client too), role checks, the
//! file schema, bad messages and foreign origins.

use std::time::Duration;

mod common;

use backend::tokens::{Revoke, Role};
use common::ws::{closed_with, open, YClient};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message as Ws;
use yrs::sync::protocol::SyncMessage;
use yrs::sync::Message;
use yrs::{Map, Transact};

const CATALOG: &str = common::BASH_CATALOG;

#[tokio::test]
async fn each_bad_link_is_closed_with_its_code_before_any_room_data() {
    let s = common::served(CATALOG, "").await;
    let good = s.token(Role::Candidate).await;
    // A valid link opens the document: the first message is the server's sync step 1.
    let mut ws = open(&s.yjs_url(&s.room, &good), None).await.unwrap();
    match ws.next().await.unwrap().unwrap() {
        Ws::Binary(b) => assert_eq!(&b[..2], &[0, 0], "sync step 1 first"),
        other => panic!("{other:?}"),
    }
    drop(ws);

    let refused = |token: String, room: String| {
        let url = s.yjs_url(&room, &token);
        async move {
            let mut ws = open(&url, None).await.expect("accepted, then closed");
            closed_with(&mut ws).await
        }
    };
    // Forged: the signature does not match.
    let mut forged = good.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(refused(forged, s.room.clone()).await.0, 4401);
    assert_eq!(refused("not-a-token".into(), s.room.clone()).await.0, 4401);
    assert_eq!(refused(String::new(), s.room.clone()).await.0, 4401);
    // Another install's key.
    let other_dir = tempfile::tempdir().unwrap();
    let other = common::app_with_catalog(&other_dir, CATALOG).await;
    other
        .set_addressing(Some("http://elsewhere.test"), None)
        .unwrap();
    let other_room = other
        .create_room(common::new_room("Elsewhere", "bash"))
        .await
        .unwrap();
    let foreign = other
        .issue_link(&other_room.id, Role::Interviewer, 600)
        .await
        .unwrap();
    let foreign_token = foreign.url.split_once('#').unwrap().1.to_string();
    assert_eq!(refused(foreign_token, other_room.id.clone()).await.0, 4401);
    other.shutdown().await;

    // A link for this room used on another room.
    let second = s
        .app
        .create_room(common::new_room("Second", "bash"))
        .await
        .unwrap();
    let (code, reason) = refused(good.clone(), second.id.clone()).await;
    assert_eq!((code, reason.as_str()), (4403, "link for another room"));

    // Expired.
    let short = s.app.issue_link(&s.room, Role::Candidate, 1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let short = short.url.split_once('#').unwrap().1.to_string();
    assert_eq!(refused(short, s.room.clone()).await.0, 4410);

    // Revoked: refused, and a socket already open with it is closed at once.
    let link = s
        .app
        .issue_link(&s.room, Role::Observer, 600)
        .await
        .unwrap();
    let token = link.url.split_once('#').unwrap().1.to_string();
    let mut open_ws = open(&s.yjs_url(&s.room, &token), None).await.unwrap();
    open_ws.next().await.unwrap().unwrap();
    let kept = s.token(Role::Candidate).await;
    let mut untouched = YClient::join(&s.yjs_url(&s.room, &kept)).await;
    assert_eq!(
        s.app
            .revoke_links(&s.room, Revoke::Link(link.id.clone()))
            .await
            .unwrap(),
        1
    );
    assert_eq!(closed_with(&mut open_ws).await.0, 4410);
    assert_eq!(refused(token, s.room.clone()).await.0, 4410);
    // Other links keep working: a new link does not revoke older ones either.
    untouched
        .pump_until(|c| c.file("main.sh").is_some(), false)
        .await;
    untouched.type_text("main.sh", "# still here\n").await;
    let mut again = YClient::join(&s.yjs_url(&s.room, &kept)).await;
    again
        .pump_until(
            |c| c.file("main.sh").is_some_and(|t| t.contains("still here")),
            false,
        )
        .await;

    // A stopped room, then a deleted one.
    let stop_token = s.token(Role::Interviewer).await;
    s.app.stop_room(&s.room).await.unwrap();
    assert_eq!(closed_with(&mut untouched.ws).await.0, 4404);
    assert_eq!(refused(stop_token.clone(), s.room.clone()).await.0, 4404);
    s.app.delete_room(&s.room).await.unwrap();
    assert_eq!(refused(stop_token, s.room.clone()).await.0, 4404);
    s.app.delete_room(&second.id).await.unwrap();
    s.app.shutdown().await;
}

#[tokio::test]
async fn foreign_origins_are_refused_and_our_own_accepted() {
    let s = common::served(CATALOG, "").await;
    let token = s.token(Role::Candidate).await;
    let url = s.yjs_url(&s.room, &token);
    let err = open(&url, Some("https://evil.example")).await.unwrap_err();
    assert!(err.contains("403"), "{err}");
    open(&url, Some(&format!("http://{}", s.addr)))
        .await
        .expect("the page's own origin");
    open(&url, None).await.expect("no origin: not a browser");
    s.app
        .set_addressing(Some("https://tunnel.example/p"), None)
        .unwrap();
    open(&url, Some("https://tunnel.example"))
        .await
        .expect("the public URL's origin");
    s.app.delete_room(&s.room).await.unwrap();
    s.app.shutdown().await;
}

#[tokio::test]
async fn two_people_edit_one_file_and_converge_under_a_path_prefix() {
    let s = common::served(CATALOG, "/interviews").await;
    let a_url = s.yjs_url(&s.room, &s.token(Role::Interviewer).await);
    let b_url = s.yjs_url(&s.room, &s.token(Role::Candidate).await);
    let mut a = YClient::join(&a_url).await;
    let mut b = YClient::join(&b_url).await;
    // The file exists (as the server will make it from the room's files), then both type
    // into it at once. (Two people creating the same key at once is last-writer-wins in
    // Yjs: files are made in one place.)
    a.type_text("main.py", "# shared\n").await;
    b.pump_until(|c| c.file("main.py").is_some(), false).await;
    a.type_text("main.py", "print('a')\n").await;
    b.type_text("main.py", "print('b')\n").await;
    a.pump_until(
        |c| {
            c.file("main.py")
                .is_some_and(|t| t.contains("'b'") && t.contains("'a'"))
        },
        false,
    )
    .await;
    b.pump_until(
        |c| {
            c.file("main.py")
                .is_some_and(|t| t.contains("'b'") && t.contains("'a'"))
        },
        false,
    )
    .await;
    assert_eq!(a.file("main.py"), b.file("main.py"), "converged");

    // Observers read but never write.
    let o_url = s.yjs_url(&s.room, &s.token(Role::Observer).await);
    let mut o = YClient::join(&o_url).await;
    assert_eq!(o.file("main.py"), a.file("main.py"));
    o.type_text("main.py", "OBSERVER WAS HERE").await;
    a.type_text("main.py", "# marker\n").await;
    b.pump_until(
        |c| c.file("main.py").is_some_and(|t| t.contains("marker")),
        false,
    )
    .await;
    assert!(!b.file("main.py").unwrap().contains("OBSERVER"));
    let fresh = YClient::join(&b_url).await;
    assert!(!fresh.file("main.py").unwrap().contains("OBSERVER"));

    // Keys that are not relative paths, and values that are not text, are dropped for all.
    let bad_update = {
        let mut txn = b.doc.transact_mut();
        b.files
            .insert(&mut txn, "../escape.txt", yrs::TextPrelim::new("x"));
        b.files.insert(&mut txn, "number.txt", 42);
        b.files
            .insert(&mut txn, "ok/fine.txt", yrs::TextPrelim::new("fine"));
        txn.encode_update_v1()
    };
    b.send(&[Message::Sync(SyncMessage::Update(bad_update))])
        .await;
    a.pump_until(|c| c.file("ok/fine.txt").is_some(), false)
        .await;
    let keys = a.keys();
    assert!(
        !keys
            .iter()
            .any(|k| k == "../escape.txt" || k == "number.txt"),
        "{keys:?}"
    );
    // The sender is told too.
    b.pump_until(
        |c| {
            !c.keys()
                .iter()
                .any(|k| k == "../escape.txt" || k == "number.txt")
        },
        false,
    )
    .await;
    s.app.delete_room(&s.room).await.unwrap();
    s.app.shutdown().await;
}

#[tokio::test]
async fn bad_and_oversized_messages_close_only_the_sender() {
    let s = common::served(CATALOG, "").await;
    let url = s.yjs_url(&s.room, &s.token(Role::Candidate).await);
    let mut good = YClient::join(&url).await;
    let mut peer = YClient::join(&url).await;

    let mut bad = open(&url, None).await.unwrap();
    bad.send(Ws::Binary(vec![0x00, 0x07, 0xff, 0xff].into()))
        .await
        .unwrap();
    assert_eq!(closed_with(&mut bad).await.0, 4400);

    let mut text = open(&url, None).await.unwrap();
    text.send(Ws::Text("hello".into())).await.unwrap();
    assert_eq!(closed_with(&mut text).await.0, 1003);

    let mut huge = open(&url, None).await.unwrap();
    let _ = huge
        .send(Ws::Binary(vec![0u8; 9 * 1024 * 1024].into()))
        .await;
    let (code, _) = closed_with(&mut huge).await;
    assert_ne!(code, 0, "closed for its size");
    assert_ne!(code, u16::from(CloseCode::Normal));

    // The starter file is there (the room put it in the document): type into it.
    good.pump_until(|c| c.file("main.sh").is_some(), false)
        .await;
    good.type_text("main.sh", "# after the noise\n").await;
    peer.pump_until(
        |c| c.file("main.sh").is_some_and(|t| t.contains("noise")),
        false,
    )
    .await;
    s.app.delete_room(&s.room).await.unwrap();
    s.app.shutdown().await;
}

/// Runs the stock y-websocket client (`ui/e2e/stock-yjs-client.mjs`).
async fn stock_client(args: &[&str]) -> (bool, String, String) {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ui/e2e/stock-yjs-client.mjs"
    );
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(script)
            .args(&args)
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_stock_y_websocket_client_joins_and_syncs() {
    let s = common::served(CATALOG, "/p").await;
    let base = format!("ws://{}/p/yjs", s.addr);
    let token = s.token(Role::Candidate).await;
    let mut ours = YClient::join(&s.yjs_url(&s.room, &s.token(Role::Interviewer).await)).await;
    ours.type_text("notes.md", "from rust\n").await;

    let (ok, out, err) =
        stock_client(&[&base, &s.room, &token, "read", "notes.md", "from rust"]).await;
    assert!(ok, "stock client read: {err}");
    assert!(out.contains("from rust"));

    let (ok, _, err) =
        stock_client(&[&base, &s.room, &token, "write", "notes.md", "from js\n"]).await;
    assert!(ok, "stock client write: {err}");
    ours.pump_until(
        |c| c.file("notes.md").is_some_and(|t| t.contains("from js")),
        false,
    )
    .await;

    // Refused links reach the stock client as close codes.
    let (ok, _, err) = stock_client(&[&base, &s.room, "x.y.z", "read", "a", "b"]).await;
    assert!(!ok);
    assert!(err.contains("4401"), "{err}");
    s.app.delete_room(&s.room).await.unwrap();
    s.app.shutdown().await;
}

#[tokio::test]
async fn a_room_accepts_a_bounded_number_of_sockets() {
    let s = common::served(CATALOG, "").await;
    let url = s.yjs_url(&s.room, &s.token(Role::Candidate).await);
    let mut held = Vec::new();
    for _ in 0..backend::live::MAX_ROOM_CONNECTIONS {
        let mut ws = open(&url, None).await.unwrap();
        // Admitted: the server's sync step 1 comes first.
        assert!(matches!(ws.next().await, Some(Ok(Ws::Binary(_)))));
        held.push(ws);
    }
    let mut extra = open(&url, None).await.unwrap();
    assert_eq!(
        closed_with(&mut extra).await,
        (4429, "the room is full".into())
    );
    // One leaves: there is room again.
    held.pop().unwrap().close(None).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut ws = open(&url, None).await.unwrap();
        match ws.next().await {
            Some(Ok(Ws::Binary(_))) => break,
            _ => assert!(
                tokio::time::Instant::now() < deadline,
                "never admitted again"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(held);
    s.app.delete_room(&s.room).await.unwrap();
    s.app.shutdown().await;
}
