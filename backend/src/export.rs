//! A room's files as a zip archive, for the interviewer to keep.

use std::io::{Read, Write};

/// The name the interviewer's notes get in an export (next to the code, unless the code has a
/// file of that name).
pub const NOTES_NAME: &str = "INTERVIEW-NOTES.md";

/// Converts a tar archive of the working directory into a zip archive, adding the
/// interviewer's notes (when there are any) as [`NOTES_NAME`].
pub fn tar_to_zip(tar: &[u8], notes: Option<&str>) -> std::io::Result<Vec<u8>> {
    let mut names = std::collections::HashSet::new();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    let mut archive = tar::Archive::new(tar);
    if !tar.is_empty() {
        for entry in archive.entries()? {
            let mut entry = entry?;
            let path = entry
                .path()?
                .to_string_lossy()
                .trim_start_matches("./")
                .to_string();
            if path.is_empty() || path == "." {
                continue;
            }
            match entry.header().entry_type() {
                tar::EntryType::Directory => zip
                    .add_directory(path.trim_end_matches('/'), options)
                    .map_err(std::io::Error::other)?,
                tar::EntryType::Regular => {
                    let mut data = Vec::new();
                    entry.read_to_end(&mut data)?;
                    names.insert(path.clone());
                    zip.start_file(path, options)
                        .map_err(std::io::Error::other)?;
                    zip.write_all(&data)?;
                }
                // Links and devices are not part of an interview's code.
                _ => {}
            }
        }
    }
    if let Some(notes) = notes.filter(|n| !n.trim().is_empty()) {
        let name = if names.contains(NOTES_NAME) {
            "INTERVIEW-NOTES (interviewer).md"
        } else {
            NOTES_NAME
        };
        zip.start_file(name, options)
            .map_err(std::io::Error::other)?;
        zip.write_all(notes.as_bytes())?;
    }
    Ok(zip.finish().map_err(std::io::Error::other)?.into_inner())
}
