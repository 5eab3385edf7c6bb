//! Where the static insider binary is found, for the engine's architecture. Packages ship one
//! build per architecture (`insider-x86_64`, `insider-aarch64`) in an `agents` folder (the
//! desktop app's resources, or beside the headless server); one binary serves every room image
//! and a remote engine gets it through the archive API rather than a host bind mount.
//! Developers and tests may point elsewhere with `INTERVIEW_PLATFORM_INSIDER`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use specta::Type;

/// Environment variable naming the insider binary to use.
pub const INSIDER_ENV: &str = "INTERVIEW_PLATFORM_INSIDER";

/// The file name of the agent binary inside a container, and of a single-architecture build.
pub const INSIDER_FILE: &str = "insider";

/// The architectures the agent is built for.
pub const ARCHES: [&str; 2] = ["x86_64", "aarch64"];

/// The Rust target the static agent is built for, by the engine's architecture.
pub fn target_triple(arch: &str) -> Option<&'static str> {
    match arch {
        "x86_64" => Some("x86_64-unknown-linux-gnu"),
        "aarch64" => Some("aarch64-unknown-linux-gnu"),
        _ => None,
    }
}

/// The file name a packaged agent build has for `arch`.
pub fn packaged_name(arch: &str) -> String {
    format!("{INSIDER_FILE}-{arch}")
}

/// The architecture a Linux ELF executable is built for, from its header; `None` for anything
/// else (not ELF, another machine, unreadable).
pub fn elf_arch(header: &[u8]) -> Option<&'static str> {
    if header.len() < 20 || &header[..4] != b"\x7fELF" {
        return None;
    }
    // e_machine, after the 16-byte ident and the 2-byte type; byte order per EI_DATA.
    let machine = match header[5] {
        1 => u16::from_le_bytes([header[18], header[19]]),
        2 => u16::from_be_bytes([header[18], header[19]]),
        _ => return None,
    };
    match machine {
        62 => Some("x86_64"),
        183 => Some("aarch64"),
        _ => None,
    }
}

/// The architecture of the executable at `path`.
pub fn file_arch(path: &Path) -> Option<&'static str> {
    use std::io::Read;
    let mut header = [0u8; 20];
    let mut f = std::fs::File::open(path).ok()?;
    f.read_exact(&mut header).ok()?;
    elf_arch(&header)
}

/// What the app knows about the room agent for an engine: which builds it carries and which
/// one rooms get.
#[derive(Debug, Clone, Serialize, Deserialize, Type, PartialEq, Eq)]
pub struct AgentStatus {
    /// The engine's architecture, when the engine answered.
    pub engine_arch: Option<String>,
    /// The architectures of the agent builds found, each once.
    pub available: Vec<String>,
    /// The build rooms get on this engine.
    pub chosen: Option<String>,
    /// Why rooms cannot start, in plain words, when no build fits.
    pub problem: Option<String>,
}

/// Looks for agent builds in `dirs` (packaged `insider-<arch>`), beside the running executable
/// and in its `agents` folder, and in a cargo build tree.
#[derive(Debug, Clone, Default)]
pub struct AgentFinder {
    dirs: Vec<PathBuf>,
    explicit: Option<PathBuf>,
}

