//! Keeps a room's document and the files in its container in step, both ways:
//!
//! - text files of `/interview` (UTF-8, at most 1 MiB, outside the large generated folders the
//!   agent does not walk) are in the document's `files` map as soon as the room is ready;
//! - edits in the document reach the files, debounced;
//! - files changed inside the container (a program, `git clone`) reach the document as a
//!   minimal diff, merged with edits not yet written so that nobody's typing is lost; files
//!   created or deleted there appear or vanish.
//!
//! The content last synced is remembered per file (its hash in the database, so that after a
//! restart the side that changed wins; when both did, the disk's change is applied to the
//! document as a diff).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use insider::protocol::{EntryKind, ErrorCode, Event, Request};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast::error::RecvError;
use yrs::{Map, Out, Text, TransactionMut};

use super::Hub;
use crate::runtime::{AgentLink, LinkError};
use crate::App;

/// Files larger than this stay out of the document.
pub const MAX_TEXT_FILE: usize = 1024 * 1024;

/// How long document edits settle before they are written.
const WRITE_AFTER: Duration = Duration::from_millis(250);

/// Starts keeping `room`'s document and files in step, unless that already runs.
pub fn start(app: &App, room: &str) {
    let app = app.clone();
    let room = room.to_string();
    app.inner.tasks.clone().spawn(async move {
        let hub = match app.inner.hubs.get_or_open(&app.inner.db, &app.inner.writer, &room).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(room = %room, error = %e, "files not synced: the document did not open");
                return;
            }
        };
        if hub.syncing.swap(true, Ordering::SeqCst) {
            return;
        }
        run(&app, &hub).await;
        hub.syncing.store(false, Ordering::SeqCst);
    });
}

fn hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What one side of a file holds.
enum Disk {
    Text(String),
    /// Binary, too large, or a folder: not for the document.
    Other,
    Missing,
}

async fn read(link: &AgentLink, path: &str) -> Result<Disk, LinkError> {
    match link.request(Request::Read { path: path.into() }).await {
        Ok(Event::File { data }) => Ok(text_of(data.into_vec())),
        Err(LinkError::Agent {
            code: ErrorCode::NotFound,
            ..
        }) => Ok(Disk::Missing),
        Err(LinkError::Agent { .. }) => Ok(Disk::Other),
        Ok(_) => Ok(Disk::Other),
        Err(e) => Err(e),
    }
}

fn text_of(bytes: Vec<u8>) -> Disk {
    if bytes.len() > MAX_TEXT_FILE || bytes.contains(&0) {
        return Disk::Other;
    }
    match String::from_utf8(bytes) {
        Ok(t) => Disk::Text(t),
        Err(_) => Disk::Other,
    }
}

struct Sync<'a> {
    app: &'a App,
    hub: &'a Arc<Hub>,
    link: AgentLink,
    /// What both sides held when last in step, by path.
    synced: HashMap<String, String>,
}

async fn run(app: &App, hub: &Arc<Hub>) {
    let room = hub.room.clone();
    let stop = app.inner.shutdown.clone();
    while !hub.closed.is_cancelled() && !stop.is_cancelled() {
        let Ok((link, _, mut events)) = app.room_terminal(&room).await else {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(300)) => continue,
                _ = hub.closed.cancelled() => return,
                _ = stop.cancelled() => return,
            }
        };
        let mut doc_changes = hub.doc.subscribe();
        let mut s = Sync {
            app,
            hub,
            link,
            synced: HashMap::new(),
        };
        if let Err(e) = s.reconcile().await {
            tracing::debug!(room = %room, error = %e, "files not reconciled yet");
            tokio::time::sleep(Duration::from_millis(300)).await;
            continue;
        }
        let mut dirty = false;
        let write_at = tokio::time::sleep(WRITE_AFTER);
        tokio::pin!(write_at);
        let (flush_tx, mut flush_rx) =
            tokio::sync::mpsc::channel::<tokio::sync::oneshot::Sender<()>>(8);
        *hub.flush.lock().unwrap_or_else(|p| p.into_inner()) = Some(flush_tx);
        loop {
            tokio::select! {
                Some(done) = flush_rx.recv() => {
                    dirty = false;
                    if let Err(e) = s.write_doc().await {
                        tracing::warn!(room = %room, error = %e, "document not written to the files");
                    }
                    let _ = done.send(());
                }
                _ = hub.closed.cancelled() => return,
                _ = stop.cancelled() => return,
                ev = events.recv() => match ev {
                    Ok(Event::Changed { paths }) => {
                        if let Err(e) = s.disk_changed(&paths).await {
                            tracing::debug!(room = %room, error = %e, "file change not synced");
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => {
                        if s.reconcile().await.is_err() {
                            break;
                        }
                    }
                    Err(RecvError::Closed) => break,
                },
                change = doc_changes.recv() => {
                    if matches!(change, Err(RecvError::Closed)) {
                        return;
                    }
                    if !dirty {
                        dirty = true;
                        write_at.as_mut().reset(tokio::time::Instant::now() + WRITE_AFTER);
                    }
                }
                _ = &mut write_at, if dirty => {
                    dirty = false;
                    if let Err(e) = s.write_doc().await {
                        tracing::debug!(room = %room, error = %e, "document not written to the files");
                    }
                }
            }
        }
        // The agent went away (restart, recovery): write what is pending to the next one.
    }
}

