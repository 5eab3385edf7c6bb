//! File operations confined to the working directory. Every path comes from the network and
//! is checked twice: by its words (relative, no `..`, no NUL) and on disk (no symlink may lead
//! outside the working directory).

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::protocol::{EntryKind, ErrorCode, TreeEntry};

/// Largest file the agent reads or writes in one message.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024 - 64 * 1024;

/// Most entries a tree listing returns; deeper or wider trees are cut there.
pub const MAX_TREE_ENTRIES: usize = 20_000;

/// Folders that are listed but not walked: generated, large, and not what people edit.
pub const UNWALKED_DIRS: &[&str] = &[
    ".git",
    "node_modules",
    "target",
    "__pycache__",
    ".venv",
    "venv",
    ".mypy_cache",
    ".pytest_cache",
    ".gradle",
    ".cache",
    "dist",
    "build",
];

/// A refused or failed file operation.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{message}")]
pub struct FileError {
    /// The protocol's code for it.
    pub code: ErrorCode,
    /// In plain words, naming the path.
    pub message: String,
}

impl FileError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    fn io(path: &str, e: io::Error) -> Self {
        let code = match e.kind() {
            io::ErrorKind::NotFound => ErrorCode::NotFound,
            io::ErrorKind::AlreadyExists => ErrorCode::AlreadyExists,
            _ => ErrorCode::Io,
        };
        Self::new(code, format!("{path}: {e}"))
    }
}

/// The working directory and the operations allowed in it.
#[derive(Debug, Clone)]
pub struct Workdir {
    root: PathBuf,
}

/// Whether the last component of a path is followed when it is a symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Last {
    /// Act on what the link points to (read, write): it must be inside too.
    Follow,
    /// Act on the link itself (delete, rename).
    Keep,
}

