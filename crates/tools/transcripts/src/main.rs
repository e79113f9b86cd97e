//! Captures the transcripts of the wiretap chapter (`book/src/wiretap.md`)
//! from real sessions, so that the book never shows what the pages and
//! servers used to send.
//!
//! ```text
//! scripts/wiretap-transcripts.sh     # builds what it needs, runs this, writes book/src/generated/
//! cargo run -p transcripts -- --by-hand PATH [--out DIR] [--full DIR]
//! ```
//!
//! Every session runs here, in-process: the lesson's server on
//! `127.0.0.1:0`, lesson 7's tap in front of it (on port 0 too), and a
//! client: headless Chromium, through this crate's harness, for the pages;
//! the wiretap's `by_hand` example (`--by-hand`, the path of its binary) for
//! what a browser never sends. The tap's events are collected, trimmed the
//! way the chapter shows them ("first lines only", "details trimmed"), and
//! written as `wiretap-<name>.txt` in `--out` (default: the book's
//! `src/generated/`), for the chapter to include inside its `text` fences.
//! `--full DIR` also writes each session's whole capture, untrimmed.
//!
//! Times, keys, masks and tickets differ from run to run: these are real
//! captures. Their shape must not. Each session checks the facts the
//! chapter's prose states about it (the order of the close handshake, who
//! sends the first FIN, the payloads, what the browser offers) and, when one
//! does not hold, the program fails and writes nothing, so the prose and the
//! transcripts cannot drift apart silently.
//!
//! Unix only, like the harness it drives Chromium with.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use browser::{Browser, LessonServer, WAIT};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use wiretap::{Event, Format, Options};

type Error = Box<dyn std::error::Error>;
type Result<T, E = Error> = std::result::Result<T, E>;

/// How long the chat session may wait for its heartbeat and for the server
/// to close the idle HTTP connections: both take ten seconds (the chat's
/// ping interval and its idle limit), plus the page's own requests.
const HEARTBEAT_WAIT: Duration = Duration::from_secs(45);

/// How often [`Tap::wait_for`] looks at the events again.
const POLL: Duration = Duration::from_millis(50);

/// What the echo page sends, twice, as in the source article's screenshots.
const HELLO: &str = "Hello";

/// What the echo page sends when the server agrees to compress: a line
/// that repeats itself, as JSON keys do from one message to the next.
const REPEATED: &str = "hello, hello, hello, hello, hello, hello, hello!";

/// What "ann" says in the chat.
const CHAT_LINE: &str = "hello from the wiretap chapter";

