//! A room's files as a zip archive, for the interviewer to keep.

use std::io::{Read, Write};

/// Converts a tar archive of the working directory into a zip archive.
pub fn tar_to_zip(tar: &[u8]) -> std::io::Result<Vec<u8>> {
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
                    zip.start_file(path, options)
                        .map_err(std::io::Error::other)?;
                    zip.write_all(&data)?;
                }
                // Links and devices are not part of an interview's code.
                _ => {}
            }
        }
    }
    Ok(zip.finish().map_err(std::io::Error::other)?.into_inner())
}
