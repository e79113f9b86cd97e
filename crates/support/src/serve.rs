//! The skeleton of every lesson's server: accept until told to stop, count
//! what is open, and on shutdown give each connection a moment to say
//! goodbye before ending the rest.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

// ANCHOR: accept_until
/// Accepts connections on `listener` until `shutdown` completes, and spawns
/// `handle(stream, peer)` into `connections` for each.
///
/// Finished tasks are reaped as we go, so the set only holds live
/// connections; one that panicked is logged. When `shutdown` completes we
/// return at once, with the connections still running: how to end them is
/// the caller's choice (lesson 1 aborts them, lesson 3 says goodbye first
/// with [`close_all`]).
pub async fn accept_until<F, Fut>(
    listener: &TcpListener,
    shutdown: impl Future,
    connections: &mut JoinSet<()>,
    mut handle: F,
) where
    F: FnMut(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(handle(stream, peer));
                }
                // Out of file descriptors and the like: the trouble is the
                // listener's, not one client's. Log, breathe, go on.
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(joined) = connections.join_next(), if !connections.is_empty() => log_panic(joined),
        }
    }
}
// ANCHOR_END: accept_until

// ANCHOR: close_all
/// Ends every connection of a server that is shutting down: cancels
/// `stopping`, which asks each connection to close (a WebSocket sends
/// 1001, going away), waits up to `within` for their tasks to finish, and
/// aborts the rest.
pub async fn close_all(
    stopping: &CancellationToken,
    connections: &mut JoinSet<()>,
    within: Duration,
) {
    stopping.cancel();
    let all_done = async {
        while let Some(joined) = connections.join_next().await {
            log_panic(joined);
        }
    };
    if tokio::time::timeout(within, all_done).await.is_err() {
        tracing::warn!(
            "{} connections still open after {within:?}: aborting them",
            connections.len()
        );
        connections.shutdown().await;
    }
}
// ANCHOR_END: close_all

fn log_panic(joined: Result<(), tokio::task::JoinError>) {
    if let Err(e) = joined
        && e.is_panic()
    {
        tracing::error!("a connection task panicked: {e}");
    }
}

/// How many connections a server is handling right now: each one from the
/// moment it is counted in ([`LiveConnections::enter`]) until its guard
/// drops, whatever ended it.
///
/// Tests use it to prove that nothing is left behind; it is cheap to clone
/// and to read.
#[derive(Debug, Clone)]
pub struct LiveConnections(Arc<watch::Sender<usize>>);

impl LiveConnections {
    /// A gauge at zero.
    pub fn new() -> LiveConnections {
        LiveConnections(Arc::new(watch::Sender::new(0)))
    }

    /// The number right now.
    pub fn get(&self) -> usize {
        *self.0.borrow()
    }

    /// Waits until the number is `n` (returns at once if it is).
    pub async fn wait_until(&self, n: usize) {
        // We hold the sender, so the channel cannot close under us.
        let _ = self.0.subscribe().wait_for(|&live| live == n).await;
    }

    /// Counts one connection in; it is counted out when the guard drops.
    /// Take it before the connection's task is spawned and move it in.
    pub fn enter(&self) -> LiveGuard {
        self.0.send_modify(|live| *live += 1);
        LiveGuard(self.clone())
    }
}

impl Default for LiveConnections {
    fn default() -> LiveConnections {
        LiveConnections::new()
    }
}

/// Counts its connection out when dropped: when the task returns, panics or
/// is aborted, so the count cannot leak.
#[derive(Debug)]
pub struct LiveGuard(LiveConnections);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.0.send_modify(|live| *live -= 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepts_until_shutdown_and_counts_what_is_open() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let live = LiveConnections::new();
        let stopping = CancellationToken::new();
        let (stop, shutdown) = tokio::sync::oneshot::channel::<()>();
        let server = {
            let (live, stopping) = (live.clone(), stopping.clone());
            tokio::spawn(async move {
                let mut connections = JoinSet::new();
                accept_until(&listener, shutdown, &mut connections, |_stream, _peer| {
                    let guard = live.enter();
                    let stopping = stopping.clone();
                    async move {
                        let _guard = guard;
                        stopping.cancelled().await;
                    }
                })
                .await;
                close_all(&stopping, &mut connections, Duration::from_secs(5)).await;
            })
        };
        let _a = TcpStream::connect(addr).await.unwrap();
        let _b = TcpStream::connect(addr).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), live.wait_until(2))
            .await
            .expect("both connections counted in");
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("the server stops")
            .unwrap();
        assert_eq!(live.get(), 0, "every connection counted out");
    }

    #[tokio::test(start_paused = true)]
    async fn close_all_aborts_what_outlives_its_deadline() {
        let live = LiveConnections::new();
        let mut connections = JoinSet::new();
        let guard = live.enter();
        connections.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        close_all(
            &CancellationToken::new(),
            &mut connections,
            Duration::from_secs(1),
        )
        .await;
        assert!(connections.is_empty());
        assert_eq!(live.get(), 0, "the aborted task's guard dropped");
    }
}
