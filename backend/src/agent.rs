//! Where the static insider binary is found. It ships beside the app's executable (the
//! packages put it there), so one binary serves every room image and a remote engine gets it
//! through the archive API rather than a host bind mount. Developers and tests may point
//! elsewhere with `INTERVIEW_PLATFORM_INSIDER`.

use std::path::{Path, PathBuf};

/// Environment variable naming the insider binary to use.
pub const INSIDER_ENV: &str = "INTERVIEW_PLATFORM_INSIDER";

/// The file name of the agent binary.
pub const INSIDER_FILE: &str = "insider";

/// The Rust target the static agent is built for, by the engine's architecture.
pub fn target_triple(arch: &str) -> Option<&'static str> {
    match arch {
        "x86_64" => Some("x86_64-unknown-linux-gnu"),
        "aarch64" => Some("aarch64-unknown-linux-gnu"),
        _ => None,
    }
}

/// Finds the insider binary: `INTERVIEW_PLATFORM_INSIDER`, else beside the running
/// executable, else (in a cargo build tree) the static build under the target dir.
pub fn locate() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(INSIDER_ENV).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!(
                "{INSIDER_ENV} names {}, which is not a file",
                p.display()
            ))
        };
    }
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find the running executable: {e}"))?;
    let candidates = candidates_near(&exe);
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            format!(
                "the room agent ({INSIDER_FILE}) was not found; looked at {}. Build it with \
             `scripts/build-insider.sh` or set {INSIDER_ENV}",
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// Places the agent may be, given the running executable: beside it (installed app), or the
/// static build of this cargo tree (`target/{debug,release}[/deps]/exe` →
/// `target/x86_64-unknown-linux-gnu/release/insider`).
fn candidates_near(exe: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Some(dir) = exe.parent() else {
        return out;
    };
    out.push(dir.join(INSIDER_FILE));
    let triple = target_triple(std::env::consts::ARCH).unwrap_or("x86_64-unknown-linux-gnu");
    for up in [dir.parent(), dir.parent().and_then(Path::parent)]
        .into_iter()
        .flatten()
    {
        out.push(up.join(triple).join("release").join(INSIDER_FILE));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_beside_the_exe_then_in_the_build_tree() {
        let c = candidates_near(Path::new("/t/debug/deps/backend-123"));
        assert_eq!(c[0], PathBuf::from("/t/debug/deps/insider"));
        assert!(c.iter().any(
            |p| p.ends_with("t/x86_64-unknown-linux-gnu/release/insider")
                || p.ends_with("t/aarch64-unknown-linux-gnu/release/insider")
        ));
    }

    #[test]
    fn knows_the_agent_builds() {
        assert_eq!(target_triple("x86_64"), Some("x86_64-unknown-linux-gnu"));
        assert_eq!(target_triple("aarch64"), Some("aarch64-unknown-linux-gnu"));
        assert_eq!(target_triple("s390x"), None);
    }
}
