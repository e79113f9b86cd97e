//! Idle mode: open N connections, hold them without sending a byte, and
//! weigh the server.
//!
//! Most WebSocket connections spend their lives idle (a chat tab in the
//! background, a dashboard between updates), so what an idle connection
//! costs the server decides how many users one machine can carry. We read
//! the server's resident memory (`VmRSS`) before opening anything and again
//! after holding the connections for a moment, and divide the difference by
//! the connections held.

use std::fmt;
use std::time::Duration;

use crate::client::Client;
use crate::fleet::{close_all, open_many};
use crate::sys::{self, CapacityError};
use crate::{Tally, Target};

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdleOptions {
    /// The server.
    pub target: Target,
    /// How many connections to open and hold.
    pub connections: usize,
    /// How long to hold them after the last one opened, before weighing the
    /// server: long enough for it to finish any per-connection setup it does
    /// after the handshake.
    pub hold: Duration,
    /// The server's process id, to read its memory.
    pub server_pid: Option<u32>,
}

/// Connections opened and held open, doing nothing.
#[derive(Debug)]
pub struct IdleSet {
    clients: Vec<Client>,
    failures: Tally,
    open_time: Duration,
}

impl IdleSet {
    /// Opens `count` connections to `target` (see [`crate::open_many`]).
    pub async fn open(target: &Target, count: usize) -> IdleSet {
        let opened = open_many(std::slice::from_ref(target), count).await;
        IdleSet {
            clients: opened.clients,
            failures: opened.failures,
            open_time: opened.elapsed,
        }
    }

    /// How many connections completed their handshake.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Whether none did.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// Why the others did not.
    pub fn failures(&self) -> &Tally {
        &self.failures
    }

    /// How long opening them took.
    pub fn open_time(&self) -> Duration {
        self.open_time
    }

    /// Lets go of the connections the server has closed, checked without
    /// waiting (see [`Client::is_open`]); returns how many there were.
    pub fn drop_closed(&mut self) -> usize {
        let before = self.clients.len();
        self.clients.retain_mut(Client::is_open);
        before - self.clients.len()
    }

    /// Closes them all with the closing handshake (see [`crate::close_all`]);
    /// returns the ones that did not close cleanly.
    pub async fn close(self) -> Tally {
        close_all(self.clients).await
    }
}

/// The result of [`run_idle`].
#[derive(Debug, Clone)]
pub struct IdleReport {
    /// The options it ran with.
    pub options: IdleOptions,
    /// Connections open at the end of the hold.
    pub held: usize,
    /// How long opening them took.
    pub open_time: Duration,
    /// The server's resident memory before we connected, in bytes.
    pub rss_before: Option<u64>,
    /// ... and after holding the connections.
    pub rss_after: Option<u64>,
    /// What went wrong, by kind: connect failures, connections lost while
    /// idle (`lost-while-idle`), unclean closes.
    pub errors: Tally,
    /// Conditions that make the figures doubtful.
    pub warnings: Vec<String>,
}

impl IdleReport {
    /// The server's memory growth per held connection, in bytes.
    pub fn rss_per_connection(&self) -> Option<f64> {
        let grown = self.rss_after?.saturating_sub(self.rss_before?);
        (self.held > 0).then(|| grown as f64 / self.held as f64)
    }

    /// The report as one JSON object, for scripts.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "mode": "idle",
            "url": self.options.target.to_string(),
            "connections": self.options.connections,
            "held": self.held,
            "open_s": (self.open_time.as_secs_f64() * 1000.0).round() / 1000.0,
            "hold_s": self.options.hold.as_secs_f64(),
            "server_pid": self.options.server_pid,
            "rss_before_bytes": self.rss_before,
            "rss_after_bytes": self.rss_after,
            "rss_per_conn_bytes": self.rss_per_connection().map(f64::round),
            "errors": self.errors.total(),
            "error_kinds": self.errors.to_json(),
            "warnings": self.warnings,
        })
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A few lines for people; `--json` gives the same as one line for scripts.
impl fmt::Display for IdleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        writeln!(
            f,
            "idle {}: held {} of {} connections (opened in {:.2} s, held {:.1} s)",
            o.target,
            self.held,
            o.connections,
            self.open_time.as_secs_f64(),
            o.hold.as_secs_f64()
        )?;
        match (self.rss_before, self.rss_after, self.rss_per_connection()) {
            (Some(before), Some(after), per) => writeln!(
                f,
                "  server RSS {:.1} MiB → {:.1} MiB: {}",
                mib(before),
                mib(after),
                per.map_or("no connection held".into(), |b| format!(
                    "{:.1} KiB per connection",
                    b / 1024.0
                ))
            )?,
            _ if o.server_pid.is_none() => {
                writeln!(f, "  (pass --server-pid PID to weigh the server)")?;
            }
            _ => writeln!(f, "  server RSS unknown (see warnings)")?,
        }
        write!(
            f,
            "  errors: {}",
            self.errors.to_string().replace('\n', "\n          ")
        )?;
        for w in &self.warnings {
            write!(f, "\n  warning: {w}")?;
        }
        Ok(())
    }
}

// ANCHOR: run_idle
/// Opens the connections, holds them for [`IdleOptions::hold`], weighs the
/// server, closes them, and reports.
///
/// # Errors
///
/// [`CapacityError`] before anything is opened, if this process cannot hold
/// that many connections.
pub async fn run_idle(options: &IdleOptions) -> Result<IdleReport, CapacityError> {
    sys::check_capacity(options.connections)?;
    let mut warnings = Vec::new();
    let rss = |pid| match sys::rss_bytes(pid) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            tracing::warn!("cannot read the memory of pid {pid}: {e}");
            None
        }
    };
    let rss_before = options.server_pid.and_then(rss);
    if let Some(pid) = options.server_pid {
        warnings.extend(sys::server_fd_warning(pid, options.connections));
        if rss_before.is_none() {
            warnings.push(format!("cannot read /proc/{pid}/status: is the pid right?"));
        }
    }

    let mut set = IdleSet::open(&options.target, options.connections).await;
    tokio::time::sleep(options.hold).await;
    let rss_after = options.server_pid.and_then(rss);
    let lost = set.drop_closed();
    let held = set.len();

    let mut errors = set.failures().clone();
    for _ in 0..lost {
        errors.add("lost-while-idle", || {
            "the server closed an idle connection during the hold".into()
        });
    }
    let open_time = set.open_time();
    errors.merge(set.close().await);
    Ok(IdleReport {
        options: options.clone(),
        held,
        open_time,
        rss_before,
        rss_after,
        errors,
        warnings,
    })
}
// ANCHOR_END: run_idle
