//! `cargo run --release -p benchmarks --bin transports-bench -- [options]`
//!
//! Measures what each transport costs per delivered event: M real clients
//! of each (short polling at each interval, long polling, SSE, WebSocket)
//! against this lesson's server on loopback, with a feed of R events a
//! second for D seconds, once with the smallest requests HTTP allows and
//! once with the headers a browser sends. Per delivered event: the bytes
//! at the clients' sockets, both directions, headers and framing included;
//! the HTTP requests; the delivery latency; the server's CPU time and its
//! peak memory. Every client must receive every event exactly once, in
//! order, or the run fails.
//!
//! ```text
//! --clients M          clients per transport [50]
//! --rate R             events a second [20]
//! --seconds D          how long the feed runs [10]
//! --intervals MS,...   the short polls' intervals [100,500,1000]
//! --headers P          minimal, browser or both [both]
//! --rounds N           interleaved rounds; the tables show medians [1]
//! --server-cpu C       run the server under `taskset -c C`
//! --out DIR            write the JSON, the tables and the chart into DIR
//! --stamp TEXT         put TEXT (date, commit) in the tables' first line
//! --strict             exit 1 when one of the targets is missed
//! ```
//!
//! **The server runs in a process of its own**: this program starts
//! itself again with `--serve` for every run (a fresh server each time),
//! and reads that process's CPU time and peak memory from `/proc`. So the
//! server's figures are the server's alone, never its clients'. It is the
//! same `Server` as `cargo run -p transports`, with the feed driven by us
//! instead of the lesson's ticker: we start the feed once every client is
//! connected, publish exactly D x R events, and stamp each with the time
//! it was published, in nanoseconds. Latency runs from that stamp to the
//! moment a client parsed the event, both read on the machine's real-time
//! clock (`SystemTime`), which every process on one machine shares.

use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use loadgen::http::{HttpClient, sse_events};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, interval, sleep, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use transports::{Config, Market, Server, Tick};

// ------------------------------------------------------------ the clients

/// The transports measured, short polling once per interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Short(Duration),
    Long,
    Sse,
    WebSocket,
}

impl Transport {
    fn name(self) -> String {
        match self {
            Transport::Short(every) => format!("short poll {} ms", every.as_millis()),
            Transport::Long => "long poll".into(),
            Transport::Sse => "SSE".into(),
            Transport::WebSocket => "WebSocket".into(),
        }
    }
}

// ANCHOR: profiles
/// Which request headers the clients send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Profile {
    /// The smallest requests HTTP/1.1 allows: `Host` only (plus what the
    /// WebSocket handshake requires). The floor; no browser sends this.
    Minimal,
    /// The headers Chromium sends for each kind of request, as captured
    /// from Chromium 156 (the one CI installs) loading a page that polls,
    /// opens an `EventSource` and a `WebSocket`: see [`browser_headers`].
    Browser,
}

impl Profile {
    fn name(self) -> &'static str {
        match self {
            Profile::Minimal => "minimal",
            Profile::Browser => "browser",
        }
    }
}

/// What a page does to make a request; each gets its own headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `fetch(url)`: the short and long polls.
    Fetch,
    /// `new EventSource(url)`.
    EventSource,
    /// `new WebSocket(url)`: the upgrade request.
    WebSocket,
}

