//! The gate and the upgrade: lesson 1's checks on the upgrade request, the
//! Origin allow-list, tickets and the connection cap, each refusal with its
//! status code; then the 101 and the hand-over of the socket, done here
//! rather than by warp's `ws()`.
//!
//! warp's `ws()` filter checks the method, `Connection: upgrade`,
//! `Upgrade: websocket`, `Sec-WebSocket-Version: 13` and that a key is
//! there. It does not check that the key is 16 bytes of base64, that the
//! request is HTTP/1.1, or that it has a `Host`; a wrong version gets 400
//! where RFC 6455 §4.4 asks for 426 and the version we speak. So the gate
//! runs lesson 1's [`handshake::validate`], which checks all of that and
//! computes the accept key. What `ws()` would add after it is the 101 and
//! the WebSocket, made with tungstenite's default 128 KiB read buffer and
//! no way to change it: so we make both ourselves ([`Upgrade::accept`]).

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use handshake::{Headers, Reject, Request, Version, check_origin, choose_subprotocol, validate};
use support::{LiveConnections, LiveGuard};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use warp::Filter;
use warp::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use warp::reply::{Reply, Response};

use crate::config::Config;
use crate::defences::admit::{Admission, IpCount, Turned};
use crate::defences::ticket::{TicketError, Tickets};

/// What our HTTP service learns from hyper and puts in each request's
/// extensions for the filters: warp has no filter for the HTTP version, and
/// we want the peer's address in the logs.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The request's HTTP version (hyper accepts 1.0; we must not).
    pub version: warp::http::Version,
    /// Who is at the other end.
    pub peer: SocketAddr,
    /// The connection's count against its address ([`crate::Admission`]):
    /// a WebSocket keeps it after the HTTP phase ends. `None` when the
    /// connection is from a trusted proxy: the gate counts the WebSocket
    /// against the client address the proxy forwards.
    pub address: Option<Arc<IpCount>>,
    /// The connection speaks TLS (`--tls-cert`): the page came over https.
    pub tls: bool,
    /// hyper's promise of the socket after a 101, for this request.
    pub upgrade: Handover,
}

/// hyper's promise of the socket once a 101 has gone out
/// ([`hyper::upgrade::on`]), taken out of the request before warp sees it
/// so that a filter can claim it: warp's own `ws()` reaches it through an
/// API warp keeps to itself, and a filter's extension must be `Clone`.
#[derive(Debug, Clone)]
pub struct Handover(Arc<Mutex<Option<OnUpgrade>>>);

impl Handover {
    /// Wraps the promise hyper made for one request.
    pub fn new(upgrade: OnUpgrade) -> Handover {
        Handover(Arc::new(Mutex::new(Some(upgrade))))
    }

