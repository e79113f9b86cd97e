//! The lesson's server: the page at `/`, the echo at `/ws`, 404 elsewhere,
//! and a shutdown that says goodbye to every connection.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use frame::CloseCode;
use handshake::{
    AcceptError, DeflateParams, DeflatePolicy, Limits, Reject, complete_upgrade_negotiating,
    http_response, read_request, refuse, write_and_close,
};
use support::{LiveConnections, accept_until, close_all};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::error::Error;
use crate::ws::{CLOSE_TIMEOUT, WebSocket, WebSocketConfig};

/// The page this lesson serves at `/`: type a message, watch it come back.
pub const PAGE: &str = include_str!("../../../static/echo.html");

/// How long a shutdown waits for connections to finish their close
/// handshakes before it aborts the rest: [`CLOSE_TIMEOUT`] and a second to
/// spare, so a connection only gets aborted if it outlives its own deadline.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(CLOSE_TIMEOUT.as_secs() + 1);

/// Everything the server can be tuned with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// The limits of each WebSocket connection.
    pub websocket: WebSocketConfig,
    /// The limits of lesson 1's head reader (size, time).
    pub handshake: Limits,
    /// See [`SHUTDOWN_TIMEOUT`]. Keep it above `websocket.close_timeout`.
    pub shutdown_timeout: Duration,
    /// permessage-deflate, accepted when a client offers it under this
    /// policy; `None` declines every offer. See [`DEFLATE`].
    pub deflate: Option<DeflatePolicy>,
}

// ANCHOR: deflate_default
/// The echo server's permessage-deflate: accepted, without context
/// takeover. Each message is compressed and inflated on its own, so an
/// idle connection holds no compression state at all; keeping the context
/// compresses messages that repeat each other better, for a compressor and
/// a window per connection (the Performance appendix measures both).
pub const DEFLATE: DeflatePolicy = DeflatePolicy {
    context_takeover: false,
};
// ANCHOR_END: deflate_default

impl Default for Config {
    fn default() -> Self {
        Config {
            websocket: WebSocketConfig::default(),
            handshake: Limits::default(),
            shutdown_timeout: SHUTDOWN_TIMEOUT,
            deflate: Some(DEFLATE),
        }
    }
}

/// The echo server, before it runs. [`run`] is `Server::new(listener).run(shutdown)`.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    config: Config,
    live: LiveConnections,
}

impl Server {
    /// A server on a bound listener, with the default [`Config`].
    pub fn new(listener: TcpListener) -> Server {
        Server {
            listener,
            config: Config::default(),
            live: LiveConnections::new(),
        }
    }

    /// Replaces the configuration.
    #[must_use]
    pub fn with_config(mut self, config: Config) -> Server {
        self.config = config;
        self
    }

    /// A handle on the live-connection count, to read while the server runs.
    pub fn live_connections(&self) -> LiveConnections {
        self.live.clone()
    }

    // ANCHOR: run
    /// Serves until `shutdown` completes; then stops accepting, closes every
    /// WebSocket with 1001 (going away), waits for the close handshakes up to
    /// the shutdown timeout, and aborts whatever is left.
    pub async fn run(self, shutdown: impl Future) {
        let Server {
            listener,
            config,
            live,
        } = self;
        // One token for all connections: cancelling it asks each to close.
        let stopping = CancellationToken::new();
        let mut connections = JoinSet::new();
        accept_until(&listener, shutdown, &mut connections, |stream, peer| {
            // Counted in now, counted out when the task ends, however it ends.
            let guard = live.enter();
            let stopping = stopping.clone();
            async move {
                let _guard = guard;
                serve(stream, peer, config, stopping).await;
            }
        })
        .await;
        // New connections are refused from here on.
        drop(listener);
        close_all(&stopping, &mut connections, config.shutdown_timeout).await;
    }
    // ANCHOR_END: run
}

/// Serves the lesson on `listener` until `shutdown` completes (see
/// [`Server::run`]), with the default [`Config`].
pub async fn run(listener: TcpListener, shutdown: impl Future) {
    Server::new(listener).run(shutdown).await;
}