/// Chromium's `User-Agent` on desktop Linux. Since 2022 (the "reduced"
/// user agent) every Chromium sends this shape, with the minor version
/// frozen at 0.0.0; Windows and macOS differ in the platform part by a few
/// bytes. Headless Chromium says `HeadlessChrome/`; a person's browser
/// says `Chrome/`, as here.
const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 \
                          (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";

/// The low-entropy client hints, sent on every request from a secure
/// context (HTTPS, or `localhost`/`127.0.0.1`) except the WebSocket
/// upgrade: the brands, "not a phone", the platform. Google Chrome adds a
/// third brand (`"Google Chrome";v="156"`, 25 bytes more); we keep
/// Chromium's.
const SEC_CH_UA: &str = "\"Not:A-Brand\";v=\"8\", \"Chromium\";v=\"156\"";

/// Every request says which compressions the browser can read, although
/// our answers are never compressed (we send no `Content-Encoding`).
const ACCEPT_ENCODING: &str = "gzip, deflate, br, zstd";

/// The user's languages: one, with its generic form.
const ACCEPT_LANGUAGE: &str = "en-US,en;q=0.9";

/// A modest cookie: one login session, 256 random bits in base64url (43
/// characters), the size a session id usually has. A page that nobody
/// logs into sends none; a real site often sends several hundred bytes
/// more (analytics, consent, A/B tests). We count one.
const COOKIE: &str = "session=Q2hyb21pdW0gc2VuZHMgdGhpcyB3aXRoIGV2ZXJ5IHJlcXVlc3Q";

/// The headers Chromium adds to a request of `kind` from a page served by
/// `origin` (`http://host:port`), in the order it sends them; `Host` comes
/// first and is the HTTP client's to write (and, for the WebSocket,
/// `Connection: Upgrade`, `Upgrade`, `Sec-WebSocket-Version` and
/// `Sec-WebSocket-Key` are the handshake's).
fn browser_headers(kind: Kind, origin: &str) -> Vec<(&'static str, String)> {
    let referer = format!("{origin}/");
    match kind {
        Kind::Fetch => vec![
            // HTTP/1.1 is persistent by default; Chromium says so anyway.
            ("Connection", "keep-alive".into()),
            ("sec-ch-ua-platform", "\"Linux\"".into()),
            ("User-Agent", USER_AGENT.into()),
            ("sec-ch-ua", SEC_CH_UA.into()),
            ("sec-ch-ua-mobile", "?0".into()),
            // `fetch()` accepts anything unless the page says otherwise.
            ("Accept", "*/*".into()),
            // Fetch Metadata: where the request comes from and what for,
            // so that a server can refuse cross-site requests.
            ("Sec-Fetch-Site", "same-origin".into()),
            ("Sec-Fetch-Mode", "cors".into()),
            ("Sec-Fetch-Dest", "empty".into()),
            // The page's URL: the default policy (strict-origin-when-
            // cross-origin) sends all of it to the page's own origin. A
            // same-origin GET carries no `Origin`.
            ("Referer", referer),
            ("Accept-Encoding", ACCEPT_ENCODING.into()),
            ("Accept-Language", ACCEPT_LANGUAGE.into()),
            // `fetch()`'s default credentials mode, same-origin, sends it.
            ("Cookie", COOKIE.into()),
        ],
        Kind::EventSource => vec![
            ("Connection", "keep-alive".into()),
            // An event stream must never come from a cache: EventSource
            // asks every cache on the way not to answer from memory.
            ("Pragma", "no-cache".into()),
            ("Cache-Control", "no-cache".into()),
            ("sec-ch-ua-platform", "\"Linux\"".into()),
            ("User-Agent", USER_AGENT.into()),
            ("Accept", "text/event-stream".into()),
            ("sec-ch-ua", SEC_CH_UA.into()),
            ("sec-ch-ua-mobile", "?0".into()),
            ("Sec-Fetch-Site", "same-origin".into()),
            ("Sec-Fetch-Mode", "cors".into()),
            ("Sec-Fetch-Dest", "empty".into()),
            ("Referer", referer),
            ("Accept-Encoding", ACCEPT_ENCODING.into()),
            ("Accept-Language", ACCEPT_LANGUAGE.into()),
            ("Cookie", COOKIE.into()),
            // (`Last-Event-ID` only when it reconnects.)
        ],
        Kind::WebSocket => vec![
            ("Pragma", "no-cache".into()),
            ("Cache-Control", "no-cache".into()),
            ("User-Agent", USER_AGENT.into()),
            // Always sent on an upgrade (RFC 6455 §4.1), same origin or
            // not: the server's only defence against other sites' pages
            // (lesson 5 checks it).
            ("Origin", origin.into()),
            ("Accept-Encoding", ACCEPT_ENCODING.into()),
            ("Accept-Language", ACCEPT_LANGUAGE.into()),
            ("Cookie", COOKIE.into()),
            // Chromium offers compression (RFC 7692); our server does not
            // take it up, so frames stay as they are.
            (
                "Sec-WebSocket-Extensions",
                "permessage-deflate; client_max_window_bits".into(),
            ),
        ],
    }
}
// ANCHOR_END: profiles

/// The headers a client of `profile` adds to a request of `kind`.
fn headers(profile: Profile, kind: Kind, addr: SocketAddr) -> Vec<(&'static str, String)> {
    match profile {
        Profile::Minimal => Vec::new(),
        Profile::Browser => browser_headers(kind, &format!("http://{addr}")),
    }
}

/// What one client saw.
#[derive(Debug, Default)]
struct Seen {
    sent: u64,
    received: u64,
    requests: u64,
    /// When each event arrived (real-time clock, ns): index `seq - 1`.
    arrivals: Vec<u64>,
    /// The first request head and the head of its answer, as sent.
    exchange: Option<(String, String)>,
}

impl Seen {
    /// Records one event; fails on a duplicate, a hole or disorder.
    fn tick(&mut self, json: &str) -> io::Result<()> {
        let now = unix_nanos();
        let tick: Tick = serde_json::from_str(json).map_err(io::Error::other)?;
        let cursor = self.arrivals.len() as u64;
        if tick.seq != cursor + 1 {
            return Err(io::Error::other(format!(
                "got event {} after {cursor}: not exactly once in order",
                tick.seq
            )));
        }
        self.arrivals.push(now);
        Ok(())
    }

    fn cursor(&self) -> u64 {
        self.arrivals.len() as u64
    }
}

/// Nanoseconds since the Unix epoch, on the real-time clock every process
/// of this machine reads: the publisher's stamps and the clients' arrivals
/// are comparable across processes.
fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A socket that counts the bytes through it, and keeps the first few
/// kilobytes each way (the handshake) for the report.
struct Counting {
    inner: TcpStream,
    read: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
    first: Arc<Mutex<(Vec<u8>, Vec<u8>)>>,
}

/// How much of each direction [`Counting`] keeps.
const KEEP: usize = 4096;

fn keep(into: &mut Vec<u8>, bytes: &[u8]) {
    let room = KEEP.saturating_sub(into.len());
    into.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

impl AsyncRead for Counting {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let new = &buf.filled()[before..];
        self.read.fetch_add(new.len() as u64, Ordering::Relaxed);
        keep(
            &mut self.first.lock().unwrap_or_else(PoisonError::into_inner).0,
            new,
        );
        polled
    }
}

impl AsyncWrite for Counting {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = &polled {
            self.written.fetch_add(*n as u64, Ordering::Relaxed);
            keep(
                &mut self.first.lock().unwrap_or_else(PoisonError::into_inner).1,
                &data[..*n],
            );
        }
        polled
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The head at the start of `bytes` (up to and with its blank line).
fn head_of(bytes: &[u8]) -> String {
    let end = handshake::find_blank_line(bytes, 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// The request head [`HttpClient`] writes for `target` and `headers`.
fn request_head(addr: SocketAddr, target: &str, headers: &[(&str, String)]) -> String {
    let mut head = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head + "\r\n"
}

// ANCHOR: client
/// One client of `transport`: receives `total` events, then returns what
/// it saw. It says `ready` once connected (for the streams: once the
/// server has answered), so that the feed starts when everybody listens.
async fn client(
    transport: Transport,
    profile: Profile,
    addr: SocketAddr,
    total: u64,
    ready: mpsc::UnboundedSender<()>,
) -> io::Result<Seen> {
    let mut seen = Seen::default();
    match transport {
        Transport::Short(_) | Transport::Long => {
            let extra = headers(profile, Kind::Fetch, addr);
            let extra: Vec<(&str, &str)> = extra.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let mut http = HttpClient::connect(addr).await?;
            let _ = ready.send(());
            if let Transport::Short(every) = transport {
                // Pages are opened at random moments, so their polls are
                // spread over the interval. Started all at once, our
                // clients would poll in step, and their latency would
                // depend on where the feed's ticks fall in that step.
                let ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX).max(1);
                let offset = rand::rng().random_range(0..ms);
                sleep(Duration::from_millis(offset)).await;
            }
            let route = if transport == Transport::Long {
                "/long-poll"
            } else {
                "/poll"
            };
            while seen.cursor() < total {
                let target = format!("{route}?since={}", seen.cursor());
                let (head, body) = http.get(&target, &extra).await?;
                if seen.exchange.is_none() {
                    let request = request_head(addr, &target, &headers(profile, Kind::Fetch, addr));
                    seen.exchange = Some((request, String::from_utf8_lossy(&head.raw).into()));
                }
                if head.status == 200 {
                    let value: serde_json::Value =
                        serde_json::from_slice(&body).map_err(io::Error::other)?;
                    for event in value["events"].as_array().into_iter().flatten() {
                        seen.tick(&event.to_string())?;
                    }
                } else if head.status != 204 {
                    return Err(io::Error::other(format!("status {}", head.status)));
                }
                if let Transport::Short(every) = transport {
                    sleep(every).await;
                }
            }
            (seen.sent, seen.received, seen.requests) = (http.sent, http.received, http.requests);
        }
        Transport::Sse => {
            let extra = headers(profile, Kind::EventSource, addr);
            let pairs: Vec<(&str, &str)> = extra.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let mut http = HttpClient::connect(addr).await?;
            let target = "/sse?since=0";
            let head = http.request(target, &pairs).await?;
            if head.status != 200 {
                return Err(io::Error::other(format!("status {}", head.status)));
            }
            seen.exchange = Some((
                request_head(addr, target, &extra),
                String::from_utf8_lossy(&head.raw).into(),
            ));
            let _ = ready.send(());
            let mut rest = String::new();
            while seen.cursor() < total {
                let chunk = http
                    .chunk()
                    .await?
                    .ok_or_else(|| io::Error::other("stream ended"))?;
                let text = std::str::from_utf8(&chunk).map_err(io::Error::other)?;
                for event in sse_events(&mut rest, text) {
                    if let Some((_, data)) = event.iter().find(|(name, _)| name == "data") {
                        seen.tick(data)?;
                    }
                }
            }
            (seen.sent, seen.received, seen.requests) = (http.sent, http.received, http.requests);
        }
        Transport::WebSocket => {
            let (read, written) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
            let first = Arc::new(Mutex::new((Vec::new(), Vec::new())));
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let counting = Counting {
                inner: stream,
                read: Arc::clone(&read),
                written: Arc::clone(&written),
                first: Arc::clone(&first),
            };
            let mut request = format!("ws://{addr}/ws?since=0")
                .into_client_request()
                .map_err(io::Error::other)?;
            for (name, value) in headers(profile, Kind::WebSocket, addr) {
                request.headers_mut().append(
                    HeaderName::from_bytes(name.as_bytes()).map_err(io::Error::other)?,
                    HeaderValue::from_str(&value).map_err(io::Error::other)?,
                );
            }
            let (mut ws, _) = tokio_tungstenite::client_async(request, counting)
                .await
                .map_err(io::Error::other)?;
            {
                let first = first.lock().unwrap_or_else(PoisonError::into_inner);
                seen.exchange = Some((head_of(&first.1), head_of(&first.0)));
            }
            let _ = ready.send(());
            while seen.cursor() < total {
                match ws.next().await {
                    Some(Ok(Message::Text(text))) => seen.tick(&text)?,
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(io::Error::other(e)),
                    None => return Err(io::Error::other("socket closed")),
                }
            }
            let _ = ws.close(None).await;
            seen.sent = written.load(Ordering::Relaxed);
            seen.received = read.load(Ordering::Relaxed);
            seen.requests = 1;
        }
    }
    Ok(seen)
}
// ANCHOR_END: client

// ------------------------------------------------------------- the server

/// The server's side of a run (`transports-bench --serve --rate R --events
/// N`): the lesson's `Server` on a free loopback port, which it prints as
/// `listening ADDR`; then, on `publish` on stdin, N events at R a second,
/// after which it prints the time each was published (`published [ns,…]`);
/// on the end of stdin, it stops.
async fn serve(rate: u64, events: u64) -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let config = Config {
        // We publish, below, instead of the lesson's ticker: a known number
        // of events, started on cue, each stamped to the nanosecond.
        tick_interval: None,
        // Room for every event: no client may fall off the log.
        log_capacity: usize::try_from(events).unwrap_or(usize::MAX) + 1,
        max_batch: usize::MAX,
        // Every client comes from 127.0.0.1: the lesson's limits per
        // address and on connections in the HTTP phase (SSE streams and
        // long polls are HTTP) would turn a big run away.
        limits: chatroom::Config {
            max_per_ip: usize::MAX,
            max_http_connections: 100_000,
            max_connections: 100_000,
            ..chatroom::Config::default()
        },
        ..Config::default()
    };
    let addr = listener.local_addr()?;
    let server = Server::with_config(listener, config);
    let log = server.log();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    // The parent's commands, read by a thread of their own (a blocked read
    // costs no CPU) and handed over a channel.
    let (commands, mut incoming) = mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if commands.send(line).is_err() {
                break;
            }
        }
    });
    say(format!("listening {addr}")).await?;
    while let Some(command) = incoming.recv().await {
        if command.trim() != "publish" {
            continue;
        }
        // The lesson's own market, seeded, so every run publishes the same
        // symbols and prices: events of the same sizes.
        let mut market = Market::new();
        let mut rng = StdRng::seed_from_u64(6);
        let mut published = Vec::new();
        let mut ticks = interval(Duration::from_secs_f64(1.0 / rate as f64));
        ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
        for _ in 0..events {
            ticks.tick().await;
            let quote = market.step(&mut rng);
            // Stamped before the append, so no client can parse it first.
            let now = unix_nanos();
            published.push(now);
            log.append(quote, now / 1_000_000);
        }
        let list = serde_json::to_string(&published).map_err(io::Error::other)?;
        say(format!("published {list}")).await?;
    }
    let _ = stop.send(());
    let _ = timeout(Duration::from_secs(10), running).await;
    Ok(())
}