impl AgentFinder {
    /// A finder that also looks in `dirs` (first), e.g. the desktop app's resources, and
    /// takes the build `INTERVIEW_PLATFORM_INSIDER` names when it is set.
    pub fn from_env(dirs: Vec<PathBuf>) -> Self {
        let explicit = std::env::var_os(INSIDER_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        Self::new(dirs, explicit)
    }

    /// A finder that looks in `dirs` (first), or only takes `explicit` when given.
    pub fn new(dirs: Vec<PathBuf>, explicit: Option<PathBuf>) -> Self {
        Self { dirs, explicit }
    }

    /// Every (architecture, path) found, in the order they are preferred.
    pub fn found(&self) -> Vec<(&'static str, PathBuf)> {
        self.explicit
            .iter()
            .cloned()
            .chain(self.candidates())
            .filter(|p| p.is_file())
            .filter_map(|p| file_arch(&p).map(|a| (a, p)))
            .collect()
    }

    /// The agent for an engine of architecture `arch`: the explicit build when there is one
    /// (it must be built for `arch`), else the first build found for it.
    pub fn locate(&self, arch: &str) -> Result<PathBuf, String> {
        if let Some(p) = self.explicit.clone() {
            if !p.is_file() {
                return Err(format!(
                    "{INSIDER_ENV} names {}, which is not a file",
                    p.display()
                ));
            }
            return match file_arch(&p) {
                Some(a) if a == arch => Ok(p),
                Some(a) => Err(format!(
                    "{INSIDER_ENV} names a room agent built for {a}, but the container engine \
                     runs on {arch}: point it at a build for {arch}"
                )),
                None => Err(format!(
                    "{INSIDER_ENV} names {}, which is not a Linux executable for x86_64 or aarch64",
                    p.display()
                )),
            };
        }
        pick(arch, &self.found())
    }

    /// [`AgentFinder::locate`]'s outcome for the engine's architecture, with what was found.
    pub fn status(&self, engine_arch: Option<&str>) -> AgentStatus {
        let found = self.found();
        let mut available: Vec<String> = Vec::new();
        for (a, _) in &found {
            if !available.iter().any(|x| x == a) {
                available.push(a.to_string());
            }
        }
        let (chosen, problem) = match engine_arch {
            None => (None, None),
            // The explicit build has its own checks; otherwise what was just found decides.
            Some(arch) => match if self.explicit.is_some() {
                self.locate(arch)
            } else {
                pick(arch, &found)
            } {
                Ok(p) => (Some(p.display().to_string()), None),
                Err(e) => (None, Some(e)),
            },
        };
        AgentStatus {
            engine_arch: engine_arch.map(str::to_string),
            available,
            chosen,
            problem,
        }
    }

    fn candidates(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let exe = std::env::current_exe().ok();
        let exe_dir = exe.as_deref().and_then(Path::parent);
        let mut dirs = self.dirs.clone();
        if let Some(d) = exe_dir {
            dirs.push(d.join("agents"));
            dirs.push(d.to_path_buf());
        }
        for dir in &dirs {
            for arch in ARCHES {
                out.push(dir.join(packaged_name(arch)));
            }
        }
        if let Some(d) = exe_dir {
            out.extend(build_tree_candidates(d));
        }
        out
    }
}

/// The first build found for `arch`, or why none fits.
fn pick(arch: &str, found: &[(&'static str, PathBuf)]) -> Result<PathBuf, String> {
    match found.iter().find(|(a, _)| *a == arch) {
        Some((_, p)) => Ok(p.clone()),
        None => Err(no_agent_for(arch, found)),
    }
}

/// Why no agent fits, and what to do.
fn no_agent_for(arch: &str, found: &[(&'static str, PathBuf)]) -> String {
    if target_triple(arch).is_none() {
        return format!(
            "the container engine runs on {arch}, and rooms can only run on x86_64 or aarch64 \
             engines"
        );
    }
    let mut have: Vec<&str> = found.iter().map(|(a, _)| *a).collect();
    have.dedup();
    if have.is_empty() {
        format!(
            "the room agent was not found (looked for {} beside the app and in its agents \
             folder). Reinstall Interview Platform, or build it with `scripts/build-insider.sh` \
             and set {INSIDER_ENV}",
            packaged_name(arch)
        )
    } else {
        format!(
            "the container engine runs on {arch} (as Docker Desktop does on Apple silicon), but \
             this installation only carries the room agent for {}. Install a release of \
             Interview Platform that carries both, or point {INSIDER_ENV} at an {arch} build",
            have.join(" and ")
        )
    }
}

/// A cargo build tree's agent builds, given the running executable's folder
/// (`target/{debug,release}[/deps]` → `target/<triple>/release/insider`), and a plain
/// `insider` beside the executable.
fn build_tree_candidates(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.join(INSIDER_FILE)];
    for up in [dir.parent(), dir.parent().and_then(Path::parent)]
        .into_iter()
        .flatten()
    {
        for arch in ARCHES {
            if let Some(triple) = target_triple(arch) {
                out.push(up.join(triple).join("release").join(INSIDER_FILE));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf(machine: u16) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2; // 64-bit
        h[5] = 1; // little endian
        h[18..20].copy_from_slice(&machine.to_le_bytes());
        h
    }

    #[test]
    fn reads_the_architecture_from_the_elf_header() {
        assert_eq!(elf_arch(&elf(62)), Some("x86_64"));
        assert_eq!(elf_arch(&elf(183)), Some("aarch64"));
        assert_eq!(elf_arch(&elf(40)), None); // 32-bit ARM
        assert_eq!(elf_arch(b"#!/bin/sh\necho not an agent\n"), None);
        assert_eq!(elf_arch(b"\x7fELF"), None);
        let exe = std::env::current_exe().unwrap();
        assert_eq!(file_arch(&exe), Some(std::env::consts::ARCH));
    }

    #[test]
    fn picks_the_build_for_the_engine_and_says_when_none_fits() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("insider-x86_64"), elf(62)).unwrap();
        // A file under the other name that is not that architecture is not taken for it.
        std::fs::write(dir.path().join("insider-aarch64"), elf(62)).unwrap();
        let finder = AgentFinder::new(vec![dir.path().to_path_buf()], None);
        assert_eq!(
            finder.locate("x86_64").unwrap(),
            dir.path().join("insider-x86_64")
        );
        let err = finder.locate("aarch64").unwrap_err();
        assert!(err.contains("runs on aarch64"), "{err}");
        assert!(
            err.contains("only carries the room agent for x86_64"),
            "{err}"
        );
        let err = finder.locate("s390x").unwrap_err();
        assert!(err.contains("x86_64 or aarch64"), "{err}");

        std::fs::write(dir.path().join("insider-aarch64"), elf(183)).unwrap();
        assert_eq!(
            finder.locate("aarch64").unwrap(),
            dir.path().join("insider-aarch64")
        );
        let status = finder.status(Some("aarch64"));
        assert_eq!(
            status.chosen.as_deref(),
            dir.path().join("insider-aarch64").to_str()
        );
        assert!(status.available.contains(&"aarch64".to_string()));
        assert!(status.problem.is_none());

        // An explicit build is taken only for its own architecture.
        let only = AgentFinder::new(vec![], Some(dir.path().join("insider-x86_64")));
        assert!(only.locate("x86_64").is_ok());
        let err = only.locate("aarch64").unwrap_err();
        assert!(err.contains("built for x86_64"), "{err}");
        let script = dir.path().join("script");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let err = AgentFinder::new(vec![], Some(script))
            .locate("x86_64")
            .unwrap_err();
        assert!(err.contains("not a Linux executable"), "{err}");
    }

    #[test]
    fn looks_in_the_build_tree() {
        let c = build_tree_candidates(Path::new("/t/debug/deps"));
        assert_eq!(c[0], PathBuf::from("/t/debug/deps/insider"));
        assert!(c.contains(&PathBuf::from(
            "/t/x86_64-unknown-linux-gnu/release/insider"
        )));
        assert!(c.contains(&PathBuf::from(
            "/t/aarch64-unknown-linux-gnu/release/insider"
        )));
    }

    #[test]
    fn knows_the_agent_builds() {
        assert_eq!(target_triple("x86_64"), Some("x86_64-unknown-linux-gnu"));
        assert_eq!(target_triple("aarch64"), Some("aarch64-unknown-linux-gnu"));
        assert_eq!(target_triple("s390x"), None);
    }
}
