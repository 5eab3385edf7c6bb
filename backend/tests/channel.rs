//! The room channel over real WebSockets: the shared terminal (everyone sees the same output,
//! late joiners the screen), typing rights by role and room policy, presence with hidden
//! participants, activity for interviewers only, file operations by role, and the event log.

use std::time::Duration;

mod common;

use backend::live::protocol::{ActivityKind, ClientMessage as C, ServerMessage as S};
use backend::tokens::Role;
use common::ws::Chan;

const CATALOG: &str = r#"
[languages.bash]
image = "interview-platform-test/busybox:latest"
run = "sh main.sh"
starter = [{ path = "main.sh", content = "echo run-$((6*7))\n" }]
"#;

async fn join(s: &common::Served, role: Role, name: &str) -> (Chan, S) {
    let url = s.room_url(&s.room, &s.token(role).await);
    Chan::join(&url, name, false).await
}

fn error_for(m: &S, request: &str) -> bool {
    matches!(m, S::Error { request: r, .. } if r == request)
}

#[tokio::test]
async fn everyone_shares_one_terminal_with_rights_by_role() {
    let s = common::served(CATALOG, "").await;
    let (mut ada, welcome) = join(&s, Role::Interviewer, "Ada").await;
    let S::Welcome {
        you,
        room,
        can_type,
    } = welcome
    else {
        unreachable!()
    };
    assert_eq!(
        (you.name.as_str(), you.role, can_type),
        ("Ada", Role::Interviewer, true)
    );
    assert_eq!(room.language, "bash");
    assert_eq!(room.default_file.as_deref(), Some("main.sh"));
    assert!(room.candidate_terminal);

    let (mut bob, _) = join(&s, Role::Candidate, "Bob").await;
    ada.send(&C::TermInput {
        data: "echo from-ada-$((20+1))\r".into(),
    })
    .await;
    ada.see("from-ada-21").await;
    bob.see("from-ada-21").await;
    bob.send(&C::TermInput {
        data: "echo from-bob-$((30+2))\r".into(),
    })
    .await;
    ada.see("from-bob-32").await;

    // The Run button runs the catalog's command.
    bob.send(&C::Run).await;
    ada.see("run-42").await;

    // A late joiner sees the screen, not a blank terminal.
    let (mut late, _) = join(&s, Role::Observer, "Late").await;
    late.see("from-bob-32").await;
    // Observers never type.
    late.send(&C::TermInput {
        data: "echo observer\r".into(),
    })
    .await;
    let refused = late.next_where(|m| error_for(m, "term_input")).await;
    assert!(
        matches!(refused, S::Error { ref code, .. } if code == "forbidden"),
        "{refused:?}"
    );

    // The interviewer takes the keyboard back: the candidate's keystrokes are refused.
    ada.send(&C::SetCandidateTerminal { allowed: false }).await;
    let policy = bob.next_where(|m| matches!(m, S::Policy { .. })).await;
    assert_eq!(
        policy,
        S::Policy {
            candidate_terminal: false,
            can_type: false
        }
    );
    bob.send(&C::TermInput {
        data: "echo sneaky-$((1+1))\r".into(),
    })
    .await;
    let refused = bob.next_where(|m| error_for(m, "term_input")).await;
    assert!(
        matches!(refused, S::Error { ref code, ref message, .. }
        if code == "forbidden" && message.contains("keyboard")),
        "{refused:?}"
    );
    // Only interviewers hand the keyboard over.
    bob.send(&C::SetCandidateTerminal { allowed: true }).await;
    bob.next_where(|m| error_for(m, "set_candidate_terminal"))
        .await;
    ada.send(&C::TermInput {
        data: "echo after-$((2+3))\r".into(),
    })
    .await;
    ada.see("after-5").await;
    assert!(!ada.terminal.contains("sneaky-2"), "{}", ada.terminal);
    // The policy is kept with the room.
    let (_, welcome) = join(&s, Role::Candidate, "Bob again").await;
    assert!(matches!(
        welcome,
        S::Welcome {
            can_type: false,
            ..
        }
    ));

    s.app.delete_room(&s.room).await.unwrap();
    s.app.shutdown().await;
}