/// One line to the parent, written off the runtime's threads: a pipe that
/// is full must not stall the server.
async fn say(line: String) -> io::Result<()> {
    tokio::task::spawn_blocking(move || {
        let mut out = io::stdout().lock();
        writeln!(out, "{line}").and_then(|()| out.flush())
    })
    .await
    .map_err(io::Error::other)?
}

/// A server process, from the parent's side.
struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    addr: SocketAddr,
}

impl ServerProcess {
    /// Starts `transports-bench --serve`, pinned to `cpu` if given, and
    /// waits until it listens.
    async fn start(cpu: Option<&str>, rate: u64, events: u64) -> io::Result<ServerProcess> {
        let exe = std::env::current_exe()?;
        let mut command = match cpu {
            // `taskset` execs the program: the pid we get is the server's.
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        let mut child = command
            .args(["--serve", "--rate", &rate.to_string()])
            .args(["--events", &events.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        let (tx, mut lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        let line = timeout(Duration::from_secs(10), lines.recv())
            .await
            .ok()
            .flatten();
        let addr = line
            .as_deref()
            .and_then(|l| l.strip_prefix("listening "))
            .and_then(|a| a.parse().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other(format!(
                "the server process did not start: {line:?}"
            )));
        };
        Ok(ServerProcess {
            child,
            stdin,
            lines,
            addr,
        })
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// Tells the server to publish.
    fn publish(&mut self) -> io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::other("stdin closed"))?;
        stdin.write_all(b"publish\n")?;
        stdin.flush()
    }

    /// When each event was published (ns since the epoch), index `seq - 1`.
    async fn published(&mut self) -> io::Result<Vec<u64>> {
        let line = timeout(Duration::from_secs(10), self.lines.recv())
            .await
            .ok()
            .flatten()
            .ok_or_else(|| io::Error::other("the server never said what it published"))?;
        let list = line
            .strip_prefix("published ")
            .ok_or_else(|| io::Error::other(format!("unexpected {line:?}")))?;
        serde_json::from_str(list).map_err(io::Error::other)
    }

    /// Closes its stdin, which stops it, and waits (10 s at most).
    async fn stop(mut self) {
        drop(self.stdin.take());
        for _ in 0..100 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            sleep(Duration::from_millis(100)).await;
        }
        eprintln!("the server process did not stop in 10 s: killed");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ANCHOR: proc
/// A process's CPU time so far (user + system): the sum, over its threads,
/// of the time the scheduler ran each, from `/proc/PID/task/*/schedstat`
/// (nanoseconds). `pid` is a number or `self`. `/proc/PID/stat`'s utime
/// and stime say the same in ticks of 10 ms, too coarse for a run that
/// costs the server a few hundred milliseconds; the price of the precision
/// is that a thread which exits during the run takes its time with it
/// (only our helper threads ever exit, after microseconds of work).
fn cpu_time(pid: &str) -> Option<Duration> {
    let mut nanos = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        // A thread that ended since the listing has no file any more: skip
        // it rather than lose the whole reading.
        let Ok(schedstat) = std::fs::read_to_string(task.ok()?.path().join("schedstat")) else {
            continue;
        };
        nanos += schedstat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(nanos))
}

/// A line of `/proc/PID/status`: `VmHWM` (peak resident memory, in KiB)
/// or `Cpus_allowed_list` (where it may run).
fn status(pid: &str, key: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name == key).then(|| value.trim().trim_end_matches(" kB").to_owned())
    })
}
// ANCHOR_END: proc

// ------------------------------------------------------------------ a run

/// One run: one transport, one header profile, a fresh server.
#[derive(Debug, Clone, Serialize)]
struct Run {
    transport: String,
    headers: &'static str,
    round: u32,
    clients: usize,
    events: u64,
    deliveries: u64,
    bytes_in_per_event: f64,
    bytes_out_per_event: f64,
    requests_per_event: f64,
    latency_us_p50: f64,
    latency_us_p99: f64,
    latency_us_mean: f64,
    /// The server process's user + system time over the run (the clients
    /// connecting, the feed, the last delivery), per 1,000 deliveries.
    server_cpu_ms_per_1000: Option<f64>,
    /// The same as a share of one core over the run's wall time.
    server_cpu_share: Option<f64>,
    /// This process (the clients), per 1,000 deliveries: for scale.
    clients_cpu_ms_per_1000: Option<f64>,
    /// The server process's peak resident memory (`VmHWM`).
    server_peak_rss_kib: Option<u64>,
    /// Events a client never received: always 0, since a client that
    /// misses, repeats or reorders one fails the run.
    lost: u64,
    wall_s: f64,
    #[serde(skip)]
    exchange: Option<(String, String)>,
}

