//! Writing the register's files on a disk that may fill up. An append that fails part-way
//! leaves whole lines only and says how many bytes of them stayed, so that what was stored is
//! counted as stored and only the rest as spilled or dropped.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// An append that failed: the first `kept` bytes of what was given (whole lines) are in the
/// file from `start` on, the rest is not.
#[derive(Debug, thiserror::Error)]
#[error("{source} (after {kept} bytes)")]
pub struct PartialWrite {
    pub start: u64,
    pub kept: usize,
    #[source]
    pub source: std::io::Error,
}

impl PartialWrite {
    fn none(source: std::io::Error) -> PartialWrite {
        PartialWrite {
            start: 0,
            kept: 0,
            source,
        }
    }
}

/// Appends `bytes` to `file` (opened for appending, written by one thread at a time) and
/// returns the file's length before. `unit` is what must stay whole: `b'\n'` for lines, or
/// `None` for fixed records, which are all or nothing. On a failure, the file is cut back to
/// the end of the last whole unit.
pub fn append(file: &mut File, bytes: &[u8], unit: Option<u8>) -> Result<u64, PartialWrite> {
    let start = file.metadata().map_err(PartialWrite::none)?.len();
    let mut written = 0;
    while written < bytes.len() {
        match file.write(&bytes[written..]) {
            Ok(0) => {
                let source = std::io::Error::from(std::io::ErrorKind::WriteZero);
                return Err(cut_back(file, start, bytes, written, unit, source));
            }
            Ok(n) => written += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(cut_back(file, start, bytes, written, unit, err)),
        }
    }
    Ok(start)
}

fn cut_back(
    file: &File,
    start: u64,
    bytes: &[u8],
    written: usize,
    unit: Option<u8>,
    source: std::io::Error,
) -> PartialWrite {
    let kept = unit.map_or(0, |end| {
        memchr::memrchr(end, &bytes[..written]).map_or(0, |at| at + 1)
    });
    if kept < written {
        // A file that cannot even be cut keeps a torn tail, which readers skip and the next
        // open closes with `end_line`.
        if let Err(err) = file.set_len(start + kept as u64) {
            tracing::warn!(error = %err, "a torn register write could not be cut back");
        }
    }
    PartialWrite {
        start,
        kept,
        source,
    }
}

/// Opens `path` for appending (and reading), creating it readable by the owner only.
pub fn open_append(path: &Path) -> std::io::Result<File> {
    open_private(
        OpenOptions::new().create(true).read(true).append(true),
        path,
    )
}

/// Opens a file of the register with `options`, creating it readable and writable by the
/// owner only (0600): its records say who asked about whom. A file an earlier version made
/// with wider permissions is narrowed.
pub fn open_private(options: &mut OpenOptions, path: &Path) -> std::io::Result<File> {
    let file = options.mode(PRIVATE).open(path)?;
    if file.metadata()?.permissions().mode() & 0o777 != PRIVATE {
        file.set_permissions(Permissions::from_mode(PRIVATE))?;
    }
    Ok(file)
}

const PRIVATE: u32 = 0o600;

/// Ends a file that was left with a torn last line, so the next record starts on its own line.
pub fn end_line(file: &mut File) -> std::io::Result<()> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    if last[0] != b'\n' {
        file.write_all(b"\n")?;
    }
    Ok(())
}

/// Bytes a probe writes: about a batch's worth of records, so that a disk with a few bytes
/// left does not pass for one that can take records again.
const PROBE_BYTES: usize = 256 * 1024;

/// Whether `dir` takes writes now: writes, syncs and removes a probe file.
pub fn probe(dir: &Path) -> std::io::Result<()> {
    let path = dir.join(".probe");
    let result = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut file| {
            file.write_all(&[b'\n'; PROBE_BYTES])?;
            file.sync_data()
        });
    let removed = std::fs::remove_file(&path);
    result?;
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_append_keeps_whole_lines_and_cuts_the_torn_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut file = open_append(&path).unwrap();
        assert_eq!(append(&mut file, b"one\ntwo\n", Some(b'\n')).unwrap(), 0);
        assert_eq!(append(&mut file, b"three\n", Some(b'\n')).unwrap(), 8);
        // What a full disk does to a write: part of it lands, then the rest fails.
        file.write_all(b"four\nfi").unwrap();
        let failed = cut_back(
            &file,
            14,
            b"four\nfive\n",
            7,
            Some(b'\n'),
            std::io::ErrorKind::StorageFull.into(),
        );
        assert_eq!(failed.kept, 5);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "one\ntwo\nthree\nfour\n"
        );
        file.write_all(b"xx").unwrap();
        let failed = cut_back(
            &file,
            19,
            b"xxxx",
            2,
            None,
            std::io::ErrorKind::StorageFull.into(),
        );
        assert_eq!(failed.kept, 0);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 19);
    }
}