    /// The promise, once.
    fn take(&self) -> Option<OnUpgrade> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// A WebSocket on the socket hyper hands over after the 101.
pub type WebSocket = WebSocketStream<TokioIo<Upgraded>>;

/// Our WebSocket settings: lesson 4's 4 KiB read buffer (tungstenite's
/// default is 128 KiB, allocated for every connection, and zero-filled
/// again before every read), and `max_message_size` for a frame and for a
/// whole message, both checked from the frame's header, before its
/// payload is read.
pub fn websocket_config(max_message_size: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(push::READ_BUFFER_SIZE)
        .max_frame_size(Some(max_message_size))
        .max_message_size(Some(max_message_size))
}

// ANCHOR: upgrade
/// An upgrade the gate has let through: its slot, who asked, what the 101
/// will say, and hyper's promise of the socket.
#[derive(Debug)]
pub struct Upgrade {
    slot: Slot,
    peer: SocketAddr,
    pass: Pass,
    handover: Option<OnUpgrade>,
}

/// What the gate decided for a request it let through.
#[derive(Debug)]
pub struct Pass {
    /// The accept key lesson 1 computed.
    pub accept: String,
    /// The subprotocol to name in the 101, if the client offered one the
    /// server speaks.
    pub subprotocol: Option<&'static str>,
}

impl Upgrade {
    /// Who asked.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Answers 101 (lesson 1's, with the accept key and the subprotocol
    /// chosen) and, once hyper has
    /// sent it and let go of the socket, runs `serve` on it as a WebSocket
    /// with `config`, on a task of its own. The slot goes with the socket
    /// and is given back when `serve` returns, or at once if the socket
    /// never comes (the client went away right after its request).
    pub fn accept<F, Fut>(self, config: WebSocketConfig, serve: F) -> Response
    where
        F: FnOnce(WebSocket, SocketAddr, Slot) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Upgrade {
            slot,
            peer,
            pass,
            handover,
        } = self;
        let Some(handover) = handover else {
            // Only a request served without hyper's upgrades gets here: a
            // 101 would promise a socket nobody will serve.
            tracing::error!(%peer, "no upgrade to hand over: is with_upgrades() on?");
            return from_lesson_one(&handshake::http_response(
                500,
                &[],
                "text/plain; charset=utf-8",
                b"this server cannot hand over the connection\n",
            ));
        };
        tokio::spawn(async move {
            match handover.await {
                Ok(upgraded) => {
                    let io = TokioIo::new(upgraded);
                    let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
                    serve(ws, peer, slot).await;
                }
                Err(e) => tracing::debug!(%peer, "no socket after the 101: {e}"),
            }
        });
        let protocol = pass
            .subprotocol
            .map(|name| ("Sec-WebSocket-Protocol", name));
        let answer = handshake::response_101_with(&pass.accept, protocol.as_slice());
        from_lesson_one(answer.as_bytes())
    }
}
// ANCHOR_END: upgrade

/// Why the gate turned an upgrade away.
#[derive(Debug)]
pub enum Refusal {
    /// Lesson 1's refusal, with lesson 1's status: 400, 403, 405, 426.
    Handshake(Reject),
    /// No valid ticket, and the server requires one: 401.
    Ticket(TicketError),
    /// The client behind a trusted proxy holds as many connections as one
    /// address may: 429.
    TooManyFromYou(Turned),
    /// The server holds as many WebSockets as it may: 503.
    Full {
        /// The cap.
        max: usize,
    },
}

impl warp::reject::Reject for Refusal {}

/// A WebSocket's place in the server: taken at the gate, before the 101,
/// and given back when the connection's task ends, however it ends.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    _live: LiveGuard,
    _address: Option<Arc<IpCount>>,
}

/// The gate's settings and its count of open WebSockets.
#[derive(Debug)]
pub struct Gate {
    allowed_origins: Vec<String>,
    tickets: Arc<Tickets>,
    require_ticket: bool,
    max_connections: usize,
    slots: Arc<Semaphore>,
    live: LiveConnections,
    subprotocols: &'static [&'static str],
    /// Counts the WebSockets that come through a trusted proxy, by the
    /// client address it forwards.
    forwarded: Admission,
}

impl Gate {
    /// A gate that lets in pages from the server's own origin and from
    /// `config.allowed_origins`, with a ticket from `tickets` if
    /// `config.require_ticket`, and at most `config.max_connections`
    /// WebSockets at once.
    pub fn new(config: &Config, tickets: Arc<Tickets>, live: LiveConnections) -> Gate {
        let max_connections = config.max_connections;
        Gate {
            allowed_origins: config.allowed_origins.clone(),
            tickets,
            require_ticket: config.require_ticket,
            max_connections,
            slots: Arc::new(Semaphore::new(max_connections)),
            live,
            subprotocols: &[],
            forwarded: crate::server::admission(config),
        }
    }