#[derive(Debug, Clone)]
struct Settings {
    clients: usize,
    rate: u64,
    seconds: u64,
    intervals: Vec<u64>,
    profiles: Vec<Profile>,
    rounds: u32,
    server_cpu: Option<String>,
    out: Option<String>,
    stamp: String,
    strict: bool,
}

async fn measure(
    settings: &Settings,
    transport: Transport,
    profile: Profile,
    round: u32,
) -> io::Result<Run> {
    let total = settings.rate * settings.seconds;
    let clients = settings.clients;
    let mut server =
        ServerProcess::start(settings.server_cpu.as_deref(), settings.rate, total).await?;
    let pid = server.pid();
    let started = Instant::now();
    let (server_before, clients_before) = (cpu_time(&pid), cpu_time("self"));
    let (ready, mut readies) = mpsc::unbounded_channel();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            tokio::spawn(client(
                transport,
                profile,
                server.addr,
                total,
                ready.clone(),
            ))
        })
        .collect();
    drop(ready);
    // Every client connected (and every stream answered) before the first
    // event, then a moment for the first polls to reach the server.
    let connected = timeout(Duration::from_secs(10), async {
        for _ in 0..clients {
            readies.recv().await?;
        }
        Some(())
    })
    .await;
    if !matches!(connected, Ok(Some(()))) {
        return Err(io::Error::other("the clients did not all connect"));
    }
    sleep(Duration::from_millis(100)).await;
    server.publish()?;
    let mut seen = Vec::new();
    let deadline = Duration::from_secs(settings.seconds + 30);
    for task in tasks {
        let result = timeout(deadline, task)
            .await
            .map_err(|_| io::Error::other("a client never finished"))?
            .map_err(io::Error::other)??;
        seen.push(result);
    }
    let wall = started.elapsed();
    let server_cpu = server_before
        .zip(cpu_time(&pid))
        .map(|(a, b)| b.saturating_sub(a));
    let clients_cpu = clients_before
        .zip(cpu_time("self"))
        .map(|(a, b)| b.saturating_sub(a));
    let peak = status(&pid, "VmHWM").and_then(|kib| kib.parse().ok());
    let published = server.published().await?;
    server.stop().await;

    let deliveries = total * clients as u64;
    let per_event =
        |f: fn(&Seen) -> u64| seen.iter().map(f).sum::<u64>() as f64 / deliveries as f64;
    let mut latencies: Vec<u64> = seen
        .iter()
        .flat_map(|s| {
            s.arrivals
                .iter()
                .zip(&published)
                .map(|(arrived, sent)| arrived.saturating_sub(*sent) / 1000)
        })
        .collect();
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0) as f64
    };
    let per_1000 = |cpu: Option<Duration>| cpu.map(|c| c.as_secs_f64() * 1e6 / deliveries as f64);
    Ok(Run {
        transport: transport.name(),
        headers: profile.name(),
        round,
        clients,
        events: total,
        deliveries,
        bytes_in_per_event: per_event(|s| s.received),
        bytes_out_per_event: per_event(|s| s.sent),
        requests_per_event: per_event(|s| s.requests),
        latency_us_p50: pct(0.5),
        latency_us_p99: pct(0.99),
        latency_us_mean: latencies.iter().sum::<u64>() as f64 / latencies.len().max(1) as f64,
        server_cpu_ms_per_1000: per_1000(server_cpu),
        server_cpu_share: server_cpu.map(|c| c.as_secs_f64() / wall.as_secs_f64()),
        clients_cpu_ms_per_1000: per_1000(clients_cpu),
        server_peak_rss_kib: peak,
        lost: 0,
        wall_s: wall.as_secs_f64(),
        exchange: seen.into_iter().next().and_then(|s| s.exchange),
    })
}

// -------------------------------------------------------------- summaries

/// The median of the rounds of one transport and profile.
#[derive(Debug, Clone, Serialize)]
struct Summary {
    transport: String,
    headers: &'static str,
    rounds: usize,
    bytes_in_per_event: f64,
    bytes_out_per_event: f64,
    bytes_per_event: f64,
    requests_per_event: f64,
    latency_us_p50: f64,
    latency_us_p99: f64,
    latency_us_mean: f64,
    server_cpu_ms_per_1000: Option<f64>,
    server_cpu_share: Option<f64>,
    clients_cpu_ms_per_1000: Option<f64>,
    server_peak_rss_kib: Option<f64>,
    lost: u64,
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    xs.retain(|x| x.is_finite());
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(xs[n / 2]),
        _ => Some((xs[n / 2 - 1] + xs[n / 2]) / 2.0),
    }
}

fn summarise(runs: &[&Run]) -> Option<Summary> {
    let first = runs.first()?;
    let med = |f: fn(&Run) -> f64| median(runs.iter().map(|r| f(r)).collect());
    let med_opt = |f: fn(&Run) -> Option<f64>| median(runs.iter().filter_map(|r| f(r)).collect());
    let bytes_in = med(|r| r.bytes_in_per_event)?;
    let bytes_out = med(|r| r.bytes_out_per_event)?;
    Some(Summary {
        transport: first.transport.clone(),
        headers: first.headers,
        rounds: runs.len(),
        bytes_in_per_event: bytes_in,
        bytes_out_per_event: bytes_out,
        bytes_per_event: med(|r| r.bytes_in_per_event + r.bytes_out_per_event)?,
        requests_per_event: med(|r| r.requests_per_event)?,
        latency_us_p50: med(|r| r.latency_us_p50)?,
        latency_us_p99: med(|r| r.latency_us_p99)?,
        latency_us_mean: med(|r| r.latency_us_mean)?,
        server_cpu_ms_per_1000: med_opt(|r| r.server_cpu_ms_per_1000),
        server_cpu_share: med_opt(|r| r.server_cpu_share),
        clients_cpu_ms_per_1000: med_opt(|r| r.clients_cpu_ms_per_1000),
        server_peak_rss_kib: med_opt(|r| r.server_peak_rss_kib.map(|k| k as f64)),
        lost: runs.iter().map(|r| r.lost).sum(),
    })
}

/// One of the benchmark's targets, checked (`--strict` enforces them; the
/// book's table shows only what was measured).
#[derive(Debug, Clone, Serialize)]
struct Target {
    /// What is measured, as the book's table says it.
    measured: String,
    want: String,
    got: String,
    met: bool,
}