impl Workdir {
    /// The working directory at `root`, which must exist.
    pub fn new(root: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Self {
            root: fs::canonicalize(root)?,
        })
    }

    /// The directory's absolute path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The checked words of `rel`: its normal components, or a refusal.
    fn components(rel: &str) -> Result<Vec<&str>, FileError> {
        if rel.contains('\0') {
            return Err(FileError::new(
                ErrorCode::PathOutside,
                "a path may not contain NUL bytes",
            ));
        }
        if rel.starts_with('/') {
            return Err(FileError::new(
                ErrorCode::PathOutside,
                format!("{rel}: paths are relative to the working directory"),
            ));
        }
        let mut out = Vec::new();
        for c in Path::new(rel).components() {
            match c {
                Component::Normal(s) => out.push(s.to_str().ok_or_else(|| {
                    FileError::new(ErrorCode::PathOutside, "a path must be valid UTF-8")
                })?),
                Component::CurDir => {}
                Component::ParentDir => {
                    return Err(FileError::new(
                        ErrorCode::PathOutside,
                        format!("{rel}: `..` is not allowed in paths"),
                    ))
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(FileError::new(
                        ErrorCode::PathOutside,
                        format!("{rel}: paths are relative to the working directory"),
                    ))
                }
            }
        }
        Ok(out)
    }

    /// Resolves `rel` on disk, refusing anything that ends up outside the root.
    fn resolve(&self, rel: &str, last: Last) -> Result<PathBuf, FileError> {
        let parts = Self::components(rel)?;
        let outside = || {
            FileError::new(
                ErrorCode::PathOutside,
                format!("{rel}: leads outside the working directory"),
            )
        };
        let mut cur = self.root.clone();
        for (i, part) in parts.iter().enumerate() {
            cur.push(part);
            let is_last = i + 1 == parts.len();
            match fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_symlink() => {
                    if is_last && last == Last::Keep {
                        break;
                    }
                    // A dangling link would let a write create its target anywhere.
                    let target = fs::canonicalize(&cur).map_err(|_| outside())?;
                    if !target.starts_with(&self.root) {
                        return Err(outside());
                    }
                    cur = target;
                }
                Ok(_) => {}
                // The rest does not exist yet: nothing below can be a link.
                Err(_) => {
                    for rest in &parts[i + 1..] {
                        cur.push(rest);
                    }
                    break;
                }
            }
        }
        Ok(cur)
    }

    /// The whole file at `rel`.
    pub fn read(&self, rel: &str) -> Result<Vec<u8>, FileError> {
        let path = self.resolve(rel, Last::Follow)?;
        let meta = fs::metadata(&path).map_err(|e| FileError::io(rel, e))?;
        if !meta.is_file() {
            return Err(FileError::new(
                ErrorCode::WrongKind,
                format!("{rel}: not a file"),
            ));
        }
        if meta.len() > MAX_FILE_BYTES as u64 {
            return Err(FileError::new(
                ErrorCode::TooLarge,
                format!(
                    "{rel}: {} bytes is over the {MAX_FILE_BYTES}-byte limit",
                    meta.len()
                ),
            ));
        }
        fs::read(&path).map_err(|e| FileError::io(rel, e))
    }

    /// Replaces (or with `create_only`, creates) the file at `rel`, making parent folders.
    /// The write goes to a temporary file that is renamed into place, so a reader never sees
    /// half a file.
    pub fn write(&self, rel: &str, data: &[u8], create_only: bool) -> Result<(), FileError> {
        if data.len() > MAX_FILE_BYTES {
            return Err(FileError::new(
                ErrorCode::TooLarge,
                format!(
                    "{rel}: {} bytes is over the {MAX_FILE_BYTES}-byte limit",
                    data.len()
                ),
            ));
        }
        let path = self.resolve(rel, Last::Follow)?;
        if path == self.root {
            return Err(FileError::new(
                ErrorCode::WrongKind,
                "the working directory is not a file",
            ));
        }
        match fs::metadata(&path) {
            Ok(m) if m.is_dir() => {
                return Err(FileError::new(
                    ErrorCode::WrongKind,
                    format!("{rel}: is a folder"),
                ))
            }
            Ok(_) if create_only => {
                return Err(FileError::new(
                    ErrorCode::AlreadyExists,
                    format!("{rel}: already exists"),
                ))
            }
            _ => {}
        }
        let parent = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(parent).map_err(|e| FileError::io(rel, e))?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let tmp = parent.join(format!(".{name}.insider-{}", std::process::id()));
        let result = fs::write(&tmp, data).and_then(|()| {
            if create_only {
                // Fails if someone created it meanwhile.
                fs::hard_link(&tmp, &path).and_then(|()| fs::remove_file(&tmp))
            } else {
                fs::rename(&tmp, &path)
            }
        });
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(|e| FileError::io(rel, e))
    }

    /// Creates the folder `rel` and its parents.
    pub fn mkdir(&self, rel: &str) -> Result<(), FileError> {
        let path = self.resolve(rel, Last::Follow)?;
        fs::create_dir_all(&path).map_err(|e| FileError::io(rel, e))
    }

    /// Renames `from` to `to`, which must not exist.
    pub fn rename(&self, from: &str, to: &str) -> Result<(), FileError> {
        let src = self.resolve(from, Last::Keep)?;
        let dst = self.resolve(to, Last::Keep)?;
        if src == self.root || dst == self.root {
            return Err(FileError::new(
                ErrorCode::WrongKind,
                "the working directory cannot be renamed",
            ));
        }
        fs::symlink_metadata(&src).map_err(|e| FileError::io(from, e))?;
        if fs::symlink_metadata(&dst).is_ok() {
            return Err(FileError::new(
                ErrorCode::AlreadyExists,
                format!("{to}: already exists"),
            ));
        }
        if let Some(parent) = dst.parent() {
            fs::create_dir_all(parent).map_err(|e| FileError::io(to, e))?;
        }
        fs::rename(&src, &dst).map_err(|e| FileError::io(from, e))
    }

    /// Deletes the file, link or folder (with its contents) at `rel`.
    pub fn delete(&self, rel: &str) -> Result<(), FileError> {
        let path = self.resolve(rel, Last::Keep)?;
        if path == self.root {
            return Err(FileError::new(
                ErrorCode::WrongKind,
                "the working directory cannot be deleted",
            ));
        }
        let meta = fs::symlink_metadata(&path).map_err(|e| FileError::io(rel, e))?;
        if meta.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        }
        .map_err(|e| FileError::io(rel, e))
    }

    /// Every entry under the root, parents before children, large generated folders listed
    /// but not walked, at most [`MAX_TREE_ENTRIES`].
    pub fn tree(&self) -> Vec<TreeEntry> {
        let mut out = Vec::new();
        self.walk(&self.root, "", &mut out);
        out
    }

    fn walk(&self, dir: &Path, prefix: &str, out: &mut Vec<TreeEntry>) {
        let Ok(read) = fs::read_dir(dir) else {
            return;
        };
        let mut children: Vec<_> = read.filter_map(Result::ok).collect();
        children.sort_by_key(|e| e.file_name());
        for child in children {
            if out.len() >= MAX_TREE_ENTRIES {
                return;
            }
            let Some(name) = child.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if name.contains(".insider-") && name.starts_with('.') {
                continue; // our own temporary files
            }
            let Ok(ft) = child.file_type() else {
                continue;
            };
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            if ft.is_symlink() {
                out.push(TreeEntry {
                    path,
                    kind: EntryKind::Symlink,
                    size: 0,
                    walked: false,
                });
            } else if ft.is_dir() {
                let walked = !UNWALKED_DIRS.contains(&name.as_str());
                out.push(TreeEntry {
                    path: path.clone(),
                    kind: EntryKind::Dir,
                    size: 0,
                    walked,
                });
                if walked {
                    self.walk(&child.path(), &path, out);
                }
            } else if ft.is_file() {
                let size = child.metadata().map(|m| m.len()).unwrap_or(0);
                out.push(TreeEntry {
                    path,
                    kind: EntryKind::File,
                    size,
                    walked: true,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn setup() -> (tempfile::TempDir, Workdir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("interview");
        let outside = tmp.path().join("secret");
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("key"), b"do not read").unwrap();
        let wd = Workdir::new(&root).unwrap();
        (tmp, wd, outside)
    }

    #[test]
    fn write_read_rename_delete() {
        let (_t, wd, _) = setup();
        wd.write("src/app/main.py", b"print(1)\n", false).unwrap();
        assert_eq!(wd.read("src/app/main.py").unwrap(), b"print(1)\n");
        assert_eq!(wd.read("./src//app/main.py").unwrap(), b"print(1)\n");
        assert_eq!(
            wd.write("src/app/main.py", b"x", true).unwrap_err().code,
            ErrorCode::AlreadyExists
        );
        wd.write("src/app/main.py", b"\x00\xff binary", false)
            .unwrap();
        assert_eq!(wd.read("src/app/main.py").unwrap(), b"\x00\xff binary");
        wd.rename("src/app/main.py", "main.py").unwrap();
        assert_eq!(
            wd.read("src/app/main.py").unwrap_err().code,
            ErrorCode::NotFound
        );
        wd.mkdir("empty/dir").unwrap();
        wd.delete("src").unwrap();
        let paths: Vec<_> = wd.tree().into_iter().map(|e| e.path).collect();
        assert_eq!(paths, ["empty", "empty/dir", "main.py"]);
    }

    #[test]
    fn escapes_by_words_are_refused() {
        let (_t, wd, _) = setup();
        for bad in [
            "../secret/key",
            "/etc/passwd",
            "a/../../secret/key",
            "a\0b",
            "..",
        ] {
            let e = wd.read(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::PathOutside, "{bad}: {e:?}");
            assert_eq!(
                wd.write(bad, b"x", false).unwrap_err().code,
                ErrorCode::PathOutside,
                "{bad}"
            );
            assert_eq!(
                wd.delete(bad).unwrap_err().code,
                ErrorCode::PathOutside,
                "{bad}"
            );
        }
    }

    #[test]
    fn symlinks_leading_outside_are_refused() {
        let (_t, wd, outside) = setup();
        symlink(&outside, wd.root().join("out")).unwrap();
        symlink(outside.join("key"), wd.root().join("key-link")).unwrap();
        symlink(outside.join("nothing-yet"), wd.root().join("dangling")).unwrap();
        assert_eq!(wd.read("out/key").unwrap_err().code, ErrorCode::PathOutside);
        assert_eq!(
            wd.read("key-link").unwrap_err().code,
            ErrorCode::PathOutside
        );
        assert_eq!(
            wd.write("out/new", b"x", false).unwrap_err().code,
            ErrorCode::PathOutside
        );
        assert_eq!(
            wd.write("dangling", b"x", false).unwrap_err().code,
            ErrorCode::PathOutside
        );
        assert!(!outside.join("nothing-yet").exists());
        assert_eq!(
            wd.mkdir("out/sub").unwrap_err().code,
            ErrorCode::PathOutside
        );
        // The link itself may be deleted; what it pointed to stays.
        wd.delete("key-link").unwrap();
        assert_eq!(fs::read(outside.join("key")).unwrap(), b"do not read");
    }

    #[test]
    fn symlinks_inside_are_followed() {
        let (_t, wd, _) = setup();
        wd.write("real/a.txt", b"a", false).unwrap();
        symlink(wd.root().join("real"), wd.root().join("alias")).unwrap();
        assert_eq!(wd.read("alias/a.txt").unwrap(), b"a");
    }

    #[test]
    fn the_root_itself_cannot_be_deleted_or_written() {
        let (_t, wd, _) = setup();
        assert_eq!(wd.delete("").unwrap_err().code, ErrorCode::WrongKind);
        assert_eq!(wd.delete(".").unwrap_err().code, ErrorCode::WrongKind);
        assert_eq!(
            wd.write("", b"x", false).unwrap_err().code,
            ErrorCode::WrongKind
        );
    }

    #[test]
    fn huge_files_are_refused_whole() {
        let (_t, wd, _) = setup();
        let big = vec![b'x'; MAX_FILE_BYTES + 1];
        assert_eq!(
            wd.write("big.txt", &big, false).unwrap_err().code,
            ErrorCode::TooLarge
        );
        assert!(!wd.root().join("big.txt").exists());
        fs::write(wd.root().join("big.txt"), &big).unwrap();
        assert_eq!(wd.read("big.txt").unwrap_err().code, ErrorCode::TooLarge);
    }

    #[test]
    fn generated_folders_are_listed_not_walked() {
        let (_t, wd, _) = setup();
        wd.write("node_modules/left-pad/index.js", b"x", false)
            .unwrap();
        wd.write("app.js", b"x", false).unwrap();
        let tree = wd.tree();
        let nm = tree.iter().find(|e| e.path == "node_modules").unwrap();
        assert!(!nm.walked);
        assert!(!tree.iter().any(|e| e.path.starts_with("node_modules/")));
        assert!(tree.iter().any(|e| e.path == "app.js" && e.size == 1));
    }
}