    /// The gate of a server that speaks these subprotocols: the 101 names
    /// the first one a client offers, in the client's order (lesson 1's
    /// [`choose_subprotocol`]); an offer of none of them gets a 101 that
    /// names none, and a malformed offer gets 400.
    pub fn speaking(self, subprotocols: &'static [&'static str]) -> Gate {
        Gate {
            subprotocols,
            ..self
        }
    }

    // ANCHOR: check
    /// Checks an upgrade request in lesson 1's order (HTTP basics, then the
    /// WebSocket fields), then the subprotocols it offers, its Origin, its
    /// `ticket` (from the URL's query), and that there is room; takes a
    /// slot if all pass. `https`: the page was loaded over https (our own
    /// TLS, or a trusted proxy's), so its origin is `https://` + Host.
    pub fn check(
        &self,
        request: &Request,
        ticket: Option<&str>,
        https: bool,
    ) -> Result<(Slot, Pass), Refusal> {
        let accept = validate(request).map_err(Refusal::Handshake)?;
        let subprotocol =
            choose_subprotocol(request, self.subprotocols).map_err(Refusal::Handshake)?;
        // Same origin by default: a page may connect if it came from this
        // very server. `validate` has made sure there is exactly one Host.
        let own = format!(
            "{}://{}",
            if https { "https" } else { "http" },
            request.headers.get_one("Host").unwrap_or_default()
        );
        let mut allowed: Vec<&str> = vec![&own];
        allowed.extend(self.allowed_origins.iter().map(String::as_str));
        check_origin(request, &allowed).map_err(Refusal::Handshake)?;
        // A ticket that came along is used up either way, so tickets the
        // server does not ask for do not pile up.
        let redeemed = match ticket {
            Some(_) => self.tickets.redeem(ticket),
            None => Err(TicketError::Missing),
        };
        if self.require_ticket {
            redeemed.map_err(Refusal::Ticket)?;
        }
        // A semaphore, not a counter compared with the cap: taking a permit
        // is one atomic step, so a thousand upgrades arriving together
        // cannot all see "one slot left".
        let permit = Arc::clone(&self.slots)
            .try_acquire_owned()
            .map_err(|_| Refusal::Full {
                max: self.max_connections,
            })?;
        let slot = Slot {
            _permit: permit,
            _live: self.live.enter(),
            _address: None,
        };
        Ok((
            slot,
            Pass {
                accept,
                subprotocol,
            },
        ))
    }
    // ANCHOR_END: check
}

/// The client's address as a trusted proxy forwards it: the last entry of
/// `X-Forwarded-For`, the one our proxy wrote (any before it came from the
/// client, and prove nothing).
fn forwarded_for(request: &Request) -> Option<std::net::IpAddr> {
    let list = request.headers.get_all("X-Forwarded-For").last()?;
    list.rsplit(',').next()?.trim().parse().ok()
}

// ANCHOR: as_lesson_one
/// The request as lesson 1 sees it, rebuilt from what hyper parsed. Header
/// values that are not UTF-8 are kept lossily, as lesson 1's parser does.
pub(crate) fn lesson_one_request(
    method: &Method,
    target: &str,
    version: warp::http::Version,
    headers: &HeaderMap,
) -> Request {
    let version = match version {
        warp::http::Version::HTTP_09 => Version { major: 0, minor: 9 },
        warp::http::Version::HTTP_10 => Version { major: 1, minor: 0 },
        warp::http::Version::HTTP_11 => Version { major: 1, minor: 1 },
        // Our server speaks HTTP/1 only; anything else is "too new".
        _ => Version { major: 2, minor: 0 },
    };
    Request {
        method: method.as_str().to_owned(),
        target: target.to_owned(),
        version,
        headers: Headers(
            headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
        ),
    }
}
// ANCHOR_END: as_lesson_one