/// The targets against the summaries.
fn targets(summaries: &[Summary], intervals: &[u64]) -> Vec<Target> {
    let find = |transport: &str, headers: &str| {
        summaries
            .iter()
            .find(|s| s.transport == transport && s.headers == headers)
    };
    let mut out = Vec::new();
    // Bytes: the browser's profile decides; the floor is shown beside it.
    if let (Some(ws), Some(long)) = (find("WebSocket", "browser"), find("long poll", "browser")) {
        let ratio = ws.bytes_per_event / long.bytes_per_event;
        let floor = find("WebSocket", "minimal")
            .zip(find("long poll", "minimal"))
            .map(|(w, l)| {
                format!(
                    "; with minimal headers {:.2}×",
                    w.bytes_per_event / l.bytes_per_event
                )
            })
            .unwrap_or_default();
        out.push(Target {
            measured: "WebSocket bytes per event against long polling's (browser headers)".into(),
            want: "WebSocket bytes per event ≤ 0.25 × long polling's (browser headers)".into(),
            got: format!(
                "{:.2}× ({} B against {} B){floor}",
                ratio,
                thousands(ws.bytes_per_event),
                thousands(long.bytes_per_event)
            ),
            met: ratio <= 0.25,
        });
    }
    for &ms in intervals {
        let name = format!("short poll {ms} ms");
        let half = ms as f64 * 1000.0 / 2.0;
        let got: Vec<(String, bool)> = summaries
            .iter()
            .filter(|s| s.transport == name)
            .map(|s| {
                let off = s.latency_us_mean / half - 1.0;
                (
                    format!(
                        "{} {:.1} ms ({:+.1} %)",
                        s.headers,
                        s.latency_us_mean / 1000.0,
                        off * 100.0
                    ),
                    off.abs() <= 0.15,
                )
            })
            .collect();
        if !got.is_empty() {
            out.push(Target {
                measured: format!(
                    "{name}: mean latency against half the interval, {:.0} ms",
                    half / 1000.0
                ),
                want: format!(
                    "{name}: mean latency within ±15 % of {:.0} ms",
                    half / 1000.0
                ),
                got: got
                    .iter()
                    .map(|(g, _)| g.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                met: got.iter().all(|(_, met)| *met),
            });
        }
    }
    for name in ["long poll", "SSE", "WebSocket"] {
        let got: Vec<&Summary> = summaries.iter().filter(|s| s.transport == name).collect();
        if !got.is_empty() {
            out.push(Target {
                measured: format!("{name}: latency p50"),
                want: format!("{name}: latency p50 ≤ 2 ms"),
                got: got
                    .iter()
                    .map(|s| format!("{} {:.2} ms", s.headers, s.latency_us_p50 / 1000.0))
                    .collect::<Vec<_>>()
                    .join(", "),
                met: got.iter().all(|s| s.latency_us_p50 <= 2000.0),
            });
        }
    }
    let lost: u64 = summaries.iter().map(|s| s.lost).sum();
    out.push(Target {
        measured: "events lost, repeated or reordered, by any client".into(),
        want: "no event lost, repeated or reordered, by any client".into(),
        got: format!("{lost} lost"),
        met: lost == 0,
    });
    out
}

// ------------------------------------------------------------------- main

/// Measures what each of lesson 6's transports costs per delivered event.
#[derive(Debug, clap::Parser)]
#[command(name = "transports-bench")]
struct Args {
    /// Clients per transport.
    #[arg(long, value_name = "M", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    clients: u64,
    /// Events a second.
    #[arg(long, value_name = "R", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    rate: u64,
    /// How long the feed runs, in seconds.
    #[arg(long, value_name = "D", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    seconds: u64,
    /// The short polls' intervals, in milliseconds.
    #[arg(long, value_name = "MS,...", default_value = "100,500,1000", value_delimiter = ',', value_parser = clap::value_parser!(u64).range(1..))]
    intervals: Vec<u64>,
    /// Which request headers the clients send: minimal, browser or both.
    #[arg(long, value_name = "P", default_value = "both", value_parser = ["minimal", "browser", "both"])]
    headers: String,
    /// Interleaved rounds; the tables show medians.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// Run the server under `taskset -c C`.
    #[arg(long, value_name = "C")]
    server_cpu: Option<String>,
    /// Write the JSON, the tables and the chart into DIR.
    #[arg(long, value_name = "DIR")]
    out: Option<String>,
    /// Put TEXT (date, commit) in the tables' first line.
    #[arg(long, value_name = "TEXT", default_value = "")]
    stamp: String,
    /// Exit 1 when one of the targets the tables check is missed.
    #[arg(long)]
    strict: bool,
    /// Be the server of one run (this program starts itself so).
    #[arg(long, hide = true)]
    serve: bool,
    /// With --serve: how many events to publish.
    #[arg(long, hide = true, default_value_t = 200)]
    events: u64,
}

impl Args {
    fn settings(self) -> Settings {
        let profiles = match self.headers.as_str() {
            "minimal" => vec![Profile::Minimal],
            "browser" => vec![Profile::Browser],
            _ => vec![Profile::Minimal, Profile::Browser],
        };
        Settings {
            // At most 10,000: it fits.
            clients: self.clients as usize,
            rate: self.rate,
            seconds: self.seconds,
            intervals: self.intervals,
            profiles,
            rounds: self.rounds,
            server_cpu: self.server_cpu,
            out: self.out,
            stamp: self.stamp,
            strict: self.strict,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    if args.serve {
        return match serve(args.rate, args.events).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("transports-bench --serve: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let settings = args.settings();
    let mut all: Vec<Transport> = settings
        .intervals
        .iter()
        .map(|&ms| Transport::Short(Duration::from_millis(ms)))
        .collect();
    all.extend([Transport::Long, Transport::Sse, Transport::WebSocket]);
    let plan: Vec<(Transport, Profile)> = all
        .iter()
        .flat_map(|&t| settings.profiles.iter().map(move |&p| (t, p)))
        .collect();
    let mut runs: Vec<Run> = Vec::new();
    for round in 0..settings.rounds {
        // Each round starts elsewhere in the list, so that no run is always
        // first, or always after the same neighbour.
        let shift = (round as usize * plan.len()) / settings.rounds as usize;
        for i in 0..plan.len() {
            let (transport, profile) = plan[(i + shift) % plan.len()];
            match measure(&settings, transport, profile, round + 1).await {
                Ok(run) => {
                    eprintln!(
                        "  round {} {:<20} {:<8} {:>7.1} B/event  {:.3} req/event  p50 {:>8.2} ms  \
                         p99 {:>8.2} ms  server CPU {} ms/1000  peak RSS {} KiB",
                        run.round,
                        run.transport,
                        run.headers,
                        run.bytes_in_per_event + run.bytes_out_per_event,
                        run.requests_per_event,
                        run.latency_us_p50 / 1000.0,
                        run.latency_us_p99 / 1000.0,
                        run.server_cpu_ms_per_1000
                            .map_or("?".into(), |c| format!("{c:.1}")),
                        run.server_peak_rss_kib
                            .map_or("?".into(), |k| k.to_string()),
                    );
                    runs.push(run);
                }
                Err(e) => {
                    eprintln!("{} ({} headers): {e}", transport.name(), profile.name());
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    let summaries: Vec<Summary> = plan
        .iter()
        .filter_map(|(t, p)| {
            let name = t.name();
            let of: Vec<&Run> = runs
                .iter()
                .filter(|r| r.transport == name && r.headers == p.name())
                .collect();
            summarise(&of)
        })
        .collect();
    let targets = targets(&summaries, &settings.intervals);
    let report = Report::new(&settings, &runs, &summaries, &targets);
    let tables = report.table();
    let compare = report.compare();
    let heads = report.heads();
    println!("{tables}\n{compare}\n{heads}");
    if let Some(dir) = &settings.out {
        let dir = std::path::Path::new(dir);
        let json = serde_json::json!({
            "stamp": settings.stamp,
            "settings": {
                "clients": settings.clients, "rate": settings.rate,
                "seconds": settings.seconds, "intervals_ms": settings.intervals,
                "rounds": settings.rounds, "server_cpu": settings.server_cpu,
            },
            "machine": report.machine,
            "summary": summaries,
            "targets": targets,
            "runs": runs,
        });
        let written = std::fs::write(
            dir.join("bench-transports.json"),
            serde_json::to_string_pretty(&json).unwrap_or_default() + "\n",
        )
        .and_then(|()| std::fs::write(dir.join("bench-transports.md"), &tables))
        .and_then(|()| std::fs::write(dir.join("bench-transports-compare.md"), &compare))
        .and_then(|()| std::fs::write(dir.join("bench-transports-heads.md"), &heads))
        .and_then(|()| std::fs::write(dir.join("bench-transports.svg"), report.chart()));
        if let Err(e) = written {
            eprintln!("cannot write into {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    }
    let missed: Vec<&Target> = targets.iter().filter(|t| !t.met).collect();
    for t in &missed {
        eprintln!("target missed: {}: {}", t.want, t.got);
    }
    if settings.strict && !missed.is_empty() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

// ----------------------------------------------------------------- output

/// Everything the tables and the chart are made of.
struct Report<'a> {
    settings: &'a Settings,
    summaries: &'a [Summary],
    targets: &'a [Target],
    /// The first round's request and response heads, by transport and profile.
    exchanges: BTreeMap<(String, &'static str), (String, String)>,
    machine: serde_json::Value,
}

/// 1234.5 as "1,235".
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if x < -0.5 {
        out.insert(0, '-');
    }
    out
}

fn ms(us: f64) -> String {
    if us >= 100_000.0 {
        format!("{:.0} ms", us / 1000.0)
    } else {
        format!("{:.2} ms", us / 1000.0)
    }
}

impl<'a> Report<'a> {
    fn new(
        settings: &'a Settings,
        runs: &[Run],
        summaries: &'a [Summary],
        targets: &'a [Target],
    ) -> Report<'a> {
        let exchanges = runs
            .iter()
            .filter(|r| r.round == 1)
            .filter_map(|r| Some(((r.transport.clone(), r.headers), r.exchange.clone()?)))
            .collect();
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
            .map_or("unknown CPU".into(), |(_, m)| m.trim().to_owned());
        let cpus = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let machine = serde_json::json!({
            "cpus": cpus,
            "cpu": model,
            "kernel": kernel.trim(),
            "server_cpus": settings.server_cpu,
            "clients_cpus": status("self", "Cpus_allowed_list"),
        });
        Report {
            settings,
            summaries,
            targets,
            exchanges,
            machine,
        }
    }

    fn find(&self, transport: &str, headers: &str) -> Option<&Summary> {
        self.summaries
            .iter()
            .find(|s| s.transport == transport && s.headers == headers)
    }

    fn transports(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for s in self.summaries {
            if !names.contains(&s.transport) {
                names.push(s.transport.clone());
            }
        }
        names
    }

    fn first_line(&self) -> String {
        let stamp = if self.settings.stamp.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.settings.stamp)
        };
        format!(
            "<!-- generated by scripts/bench-transports.sh{stamp}; do not edit: run the script again -->\n"
        )
    }

    /// The setting of the runs, in a sentence.
    fn method(&self) -> String {
        let s = self.settings;
        let m = &self.machine;
        let where_ = match (&s.server_cpu, m["clients_cpus"].as_str()) {
            (Some(server), Some(clients)) => format!(
                "The server runs in a process of its own on CPU {server}, the clients in another on CPU {clients}."
            ),
            _ => "The server runs in a process of its own, the clients in another; **not pinned** to separate CPUs.".into(),
        };
        format!(
            "{} clients per transport, {} events/s for {} s ({} deliveries a run), loopback; \
             median of {} interleaved round{}, a fresh server for every run. {where_} \
             Machine: {} × {}, Linux {}.\n",
            s.clients,
            s.rate,
            s.seconds,
            thousands((s.rate * s.seconds * s.clients as u64) as f64),
            s.rounds,
            if s.rounds == 1 { "" } else { "s" },
            m["cpus"],
            m["cpu"].as_str().unwrap_or_default(),
            m["kernel"].as_str().unwrap_or_default(),
        )
    }

    /// The main table: every transport with both header profiles, then the
    /// targets.
    fn table(&self) -> String {
        let mut md = self.first_line();
        md.push_str(&self.method());
        md.push_str(
            "Per delivered event. Bytes are counted at the clients' sockets, both directions, \
             headers, chunk sizes and frame headers included; *minimal* requests carry `Host` \
             only, *browser* requests the headers Chromium sends. Latency runs from the \
             moment the server published an event to the moment a client parsed it. Server \
             CPU is the server process's user + system time over the run, per 1,000 \
             deliveries; peak RSS is its `VmHWM`.\n\n\
             | transport | request headers | bytes in | bytes out | bytes total | requests | \
             latency p50 | p99 | mean | server CPU ms / 1,000 | server peak RSS | lost |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for s in self.summaries {
            md.push_str(&format!(
                "| {} | {} | {:.1} | {:.1} | {:.1} | {:.3} | {} | {} | {} | {} | {} | {} |\n",
                s.transport,
                s.headers,
                s.bytes_in_per_event,
                s.bytes_out_per_event,
                s.bytes_per_event,
                s.requests_per_event,
                ms(s.latency_us_p50),
                ms(s.latency_us_p99),
                ms(s.latency_us_mean),
                s.server_cpu_ms_per_1000
                    .map_or("—".into(), |c| format!("{c:.1}")),
                s.server_peak_rss_kib
                    .map_or("—".into(), |k| format!("{:.1} MiB", k / 1024.0)),
                s.lost,
            ));
        }
        md.push_str("\nWhat this run shows:\n\n");
        for t in self.targets {
            md.push_str(&format!("- {}: {}\n", t.measured, t.got));
        }
        md
    }

    /// The source articles' comparison table, rebuilt: the rows they have, with our
    /// measurements where they have adjectives. The words in this function
    /// hold by construction (see the chapter); every number comes from the
    /// run.
    fn compare(&self) -> String {
        let names = self.transports();
        let mut md = self.first_line();
        md.push('|');
        for name in &names {
            md.push_str(&format!(" | {name}"));
        }
        md.push_str(" |\n|---|");
        md.push_str(&"---|".repeat(names.len()));
        md.push('\n');
        let row = |md: &mut String, label: &str, cell: &dyn Fn(&str) -> String| {
            md.push_str(&format!("| {label} |"));
            for name in &names {
                md.push_str(&format!(" {} |", cell(name)));
            }
            md.push('\n');
        };
        let short = |name: &str| name.starts_with("short poll");
        let words = |name: &str, poll: &str, long: &str, sse: &str, ws: &str| -> String {
            match name {
                n if short(n) => poll,
                "long poll" => long,
                "SSE" => sse,
                _ => ws,
            }
            .into()
        };
        let get = |name: &str, f: &dyn Fn(&Summary) -> String| {
            self.find(name, "browser")
                .or_else(|| self.find(name, "minimal"))
                .map_or("—".into(), f)
        };
        row(&mut md, "direction", &|n| {
            words(
                n,
                "client asks",
                "client asks",
                "server → client",
                "both ways",
            )
        });
        row(&mut md, "latency p50 / p99", &|n| {
            get(n, &|s| {
                format!("{} / {}", ms(s.latency_us_p50), ms(s.latency_us_p99))
            })
        });
        row(&mut md, "bytes per event, browser headers", &|n| {
            self.find(n, "browser")
                .map_or("—".into(), |s| thousands(s.bytes_per_event))
        });
        row(&mut md, "bytes per event, minimal headers", &|n| {
            self.find(n, "minimal")
                .map_or("—".into(), |s| thousands(s.bytes_per_event))
        });
        let ws = self.find("WebSocket", "browser");
        row(&mut md, "bytes, × WebSocket's (browser)", &|n| {
            self.find(n, "browser")
                .zip(ws)
                .map_or("—".into(), |(s, w)| {
                    format!("{:.1}×", s.bytes_per_event / w.bytes_per_event)
                })
        });
        row(&mut md, "HTTP requests per event", &|n| {
            get(n, &|s| format!("{:.3}", s.requests_per_event))
        });
        row(&mut md, "server CPU ms / 1,000 events", &|n| {
            get(n, &|s| {
                s.server_cpu_ms_per_1000
                    .map_or("—".into(), |c| format!("{c:.1}"))
            })
        });
        row(
            &mut md,
            &format!("server peak RSS, {} clients", self.settings.clients),
            &|n| {
                get(n, &|s| {
                    s.server_peak_rss_kib
                        .map_or("—".into(), |k| format!("{:.1} MiB", k / 1024.0))
                })
            },
        );
        row(&mut md, "held per client", &|n| {
            words(
                n,
                "a keep-alive connection, idle between polls",
                "a connection and a waiting request",
                "a connection and a stream",
                "a connection (not one of the browser's six)",
            )
        });
        row(&mut md, "firewall friendliness", &|n| {
            words(
                n,
                "any proxy: short requests",
                "most: stay under idle timeouts (we answer by 25 s)",
                "if the proxy does not buffer (`X-Accel-Buffering: no`)",
                "if the proxy forwards the upgrade; some corporate proxies do not",
            )
        });
        row(&mut md, "reconnection", &|n| {
            words(
                n,
                "nothing to do: the next poll, with its cursor",
                "nothing to do: the next poll, with its cursor",
                "automatic (`EventSource`), resumes with `Last-Event-ID`",
                "yours to write (lesson 4's backoff), resumes with `?since=`",
            )
        });
        md.push_str(
            "\nLatency, requests, CPU and memory with browser headers; bytes with both. \
             Every number is the benchmark's, from the run in the table above.\n",
        );
        md
    }

    /// What goes over the wire before the first event: each transport's
    /// first request (browser headers) and our server's answer, as sent.
    fn heads(&self) -> String {
        let mut md = self.first_line();
        let names: Vec<String> = self
            .transports()
            .into_iter()
            // One short poll is enough: the others send the same request.
            .scan(false, |seen_short, name| {
                let keep = !(name.starts_with("short poll") && *seen_short);
                *seen_short |= name.starts_with("short poll");
                Some(keep.then_some(name))
            })
            .flatten()
            .collect();
        md.push_str(
            "| first request | request head, minimal | request head, browser | \
             our answer's head, minimal | our answer's head, browser |\n\
             |---|---:|---:|---:|---:|\n",
        );
        for name in &names {
            let size = |headers: &'static str, request: bool| {
                self.exchanges
                    .get(&(name.clone(), headers))
                    .map_or("—".into(), |(req, resp)| {
                        format!("{} B", if request { req.len() } else { resp.len() })
                    })
            };
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                name.replace(|c: char| c.is_ascii_digit(), "")
                    .replace(" ms", "")
                    .trim(),
                size("minimal", true),
                size("browser", true),
                size("minimal", false),
                size("browser", false),
            ));
        }
        md.push_str(
            "\nWith browser headers, as sent and received by the benchmark's first client of \
             each (the WebSocket's request is written by tungstenite, which puts the headers \
             it did not make itself after its own, in lower case; Chromium sends them \
             in its own order and capitals: the same bytes). The server answers both profiles alike: it compresses \
             nothing, whatever `Accept-Encoding` offers, and does not take up \
             `permessage-deflate`.\n",
        );
        // The listings: one poll (the short poll's request differs only in
        // its path), the stream, the upgrade.
        for (name, title) in [
            (
                "long poll",
                "A long poll, `fetch()` (a short poll differs only in its path)",
            ),
            ("SSE", "SSE, `new EventSource()`"),
            ("WebSocket", "WebSocket, `new WebSocket()`"),
        ] {
            let key = |headers| (name.to_owned(), headers);
            if let Some((request, response)) = self
                .exchanges
                .get(&key("browser"))
                .or_else(|| self.exchanges.get(&key("minimal")))
            {
                md.push_str(&format!(
                    "\n{title}:\n\n```text\n{}{}\n```\n",
                    request.replace("\r\n", "\n"),
                    response.replace("\r\n", "\n").trim_end_matches('\n'),
                ));
            }
        }
        md
    }

    /// Three bar charts side by side, as SVG, one row per transport: bytes
    /// per event with minimal and with browser headers (in and out),
    /// median latency on a logarithmic scale, and server CPU per 1,000
    /// events. Written by hand: a few dozen rectangles need no library.
    fn chart(&self) -> String {
        let names = self.transports();
        let (row, top, label) = (40.0, 46.0, 150.0);
        let (bytes_w, lat_w, cpu_w, gap) = (330.0, 250.0, 190.0, 36.0);
        let (lat_x, cpu_x) = (label + bytes_w + gap, label + bytes_w + gap + lat_w + gap);
        let height = top + row * names.len() as f64 + 44.0;
        let width = cpu_x + cpu_w + 20.0;
        let total = |s: &Summary| s.bytes_per_event;
        let max_bytes = self.summaries.iter().map(total).fold(1.0, f64::max);
        let max_cpu = self
            .summaries
            .iter()
            .filter_map(|s| s.server_cpu_ms_per_1000)
            .fold(1e-9, f64::max);
        // Latency from 0.1 ms to 1 s on a log scale: four decades.
        let log_x =
            |us: f64| ((us.max(100.0) / 100.0).log10() / 4.0).clamp(0.0, 1.0) * (lat_w - 60.0);
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
             font-family=\"sans-serif\" font-size=\"12\">\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"{label}\" y=\"20\" font-weight=\"bold\">bytes per event</text>\n\
             <text x=\"{label}\" y=\"34\" fill=\"#6b7385\">upper bar: minimal headers; lower: browser</text>\n\
             <text x=\"{lat_x}\" y=\"20\" font-weight=\"bold\">latency p50 (log scale)</text>\n\
             <text x=\"{cpu_x}\" y=\"20\" font-weight=\"bold\">server CPU ms / 1,000 events</text>\n"
        );
        let bar = |svg: &mut String, x: f64, y: f64, w: f64, h: f64, fill: &str| {
            svg.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h}\" fill=\"{fill}\"/>\n"
            ));
        };
        let text = |svg: &mut String, x: f64, y: f64, s: &str| {
            svg.push_str(&format!("<text x=\"{x:.1}\" y=\"{y:.1}\">{s}</text>\n"));
        };
        let scale = (bytes_w - 60.0) / max_bytes;
        for (i, name) in names.iter().enumerate() {
            let y = top + row * i as f64;
            svg.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{name}</text>\n",
                label - 8.0,
                y + 18.0
            ));
            for (j, (headers, colours)) in [
                ("minimal", ["#7fa4ec", "#dcb67a"]),
                ("browser", ["#2f6fdf", "#b7791f"]),
            ]
            .iter()
            .enumerate()
            {
                let Some(s) = self.find(name, headers) else {
                    continue;
                };
                let y = y + 15.0 * j as f64;
                let (w_in, w_out) = (s.bytes_in_per_event * scale, s.bytes_out_per_event * scale);
                bar(&mut svg, label, y, w_in, 13.0, colours[0]);
                bar(&mut svg, label + w_in, y, w_out, 13.0, colours[1]);
                text(
                    &mut svg,
                    label + w_in + w_out + 4.0,
                    y + 11.0,
                    &format!("{} B", thousands(total(s))),
                );
            }
            let Some(s) = self
                .find(name, "browser")
                .or_else(|| self.find(name, "minimal"))
            else {
                continue;
            };
            let w = log_x(s.latency_us_p50);
            bar(&mut svg, lat_x, y + 6.0, w, 16.0, "#1f9d55");
            text(&mut svg, lat_x + w + 4.0, y + 18.0, &ms(s.latency_us_p50));
            if let Some(cpu) = s.server_cpu_ms_per_1000 {
                let w = cpu / max_cpu * (cpu_w - 50.0);
                bar(&mut svg, cpu_x, y + 6.0, w, 16.0, "#8b5cf6");
                text(&mut svg, cpu_x + w + 4.0, y + 18.0, &format!("{cpu:.1}"));
            }
        }
        let axis = top + row * names.len() as f64 + 12.0;
        for (us, tick) in [
            (100.0, "0.1 ms"),
            (1_000.0, "1 ms"),
            (10_000.0, "10 ms"),
            (100_000.0, "100 ms"),
            (1_000_000.0, "1 s"),
        ] {
            svg.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{axis}\" fill=\"#6b7385\" text-anchor=\"middle\">{tick}</text>\n",
                lat_x + log_x(us)
            ));
        }
        svg.push_str(&format!(
            "<text x=\"{label}\" y=\"{axis}\" fill=\"#6b7385\">blue: in, amber: out</text>\n\
             <text x=\"{lat_x}\" y=\"{:.1}\" fill=\"#6b7385\">latency and CPU with browser headers</text>\n</svg>\n",
            axis + 18.0
        ));
        svg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chromium 156 (headless, on Linux) fetching `/poll?since=0` from a
    /// page at `http://127.0.0.1:29006/` that had set `session=abc`, as a
    /// capture server received it.
    const CAPTURED_FETCH: &str = "GET /poll?since=0 HTTP/1.1\r\n\
        Host: 127.0.0.1:29006\r\n\
        Connection: keep-alive\r\n\
        sec-ch-ua-platform: \"Linux\"\r\n\
        User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36\r\n\
        sec-ch-ua: \"Not:A-Brand\";v=\"8\", \"Chromium\";v=\"156\"\r\n\
        sec-ch-ua-mobile: ?0\r\n\
        Accept: */*\r\n\
        Sec-Fetch-Site: same-origin\r\n\
        Sec-Fetch-Mode: cors\r\n\
        Sec-Fetch-Dest: empty\r\n\
        Referer: http://127.0.0.1:29006/\r\n\
        Accept-Encoding: gzip, deflate, br, zstd\r\n\
        Accept-Language: en-US,en;q=0.9\r\n\
        Cookie: session=abc\r\n\r\n";

    /// The same page's `new EventSource('/sse')`.
    const CAPTURED_EVENT_SOURCE: &str = "GET /sse HTTP/1.1\r\n\
        Host: 127.0.0.1:29006\r\n\
        Connection: keep-alive\r\n\
        Pragma: no-cache\r\n\
        Cache-Control: no-cache\r\n\
        sec-ch-ua-platform: \"Linux\"\r\n\
        User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36\r\n\
        Accept: text/event-stream\r\n\
        sec-ch-ua: \"Not:A-Brand\";v=\"8\", \"Chromium\";v=\"156\"\r\n\
        sec-ch-ua-mobile: ?0\r\n\
        Sec-Fetch-Site: same-origin\r\n\
        Sec-Fetch-Mode: cors\r\n\
        Sec-Fetch-Dest: empty\r\n\
        Referer: http://127.0.0.1:29006/\r\n\
        Accept-Encoding: gzip, deflate, br, zstd\r\n\
        Accept-Language: en-US,en;q=0.9\r\n\
        Cookie: session=abc\r\n\r\n";

    /// The same page's `new WebSocket('ws://127.0.0.1:29006/ws?since=0')`.
    const CAPTURED_WEBSOCKET: &str = "GET /ws?since=0 HTTP/1.1\r\n\
        Host: 127.0.0.1:29006\r\n\
        Connection: Upgrade\r\n\
        Pragma: no-cache\r\n\
        Cache-Control: no-cache\r\n\
        User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36\r\n\
        Upgrade: websocket\r\n\
        Origin: http://127.0.0.1:29006\r\n\
        Sec-WebSocket-Version: 13\r\n\
        Accept-Encoding: gzip, deflate, br, zstd\r\n\
        Accept-Language: en-US,en;q=0.9\r\n\
        Cookie: session=abc\r\n\
        Sec-WebSocket-Key: EHY55NzJMzFsici5RBKrvg==\r\n\
        Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";

    /// What we send differs from the capture only where we chose to: a
    /// person's browser (not headless) and a session cookie.
    fn as_a_person_sends(captured: &str) -> String {
        captured
            .replace("HeadlessChrome/", "Chrome/")
            .replace("Cookie: session=abc", &format!("Cookie: {COOKIE}"))
    }

    #[test]
    fn the_browser_profile_is_what_chromium_sends() {
        let addr: SocketAddr = "127.0.0.1:29006".parse().unwrap();
        for (kind, target, captured) in [
            (Kind::Fetch, "/poll?since=0", CAPTURED_FETCH),
            (Kind::EventSource, "/sse", CAPTURED_EVENT_SOURCE),
        ] {
            let ours = request_head(addr, target, &headers(Profile::Browser, kind, addr));
            assert_eq!(ours, as_a_person_sends(captured), "{kind:?}");
        }
        // The WebSocket's request is written by tungstenite, in its order,
        // with the handshake's own headers: compare the sets of lines.
        let mut ours: Vec<String> = headers(Profile::Browser, Kind::WebSocket, addr)
            .iter()
            .map(|(n, v)| format!("{}: {v}", n.to_ascii_lowercase()))
            .collect();
        ours.extend(
            [
                "host: 127.0.0.1:29006",
                "connection: Upgrade",
                "upgrade: websocket",
                "sec-websocket-version: 13",
                "sec-websocket-key: EHY55NzJMzFsici5RBKrvg==",
            ]
            .map(String::from),
        );
        ours.sort();
        let theirs = as_a_person_sends(CAPTURED_WEBSOCKET);
        let mut theirs: Vec<String> = theirs
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(": ").unwrap();
                format!("{}: {v}", n.to_ascii_lowercase())
            })
            .collect();
        theirs.sort();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn the_minimal_profile_adds_nothing() {
        let addr: SocketAddr = "127.0.0.1:9006".parse().unwrap();
        for kind in [Kind::Fetch, Kind::EventSource, Kind::WebSocket] {
            assert!(headers(Profile::Minimal, kind, addr).is_empty());
        }
        assert_eq!(
            request_head(addr, "/poll?since=0", &[]),
            "GET /poll?since=0 HTTP/1.1\r\nHost: 127.0.0.1:9006\r\n\r\n"
        );
    }

    #[test]
    fn medians_and_numbers() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
        assert_eq!(thousands(1234.4), "1,234");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
    }

    #[test]
    fn cpu_time_and_status_read_this_process() {
        assert!(cpu_time("self").is_some());
        assert!(status("self", "VmHWM").is_some_and(|k| k.parse::<u64>().is_ok()));
    }
}
