//! The server: warp's routes, served through hyper's HTTP/1 server by our
//! own accept loop, and a shutdown that says goodbye to every page.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use support::{LiveConnections, SCRIPT, STYLE, accept_until, close_all};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use warp::Filter;
use warp::http::Request;
use warp::reply::Response;

use crate::config::Config;
use crate::connection::{Shared, serve};
use crate::defences::admit::{Admission, turn_away};
use crate::defences::ticket::{TICKET_TTL, Tickets};
use crate::defences::upgrade::{ConnInfo, Gate, Handover, Upgrade, refusal, websocket_config};
use crate::hall::Hall;
use crate::protocol::SUBPROTOCOL;
use crate::room::Room;

/// The page this lesson serves at `/`: choose a nickname, chat, see who is
/// here.
pub const PAGE: &str = include_str!("../../../static/chat.html");

/// The chat server, before it runs. [`run`] is
/// `Server::new(listener).run(shutdown)`.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    config: Config,
    live: LiveConnections,
    room: Arc<dyn Hall>,
}

impl Server {
    /// A server on a bound listener, with the default [`Config`].
    pub fn new(listener: TcpListener) -> Server {
        Server::with_config(listener, Config::default())
    }

    /// A server on a bound listener, with `config`.
    pub fn with_config(listener: TcpListener, config: Config) -> Server {
        let room = Room::new(push::new_boot(), config.queue_capacity);
        Server::with_hall(listener, config, room)
    }

    /// A server whose room lives in `hall`: one shared by several servers,
    /// say. [`Server::with_config`] makes a [`Room`] of its own.
    pub fn with_hall(listener: TcpListener, config: Config, hall: Arc<dyn Hall>) -> Server {
        Server {
            listener,
            config,
            live: LiveConnections::new(),
            room: hall,
        }
    }

    /// The number of open WebSockets (lesson 3's gauge), to read while the
    /// server runs.
    pub fn live_connections(&self) -> LiveConnections {
        self.live.clone()
    }

    // ANCHOR: run
    /// Serves until `shutdown` completes; then stops accepting, closes
    /// every WebSocket with 1001 (going away), lets the HTTP requests in
    /// flight finish, and returns once all are done or the shutdown timeout
    /// has passed.
    pub async fn run(self, shutdown: impl Future) {
        let Server {
            listener,
            config,
            live,
            room,
        } = self;
        let stopping = CancellationToken::new();
        let shared = Shared {
            room,
            config: Arc::new(config),
            stopping: stopping.clone(),
        };
        let tickets = Arc::new(Tickets::new(TICKET_TTL));
        let gate = Arc::new(
            Gate::new(&shared.config, Arc::clone(&tickets), live.clone()).speaking(&[SUBPROTOCOL]),
        );
        let service =
            TowerToHyperService::new(warp::service(routes(gate, tickets, shared.clone())));
        serve_until(
            listener,
            shutdown,
            &shared.config,
            service,
            &stopping,
            &live,
        )
        .await;
    }
    // ANCHOR_END: run
}

// ANCHOR: serve_until
/// Serves `service` on `listener`, each connection through the [`admission`]
/// limits and [`http_server`]'s, until `shutdown` completes. Then it stops
/// accepting and cancels `stopping`, which tells each HTTP connection to
/// finish its request in flight (and start no other) and each WebSocket to
/// close with 1001; and it waits, up to the shutdown timeout, for the
/// connections and for the WebSockets counted in `websockets`, which run on
/// tasks of their own ([`Upgrade::accept`]).
pub async fn serve_until<S>(
    listener: TcpListener,
    shutdown: impl Future,
    config: &Config,
    service: S,
    stopping: &CancellationToken,
    websockets: &LiveConnections,
) where
    S: hyper::service::Service<Request<Incoming>, Response = Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let http = http_server(config);
    let admission = admission(config);
    let tls = config
        .tls
        .as_ref()
        .map(|tls| (TlsAcceptor::from(Arc::clone(&tls.0)), config.head_timeout));
    let mut connections = JoinSet::new();
    accept_until(&listener, shutdown, &mut connections, |stream, peer| {
        serve_http(
            stream,
            peer,
            admission.clone(),
            http.clone(),
            service.clone(),
            stopping.clone(),
            tls.clone(),
        )
    })
    .await;
    drop(listener);
    let deadline = Instant::now() + config.shutdown_timeout;
    close_all(stopping, &mut connections, config.shutdown_timeout).await;
    if timeout_at(deadline, websockets.wait_until(0))
        .await
        .is_err()
    {
        tracing::warn!("{} WebSockets still open at the deadline", websockets.get());
    }
}
// ANCHOR_END: serve_until

/// Serves the lesson on `listener` until `shutdown` completes (see
/// [`Server::run`]), with the default [`Config`].
pub async fn run(listener: TcpListener, shutdown: impl Future) {
    Server::new(listener).run(shutdown).await;
}

