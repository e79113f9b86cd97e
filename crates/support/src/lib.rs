//! # What every lesson's program needs and no chapter teaches
//!
//! Each lesson is a library (what its chapter teaches) and a `main.rs` of
//! about twenty lines that starts it. Those `main`s, and the servers behind
//! them, share a little plumbing that has nothing to do with WebSocket. It
//! lives here, once:
//!
//! - the program's start: [`lesson`] (a whole `main` for a lesson whose
//!   only option is its address), [`serve`] (bind, print the URL, run until
//!   Ctrl-C), [`start`] (logging, then [`bind`], which binds or explains),
//!   [`init_logging`], [`ctrl_c`]; each command line is a `clap` derive, so
//!   `--help` exits 0 and a mistake exits 2 with the usage, and a failure to
//!   bind exits 1 with a sentence saying what to do;
//! - the server's skeleton: [`accept_until`] (the accept loop) and
//!   [`close_all`] (the graceful shutdown), with [`LiveConnections`]
//!   counting what is open, so tests can prove nothing is left behind;
//! - the files every lesson page loads: [`STYLE`] and [`SCRIPT`], found by
//!   [`shared_file`];
//! - [`unix_millis`], the wall clock the pages' timestamps use;
//! - [`program_check`]: what the tests run against every binary.

mod page;
pub mod program_check;
mod serve;
mod start;

pub use page::{SCRIPT, STYLE, shared_file};
pub use serve::{LiveConnections, LiveGuard, accept_until, close_all};
pub use start::{Shutdown, above_zero, bind, ctrl_c, init_logging, lesson, serve, start};

/// Now, in milliseconds since the Unix epoch (0 on a clock set before 1970).
pub fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
