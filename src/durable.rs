//! Files replaced whole and durably: the new content is written beside the old, synced, renamed
//! over it, and the folder synced, so that a crash leaves either the old file or the new one.

use std::io::Write;
use std::path::Path;

/// Replaces `path` with `bytes` (creating it if need be), durably; the new file is readable by
/// its owner only.
pub fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace_preparing(path, bytes, |_| Ok(()))
}

/// [`replace`], with `prepare` given the new file before it is synced (to set its permissions
/// or owner).
pub fn replace_preparing(
    path: &Path,
    bytes: &[u8],
    prepare: impl FnOnce(&std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    prepare(file.as_file())?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|err| err.error)?;
    std::fs::File::open(dir)?.sync_all()
}