// ANCHOR: filter
/// The gate as a warp filter: extracts the [`Upgrade`] to accept, or
/// rejects with a [`Refusal`] that [`refusal`] turns into a response.
pub fn gate(gate: Arc<Gate>) -> impl Filter<Extract = (Upgrade,), Error = warp::Rejection> + Clone {
    warp::method()
        .and(warp::path::full())
        .and(warp::ext::get::<ConnInfo>())
        .and(warp::header::headers_cloned())
        .and(warp::query::<HashMap<String, String>>())
        .and_then(
            move |method: Method,
                  path: warp::path::FullPath,
                  info: ConnInfo,
                  headers: HeaderMap,
                  query: HashMap<String, String>| {
                let request = lesson_one_request(&method, path.as_str(), info.version, &headers);
                let ticket = query.get("ticket").map(String::as_str);
                let peer = info.peer;
                // The page came over https if we speak TLS, or if the
                // trusted proxy it came through says so.
                let from_proxy = info.address.is_none();
                let https = info.tls
                    || (from_proxy
                        && request.headers.get_one("X-Forwarded-Proto") == Some("https"));
                let checked = gate
                    .check(&request, ticket, https)
                    .and_then(|(slot, pass)| {
                        // The WebSocket counts against its address for life:
                        // the client's own, or the one its proxy forwards.
                        let address = match info.address {
                            Some(address) => address,
                            None => {
                                let client = forwarded_for(&request).unwrap_or(peer.ip());
                                gate.forwarded
                                    .count(client)
                                    .map_err(Refusal::TooManyFromYou)?
                            }
                        };
                        Ok(Upgrade {
                            slot: Slot {
                                _address: Some(address),
                                ..slot
                            },
                            peer,
                            pass,
                            handover: info.upgrade.take(),
                        })
                    });
                async move {
                    checked.map_err(|refusal| {
                        tracing::info!(%peer, "upgrade refused: {refusal:?}");
                        warp::reject::custom(refusal)
                    })
                }
            },
        )
}
// ANCHOR_END: filter

// ANCHOR: refusal
/// Turns a [`Refusal`] into its response; any other rejection goes on to
/// warp's own handling (404, 405).
pub async fn refusal(rejection: warp::Rejection) -> Result<Response, warp::Rejection> {
    let raw = match rejection.find::<Refusal>() {
        // Lesson 1 already writes each refusal: status, the headers it
        // needs (`Sec-WebSocket-Version: 13` with a 426, `Allow` with a
        // 405), a one-line reason. We hand hyper those same parts.
        Some(Refusal::Handshake(reject)) => reject.response(),
        Some(Refusal::Ticket(why)) => handshake::http_response(
            401,
            // RFC 9110 §11.6.1: a 401 names the scheme it wants.
            &[("WWW-Authenticate", "Ticket realm=\"chatroom\"")],
            "text/plain; charset=utf-8",
            format!("{why}\n").as_bytes(),
        ),
        Some(Refusal::TooManyFromYou(turned)) => turned.response(),
        Some(Refusal::Full { max }) => handshake::http_response(
            503,
            &[("Retry-After", "10")],
            "text/plain; charset=utf-8",
            format!("the room is full ({max} connections): try again in a little while\n")
                .as_bytes(),
        ),
        None => return Err(rejection),
    };
    Ok(from_lesson_one(&raw))
}
// ANCHOR_END: refusal

