//! The committed TypeScript bindings must match the Rust commands. Set `UPDATE_BINDINGS=1` to
//! rewrite them.

use std::path::Path;

#[test]
fn typescript_bindings_are_up_to_date() {
    let committed =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(interview_platform_lib::BINDINGS_PATH);
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        interview_platform_lib::export_bindings(&committed).expect("write bindings");
        return;
    }
    let dir = tempfile_dir();
    let fresh = dir.join("bindings.ts");
    interview_platform_lib::export_bindings(&fresh).expect("render bindings");
    let want = std::fs::read_to_string(&fresh).expect("read rendered bindings");
    let have = std::fs::read_to_string(&committed).unwrap_or_default();
    assert!(
        want == have,
        "{} is stale: run `UPDATE_BINDINGS=1 cargo test -p interview-platform --test bindings` and commit it",
        committed.display()
    );
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ip-bindings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
