//! Watchlists in files: one a watchlist in one folder, named by its department and name in
//! hexadecimal (`<department>_<name>.watchlist`; a department's name may hold any character).
//! A write goes to a temporary file in the folder, which is synced, renamed over the
//! watchlist's file, and the folder synced: the old watchlist or the new one is there after a
//! crash, never a part of one. A file that does not read (see `format`) is refused at load,
//! named, and the others load.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{format, hex, Loaded, Watchlist, WatchlistError};

const EXTENSION: &str = "watchlist";

pub(super) struct FileStore {
    dir: PathBuf,
}

fn unavailable(what: &str, path: &Path, err: std::io::Error) -> WatchlistError {
    WatchlistError::Unavailable(format!("{what} {}: {err}", path.display()))
}

impl FileStore {
    /// The store in `dir`, made if missing.
    pub(super) fn open(dir: &Path) -> Result<FileStore, WatchlistError> {
        fs::create_dir_all(dir).map_err(|err| unavailable("cannot make the folder", dir, err))?;
        Ok(FileStore {
            dir: dir.to_path_buf(),
        })
    }

    fn path(&self, department: &str, name: &str) -> PathBuf {
        self.dir
            .join(format!("{}_{}.{EXTENSION}", hex(department), hex(name)))
    }

    /// Every watchlist file of the folder, each read or refused.
    pub(super) fn load_all(&self) -> Result<Loaded, WatchlistError> {
        let entries = fs::read_dir(&self.dir)
            .map_err(|err| unavailable("cannot read the folder", &self.dir, err))?;
        let mut loaded = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|err| unavailable("cannot read the folder", &self.dir, err))?
                .path();
            if path.extension().is_none_or(|ext| ext != EXTENSION) {
                continue;
            }
            loaded.push(self.read(&path).map(Arc::new));
        }
        Ok(loaded)
    }

    fn read(&self, path: &Path) -> Result<Watchlist, WatchlistError> {
        // Named by the file alone: the status shows it to any key.
        let corrupt = |why: String| WatchlistError::Corrupt {
            what: path
                .file_name()
                .map_or_else(String::new, |name| name.to_string_lossy().into_owned()),
            why,
        };
        let bytes = fs::read(path).map_err(|err| corrupt(err.to_string()))?;
        let list = format::decode(&bytes).map_err(corrupt)?;
        if self.path(&list.department, &list.name) != path {
            return Err(corrupt(
                "its department and name are not those its file is named for".into(),
            ));
        }
        Ok(list)
    }

    /// Writes `list` in place of its file, durably.
    pub(super) fn put(&self, list: &Watchlist) -> Result<(), WatchlistError> {
        let path = self.path(&list.department, &list.name);
        let bytes = format::encode(list).map_err(|err| {
            WatchlistError::Unavailable(format!("cannot write the watchlist: {err}"))
        })?;
        let temp = tempfile::Builder::new()
            .prefix(".watchlist-")
            .tempfile_in(&self.dir)
            .map_err(|err| unavailable("cannot make a file in", &self.dir, err))?;
        let written = temp
            .as_file()
            .write_all(&bytes)
            .and_then(|()| temp.as_file().sync_all());
        written.map_err(|err| unavailable("cannot write", temp.path(), err))?;
        temp.persist(&path)
            .map_err(|err| unavailable("cannot rename over", &path, err.error))?;
        self.sync_dir()
    }

    /// Removes the watchlist's file, durably; false if there was none.
    pub(super) fn delete(&self, department: &str, name: &str) -> Result<bool, WatchlistError> {
        let path = self.path(department, name);
        match fs::remove_file(&path) {
            Ok(()) => self.sync_dir().map(|()| true),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(err) => Err(unavailable("cannot remove", &path, err)),
        }
    }

    fn sync_dir(&self) -> Result<(), WatchlistError> {
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(|err| unavailable("cannot sync the folder", &self.dir, err))
    }
}