#[tokio::test]
async fn presence_hides_observers_and_stealth_and_activity_reaches_interviewers_only() {
    let s = common::served(CATALOG, "").await;
    let (mut ada, _) = join(&s, Role::Interviewer, "Ada").await;
    let (mut obs, _) = join(&s, Role::Observer, "Olga").await;
    let url = s.room_url(&s.room, &s.token(Role::Interviewer).await);
    let (mut ghost, _) = Chan::join(&url, "Gus", true).await;
    let (mut bob, _) = join(&s, Role::Candidate, "Bob").await;

    let names = |m: &S| match m {
        S::Participants { list } => {
            let mut v: Vec<String> = list.iter().map(|p| p.name.clone()).collect();
            v.sort();
            v
        }
        _ => vec![],
    };
    let seen = bob
        .next_where(|m| matches!(m, S::Participants { .. }))
        .await;
    assert_eq!(
        names(&seen),
        ["Ada", "Bob"],
        "the candidate sees neither observer nor stealth"
    );
    let everyone = ["Ada", "Bob", "Gus", "Olga"];
    let seen = ada
        .next_where(|m| matches!(m, S::Participants { list } if list.len() == 4))
        .await;
    assert_eq!(names(&seen), everyone);

    // The candidate pastes and leaves the tab: interviewers are told, with the size.
    bob.send(&C::Activity {
        kind: ActivityKind::Paste,
        size: Some(120),
        path: Some("main.sh".into()),
    })
    .await;
    bob.send(&C::Focus { focused: false }).await;
    for interviewer in [&mut ada, &mut ghost] {
        let paste = interviewer
            .next_where(|m| matches!(m, S::Activity { .. }))
            .await;
        assert!(
            matches!(&paste, S::Activity { kind: ActivityKind::Paste, size: Some(120), name, .. } if name == "Bob"),
            "{paste:?}"
        );
        let lost = interviewer
            .next_where(|m| matches!(m, S::Activity { .. }))
            .await;
        assert!(
            matches!(
                lost,
                S::Activity {
                    kind: ActivityKind::FocusLost,
                    ..
                }
            ),
            "{lost:?}"
        );
    }
    // Never to the candidate or the observer: the focus change that followed the activity
    // reaches them, and nothing about activity came before it.
    for other in [&mut bob, &mut obs] {
        other
            .next_where(|m| matches!(m, S::Participants { list } if list.iter().any(|p| p.name == "Bob" && !p.focused)))
            .await;
        assert!(
            !other.inbox.iter().any(|m| matches!(m, S::Activity { .. })),
            "{:?}",
            other.inbox
        );
    }
    // Interviewers' activity is not reported; candidates cannot go stealthy.
    ada.send(&C::Activity {
        kind: ActivityKind::Paste,
        size: Some(1),
        path: None,
    })
    .await;
    ada.next_where(|m| error_for(m, "activity")).await;
    bob.send(&C::Stealth { on: true }).await;
    bob.next_where(|m| error_for(m, "stealth")).await;

    // The stealthy interviewer shows up for the candidate when they choose to.
    ghost.send(&C::Stealth { on: false }).await;
    let seen = bob
        .next_where(
            |m| matches!(m, S::Participants { list } if list.iter().any(|p| p.name == "Gus")),
        )
        .await;
    assert_eq!(names(&seen), ["Ada", "Bob", "Gus"]);
    s.app.delete_room(&s.room).await.unwrap();
    s.app.shutdown().await;
}

