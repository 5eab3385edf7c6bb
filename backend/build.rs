//! Build script: the room page is embedded from the UI's build output, and migrations are
//! embedded by sqlx; both must trigger a rebuild when they change.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
    println!("cargo:rerun-if-changed=../ui/dist");
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/dist/room.html");
    if !page.exists() {
        panic!(
            "the room page is not built ({}): run `npm --prefix ui ci && npm --prefix ui run build` \
             first (the README's commands do this)",
            page.display()
        );
    }
}
