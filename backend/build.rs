//! Build script: the room page is embedded from the UI's build output, and migrations are
//! embedded by sqlx; both must trigger a rebuild when they change.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
    println!("cargo:rerun-if-changed=../ui/dist");
    // Read at run time: a build script compiled for another checkout may be reused.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let page = Path::new(&manifest).join("../ui/dist/room.html");
    if !page.exists() {
        panic!(
            "the room page is not built ({}): run `npm --prefix ui ci && npm --prefix ui run build` \
             first (the README's commands do this)",
            page.display()
        );
    }
}