impl Sync<'_> {
    async fn stored_hashes(&self) -> Result<HashMap<String, String>, crate::Error> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT path, hash FROM file_sync WHERE room_id = ?")
                .bind(&self.hub.room)
                .fetch_all(&self.app.inner.db)
                .await?;
        Ok(rows.into_iter().collect())
    }

    async fn remember(&mut self, path: &str, text: Option<String>) -> Result<(), crate::Error> {
        let db = &self.app.inner.db;
        match &text {
            Some(t) => {
                sqlx::query(
                    "INSERT INTO file_sync (room_id, path, hash) VALUES (?, ?, ?)
                     ON CONFLICT (room_id, path) DO UPDATE SET hash = excluded.hash",
                )
                .bind(&self.hub.room)
                .bind(path)
                .bind(hash(t))
                .execute(db)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM file_sync WHERE room_id = ? AND path = ?")
                    .bind(&self.hub.room)
                    .bind(path)
                    .execute(db)
                    .await?;
            }
        }
        match text {
            Some(t) => self.synced.insert(path.to_string(), t),
            None => self.synced.remove(path),
        };
        Ok(())
    }

    /// Brings both sides in step after an attach: the side that changed since the last sync
    /// wins; when both did, the disk's change is applied to the document as a diff.
    async fn reconcile(&mut self) -> Result<(), crate::Error> {
        let entries = match self.link.request(Request::Tree).await? {
            Event::Tree { entries } => entries,
            other => {
                return Err(crate::Error::Runtime(format!(
                    "unexpected answer to a file listing: {other:?}"
                )))
            }
        };
        let mut disk: BTreeMap<String, Option<String>> = BTreeMap::new();
        for e in entries {
            if e.kind != EntryKind::File || !super::docs::valid_path(&e.path) {
                continue;
            }
            if e.size as usize > MAX_TEXT_FILE {
                disk.insert(e.path, None);
                continue;
            }
            let content = match read(&self.link, &e.path).await? {
                Disk::Text(t) => Some(t),
                Disk::Other | Disk::Missing => None,
            };
            disk.insert(e.path, content);
        }
        let doc = self.hub.doc.files().await;
        let stored = self.stored_hashes().await?;
        self.synced.clear();
        let mut paths: Vec<&String> = disk.keys().chain(doc.keys()).collect();
        paths.sort();
        paths.dedup();
        for path in paths {
            let last = stored.get(path);
            match (disk.get(path), doc.get(path)) {
                // Not text on disk: the document leaves it alone.
                (Some(None), _) => {}
                (Some(Some(d)), Some(t)) => {
                    if d == t {
                        self.remember(path, Some(d.clone())).await?;
                    } else if last == Some(&hash(d)) {
                        // Only the document changed.
                        self.write_file(path, t).await?;
                    } else {
                        // The disk changed (maybe both did): its change wins, as a diff.
                        self.disk_to_doc(path, None, d.clone()).await?;
                    }
                }
                (Some(Some(d)), None) => {
                    if last == Some(&hash(d)) {
                        // Deleted in the document while the room was away.
                        self.delete_file(path).await?;
                    } else {
                        self.disk_to_doc(path, None, d.clone()).await?;
                    }
                }
                (None, Some(t)) => {
                    if last.is_some() && last == Some(&hash(t)) {
                        // Deleted on disk; the document had not changed it.
                        self.drop_from_doc(path).await?;
                    } else if t.len() <= MAX_TEXT_FILE {
                        self.write_file(path, t).await?;
                    }
                }
                (None, None) => {}
            }
        }
        // Forget files neither side has any more.
        for path in stored.keys() {
            if !self.synced.contains_key(path) {
                sqlx::query("DELETE FROM file_sync WHERE room_id = ? AND path = ?")
                    .bind(&self.hub.room)
                    .bind(path)
                    .execute(&self.app.inner.db)
                    .await?;
            }
        }
        Ok(())
    }

    /// Writes `text` to the file at `path` and remembers it as in step.
    async fn write_file(&mut self, path: &str, text: &str) -> Result<(), crate::Error> {
        match self
            .link
            .request(Request::Write {
                path: path.into(),
                data: text.as_bytes().to_vec().into(),
                create_only: false,
            })
            .await?
        {
            Event::Done => self.remember(path, Some(text.to_string())).await,
            other => Err(crate::Error::Runtime(format!("write {path}: {other:?}"))),
        }
    }

    /// Brings the disk's `text` of `path` into the document (see [`set_text`] for `base`)
    /// and remembers it as in step.
    async fn disk_to_doc(
        &mut self,
        path: &str,
        base: Option<&str>,
        text: String,
    ) -> Result<(), crate::Error> {
        self.hub
            .doc
            .edit(|txn, files| set_text(txn, files, path, base, &text))
            .await?;
        self.remember(path, Some(text)).await
    }

    /// Takes `path` out of the document and forgets it.
    async fn drop_from_doc(&mut self, path: &str) -> Result<(), crate::Error> {
        self.hub
            .doc
            .edit(|txn, files| {
                files.remove(txn, path);
            })
            .await?;
        self.remember(path, None).await
    }

    /// Deletes the file at `path` (gone already is fine) and forgets it.
    async fn delete_file(&mut self, path: &str) -> Result<(), crate::Error> {
        match self
            .link
            .request(Request::Delete { path: path.into() })
            .await
        {
            Ok(_)
            | Err(LinkError::Agent {
                code: ErrorCode::NotFound,
                ..
            }) => self.remember(path, None).await,
            Err(e) => Err(e.into()),
        }
    }

    /// Writes the document's changes since the last sync to the files.
    async fn write_doc(&mut self) -> Result<(), crate::Error> {
        let doc = self.hub.doc.files().await;
        for (path, text) in &doc {
            if self.synced.get(path) != Some(text) && text.len() <= MAX_TEXT_FILE {
                self.write_file(path, text).await?;
            }
        }
        let gone: Vec<String> = self
            .synced
            .keys()
            .filter(|p| !doc.contains_key(*p))
            .cloned()
            .collect();
        for path in gone {
            self.delete_file(&path).await?;
        }
        Ok(())
    }

    /// Brings files the container changed into the document.
    async fn disk_changed(&mut self, paths: &[String]) -> Result<(), crate::Error> {
        for path in paths {
            if !super::docs::valid_path(path) {
                continue;
            }
            match read(&self.link, path).await? {
                Disk::Text(d) => {
                    let base = self.synced.get(path).cloned();
                    if base.as_deref() == Some(d.as_str()) {
                        continue; // our own write, seen by the watcher
                    }
                    self.disk_to_doc(path, base.as_deref(), d).await?;
                }
                // Gone, or (`Other`) a folder now, or binary or too large: it leaves the
                // document. The files of a folder are reported one by one.
                _ if self.synced.contains_key(path) => self.drop_from_doc(path).await?,
                Disk::Missing => {
                    // A folder went away with its files: look again at everything.
                    let prefix = format!("{path}/");
                    if self.synced.keys().any(|k| k.starts_with(&prefix)) {
                        self.reconcile().await?;
                    }
                }
                Disk::Other => {}
            }
        }
        Ok(())
    }
}

