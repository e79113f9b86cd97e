//! Opening many connections, and closing them again, a bounded number at a
//! time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::client::{Client, SessionError};
use crate::{Tally, Target};

/// How many connects (each a TCP handshake plus a WebSocket handshake) are
/// in flight at once.
///
/// A server's listen backlog holds the connections the kernel has completed
/// but the server has not yet accepted: 128 for a listener bound by `std`,
/// mio or tokio. Ten thousand SYNs at once overflow it, the kernel drops the
/// excess, and those clients retry after 1 s, then 3 s: the run would
/// measure our burst, not the server. Half the backlog in flight can never
/// overflow it, and still opens 10,000 connections to an efficient server
/// in well under a second on loopback.
pub const CONNECT_CONCURRENCY: usize = 64;

/// How long the closing handshake of one connection may take.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// The outcome of [`open_many`].
#[derive(Debug)]
pub struct Opened {
    /// The connections that completed their handshake.
    pub clients: Vec<Client>,
    /// Why the others did not, by [`crate::ConnectError::kind`].
    pub failures: Tally,
    /// How long opening them all took.
    pub elapsed: Duration,
}

/// Opens `count` connections, [`CONNECT_CONCURRENCY`] at a time: the first
/// to `targets[0]`, the next to `targets[1]`, and so on in turn (one
/// target, but for the servers of lesson 8's cluster).
///
/// Each attempt is bounded by [`crate::CONNECT_TIMEOUT`], so this returns
/// within `count / CONNECT_CONCURRENCY × CONNECT_TIMEOUT` at worst (and on
/// loopback in milliseconds to seconds).
pub async fn open_many(targets: &[Target], count: usize) -> Opened {
    let start = Instant::now();
    let targets: Arc<[Target]> = Arc::from(targets);
    // A fixed pool of workers taking numbers off a shared counter, rather
    // than a task per connection: 10,000 tasks waiting on a semaphore would
    // work too, but the pool says "64 at a time" in its shape.
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..CONNECT_CONCURRENCY.min(count) {
        let (targets, next) = (Arc::clone(&targets), Arc::clone(&next));
        workers.spawn(async move {
            let mut clients = Vec::new();
            let mut failures = Tally::new();
            // Relaxed is enough: the counter only hands out distinct numbers,
            // it orders no other memory.
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                // In turn over the servers (one, but for a cluster).
                match Client::connect(&targets[i % targets.len()]).await {
                    Ok(client) => clients.push(client),
                    Err(e) => {
                        tracing::debug!("connect failed: {e}");
                        failures.add(e.kind(), || e.to_string());
                    }
                }
            }
            (clients, failures)
        });
    }
    let mut opened = Opened {
        clients: Vec::with_capacity(count),
        failures: Tally::new(),
        elapsed: Duration::ZERO,
    };
    while let Some(joined) = workers.join_next().await {
        let (clients, failures) = joined_or_panic(joined);
        opened.clients.extend(clients);
        opened.failures.merge(failures);
    }
    opened.elapsed = start.elapsed();
    opened
}

/// Performs the closing handshake on every client at once, each bounded by
/// [`CLOSE_TIMEOUT`], and counts the ones that did not close cleanly.
pub async fn close_all(clients: Vec<Client>) -> Tally {
    let mut closing = JoinSet::new();
    for client in clients {
        closing.spawn(async move {
            match tokio::time::timeout(CLOSE_TIMEOUT, client.close()).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(_elapsed) => Some(SessionError::TimedOut),
            }
        });
    }
    let mut failures = Tally::new();
    while let Some(joined) = closing.join_next().await {
        if let Some(e) = joined_or_panic(joined) {
            failures.add(close_kind(&e), || format!("closing: {e}"));
        }
    }
    failures
}

/// The kind a failed close is counted under: the session's kind, prefixed,
/// so that a report tells "the server hung up mid-run" from "the server
/// botched the goodbye".
pub fn close_kind(e: &SessionError) -> &'static str {
    match e.kind() {
        "timeout" => "close-timeout",
        "eof" => "close-eof",
        "reset" => "close-reset",
        "protocol" => "close-protocol",
        _ => "close-io",
    }
}

/// A task's result; a panic in the task is a bug here, so it goes on
/// unwinding in the caller rather than being counted as a network failure.
pub(crate) fn joined_or_panic<T>(joined: Result<T, tokio::task::JoinError>) -> T {
    match joined {
        Ok(value) => value,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // We never abort these tasks, and the runtime only cancels them
        // when it shuts down, which cannot happen while we run on it.
        Err(e) => panic!("task cancelled: {e}"),
    }
}