/// A whole HTTP response, as lesson 1 writes it to a socket, turned into
/// the parts hyper writes for us. hyper frames the body itself, so the
/// `Content-Length` is left out.
fn from_lesson_one(raw: &[u8]) -> Response {
    let split = handshake::find_blank_line(raw, 0).unwrap_or(raw.len());
    let parsed = handshake::parse_response(&raw[..split]);
    let mut response = raw[split..].to_vec().into_response();
    // warp labels a body of bytes `application/octet-stream`; the headers
    // are lesson 1's alone (a 101 has no content type at all).
    response.headers_mut().remove("content-type");
    let Ok(parsed) = parsed else {
        // Lesson 1's responses are well-formed, and its tests say so.
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        return response;
    };
    *response.status_mut() =
        StatusCode::from_u16(parsed.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in &parsed.headers.0 {
        if name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (n, v) in pairs {
            map.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    const GOOD: &[(&str, &str)] = &[
        ("host", "127.0.0.1:9005"),
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    fn check(gate: &Gate, extra: &[(&str, &str)]) -> Result<(Slot, Pass), Refusal> {
        let mut all = GOOD.to_vec();
        all.extend_from_slice(extra);
        gate.check(
            &lesson_one_request(
                &Method::GET,
                "/ws",
                warp::http::Version::HTTP_11,
                &headers(&all),
            ),
            None,
            false,
        )
    }

    #[test]
    fn origins_and_the_cap() {
        let live = LiveConnections::new();
        let config = Config {
            allowed_origins: vec!["http://localhost:8000".into()],
            max_connections: 2,
            ..Config::default()
        };
        let tickets = Arc::new(Tickets::new(crate::TICKET_TTL));
        let gate = Gate::new(&config, tickets, live.clone());
        let own = check(&gate, &[("origin", "http://127.0.0.1:9005")]).unwrap();
        let listed = check(&gate, &[("origin", "http://localhost:8000")]).unwrap();
        assert_eq!(live.get(), 2);
        assert!(matches!(
            check(&gate, &[("origin", "http://evil.example")]),
            Err(Refusal::Handshake(Reject::OriginNotAllowed))
        ));
        assert!(matches!(check(&gate, &[]), Err(Refusal::Full { max: 2 })));
        drop(own);
        assert!(check(&gate, &[]).is_ok(), "a slot given back is free again");
        drop(listed);
    }

    #[test]
    fn the_subprotocol_is_chosen_from_what_the_gate_speaks() {
        let gate = Gate::new(
            &Config::default(),
            Arc::new(Tickets::new(crate::TICKET_TTL)),
            LiveConnections::new(),
        );
        let offer = [("sec-websocket-protocol", "chat.v1")];
        let (_, pass) = check(&gate, &offer).unwrap();
        assert_eq!(pass.subprotocol, None, "a gate that speaks none picks none");
        let gate = gate.speaking(&["chat.v1"]);
        let (_, pass) = check(&gate, &offer).unwrap();
        assert_eq!(pass.subprotocol, Some("chat.v1"));
        let (_, pass) = check(&gate, &[("sec-websocket-protocol", "chat.v2")]).unwrap();
        assert_eq!(pass.subprotocol, None);
        assert!(matches!(
            check(&gate, &[("sec-websocket-protocol", "chat v1")]),
            Err(Refusal::Handshake(Reject::BadSubprotocols))
        ));
    }

    #[test]
    fn our_websockets_read_through_a_small_buffer() {
        let config = websocket_config(1234);
        assert_eq!(config.read_buffer_size, push::READ_BUFFER_SIZE);
        assert_eq!(
            config.read_buffer_size, 4096,
            "lesson 4's 4 KiB, not tungstenite's 128 KiB"
        );
        assert_eq!(config.max_frame_size, Some(1234));
        assert_eq!(config.max_message_size, Some(1234));
    }

    #[tokio::test]
    async fn no_101_without_a_socket_to_hand_over() {
        let live = LiveConnections::new();
        let gate = Gate::new(
            &Config::default(),
            Arc::new(Tickets::new(crate::TICKET_TTL)),
            live.clone(),
        );
        let (slot, pass) = check(&gate, &[]).unwrap();
        let upgrade = Upgrade {
            slot,
            peer: "127.0.0.1:1".parse().unwrap(),
            pass,
            handover: None,
        };
        let response = upgrade.accept(websocket_config(1024), |_, _, _| async {});
        assert_eq!(response.status(), 500);
        assert_eq!(live.get(), 0, "the slot is given back at once");
    }

    #[tokio::test]
    async fn refusals_carry_lesson_ones_status_and_headers() {
        let response = refusal(warp::reject::custom(Refusal::Handshake(
            Reject::UnsupportedVersion,
        )))
        .await
        .unwrap();
        assert_eq!(response.status(), 426);
        assert_eq!(response.headers()["sec-websocket-version"], "13");
        assert!(response.headers().get("content-length").is_none());
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain"),
            "lesson 1's content type, not warp's"
        );
        // A 101 carries lesson 1's three headers and nothing about a body.
        let switching =
            from_lesson_one(handshake::response_101("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=").as_bytes());
        assert_eq!(switching.status(), 101);
        let mut names: Vec<_> = switching.headers().keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["connection", "sec-websocket-accept", "upgrade"]);
        let full = refusal(warp::reject::custom(Refusal::Full { max: 3 }))
            .await
            .unwrap();
        assert_eq!(full.status(), 503);
        assert!(refusal(warp::reject::not_found()).await.is_err());
    }
}
