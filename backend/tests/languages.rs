//! Rooms for real languages on the images `scripts/offline-images.sh` builds without a
//! registry: each runs its starter file with its catalog run command. The test command sets
//! `INTERVIEW_PLATFORM_OFFLINE_CATALOG` to the catalog that script writes.

mod common;

use backend::{App, AppOptions};

async fn offline_app(dir: &tempfile::TempDir) -> common::TestApp {
    let catalog = std::env::var("INTERVIEW_PLATFORM_OFFLINE_CATALOG").expect(
        "INTERVIEW_PLATFORM_OFFLINE_CATALOG names the catalog of scripts/offline-images.sh",
    );
    common::TestApp::new(
        App::new(AppOptions {
            data_dir: dir.path().join("data"),
            engine_endpoint: None,
            catalog_file: Some(catalog.into()),
            agent_dirs: Vec::new(),
            version: None,
        })
        .await
        .unwrap(),
    )
}

#[tokio::test]
async fn every_offline_language_runs_its_starter_file() {
    let dir = tempfile::tempdir().unwrap();
    let app = offline_app(&dir).await;
    assert!(
        app.catalog().problems.is_empty(),
        "{:?}",
        app.catalog().problems
    );
    let offline: Vec<String> = app
        .catalog()
        .ids()
        .into_iter()
        .filter(|id| {
            let image = &app.catalog().get(id).unwrap().image;
            image.starts_with("interview-platform-offline/")
        })
        .map(str::to_string)
        .collect();
    // What scripts/offline-images.sh promises; compiled languages also prove /tmp is `exec`.
    for language in [
        "bash",
        "python",
        "javascript",
        "typescript",
        "c",
        "cpp",
        "ruby",
    ] {
        assert!(
            offline.iter().any(|l| l == language),
            "{language} not offline: {offline:?}"
        );
    }
    for language in &offline {
        let run = app.catalog().get(language).unwrap().run.clone();
        let room = app
            .create_room(common::new_room(language, language))
            .await
            .unwrap_or_else(|e| panic!("{language}: {e}"));
        // The prompt and the output both come after the typed line: wait for the output.
        let out = common::run_and_see(&app, &room.id, &run, "Hello, interview!\r\n").await;
        assert!(out.contains("Hello, interview!"), "{language}: {out}");
        app.delete_room(&room.id).await.unwrap();
    }
    app.shutdown().await;
}
