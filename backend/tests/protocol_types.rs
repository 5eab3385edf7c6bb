//! The committed TypeScript types of the room channel must match the Rust ones. Set
//! `UPDATE_PROTOCOL=1` to rewrite them.

use std::path::Path;

const TYPES: &str = "../ui/src/lib/protocol/types.ts";

fn render() -> String {
    let body = specta_typescript::Typescript::default()
        .bigint(specta_typescript::BigIntExportBehavior::Fail)
        .export(&backend::live::protocol::types())
        .expect("the channel's types export");
    format!(
        "// The room channel's messages (see docs/protocol.md), generated from \
         backend/src/live/protocol.rs.\n// Regenerate: UPDATE_PROTOCOL=1 cargo test -p backend --test protocol_types\n{body}"
    )
}

#[test]
fn typescript_types_of_the_room_channel_are_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(TYPES);
    let want = render();
    if std::env::var_os("UPDATE_PROTOCOL").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        want == have,
        "{} is stale: run `UPDATE_PROTOCOL=1 cargo test -p backend --test protocol_types` and commit it",
        path.display()
    );
}