#[tokio::main]
async fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    if let Err(why) = browser::browser_available() {
        eprintln!(
            "wiretap-transcripts: headless Chromium is needed: {why}. Install with: {}",
            browser::INSTALL_HINT
        );
        return ExitCode::from(2);
    }
    match capture_all(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wiretap-transcripts: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Captures the wiretap chapter's transcripts from real sessions: the
/// lessons and the tap in this process, headless Chromium as the client.
#[derive(clap::Parser)]
#[command(name = "wiretap-transcripts")]
struct Args {
    /// The wiretap's by_hand example, built (cargo build -p wiretap
    /// --example by_hand).
    #[arg(long, value_name = "PATH")]
    by_hand: PathBuf,
    /// Where to write wiretap-NAME.txt [default: the book's src/generated]
    #[arg(long, value_name = "DIR", default_value_os_t = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../book/src/generated"))]
    out: PathBuf,
    /// Also write each session's whole capture there.
    #[arg(long, value_name = "DIR")]
    full: Option<PathBuf>,
}

/// The transcripts, by name, written only once every session has passed.
#[derive(Default)]
struct Transcripts {
    files: Vec<(String, String)>,
    full: Vec<(String, String)>,
}

impl Transcripts {
    fn add(&mut self, name: &str, text: String) {
        self.files.push((format!("wiretap-{name}.txt"), text));
    }

    /// A session's whole capture, for `--full`.
    fn keep_full(&mut self, session: &str, events: &[Rec]) {
        let text = events.iter().map(|r| r.text()).collect();
        self.full.push((format!("{session}.txt"), text));
    }
}

async fn capture_all(args: &Args) -> Result<()> {
    let started = Instant::now();
    let mut out = Transcripts::default();
    step("echo: Chromium opens the echo page through the tap, says Hello twice, disconnects");
    echo_session(&mut out).await?;
    step("echo with compression: Chromium says one repetitive line, compressed both ways");
    deflate_session(&mut out).await?;
    step("echo: Chromium tries https:// on the tap");
    tls_session(&mut out).await?;
    step("chat: Chromium joins as ann, says one thing, waits for the heartbeat, closes the tab");
    chat_session(&mut out).await?;
    step("by_hand: fragments and a ping, then --rsv1, then the same as JSON");
    by_hand_sessions(&args.by_hand, &mut out).await?;

    write_all(&args.out, &out.files)?;
    if let Some(full) = &args.full {
        write_all(full, &out.full)?;
    }
    eprintln!(
        "wiretap-transcripts: {} transcripts in {} ({:.1} s)",
        out.files.len(),
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn step(what: &str) {
    eprintln!("==> {what}");
}

fn write_all(dir: &Path, files: &[(String, String)]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The tap and its events

/// One event and its JSON view: the text is what the chapter shows, the
/// JSON is what we select with (the same facts, as fields).
#[derive(Clone)]
struct Rec {
    event: Event,
    json: Value,
}

impl Rec {
    fn conn(&self) -> u64 {
        self.event.conn
    }
    fn kind(&self) -> &str {
        self.json["kind"].as_str().unwrap_or("")
    }
    /// Sent by the client (bytes going client → server).
    fn by_client(&self) -> bool {
        self.json["direction"] == "client->server"
    }
    /// Sent by the server.
    fn by_server(&self) -> bool {
        self.json["direction"] == "server->client"
    }
    /// A frame with this opcode.
    fn is_frame(&self, opcode: u8) -> bool {
        self.kind() == "frame" && self.json["opcode"] == opcode
    }
    /// The event as the tap prints it.
    fn text(&self) -> String {
        wiretap::to_text(&self.event)
    }
    /// Its first line only.
    fn title(&self) -> String {
        let text = self.text();
        let line = text.lines().next().unwrap_or_default();
        format!("{line}\n")
    }
    /// Its first line and the detail lines that contain one of `keep`.
    fn trimmed(&self, keep: &[&str]) -> String {
        let text = self.text();
        let mut lines = text.lines();
        let mut out = lines.next().map(|l| format!("{l}\n")).unwrap_or_default();
        for line in lines.filter(|l| keep.iter().any(|k| l.contains(k))) {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

// The opcodes we look for (RFC 6455 §5.2).
const TEXT: u8 = 0x1;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// Lesson 7's tap on `127.0.0.1:0`, in front of `upstream`, with every
/// event it reports collected.
struct Tap {
    server: LessonServer,
    events: Arc<Mutex<Vec<Rec>>>,
    collector: JoinHandle<()>,
}

impl Tap {
    async fn start(upstream: SocketAddr) -> Result<Tap> {
        // Room for every event of a session: none may be dropped (the tap
        // drops rather than waits; `finish` checks it lost nothing).
        let (events_tx, mut events_rx) = mpsc::channel(100_000);
        let server = LessonServer::start(move |listener, shutdown| {
            wiretap::run(listener, upstream, Options::default(), events_tx, shutdown)
        })
        .await?;
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        let collector = tokio::spawn(async move {
            while let Some(event) = events_rx.recv().await {
                let json = wiretap::to_json(&event);
                lock(&sink).push(Rec { event, json });
            }
        });
        Ok(Tap {
            server,
            events,
            collector,
        })
    }

    fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    fn url(&self) -> String {
        self.server.url()
    }

    /// Waits until the events so far satisfy `done`, polling, up to
    /// `timeout`.
    async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[Rec]) -> bool,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if done(&lock(&self.events)) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("waited {timeout:?} for {what}").into());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Stops the tap and returns everything it reported.
    async fn finish(self) -> Result<Vec<Rec>> {
        self.server.stop().await?;
        // `run` has returned and dropped the last sender: the collector
        // drains what is left and ends.
        tokio::time::timeout(WAIT, self.collector).await??;
        let events = std::mem::take(&mut *lock(&self.events));
        if let Some(lost) = events.iter().find(|r| r.kind() == "lost") {
            return Err(format!("the capture lost events: {}", lost.text()).into());
        }
        Ok(events)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A collector that panicked holds nothing half-written worth refusing.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The connection that was upgraded (its server sent a 101), if any.
fn websocket_conn(events: &[Rec]) -> Option<u64> {
    events
        .iter()
        .find(|r| r.kind() == "http-response" && r.json["status"] == 101)
        .map(Rec::conn)
}

/// Whether connection `conn` is over.
fn ended(events: &[Rec], conn: u64) -> bool {
    events.iter().any(|r| r.conn() == conn && r.kind() == "end")
}

/// Fails with `what` (a fact the chapter states) unless `holds`.
fn ensure(holds: bool, what: &str, events: &[Rec]) -> Result<()> {
    if holds {
        return Ok(());
    }
    let capture: String = events.iter().map(Rec::title).collect();
    Err(
        format!("this capture does not show what the chapter says: {what}. Its events:\n{capture}")
            .into(),
    )
}

/// The text of a frame's payload, as the tap decoded it.
fn payload_text(r: &Rec) -> &str {
    r.json["text"].as_str().unwrap_or("")
}

/// A header of the HTTP request or response `r`, as sent.
fn header<'a>(r: &'a Rec, name: &str) -> Option<&'a str> {
    r.json["headers"]
        .as_array()?
        .iter()
        .find(|h| h[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
        .and_then(|h| h[1].as_str())
}

// ---------------------------------------------------------------------------
// The sessions

/// Lesson 3's echo, as `cargo run -p echo -- --no-deflate` serves it: the
/// tap reads no compressed payload, and the chapters show these frames.
async fn plain_echo(listener: tokio::net::TcpListener, stop: browser::Shutdown) {
    let config = echo::Config {
        deflate: None,
        ..echo::Config::default()
    };
    echo::Server::new(listener)
        .with_config(config)
        .run(stop)
        .await;
}

/// How the echo page is told to send what was typed.
enum Press {
    /// The Enter key in the message box.
    Enter,
    /// The Send button.
    Button,
}

/// Lesson 3's page, through a tap in front of `echo`: load, send each line
/// (waiting for its echo), Disconnect. Returns everything the tap reported,
/// and the tap's address as the browser named it.
async fn echo_page_session(
    echo: LessonServer,
    lines: &[(&str, Press)],
) -> Result<(Vec<Rec>, String)> {
    let tap = Tap::start(echo.addr()).await?;
    let tap_host = tap.addr().to_string();
    let browser = Browser::start().await?;
    browser.goto(&tap.url()).await?;
    badge(&browser, "open").await?;
    for (i, (line, press)) in lines.iter().enumerate() {
        browser.type_into("#message", line).await?;
        match press {
            Press::Enter => browser.press_enter("#message").await?,
            Press::Button => browser.click("#send").await?,
        }
        browser.wait_for_count("#log li.echo", i + 1, WAIT).await?;
    }
    browser.click("#toggle").await?;
    badge(&browser, "closed: 1000").await?;
    tap.wait_for("the WebSocket's connection to end", WAIT, |events| {
        websocket_conn(events).is_some_and(|ws| ended(events, ws))
    })
    .await?;
    browser.close().await?;
    let events = tap.finish().await?;
    echo.stop().await?;
    Ok((events, tap_host))
}

/// Lesson 3's page through the tap: load, "Hello" with Enter, "Hello" with
/// the button, Disconnect.
async fn echo_session(out: &mut Transcripts) -> Result<()> {
    let echo = LessonServer::start(plain_echo).await?;
    let (events, tap_host) =
        echo_page_session(echo, &[(HELLO, Press::Enter), (HELLO, Press::Button)]).await?;
    out.keep_full("echo", &events);

    let ws = websocket_conn(&events).ok_or("no 101 in the echo session")?;
    let on_ws: Vec<&Rec> = events.iter().filter(|r| r.conn() == ws).collect();

    // The page itself: the HTTP traffic of every other connection, and the
    // server's FIN that ends each, first lines only.
    let http = http_conns(&events, ws);
    let requests = |conn: u64| {
        events
            .iter()
            .filter(|r| r.conn() == conn && r.kind() == "http-request")
            .count()
    };
    ensure(
        !http.is_empty()
            && http
                .iter()
                .all(|&c| requests(c) == 1 && server_fin(&events, c)),
        "the page loads over short HTTP connections: one request each, closed by the server",
        &events,
    )?;
    let page: String = events
        .iter()
        .filter(|r| http.contains(&r.conn()))
        .filter(|r| match r.kind() {
            "http-request" | "http-response" | "http-body" => true,
            "close" => r.by_server(),
            _ => false,
        })
        .map(Rec::title)
        .collect();
    out.add("echo-page", page);

    // The upgrade request and the 101, in full.
    let request = on_ws
        .iter()
        .find(|r| r.kind() == "http-request")
        .ok_or("no upgrade request")?;
    let response = on_ws
        .iter()
        .find(|r| r.kind() == "http-response")
        .ok_or("no 101")?;
    ensure(
        header(request, "Host") == Some(tap_host.as_str())
            && header(request, "Origin") == Some(format!("http://{tap_host}").as_str()),
        "the browser's Host and Origin both name the tap",
        &events,
    )?;
    ensure(
        header(request, "Sec-WebSocket-Extensions")
            .is_some_and(|e| e.contains("permessage-deflate")),
        "the browser offers permessage-deflate",
        &events,
    )?;
    ensure(
        header(response, "Sec-WebSocket-Extensions").is_none(),
        "the 101 accepts no extension",
        &events,
    )?;
    out.add("echo-upgrade", request.text());
    out.add("echo-101", response.text());

    // The two Hellos: the first both ways in full, then both masks.
    let hellos: Vec<&&Rec> = on_ws
        .iter()
        .filter(|r| r.is_frame(TEXT) && r.by_client())
        .collect();
    let echoes: Vec<&&Rec> = on_ws
        .iter()
        .filter(|r| r.is_frame(TEXT) && r.by_server())
        .collect();
    ensure(
        hellos.len() == 2
            && echoes.len() == 2
            && hellos
                .iter()
                .chain(&echoes)
                .all(|r| payload_text(r) == HELLO),
        "two Hellos up, two echoes down",
        &events,
    )?;
    ensure(
        hellos[0].json["len"] == 11
            && echoes[0].json["len"] == 7
            && request.json["len"] == hellos[0].json["offset"]
            && response.json["len"] == echoes[0].json["offset"],
        "11 bytes up, 7 down, each right after its side's head",
        &events,
    )?;
    ensure(
        hellos[0].json["mask_key"] != hellos[1].json["mask_key"],
        "the second Hello has a new masking key",
        &events,
    )?;
    out.add("echo-hello", hellos[0].text() + &echoes[0].text());
    // Both Hellos, side by side: only the lines about the mask.
    let masking = |r: &Rec| r.trimmed(&["masking key", "masked:"]);
    out.add("echo-masking", masking(hellos[0]) + &masking(hellos[1]));

    // The close handshake: everything from the page's Close on, in full.
    let from = on_ws
        .iter()
        .position(|r| r.is_frame(CLOSE))
        .ok_or("no Close")?;
    let closing = &on_ws[from..];
    let order: Vec<(&str, bool)> = closing.iter().map(|r| (r.kind(), r.by_client())).collect();
    ensure(
        order
            == [
                ("frame", true),
                ("frame", false),
                ("close", false),
                ("close", true),
                ("end", false),
            ]
            && closing[0].json["close_code"] == 1000
            && closing[0].json["close_reason"] == "bye from the page"
            && closing[1].json["close_code"] == 1000,
        "the page's Close (1000), the server's answer (1000), the server's FIN, \
         the browser's FIN, in that order",
        &events,
    )?;
    out.add("echo-close", closing.iter().map(|r| r.text()).collect());
    Ok(())
}

/// Lesson 3's page through the tap, with the server as `cargo run -p echo`
/// starts it (permessage-deflate agreed): one repetitive line, compressed
/// up and down, and the tap inflating both.
async fn deflate_session(out: &mut Transcripts) -> Result<()> {
    let echo = LessonServer::start(|listener, stop| async move {
        echo::run(listener, stop).await;
    })
    .await?;
    let (events, _) = echo_page_session(echo, &[(REPEATED, Press::Enter)]).await?;
    out.keep_full("deflate", &events);

    let ws = websocket_conn(&events).ok_or("no 101 in the compressed echo session")?;
    let on_ws: Vec<&Rec> = events.iter().filter(|r| r.conn() == ws).collect();
    let response = on_ws
        .iter()
        .find(|r| r.kind() == "http-response")
        .ok_or("no 101")?;
    ensure(
        header(response, "Sec-WebSocket-Extensions")
            == Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
        "the 101 agrees to permessage-deflate, no context takeover either way",
        &events,
    )?;
    out.add(
        "deflate-101",
        response.trimmed(&["Sec-WebSocket-Extensions"]),
    );
    // The line up and back: a compressed frame, then the message inflated.
    let (up, down) = (
        on_ws.iter().position(|r| r.is_frame(TEXT) && r.by_client()),
        on_ws.iter().position(|r| r.is_frame(TEXT) && r.by_server()),
    );
    let (Some(up), Some(down)) = (up, down) else {
        return ensure(false, "a text frame each way", &events);
    };
    let inflated = |at: usize| on_ws.get(at + 1).filter(|r| r.kind() == "inflated");
    let (Some(up_text), Some(down_text)) = (inflated(up), inflated(down)) else {
        return ensure(
            false,
            "each compressed frame followed by its message, inflated",
            &events,
        );
    };
    let wire = |r: &Rec| r.json["payload_len"].as_u64().unwrap_or(u64::MAX);
    ensure(
        [on_ws[up], on_ws[down]]
            .iter()
            .all(|r| r.json["compressed"] == true && wire(r) < REPEATED.len() as u64)
            && [up_text, down_text]
                .iter()
                .all(|r| payload_text(r) == REPEATED && r.json["frames"] == 1),
        "the line goes compressed each way, smaller than itself, and inflates to itself",
        &events,
    )?;
    out.add(
        "deflate-message",
        on_ws[up].text() + &up_text.text() + &on_ws[down].text() + &down_text.text(),
    );
    Ok(())
}

/// Chromium sent `https://` to the plain tap: it reports the TLS record.
async fn tls_session(out: &mut Transcripts) -> Result<()> {
    let echo = LessonServer::start(plain_echo).await?;
    let tap = Tap::start(echo.addr()).await?;
    let browser = Browser::start().await?;
    let url = format!("https://{}/", tap.addr());
    // The load cannot succeed (the server speaks no TLS, and waits for an
    // HTTP head that never comes): we only want what the tap saw, so we
    // wait for that, not for the page, and then drop the browser mid-load.
    let undecodable = |events: &[Rec]| -> bool { events.iter().any(|r| r.kind() == "undecodable") };
    let what = "the tap's report on the TLS bytes";
    tokio::select! {
        seen = tap.wait_for(what, WAIT, undecodable) => seen?,
        // The load gave up first (an error page): the bytes went by anyway.
        _ = browser.client().goto(&url) => tap.wait_for(what, WAIT, undecodable).await?,
    }
    drop(browser);
    let events = tap.finish().await?;
    echo.stop().await?;
    out.keep_full("tls", &events);
    let first = events
        .iter()
        .find(|r| r.kind() == "undecodable")
        .ok_or("no undecodable event")?;
    ensure(
        first.by_client()
            && first.json["bytes_hex"]
                .as_str()
                .is_some_and(|hex| hex.starts_with("16 03 01")),
        "the client's first bytes are a TLS handshake record, 16 03 01",
        &events,
    )?;
    out.add("tls", first.text());
    Ok(())
}

/// Lesson 5's page through the tap: join as "ann", say one line, wait for
/// the heartbeat and for the server to close the idle HTTP connections,
/// close the tab.
async fn chat_session(out: &mut Transcripts) -> Result<()> {
    let chat = LessonServer::start(chatroom::run).await?;
    let tap = Tap::start(chat.addr()).await?;
    let browser = Browser::start().await?;
    browser.goto(&tap.url()).await?;
    badge(&browser, "open").await?;
    browser.type_into("#nick", "ann").await?;
    browser.press_enter("#nick").await?;
    browser
        .wait_for_text("#members", |t: &str| t.contains("ann"), WAIT)
        .await?;
    browser.type_into("#text", CHAT_LINE).await?;
    browser.press_enter("#text").await?;
    browser
        .wait_for_text("#log", |t: &str| t.contains(CHAT_LINE), WAIT)
        .await?;
    tap.wait_for(
        "the heartbeat, and the server closing the idle HTTP connections",
        HEARTBEAT_WAIT,
        |events| {
            let Some(ws) = websocket_conn(events) else {
                return false;
            };
            let ponged = events
                .iter()
                .any(|r| r.conn() == ws && r.is_frame(PONG) && r.by_client());
            ponged
                && http_conns(events, ws)
                    .iter()
                    .all(|&c| server_fin(events, c))
        },
    )
    .await?;

    // Close the tab (the session's only one: open another first, so that
    // the browser lives on, as it does when a person closes a tab).
    let client = browser.client();
    let chat_tab = client.window().await?;
    let other = client.new_window(true).await?;
    client.switch_to_window(chat_tab).await?;
    client.close_window().await?;
    client.switch_to_window(other.handle).await?;
    tap.wait_for("the WebSocket's connection to end", WAIT, |events| {
        websocket_conn(events).is_some_and(|ws| ended(events, ws))
    })
    .await?;
    browser.close().await?;
    let events = tap.finish().await?;
    chat.stop().await?;
    out.keep_full("chat", &events);

    let ws = websocket_conn(&events).ok_or("no 101 in the chat session")?;
    let http = http_conns(&events, ws);
    ensure(
        http.iter().any(|&c| {
            events
                .iter()
                .filter(|r| r.conn() == c && r.kind() == "http-request")
                .count()
                >= 2
        }),
        "the server keeps HTTP connections alive: one carries several requests",
        &events,
    )?;
    let upgrade = events
        .iter()
        .find(|r| r.conn() == ws && r.kind() == "http-request")
        .ok_or("no upgrade request in the chat session")?;
    ensure(
        events.iter().any(|r| {
            r.kind() == "http-request"
                && r.json["method"] == "POST"
                && r.json["target"] == "/ticket"
        }) && upgrade.json["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("/ws?ticket=")),
        "the page fetches a ticket with POST /ticket, and the upgrade carries it",
        &events,
    )?;
    // "Ten seconds": the chat's settings, and what this run shows.
    let config = chatroom::Config::default();
    let ten = Duration::from_secs(10);
    ensure(
        config.ping_interval == ten && config.head_timeout == ten,
        "the chat pings every ten seconds and closes an idle HTTP connection after ten",
        &events,
    )?;
    let about_ten = |from: &Rec, to: &Rec| {
        let gap = to.event.time.saturating_sub(from.event.time);
        ten <= gap && gap < ten + Duration::from_secs(2)
    };
    let switched = events
        .iter()
        .find(|r| r.conn() == ws && r.kind() == "http-response")
        .ok_or("no 101 in the chat session")?;
    let first_ping = events
        .iter()
        .find(|r| r.conn() == ws && r.is_frame(PING))
        .ok_or("no ping in the chat session")?;
    let idle_closed_after_ten = http.iter().all(|&c| {
        let last_request = events
            .iter()
            .filter(|r| r.conn() == c && r.kind() == "http-request")
            .last();
        let fin = events
            .iter()
            .find(|r| r.conn() == c && r.kind() == "close" && r.by_server());
        matches!((last_request, fin), (Some(req), Some(fin)) if about_ten(req, fin))
    });
    ensure(
        about_ten(switched, first_ping) && idle_closed_after_ten,
        "the first ping ten seconds after the 101, each idle HTTP connection closed by \
         the server ten seconds after its last request",
        &events,
    )?;
    let ws_texts = |client: bool| {
        events
            .iter()
            .filter(|r| r.conn() == ws && r.is_frame(TEXT) && r.by_client() == client)
            .count()
    };
    ensure(
        ws_texts(true) == 2 && ws_texts(false) >= 3,
        "the join and the message go up, the welcome and the message come down",
        &events,
    )?;

    // Everything up to the moment the tab closes, first lines only; not
    // the connections' openings and ends, which add nothing here, nor a
    // connection that carried nothing (Chromium sometimes opens one ahead
    // of need, and the server closes it, unused, ten seconds later).
    let leave = events
        .iter()
        .position(|r| r.conn() == ws && r.is_frame(CLOSE))
        .ok_or("no Close in the chat session")?;
    let overview: String = events[..leave]
        .iter()
        .filter(|r| r.conn() == ws || http.contains(&r.conn()))
        .filter(|r| r.kind() != "open" && r.kind() != "end")
        .map(Rec::title)
        .collect();
    out.add("chat", overview);

    // The heartbeat in full: the first ping and the pong after it.
    let ping = events
        .iter()
        .position(|r| r.conn() == ws && r.is_frame(PING) && r.by_server())
        .ok_or("no ping")?;
    let pong = events[ping..]
        .iter()
        .find(|r| r.conn() == ws && r.is_frame(PONG) && r.by_client())
        .ok_or("no pong")?;
    let counter_1 = "00 00 00 00 00 00 00 01";
    ensure(
        events[ping].json["payload_hex"] == counter_1 && pong.json["payload_hex"] == counter_1,
        "ping number 1 carries 00 00 00 00 00 00 00 01, and the pong carries it back",
        &events,
    )?;
    out.add("chat-heartbeat", events[ping].text() + &pong.text());

    // The tab goes away: the Closes with their codes, and how each side's
    // TCP ended. The browser closes its socket right after its Close,
    // without waiting for the answer, and which of two shapes the tap sees
    // is a race of a fraction of a millisecond (the chapter explains both):
    // the browser's FIN goes by before the server's Close, or the server's
    // Close arrives first, unread, and closing the socket resets it.
    let closing: Vec<&Rec> = events[leave..]
        .iter()
        .filter(|r| r.conn() == ws && r.kind() != "end")
        .collect();
    let client_end = closing
        .iter()
        .position(|r| r.kind() == "close" && r.by_client());
    let answer = closing
        .iter()
        .position(|r| r.is_frame(CLOSE) && r.by_server());
    let shape = match (client_end, answer) {
        (Some(end), Some(answer)) if end < answer && closing[end].json["how"] == "fin" => {
            "a FIN before the answer"
        }
        (Some(end), Some(answer)) if end > answer && closing[end].json["how"] == "error" => {
            "a reset after the answer"
        }
        _ => "neither",
    };
    ensure(
        shape != "neither"
            && closing[0].is_frame(CLOSE)
            && closing[0].by_client()
            && closing[0].json["close_code"] == 1001
            && answer.is_some_and(|a| closing[a].json["close_code"] == 1001),
        "the page's Close 1001, answered with 1001; the browser's side ends with a FIN \
         before the answer or a reset after it",
        &events,
    )?;
    eprintln!("    the browser's side of the WebSocket ended with {shape}");
    out.add(
        "chat-leave",
        closing
            .iter()
            .map(|r| r.trimmed(&["close code:"]))
            .collect(),
    );
    Ok(())
}

/// The connections of `events` that stayed HTTP and carried a request.
fn http_conns(events: &[Rec], ws: u64) -> Vec<u64> {
    let mut conns: Vec<u64> = events
        .iter()
        .filter(|r| r.conn() != ws && r.kind() == "http-request")
        .map(Rec::conn)
        .collect();
    conns.sort_unstable();
    conns.dedup();
    conns
}

/// Whether the server closed its side of `conn` (a FIN).
fn server_fin(events: &[Rec], conn: u64) -> bool {
    events
        .iter()
        .any(|r| r.conn() == conn && r.kind() == "close" && r.by_server())
}

/// Waits until the page's state badge reads exactly `state`.
async fn badge(browser: &Browser, state: &str) -> Result<()> {
    browser
        .wait_for_text("#state", |t: &str| t == state, WAIT)
        .await?;
    Ok(())
}

/// The wiretap's `by_hand` client through the tap, in front of lesson 3:
/// plain, with `--rsv1`, and plain again for the JSON view.
async fn by_hand_sessions(by_hand: &Path, out: &mut Transcripts) -> Result<()> {
    // Plain: what the client prints, and what the tap saw.
    let (printed, events) = by_hand_session(by_hand, &[]).await?;
    out.keep_full("by-hand", &events);
    out.add("by-hand-client", printed);
    let frames: Vec<&Rec> = events.iter().filter(|r| r.kind() == "frame").collect();
    let up: Vec<&&Rec> = frames.iter().filter(|r| r.by_client()).collect();
    let down: Vec<&&Rec> = frames.iter().filter(|r| r.by_server()).collect();
    let opcodes = |frames: &[&&Rec]| -> Vec<u64> {
        frames
            .iter()
            .filter_map(|r| r.json["opcode"].as_u64())
            .collect()
    };
    ensure(
        opcodes(&up) == [0x1, 0x9, 0x0, 0x0, 0x8]
            && up.iter().all(|r| r.event.time == up[0].event.time)
            && opcodes(&down).starts_with(&[0xA, 0x1])
            && payload_text(down[1]) == "Hello, world",
        "five client frames in one read; the pong, then the message as one frame",
        &events,
    )?;
    // Up to the echoed message (the server's second frame): the first
    // fragment, the ping and the pong in full, the rest first lines only.
    let mut text = String::new();
    let mut from_server = 0;
    for r in &frames {
        if r.is_frame(TEXT) && r.by_client() || r.is_frame(PING) || r.is_frame(PONG) {
            text.push_str(&r.text());
        } else {
            text.push_str(&r.title());
        }
        from_server += usize::from(r.by_server());
        if from_server == 2 {
            break;
        }
    }
    out.add("by-hand", text);

    // --rsv1: the tap's report on the compressed-looking frame and the
    // frame after it; the client's line about the server's answer.
    let (printed, events) = by_hand_session(by_hand, &["--rsv1"]).await?;
    out.keep_full("by-hand-rsv1", &events);
    let at = events
        .iter()
        .position(|r| r.kind() == "undecodable")
        .ok_or("no undecodable frame with --rsv1")?;
    let next = events[at + 1..]
        .iter()
        .find(|r| r.kind() == "frame" && r.by_client())
        .ok_or("no frame after the RSV1 frame")?;
    ensure(
        next.is_frame(CLOSE) && next.json["offset"] == events[at].json["total"],
        "the tap finds the next frame right where the RSV1 frame's length says",
        &events,
    )?;
    out.add("rsv1", events[at].text() + &next.title());
    let answer = printed
        .lines()
        .find(|l| l.starts_with("← connection close"))
        .ok_or("by_hand --rsv1 printed no Close")?;
    ensure(
        answer.contains("1002"),
        "the echo server closes with 1002",
        &events,
    )?;
    out.add("rsv1-client", format!("{answer}\n"));

    // JSON: the ping, the Close and the end of one more run.
    let (_, events) = by_hand_session(by_hand, &[]).await?;
    let json: String = events
        .iter()
        .filter(|r| (r.is_frame(PING) || r.is_frame(CLOSE)) && r.by_client() || r.kind() == "end")
        .map(|r| wiretap::render(&r.event, Format::Json))
        .collect();
    out.add("json", json);
    Ok(())
}

/// Runs `by_hand ARGS TAP` against a tap in front of a fresh echo server;
/// returns what it printed and what the tap saw.
async fn by_hand_session(by_hand: &Path, args: &[&str]) -> Result<(String, Vec<Rec>)> {
    let echo = LessonServer::start(echo::run).await?;
    let tap = Tap::start(echo.addr()).await?;
    let printed = run_client(by_hand, args, tap.addr()).await?;
    tap.wait_for("by_hand's connection to end", WAIT, |events| {
        ended(events, 1)
    })
    .await?;
    let events = tap.finish().await?;
    echo.stop().await?;
    Ok((printed, events))
}

/// Runs the client to its end (bounded) and returns its standard output.
async fn run_client(program: &Path, args: &[&str], tap: SocketAddr) -> Result<String> {
    let mut child = Command::new(program)
        .args(args)
        .arg(tap.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{} did not finish within {WAIT:?}", program.display()).into());
        }
        tokio::time::sleep(POLL).await;
    };
    // It has exited, and it prints a few lines: nothing is left blocked on a
    // full pipe.
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stdout.take() {
        pipe.read_to_string(&mut stdout)?;
    }
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr)?;
    }
    if !status.success() {
        return Err(format!("{} {args:?} failed ({status}): {stderr}", program.display()).into());
    }
    Ok(stdout)
}
