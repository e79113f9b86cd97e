//! What the integration tests share.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::{fs, process};

/// A directory of its own for one test, removed when dropped.
///
/// Named after the process and a counter, so tests running in parallel (and
/// test binaries running at the same time) never share one.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates a fresh, empty directory whose name includes `label`.
    pub fn new(label: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("book-test-{}-{n}-{label}", process::id()));
        // A leftover from a crashed run with the same process id: start clean.
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `contents` to `relative` inside the directory, creating parent
    /// directories as needed, and returns the file's path.
    #[allow(
        dead_code,
        reason = "each test file compiles this module; not all of them write"
    )]
    pub fn write(&self, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(relative);
        let parent = path
            .parent()
            .expect("a file inside the directory has a parent");
        fs::create_dir_all(parent).expect("create parent directories");
        fs::write(&path, contents).expect("write a test file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