#[tokio::test]
async fn files_are_managed_by_role_and_stay_inside_the_room() {
    let s = common::served(CATALOG, "").await;
    let (mut bob, _) = join(&s, Role::Candidate, "Bob").await;
    let (mut obs, _) = join(&s, Role::Observer, "Olga").await;
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;

    bob.send(&C::Create {
        path: "src".into(),
        dir: true,
    })
    .await;
    bob.send(&C::Upload {
        path: "src/data.bin".into(),
        data: b64.encode([0u8, 159, 146, 150]),
    })
    .await;
    bob.send(&C::Rename {
        from: "main.sh".into(),
        to: "src/run.sh".into(),
    })
    .await;
    bob.send(&C::Tree).await;
    let tree = bob.next_where(|m| matches!(m, S::Tree { .. })).await;
    let S::Tree { entries } = tree else {
        unreachable!()
    };
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    assert!(
        paths.contains(&"src") && paths.contains(&"src/data.bin") && paths.contains(&"src/run.sh"),
        "{paths:?}"
    );
    assert!(!paths.contains(&"main.sh"));

    obs.send(&C::Download {
        path: "src/data.bin".into(),
    })
    .await;
    let data = obs.next_where(|m| matches!(m, S::FileData { .. })).await;
    assert_eq!(
        data,
        S::FileData {
            path: "src/data.bin".into(),
            data: b64.encode([0u8, 159, 146, 150])
        }
    );
    obs.send(&C::Delete {
        path: "src/data.bin".into(),
    })
    .await;
    let refused = obs.next_where(|m| error_for(m, "delete")).await;
    assert!(matches!(refused, S::Error { ref code, .. } if code == "forbidden"));

    for escape in ["../etc/passwd", "/etc/passwd", "src/../../x"] {
        bob.send(&C::Download {
            path: escape.into(),
        })
        .await;
        let refused = bob.next_where(|m| error_for(m, "download")).await;
        assert!(
            matches!(refused, S::Error { ref code, .. } if code == "forbidden"),
            "{escape}: {refused:?}"
        );
    }
    bob.send(&C::Upload {
        path: "big.bin".into(),
        data: "A".repeat(6 * 1024 * 1024),
    })
    .await;
    let refused = bob.next_where(|m| error_for(m, "upload")).await;
    assert!(matches!(refused, S::Error { ref message, .. } if message.contains("4 MiB")));
    bob.send(&C::Delete { path: "src".into() }).await;
    bob.send(&C::Tree).await;
    let S::Tree { entries } = bob.next_where(|m| matches!(m, S::Tree { .. })).await else {
        unreachable!()
    };
    assert!(
        entries.iter().all(|e| !e.path.starts_with("src")),
        "{entries:?}"
    );
    s.app.delete_room(&s.room).await.unwrap();
    s.app.shutdown().await;
}

