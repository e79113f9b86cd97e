//! The server: one log, four routes that read it, lesson 5's way of
//! serving warp through hyper, and a shutdown that answers everybody.

use std::collections::HashMap;
use std::future::Future;

use std::sync::Arc;

use chatroom::{Gate, TICKET_TTL, Tickets, Upgrade, refusal, serve_until, websocket_config};
use hyper_util::service::TowerToHyperService;
use support::{LiveConnections, SCRIPT, STYLE};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use crate::config::Config;
use crate::log::Log;
use crate::poll::{Shared, long_poll, short_poll, since, text};
use crate::sse::sse;
use crate::ticker::publish;

/// The page this lesson serves at `/`: the four transports side by side.
pub const PAGE: &str = include_str!("../../../static/transports.html");

/// The server, before it runs. [`run`] is `Server::new(listener).run(shutdown)`.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    config: Config,
    log: Arc<Log>,
    websockets: LiveConnections,
    waiting: LiveConnections,
    streams: LiveConnections,
}

impl Server {
    /// A server on a bound listener, with the default [`Config`].
    pub fn new(listener: TcpListener) -> Server {
        Server::with_config(listener, Config::default())
    }

    /// A server on a bound listener, with `config`.
    pub fn with_config(listener: TcpListener, config: Config) -> Server {
        Server {
            log: Arc::new(Log::new(config.log_capacity)),
            listener,
            config,
            websockets: LiveConnections::new(),
            waiting: LiveConnections::new(),
            streams: LiveConnections::new(),
        }
    }

    /// The event log. The feed appends to it; so can a test, with the feed
    /// turned off (`tick_interval: None`).
    pub fn log(&self) -> Arc<Log> {
        Arc::clone(&self.log)
    }

    /// How many WebSockets are open.
    pub fn websockets(&self) -> LiveConnections {
        self.websockets.clone()
    }

    /// How many long polls are waiting for news.
    pub fn long_polls(&self) -> LiveConnections {
        self.waiting.clone()
    }

    /// How many SSE streams are open.
    pub fn sse_streams(&self) -> LiveConnections {
        self.streams.clone()
    }

    // ANCHOR: run
    /// Serves until `shutdown` completes; then stops accepting and the
    /// feed, answers every waiting long poll (503), ends every SSE stream,
    /// closes every WebSocket with 1001, and returns once all are done or
    /// the shutdown timeout has passed.
    pub async fn run(self, shutdown: impl Future) {
        let Server {
            listener,
            config,
            log,
            websockets,
            waiting,
            streams,
        } = self;
        let stopping = CancellationToken::new();
        let feed = config.tick_interval.map(|every| {
            let log = Arc::clone(&log);
            tokio::spawn(async move { publish(&log, every).await })
        });
        let shared = Shared {
            log,
            config: Arc::new(config),
            stopping: stopping.clone(),
            waiting,
            streams,
        };
        let limits = &shared.config.limits;
        // Lesson 5's gate, with no tickets required: this feed is public.
        let tickets = Arc::new(Tickets::new(TICKET_TTL));
        let gate = Arc::new(Gate::new(limits, tickets, websockets.clone()));
        let service = TowerToHyperService::new(warp::service(routes(gate, shared.clone())));
        // The feed stops with the accepting; then lesson 5's shutdown:
        // cancelling `stopping` answers the long polls, ends the streams,
        // closes the WebSockets, and tells each HTTP connection to finish
        // its request in flight.
        let shutdown = async {
            shutdown.await;
            if let Some(feed) = &feed {
                feed.abort();
            }
        };
        serve_until(listener, shutdown, limits, service, &stopping, &websockets).await;
    }
    // ANCHOR_END: run
}

/// Serves the lesson on `listener` until `shutdown` completes (see
/// [`Server::run`]), with the default [`Config`].
pub async fn run(listener: TcpListener, shutdown: impl Future) {
    Server::new(listener).run(shutdown).await;
}

type Query = HashMap<String, String>;

// ANCHOR: routes
/// The routes: the page and its files, the four transports, and a sentence
/// for any other path.
fn routes(
    gate: Arc<Gate>,
    shared: Shared,
) -> impl Filter<Extract = (impl Reply,), Error = warp::Rejection> + Clone {
    let files =
        warp::get()
            .and(warp::path::full())
            .and_then(|path: warp::path::FullPath| async move {
                let (content_type, body) = match path.as_str() {
                    "/" => ("text/html; charset=utf-8", PAGE),
                    "/lesson.css" => ("text/css; charset=utf-8", STYLE),
                    "/lesson.js" => ("text/javascript; charset=utf-8", SCRIPT),
                    _ => return Err(warp::reject::not_found()),
                };
                Ok(warp::reply::with_header(body, "content-type", content_type))
            });
    let with = move || {
        let shared = shared.clone();
        warp::any().map(move || shared.clone())
    };
    let poll = warp::path!("poll")
        .and(warp::get())
        .and(warp::query::<Query>())
        .and(with())
        .map(|query: Query, shared: Shared| short_poll(&query, &shared));
    let long = warp::path!("long-poll")
        .and(warp::get())
        .and(warp::query::<Query>())
        .and(with())
        .then(long_poll);
    let sse = warp::path!("sse")
        .and(warp::get())
        .and(warp::header::optional::<String>("last-event-id"))
        .and(warp::query::<Query>())
        .and(with())
        .map(|id, query: Query, shared: Shared| sse(id, &query, &shared));
    let ws = warp::path!("ws")
        // Lesson 1's checks, the Origin, the cap; then lesson 5's 101.
        .and(chatroom::gate(gate))
        .and(warp::query::<Query>())
        .and(with())
        .map(|upgrade: Upgrade, query: Query, shared: Shared| {
            let cursor = match since(&query, &shared.log) {
                Ok(cursor) => cursor,
                Err(bad) => return *bad,
            };
            // The page never sends anything bigger than a Close.
            upgrade.accept(websocket_config(1024), move |socket, peer, slot| {
                crate::ws::serve(socket, peer, slot, cursor, shared)
            })
        });
    files
        .or(poll)
        .or(long)
        .or(sse)
        .or(ws)
        .recover(refusal)
        .recover(not_found)
}
// ANCHOR_END: routes

/// A path this lesson does not serve gets a sentence that lists those it
/// does; any other rejection (405, a malformed query) keeps warp's answer.
async fn not_found(rejection: warp::Rejection) -> Result<Response, warp::Rejection> {
    if rejection.is_not_found() {
        let sentence = "not found: this lesson serves / (the page), /poll, /long-poll, /sse \
                        and /ws, each with an optional ?since=N\n";
        return Ok(text(StatusCode::NOT_FOUND, sentence.to_owned()));
    }
    Err(rejection)
}
