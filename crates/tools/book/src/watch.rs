//! Noticing that the book's sources changed, by polling.
//!
//! Every [`POLL_INTERVAL`] we list the files under the watched paths with
//! their modification time and size, and compare the list with the last
//! one. A few hundred `stat` calls twice a second cost nothing, work the same
//! on every system and every file system, and need no dependency; the price
//! is up to half a second between saving a file and the rebuild starting.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How often the sources are looked at.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Every file under the watched paths, with what tells us it changed.
///
/// Two snapshots differ when a file was added, removed, or written to: a
/// write changes the modification time, and on a coarse clock usually the
/// size too.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot(BTreeMap<PathBuf, (Option<SystemTime>, u64)>);

/// What to watch for one book, and what to leave out.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Files and directories (walked to the bottom) whose change means a
    /// rebuild.
    pub watched: Vec<PathBuf>,
    /// The build directory, never watched even when it lies inside a watched
    /// directory: the rebuild writes there, and would set off the next one.
    pub build_dir: PathBuf,
}

impl Sources {
    /// Lists the files now. Paths that cannot be read are left out: a file
    /// removed while we walk is simply not there.
    pub fn snapshot(&self) -> Snapshot {
        let mut files = BTreeMap::new();
        for path in &self.watched {
            self.walk(path, &mut files);
        }
        Snapshot(files)
    }

    fn walk(&self, path: &Path, files: &mut BTreeMap<PathBuf, (Option<SystemTime>, u64)>) {
        let Ok(meta) = fs::metadata(path) else { return };
        if meta.is_file() {
            files.insert(path.to_path_buf(), (meta.modified().ok(), meta.len()));
            return;
        }
        if !meta.is_dir() || path == self.build_dir {
            return;
        }
        let Ok(entries) = fs::read_dir(path) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            // Editors' swap files and `.git`, and any cargo `target`.
            if name.to_string_lossy().starts_with('.') || name == "target" {
                continue;
            }
            self.walk(&entry.path(), files);
        }
    }
}