#[tokio::test]
async fn bad_hellos_and_bad_messages_close_with_a_reason() {
    let s = common::served(CATALOG, "").await;
    let url = s.room_url(&s.room, &s.token(Role::Candidate).await);
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message as Ws;

    let mut ws = common::ws::open(&url, None).await.unwrap();
    ws.send(Ws::Text(r#"{"type":"term_input","data":"ls\r"}"#.into()))
        .await
        .unwrap();
    assert_eq!(
        common::ws::closed_with(&mut ws).await,
        (4400, "say hello first".into())
    );

    let mut ws = common::ws::open(&url, None).await.unwrap();
    ws.send(Ws::Text(r#"{"type":"hello","name":"   "}"#.into()))
        .await
        .unwrap();
    assert_eq!(common::ws::closed_with(&mut ws).await.0, 4400);

    let (mut c, _) = Chan::join(&url, "Bob", false).await;
    c.ws.send(Ws::Text("{not json".into())).await.unwrap();
    assert_eq!(
        common::ws::closed_with(&mut c.ws).await,
        (4400, "malformed room message".into())
    );

    // A wrong token on the channel is refused like on the document socket.
    let mut ws = common::ws::open(&s.room_url(&s.room, "a.b.c"), None)
        .await
        .unwrap();
    assert_eq!(common::ws::closed_with(&mut ws).await.0, 4401);
    s.app.delete_room(&s.room).await.unwrap();
    s.app.shutdown().await;
}

#[tokio::test]
async fn what_happens_in_a_room_is_recorded_in_order() {
    let s = common::served(CATALOG, "").await;
    let (mut ada, _) = join(&s, Role::Interviewer, "Ada").await;
    let (mut bob, _) = join(&s, Role::Candidate, "Bob").await;
    ada.send(&C::TermInput {
        data: "echo rec-$((5+5))\r".into(),
    })
    .await;
    bob.see("rec-10").await;
    bob.send(&C::Activity {
        kind: ActivityKind::Copy,
        size: Some(3),
        path: None,
    })
    .await;
    ada.next_where(|m| matches!(m, S::Activity { .. })).await;
    let mut doc =
        common::ws::YClient::join(&s.yjs_url(&s.room, &s.token(Role::Candidate).await)).await;
    doc.type_text("main.sh", "# typed\n").await;
    drop(bob);

    let kinds = |rows: &[(String, Option<String>, Vec<u8>)]| -> Vec<String> {
        rows.iter().map(|r| r.0.clone()).collect()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let rows: Vec<(String, Option<String>, Vec<u8>)> = sqlx::query_as(
            "SELECT kind, actor, data FROM room_events WHERE room_id = ? ORDER BY seq",
        )
        .bind(&s.room)
        .fetch_all(s.app.db())
        .await
        .unwrap();
        let k = kinds(&rows);
        let has = |kind: &str| k.iter().any(|x| x == kind);
        if ["join", "term_in", "term_out", "activity", "doc", "leave"]
            .iter()
            .all(|x| has(x))
        {
            let term_in = rows.iter().find(|r| r.0 == "term_in").unwrap();
            assert_eq!(term_in.1.as_deref(), Some("interviewer:1:Ada"));
            assert_eq!(term_in.2, b"echo rec-$((5+5))\r");
            let out: Vec<u8> = rows
                .iter()
                .filter(|r| r.0 == "term_out")
                .flat_map(|r| r.2.clone())
                .collect();
            assert!(String::from_utf8_lossy(&out).contains("rec-10"));
            let first_join = k.iter().position(|x| x == "join").unwrap();
            let leave = k.iter().rposition(|x| x == "leave").unwrap();
            assert!(first_join < leave, "{k:?}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "missing events: {k:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.app.delete_room(&s.room).await.unwrap();
    s.app.shutdown().await;
}

#[tokio::test]
async fn a_terminal_flood_is_recorded_within_its_budget_and_the_rest_counted() {
    use backend::eventlog::{TERM_OUT_BURST, TERM_OUT_RATE};
    let s = common::served(CATALOG, "").await;
    let (mut ada, _) = join(&s, Role::Interviewer, "Ada").await;
    // Twice the burst at once, then a marker after it.
    let flood = 2 * TERM_OUT_BURST;
    let started = std::time::Instant::now();
    ada.send(&C::TermInput {
        data: format!("head -c {flood} /dev/zero | tr '\\0' x; echo; echo flood-$((2+2))\r"),
    })
    .await;
    ada.see("flood-4").await;
    let elapsed = started.elapsed().as_secs_f64();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT kind, data FROM room_events WHERE room_id = ? AND kind LIKE 'term_out%' ORDER BY seq",
        )
        .bind(&s.room)
        .fetch_all(s.app.db())
        .await
        .unwrap();
        let recorded: u64 = rows
            .iter()
            .filter(|r| r.0 == "term_out")
            .map(|r| r.1.len() as u64)
            .sum();
        let skipped: u64 = rows
            .iter()
            .filter(|r| r.0 == "term_out_gap")
            .map(|r| String::from_utf8_lossy(&r.1).parse::<u64>().unwrap())
            .sum();
        let last: Vec<u8> = rows
            .iter()
            .rev()
            .filter(|r| r.0 == "term_out")
            .take(4)
            .flat_map(|r| r.1.clone())
            .collect();
        if String::from_utf8_lossy(&last).contains("flood-4") {
            let allowed = TERM_OUT_BURST + (TERM_OUT_RATE as f64 * (elapsed + 1.0)) as u64;
            assert!(
                recorded <= allowed,
                "{recorded} recorded, {allowed} allowed"
            );
            assert!(skipped > 0, "the flood's excess is counted");
            // Everything the shell printed is either recorded or counted as left out.
            assert!(
                recorded + skipped >= flood,
                "{recorded} + {skipped} < {flood}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the output after the flood was not recorded ({recorded} recorded, {skipped} skipped)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.app.delete_room(&s.room).await.unwrap();
    s.app.shutdown().await;
}

#[tokio::test]
async fn going_stealthy_hides_the_pages_cursor_from_the_candidate_without_reconnecting() {
    use common::ws::YClient;
    let s = common::served(CATALOG, "").await;
    let token = s.token(Role::Interviewer).await;
    // Gus's page gives its two sockets the id `page-1`; a second page of the same link and an
    // interviewer of another link stay as they are.
    let (mut gus, _) =
        Chan::join_page(&s.room_url(&s.room, &token), "Gus", false, Some("page-1")).await;
    let doc_url = |token: &str, tab: &str| format!("{}&tab={tab}", s.yjs_url(&s.room, token));
    let mut gus_doc = YClient::join(&doc_url(&token, "page-1")).await;
    let mut other_page = YClient::join(&doc_url(&token, "page-2")).await;
    let ada_token = s.token(Role::Interviewer).await;
    let mut ada_doc = YClient::join(&s.yjs_url(&s.room, &ada_token)).await;
    let mut bob_doc = YClient::join(&s.yjs_url(&s.room, &s.token(Role::Candidate).await)).await;
    let gus_id = gus_doc.doc.client_id();
    let other_id = other_page.doc.client_id();

    gus_doc.publish(1, r#"{"user":{"name":"Gus"}}"#).await;
    other_page.publish(1, r#"{"user":{"name":"Gus 2"}}"#).await;
    bob_doc
        .pump_until(
            |c| c.saw(gus_id, 1, "Gus") && c.saw(other_id, 1, "Gus 2"),
            false,
        )
        .await;

    // Stealth on the channel: the candidate's cursor of Gus goes, on the socket already open.
    gus.send(&C::Stealth { on: true }).await;
    bob_doc
        .pump_until(|c| c.saw(gus_id, 1, "null"), false)
        .await;
    // Gus moves: interviewers see it, the candidate does not (a later change of the other page
    // shows the candidate's socket went on meanwhile).
    gus_doc
        .publish(2, r#"{"user":{"name":"Gus"},"cursor":2}"#)
        .await;
    ada_doc
        .pump_until(|c| c.saw(gus_id, 2, "cursor"), false)
        .await;
    other_page
        .publish(2, r#"{"user":{"name":"Gus 2"},"cursor":1}"#)
        .await;
    bob_doc
        .pump_until(|c| c.saw(other_id, 2, "cursor"), false)
        .await;
    assert!(
        !bob_doc.saw(gus_id, 2, "cursor"),
        "the candidate saw a stealthy cursor: {:?}",
        bob_doc.awareness
    );
    assert!(
        !bob_doc.saw(other_id, 1, "null"),
        "the link's other page was hidden too"
    );

    // Another interviewer naming the same page id hides nothing of Gus's.
    let (mut ada, _) = Chan::join_page(
        &s.room_url(&s.room, &ada_token),
        "Ada",
        false,
        Some("page-1"),
    )
    .await;
    ada.send(&C::Stealth { on: true }).await;
    ada.send(&C::Stealth { on: false }).await;
    gus.send(&C::Stealth { on: false }).await;

    // Back: the candidate gets Gus's newest state one tick later than it knew, and so does
    // Gus's own page, whose next state then counts.
    bob_doc
        .pump_until(|c| c.saw(gus_id, 3, "cursor"), false)
        .await;
    gus_doc
        .pump_until(|c| c.saw(gus_id, 3, "cursor"), false)
        .await;
    gus_doc
        .publish(4, r#"{"user":{"name":"Gus"},"cursor":4}"#)
        .await;
    bob_doc
        .pump_until(|c| c.saw(gus_id, 4, "cursor"), false)
        .await;
    let bumps = bob_doc
        .awareness
        .iter()
        .filter(|(id, clock, _)| *id == gus_id && *clock == 3)
        .count();
    assert_eq!(bumps, 1, "{:?}", bob_doc.awareness);

    s.app.delete_room(&s.room).await.unwrap();
    s.app.shutdown().await;
}
