//! The course book: build it, check it, serve it.
//!
//! `book/` holds an [mdBook](https://rust-lang.github.io/mdBook/) with one
//! chapter per lesson. This crate is what turns it into a website:
//!
//! ```text
//! cargo run -p book                    # build, then serve on http://127.0.0.1:3000
//! cargo run -p book -- 127.0.0.1:4000  # the same, on another address
//! cargo run -p book -- --check         # build, then run the checker; exit 1 on a fault
//! ```
//!
//! While it serves, it watches the sources (the chapters, `book.toml`, and
//! the lessons and pages the chapters include): after an edit it rebuilds
//! the book and every open page reloads itself, told over a WebSocket.
//!
//! The crate has three parts:
//!
//! - [`build_book`] and [`build`] drive `mdbook-driver`, the library behind the
//!   `mdbook` command, so nobody has to install the command itself.
//! - [`check()`] (with its passes in the [`mod@check`] module) is the reason
//!   this crate has tests. The chapters never paste code: they include it from
//!   the lessons by anchor. When an include names a file that does not
//!   exist, mdBook logs an error and leaves the raw directive in the page; when
//!   it names a missing anchor, mdBook renders an empty listing without a
//!   word. Either way the build succeeds and the book quietly stops showing
//!   the code it talks about. The checker turns
//!   each such slip into a failure that names the file and line, and also
//!   catches `cargo run -p` commands for packages that do not exist, or that
//!   leave cargo no single binary to run (several and no `default-run`, none,
//!   or a `--bin` the package does not have).
//! - [`serve()`] serves the built book with warp's `fs::dir`, and does the
//!   live reload: it polls the sources, rebuilds, and sends `reload` on a
//!   WebSocket at `/__livereload` to every open page, where a few lines of
//!   JavaScript ([`LIVE_RELOAD_SCRIPT`], added to the pages only as they are
//!   served) reload it. A small real use of the protocol this book teaches.

use std::path::{Path, PathBuf};

use mdbook_driver::MDBook;

pub mod check;
mod serve;
mod watch;

pub use check::{Fault, Problem, check};
pub use serve::{LIVE_RELOAD_SCRIPT, serve};

/// The address `cargo run -p book` listens on when given none.
///
/// Every lesson has its own default port so that several can run at once;
/// the book takes 3000.
pub const DEFAULT_ADDR: &str = "127.0.0.1:3000";

/// The error type of the glue in this crate: building can fail in mdBook,
/// checking in the file system, and neither is worth an enum of our own.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The root of the workspace: the directory holding the root `Cargo.toml`,
/// `README.md`, `crates/` and `book/`.
///
/// It is found from this crate's manifest directory at compile time, so the
/// binary and the tests work from any current directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(3)
        .expect("this crate lives at <workspace>/crates/tools/book, three levels down")
        .to_path_buf()
}

/// The course book's root directory, the one holding `book.toml`.
pub fn book_dir() -> PathBuf {
    workspace_root().join("book")
}

/// Builds the course book into `book/build` and returns that directory.
///
/// # Errors
///
/// Fails when mdBook does: an unreadable `book.toml` or `SUMMARY.md`, a chapter
/// listed there that does not exist, a renderer error. An include that does
/// not resolve is *not* an error to mdBook; run [`check()`] for those.
pub fn build_book() -> Result<PathBuf, Error> {
    build(&book_dir(), None)
}

/// Builds the book whose `book.toml` is in `book_root` and returns the
/// directory that holds the HTML.
///
/// The HTML goes to `build_dir` when it is given, and otherwise to the
/// `build-dir` of `book.toml`. Tests pass their own directory so that they
/// never overwrite the book a reader may be serving.
///
/// # Errors
///
/// As for [`build_book`].
pub fn build(book_root: &Path, build_dir: Option<&Path>) -> Result<PathBuf, Error> {
    let mut book = MDBook::load(book_root)?;
    if let Some(dir) = build_dir {
        // `MDBook` joins this to its root; an absolute path replaces the root.
        book.config.build.build_dir = std::path::absolute(dir)?;
    }
    book.build()?;
    // With only the HTML renderer configured, mdBook writes straight into the
    // build directory rather than into a `html/` subdirectory of it.
    Ok(book.build_dir_for("html"))
}
