//! The lesson's server: the page at `/`, the feed at `/ws`, 404 elsewhere;
//! one producer, one broadcast channel, one task per connection.

use std::future::Future;
use std::net::SocketAddr;

use echo::route;
use support::{LiveConnections, accept_until, close_all};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::connection::{goodbye, pump, upgraded};
use crate::feed::{FEED_CAPACITY, new_boot, publish};

/// The page this lesson serves at `/`: the phrases as they arrive, the
/// connection's state, and a reconnect that backs off.
pub const PAGE: &str = include_str!("../../../static/push.html");

// ANCHOR: run
/// Pushes a phrase to every connected page each `config.push_interval`
/// until `shutdown` completes; then stops accepting, closes every WebSocket
/// with 1001 (going away), waits for the close handshakes up to the
/// shutdown timeout, and aborts whatever is left.
///
/// `live` counts the connections: pass a clone of one you
/// keep, to watch it while the server runs.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    live: LiveConnections,
    shutdown: impl Future,
) {
    let (feed, _) = broadcast::channel(FEED_CAPACITY);
    let boot = new_boot();
    let stopping = CancellationToken::new();
    let mut connections = JoinSet::new();
    let accepting = accept_until(&listener, shutdown, &mut connections, |stream, peer| {
        let guard = live.enter();
        // Subscribed the moment TCP connects, before the request is even
        // read: every phrase published after our 101 is already queued
        // for this peer. (Subscribe after the 101 and the first phrase
        // can slip between the two.) A peer that only wants the page
        // drops its receiver with its task.
        let phrases = feed.subscribe();
        let stopping = stopping.clone();
        async move {
            let _guard = guard;
            connection(stream, peer, phrases, config, stopping).await;
        }
    });
    // The producer runs inside this future, not on a task of its own:
    // when `serve` returns (or is dropped), it is gone too.
    tokio::select! {
        () = accepting => {}
        never = publish(&feed, &boot, config.push_interval) => match never {},
    }
    // New connections are refused from here on.
    drop(listener);
    close_all(&stopping, &mut connections, config.shutdown_timeout).await;
}
// ANCHOR_END: run

/// Serves the lesson on `listener` until `shutdown` completes (see
/// [`serve`]), with the default [`Config`].
pub async fn run(listener: TcpListener, shutdown: impl Future) {
    serve(
        listener,
        Config::default(),
        LiveConnections::new(),
        shutdown,
    )
    .await;
}

// ANCHOR: connection
/// One TCP connection, from its request to its end.
async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    mut phrases: broadcast::Receiver<Utf8Bytes>,
    config: Config,
    stopping: CancellationToken,
) {
    // Small frames, each written whole: Nagle's algorithm could only delay
    // them (a pong behind a delayed ACK).
    let _ = stream.set_nodelay(true);
    // Lesson 1 reads and checks the request and answers it, 101 or the
    // refusal it earns; lesson 3 adds the page and the 404. Before the 101
    // there is no WebSocket to close politely: on shutdown we just stop.
    let routed = stopping
        .run_until_cancelled(route(&mut stream, config.handshake, PAGE))
        .await;
    let early = match routed {
        Some(Ok(Some(early))) => early,
        Some(Ok(None)) | None => return,
        Some(Err(e)) => {
            tracing::debug!(%peer, "no WebSocket: {e}");
            return;
        }
    };
    // From the 101 on, the stream is tokio-tungstenite's, and the frames
    // the client sent behind its request are the first it reads.
    let mut ws = upgraded(stream, &early, &config).await;
    tracing::info!(%peer, "WebSocket open");
    let end = pump(&mut ws, &mut phrases, &config, &stopping, peer).await;
    tracing::info!(%peer, "closing: {end}");
    goodbye(ws, &end, config.close_timeout).await;
}
// ANCHOR_END: connection