// ANCHOR: serve
/// One TCP connection, from its request to its end.
async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    config: Config,
    stopping: CancellationToken,
) {
    // We write each frame with one call, so Nagle's algorithm has nothing to
    // gather; it could only hold a pong back until the client's delayed ACK.
    let _ = stream.set_nodelay(true);
    // Before the 101 there is no WebSocket to close politely: on shutdown
    // the request is simply dropped.
    let (early, agreed) = tokio::select! {
        () = stopping.cancelled() => return,
        routed = route_negotiating(&mut stream, config.handshake, PAGE, config.deflate) => match routed {
            Ok(Some(upgraded)) => upgraded,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(%peer, "no WebSocket: {e}");
                return;
            }
        },
    };
    let mut ws = WebSocket::from_upgraded(stream, &early, config.websocket);
    drop(early);
    if let Some(agreed) = agreed {
        ws = ws.with_deflate(agreed);
    }
    tracing::info!(%peer, "WebSocket open");
    let ended = tokio::select! {
        // `biased`: the branches are polled in the order written, not in a
        // random one (select!'s default, which keeps a branch that is always
        // ready from starving the others). Neither of these is, and the draw
        // would be paid on every wake-up, that is, for every message.
        biased;
        ended = echo(&mut ws) => ended,
        // RFC 6455 §7.4.1: 1001 "indicates that an endpoint is "going
        // away", such as a server going down".
        () = stopping.cancelled() => ws.close(CloseCode::GOING_AWAY, "server shutting down").await,
    };
    match (ended, ws.peer_close()) {
        (Ok(()), Some(close)) => tracing::info!(%peer, "closed: the peer said {close}"),
        (Ok(()), None) => tracing::info!(%peer, "closed"),
        (Err(e), _) => tracing::info!(%peer, "closed: {e}"),
    }
}
// ANCHOR_END: serve

// ANCHOR: echo
/// The whole echo: every message that comes in goes back out. Pings,
/// pongs and the close handshake happen inside `recv`.
async fn echo<S>(ws: &mut WebSocket<S>) -> Result<(), Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(message) = ws.recv().await? {
        ws.send(message).await?;
    }
    Ok(())
}
// ANCHOR_END: echo

// ANCHOR: route
/// Reads the request and answers it as every lesson does: `page` at `/`,
/// the pages' shared files at `/lesson.css` and `/lesson.js`,
/// the WebSocket handshake at `/ws` (lesson 1's checks, its refusals), 404
/// elsewhere. Returns the bytes the client sent behind its request when it
/// became a WebSocket, `None` when it got a file or a 404.
pub async fn route(
    stream: &mut TcpStream,
    limits: Limits,
    page: &str,
) -> Result<Option<BytesMut>, AcceptError> {
    let routed = route_negotiating(stream, limits, page, None).await?;
    Ok(routed.map(|(early, _)| early))
}

/// [`route`], accepting permessage-deflate under `deflate` when the client
/// offers it: with the early bytes comes what was agreed.
pub async fn route_negotiating(
    stream: &mut TcpStream,
    limits: Limits,
    page: &str,
    deflate: Option<DeflatePolicy>,
) -> Result<Option<(BytesMut, Option<DeflateParams>)>, AcceptError> {
    let incoming = read_request(stream, limits).await?;
    let request = &incoming.request;
    let file = match request.path() {
        "/ws" => {
            let (_, agreed) = complete_upgrade_negotiating(stream, request, deflate).await?;
            return Ok(Some((incoming.leftover, agreed)));
        }
        "/" => Some(("text/html; charset=utf-8", page)),
        path => support::shared_file(path),
    };
    let response = match file {
        Some(_) if request.method != "GET" => {
            let method = request.method.clone();
            return Err(refuse(stream, Reject::MethodNotGet { method }).await);
        }
        Some((content_type, body)) => http_response(200, &[], content_type, body.as_bytes()),
        None => {
            let body = b"not found: this lesson serves / (the page) and /ws (the WebSocket)\n";
            http_response(404, &[], "text/plain; charset=utf-8", body)
        }
    };
    write_and_close(stream, &response)
        .await
        .map_err(AcceptError::Io)?;
    Ok(None)
}
// ANCHOR_END: route