/// Sets the file at `path` to `new` with the smallest edit. With `base` (what was last in
/// step), the change from `base` to `new` is applied to the document's current text, so that
/// edits made in the document since then are kept.
fn set_text(
    txn: &mut TransactionMut,
    files: &yrs::MapRef,
    path: &str,
    base: Option<&str>,
    new: &str,
) {
    let text = match files.get(txn, path) {
        Some(Out::YText(t)) => t,
        _ => {
            files.insert(txn, path, yrs::TextPrelim::new(new));
            return;
        }
    };
    let current = yrs::GetString::get_string(&text, txn);
    let base = base.unwrap_or(&current);
    for (at, delete, insert) in rebased_edits(base, &current, new).into_iter().rev() {
        if delete > 0 {
            text.remove_range(txn, at as u32, delete as u32);
        }
        if !insert.is_empty() {
            text.insert(txn, at as u32, &insert);
        }
    }
}

/// The edits (byte offset in `current`, bytes to delete, text to insert) that carry the
/// change `base → new` over to `current` (which is `base` plus other edits), in increasing
/// offset order.
fn rebased_edits(base: &str, current: &str, new: &str) -> Vec<(usize, usize, String)> {
    use similar::{DiffOp, TextDiff};
    // Where each char boundary of `base` lies in `current`.
    let base_chars: Vec<usize> = base
        .char_indices()
        .map(|(i, _)| i)
        .chain([base.len()])
        .collect();
    let cur_chars: Vec<usize> = current
        .char_indices()
        .map(|(i, _)| i)
        .chain([current.len()])
        .collect();
    let map: Vec<usize> = if base == current {
        cur_chars.clone()
    } else {
        let mut map = vec![0usize; base_chars.len()];
        let diff = TextDiff::from_chars(base, current);
        for op in diff.ops() {
            match *op {
                DiffOp::Equal {
                    old_index,
                    new_index,
                    len,
                } => {
                    map[old_index..=old_index + len]
                        .copy_from_slice(&cur_chars[new_index..=new_index + len]);
                }
                DiffOp::Delete {
                    old_index,
                    old_len,
                    new_index,
                } => {
                    for k in 0..=old_len {
                        map[old_index + k] = cur_chars[new_index];
                    }
                }
                // Text inserted in the document at a base position: the next equal run
                // maps that position after it.
                DiffOp::Insert { .. } => {}
                DiffOp::Replace {
                    old_index,
                    old_len,
                    new_index,
                    new_len,
                } => {
                    for k in 0..old_len {
                        map[old_index + k] = cur_chars[new_index];
                    }
                    map[old_index + old_len] = cur_chars[new_index + new_len];
                }
            }
        }
        map
    };
    let new_chars: Vec<usize> = new
        .char_indices()
        .map(|(i, _)| i)
        .chain([new.len()])
        .collect();
    let mut edits = Vec::new();
    for op in TextDiff::from_chars(base, new).ops() {
        let (old_index, old_len, new_index, new_len) = match *op {
            DiffOp::Equal { .. } => continue,
            DiffOp::Delete {
                old_index,
                old_len,
                new_index,
            } => (old_index, old_len, new_index, 0),
            DiffOp::Insert {
                old_index,
                new_index,
                new_len,
            } => (old_index, 0, new_index, new_len),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => (old_index, old_len, new_index, new_len),
        };
        let start = map[old_index];
        let end = map[old_index + old_len].max(start);
        let insert = new[new_chars[new_index]..new_chars[new_index + new_len]].to_string();
        edits.push((start, end - start, insert));
    }
    edits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(current: &str, edits: &[(usize, usize, String)]) -> String {
        let mut s = current.to_string();
        for (at, del, ins) in edits.iter().rev() {
            s.replace_range(*at..*at + *del, ins);
        }
        s
    }

    #[test]
    fn a_change_on_disk_is_a_minimal_edit() {
        let edits = rebased_edits("a\nb\nc\n", "a\nb\nc\n", "a\nB!\nc\n");
        assert_eq!(apply("a\nb\nc\n", &edits), "a\nB!\nc\n");
        assert!(
            edits
                .iter()
                .all(|(_, del, ins)| *del <= 1 && ins.len() <= 2),
            "{edits:?}"
        );
    }

    #[test]
    fn a_change_on_disk_keeps_what_someone_typed_meanwhile() {
        let base = "def f():\n    pass\n";
        // Someone types a comment at the top; a formatter appends a line at the end.
        let current = "# typing\ndef f():\n    pass\n";
        let new = "def f():\n    pass\n\nprint(f())\n";
        let merged = apply(current, &rebased_edits(base, current, new));
        assert_eq!(merged, "# typing\ndef f():\n    pass\n\nprint(f())\n");
    }

    #[test]
    fn unicode_offsets_are_bytes_on_char_boundaries() {
        let base = "héllo wörld";
        let current = "héllo wörld ✓";
        let new = "hallo wörld";
        assert_eq!(
            apply(current, &rebased_edits(base, current, new)),
            "hallo wörld ✓"
        );
    }

    #[test]
    fn binary_and_large_files_stay_out() {
        assert!(matches!(text_of(b"ok\n".to_vec()), Disk::Text(_)));
        assert!(matches!(text_of(vec![0, 1, 2]), Disk::Other));
        assert!(matches!(text_of(vec![0xff, 0xfe]), Disk::Other));
        assert!(matches!(
            text_of(vec![b'a'; MAX_TEXT_FILE + 1]),
            Disk::Other
        ));
    }
}
