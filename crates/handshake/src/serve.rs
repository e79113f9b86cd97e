//! What every lesson's server and `main` do the same way, written once: the
//! accept loop, and the few lines that start a lesson from the command line.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::bind_or_explain;

/// Accepts connections on `listener` until `shutdown` completes, and spawns
/// `handle(stream, peer)` into `connections` for each.
///
/// Finished tasks are reaped as we go, so the set only holds live
/// connections; one that panicked is logged. When `shutdown` completes we
/// return at once, with the connections still running: how to end them is
/// the caller's choice (lesson 1 aborts them, lesson 3 says goodbye first).
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
            Some(joined) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = joined
                    && e.is_panic()
                {
                    tracing::error!("a connection task panicked: {e}");
                }
            }
        }
    }
}

/// Logs to the terminal: `info` and up, or whatever `RUST_LOG` asks for.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
}

/// Binds the `HOST:PORT` given as the first command-line argument, or
/// `default`. Returns the listener and the address it got (with port 0, the
/// one the system picked); on failure, says why on stderr.
pub async fn bind_from_args(default: &str) -> Option<(TcpListener, SocketAddr)> {
    let addr = std::env::args().nth(1);
    let listener = bind_or_explain(addr.as_deref().unwrap_or(default)).await?;
    let local = listener.local_addr().ok()?;
    Some((listener, local))
}

/// Completes when Ctrl-C is pressed: the shutdown signal a lesson's `main`
/// passes to its `run`. Where Ctrl-C cannot be watched it never completes,
/// and the server runs until it is killed.
pub async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