// ANCHOR: routes
/// The routes: the page at `/`, the room at `/ws` behind the gate, and the
/// gate's refusals turned into responses.
fn routes(
    gate: Arc<Gate>,
    tickets: Arc<Tickets>,
    shared: Shared,
) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    let page = warp::path::end()
        .and(warp::get())
        .map(|| warp::reply::html(PAGE));
    // The look and the helpers every lesson's page shares (the support crate's).
    let style = warp::path("lesson.css")
        .and(warp::path::end())
        .and(warp::get())
        .map(|| warp::reply::with_header(STYLE, "content-type", "text/css; charset=utf-8"));
    let script = warp::path("lesson.js")
        .and(warp::path::end())
        .and(warp::get())
        .map(|| warp::reply::with_header(SCRIPT, "content-type", "text/javascript; charset=utf-8"));
    // A ticket for one WebSocket. POST, so that no link or image on another
    // site fetches one by accident; and another site's page that POSTs
    // anyway cannot read the answer (we send no CORS header).
    let ticket = warp::path("ticket")
        .and(warp::path::end())
        .and(warp::post())
        .map(move || match tickets.issue() {
            Some(ticket) => warp::http::Response::builder()
                .header("content-type", "text/plain; charset=utf-8")
                .header("cache-control", "no-store")
                .body(ticket),
            None => warp::http::Response::builder()
                .status(503)
                .header("retry-after", "10")
                .body("too many tickets outstanding: try again in a little while\n".to_owned()),
        });
    let config = websocket_config(shared.config.max_message_size);
    let chat = warp::path("ws")
        .and(warp::path::end())
        // Lesson 1's checks, the Origin, tickets, the cap; then our 101.
        .and(crate::defences::upgrade::gate(gate))
        .map(move |upgrade: Upgrade| {
            let shared = shared.clone();
            upgrade.accept(config, move |socket, peer, slot| {
                serve(socket, peer, slot, shared)
            })
        });
    // Our refusals become lesson 1's responses; warp answers the rest
    // (404 for another path, 405 for a POST to the page).
    page.or(style)
        .or(script)
        .or(ticket)
        .or(chat)
        .recover(refusal)
}
// ANCHOR_END: routes

// ANCHOR: http_server
/// hyper's HTTP/1 server with the limits lesson 1 sets on its own head
/// reader. warp's `serve` uses hyper's defaults and exposes none of these.
/// Public for lesson 6, which serves its routes the same way.
pub fn http_server(config: &Config) -> http1::Builder {
    let mut http = http1::Builder::new();
    http
        // A head over 8 KiB, start line included, gets 431. (hyper's own
        // default is to buffer up to ~400 KiB.)
        .max_header_size(config.max_head_bytes)
        // A head not complete within 10 s: the connection is dropped, so a
        // client that sends a byte a minute cannot hold a socket forever.
        // The clock is tokio's, so a test can use a short timeout.
        .timer(TokioTimer::new())
        .header_read_timeout(config.head_timeout);
    http
}
// ANCHOR_END: http_server

/// The limits at the door ([`Admission`]) that `config` sets. Public for
/// lesson 6, which serves its routes the same way.
pub fn admission(config: &Config) -> Admission {
    Admission::new(config.max_http_connections, config.max_per_ip)
        .trusting(config.trusted_proxies.clone())
}

// ANCHOR: serve_http
/// One TCP connection, as long as it speaks HTTP: first the limits at the
/// door ([`Admission`]); then hyper reads the requests and hands them to
/// warp; after a 101, hyper lets go of the socket and this task ends (and
/// with it the connection's HTTP permit) while the WebSocket carries on. It
/// puts a [`ConnInfo`] in each request's extensions for the
/// [`gate`](crate::gate). Public for lesson 6, which serves its routes the
/// same way.
pub async fn serve_http<S>(
    stream: TcpStream,
    peer: SocketAddr,
    admission: Admission,
    http: http1::Builder,
    service: S,
    stopping: CancellationToken,
    tls: Option<(TlsAcceptor, Duration)>,
) where
    S: hyper::service::Service<Request<Incoming>, Response = Response, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let admitted = match admission.admit(peer.ip()) {
        Ok(admitted) => admitted,
        Err(why) => {
            tracing::info!(%peer, "turned away: {why}");
            return turn_away(stream, why).await;
        }
    };
    // The HTTP permit lives as long as this task: until hyper lets go.
    let _http = admitted.http;
    // Chat messages are small and each is written whole: Nagle's algorithm
    // could only delay them.
    let _ = stream.set_nodelay(true);
    let address = admitted.ip;
    let Some((acceptor, within)) = tls else {
        return serve_io(stream, peer, address, false, http, service, stopping).await;
    };
    // The TLS handshake first, bounded like a request head.
    let handshake = tokio::select! {
        handshake = tokio::time::timeout(within, acceptor.accept(stream)) => handshake,
        () = stopping.cancelled() => return,
    };
    match handshake {
        Ok(Ok(stream)) => serve_io(stream, peer, address, true, http, service, stopping).await,
        Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
        Err(_) => tracing::debug!(%peer, "no TLS handshake within {within:?}"),
    }
}
// ANCHOR_END: serve_http

/// HTTP over `io`, a TCP connection or TLS over one (`tls`), as
/// [`serve_http`] describes.
async fn serve_io<IO, S>(
    io: IO,
    peer: SocketAddr,
    address: Option<Arc<crate::defences::admit::IpCount>>,
    tls: bool,
    http: http1::Builder,
    service: S,
    stopping: CancellationToken,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    // What warp has no filter for, put where a filter can read it.
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        let info = ConnInfo {
            version: request.version(),
            peer,
            address: address.clone(),
            tls,
            upgrade: Handover::new(hyper::upgrade::on(&mut request)),
        };
        request.extensions_mut().insert(info);
        hyper::service::Service::call(&service, request)
    });
    let connection = http
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(connection);
    let served = tokio::select! {
        served = connection.as_mut() => served,
        () = stopping.cancelled() => {
            // Finish the request in flight, if any, then close.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = served {
        tracing::debug!(%peer, "HTTP connection ended: {e}");
    }
}
