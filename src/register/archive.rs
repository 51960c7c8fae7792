//! The register's archive: expired records, gzip-compressed JSON Lines, in files the operator
//! moves to long-term storage. A file is written whole under a temporary name and then renamed,
//! so that the archive holds no torn file after a crash or a full disk.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;

/// Compresses `source` (JSON Lines) into `path`, or, if an archive of that name exists (an hour
/// that a late replay brought back), beside it as `<name>.1.jsonl.gz`, …. Returns the lines.
pub fn write(path: &Path, source: &mut dyn Read) -> std::io::Result<u64> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let target = free_name(path);
    let partial = target.with_extension("partial");
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)?;
    let mut encoder = GzEncoder::new(file, Compression::default());
    let mut reader = BufReader::with_capacity(1 << 20, source);
    let mut lines = 0;
    let written = (|| {
        loop {
            let chunk = reader.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            lines += memchr::memchr_iter(b'\n', chunk).count() as u64;
            encoder.write_all(chunk)?;
            let read = chunk.len();
            reader.consume(read);
        }
        encoder.finish()?.sync_all()
    })();
    if let Err(err) = written.and_then(|()| std::fs::rename(&partial, &target)) {
        let _ = std::fs::remove_file(&partial);
        return Err(err);
    }
    Ok(lines)
}

/// `path`, or the first `<stem>.<n>.jsonl.gz` beside it that does not exist.
fn free_name(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let stem = name.strip_suffix(".jsonl.gz").unwrap_or(&name).to_owned();
    let mut candidate = path.to_path_buf();
    let mut n = 0;
    while candidate.exists() {
        n += 1;
        candidate = path.with_file_name(format!("{stem}.{n}.jsonl.gz"));
    }
    candidate
}

/// The lines of `source`, for records deleted without an archive.
pub fn count_lines(source: &mut dyn Read) -> std::io::Result<u64> {
    let mut reader = BufReader::with_capacity(1 << 20, source);
    let mut lines = 0;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(lines);
        }
        lines += memchr::memchr_iter(b'\n', chunk).count() as u64;
        let read = chunk.len();
        reader.consume(read);
    }
}
