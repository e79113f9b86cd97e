//! Each lesson's page, opened in headless Chromium, shows what the lesson
//! promises. One test per page; each starts its own lesson server and its
//! own browser, waits for what a person would wait for, and saves a
//! screenshot (`target/screenshots/<page>.png`, copied into the book by
//! `scripts/screenshots.sh`).
//!
//! Without Chromium these tests skip themselves loudly (see the crate docs);
//! with `REQUIRE_BROWSER=1` they fail instead.

#![cfg(unix)]

use std::collections::HashSet;

use browser::{Browser, Error, LessonServer, Shutdown, WAIT};
use tokio::net::TcpListener;

/// Starts the lesson (`run`, on a port of its own) and a browser on its
/// page; `None` when the browser tests are skipped on this machine.
async fn open_page<F, Fut>(run: F) -> Result<Option<(LessonServer, Browser)>, Error>
where
    F: FnOnce(TcpListener, Shutdown) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    if browser::skip_if_unavailable() {
        return Ok(None);
    }
    let server = LessonServer::start(run).await?;
    let browser = Browser::start().await?;
    browser.goto(&server.url()).await?;
    Ok(Some((server, browser)))
}

/// Waits until the page's state badge reads exactly `state`.
async fn badge_is(browser: &Browser, state: &str) -> Result<String, Error> {
    browser
        .wait_for_text("#state", |t: &str| t == state, WAIT)
        .await
}

/// Saves the page's screenshot as `<name>.png`, then ends the browser and
/// the lesson (which must stop when asked).
async fn finish(browser: Browser, server: LessonServer, name: &str) -> Result<(), Error> {
    let png = browser.screenshot(name).await?;
    eprintln!("screenshot: {}", png.display());
    browser.close().await?;
    server.stop().await
}

/// Lesson 1: the page opens a WebSocket, the server completes the handshake
/// by hand, sends the accept computation, and closes with 1000. The page
/// must end up saying so, and its accept value must be the one the lesson's
/// own `accept_key` computes from the key the browser sent.
#[tokio::test]
async fn handshake_page_shows_a_completed_handshake() -> Result<(), Error> {
    let Some((server, browser)) = open_page(handshake::run).await? else {
        return Ok(());
    };

    // The close is the last thing that happens, so once the badge says
    // "closed 1000" the open and the message happened before it.
    browser.wait_for_text("#state", "closed 1000", WAIT).await?;
    // The page checks the accept value with the browser's own SHA-1
    // (crypto.subtle), asynchronously: wait for its verdict.
    let verdict = browser
        .wait_for_text("#verify", |t: &str| !t.starts_with("waiting"), WAIT)
        .await?;
    let key = browser.text("#key").await?;
    let accept = browser.text("#accept").await?;
    assert!(handshake::is_valid_key(&key), "the page shows key {key:?}");
    assert_eq!(
        accept,
        handshake::accept_key(&key),
        "accept for key {key:?}"
    );
    assert!(
        verdict.starts_with('✓') && verdict.contains(&accept),
        "the page's own check says {verdict:?}, accept is {accept:?}"
    );
    let log = browser.text("#log").await?;
    for event in ["open", "message", "close: code 1000"] {
        assert!(log.contains(event), "the log lacks {event:?}:\n{log}");
    }

    finish(browser, server, "handshake").await
}

/// Lesson 3: what is typed comes back, byte for byte, multi-byte UTF-8
/// included, whether sent with Enter or with the Send button, and
/// compressed with permessage-deflate, which Chromium and our server agree.
#[tokio::test]
async fn echo_page_echoes_what_is_typed() -> Result<(), Error> {
    let Some((server, browser)) = open_page(echo::run).await? else {
        return Ok(());
    };
    // Page load is not WebSocket open: typing before "open" would only get
    // the page's "not connected" line.
    badge_is(&browser, "open").await?;

    // Two-byte é, four-byte 👋 (outside the BMP, so two UTF-16 units in
    // JavaScript): the text frame carries UTF-8, the server checks it, and
    // the page must get back exactly what it sent.
    let first = "héllo 👋";
    browser.type_into("#message", first).await?;
    browser.press_enter("#message").await?;
    // The echo is appended after the "sent" line, so the log's last line
    // being an echo of our text proves the round trip.
    let last_echo = "#log li.echo:last-child .text";
    browser
        .wait_for_text(last_echo, |t: &str| t == first, WAIT)
        .await?;
    let sent = browser.text("#log li.sent .text").await?;
    assert_eq!(sent, first, "the page logged what it sent");

    let second = "and one more, with the button: ünïcödé ✓";
    browser.type_into("#message", second).await?;
    browser.click("#send").await?;
    browser
        .wait_for_text(last_echo, |t: &str| t == second, WAIT)
        .await?;
    assert_eq!(
        browser.count("#log li.echo").await?,
        2,
        "one echo per message"
    );

    // Chromium offers permessage-deflate, and our server accepts it: both
    // messages above went compressed, both ways.
    let extensions = browser.script("return window.ws.extensions;").await?;
    assert_eq!(
        extensions, "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        "the extensions the 101 named"
    );
    // A message big enough to be worth compressing, compared in the page.
    let echoed = browser
        .script(
            "const text = 'compress me, '.repeat(5000) + '✓';
             return new Promise((done) => {
               window.ws.addEventListener('message', (e) => done(e.data === text), { once: true });
               window.ws.send(text);
             });",
        )
        .await?;
    assert_eq!(echoed, true, "a 65 KB message came back byte for byte");

    finish(browser, server, "echo").await
}

/// Lesson 4: phrases arrive by themselves and the badge says "open". Then
/// the server stops: the page says the server went away (1001) and turns
/// to "reconnecting". The server starts again on the same port: the page
/// gets there by itself, "open" again, with new phrases, and it has shown
/// no message twice.
#[tokio::test]
async fn push_page_shows_phrases_and_reconnects() -> Result<(), Error> {
    let Some((server, browser)) = open_page(push::run).await? else {
        return Ok(());
    };
    badge_is(&browser, "open").await?;
    browser.wait_for_count("#log li.push", 3, WAIT).await?;
    let first = browser.text("#log li.push .text").await?;
    assert!(
        push::PHRASES.contains(&first.as_str()),
        "the page shows a phrase exactly as sent: {first:?}"
    );
    browser.wait_for_text("#age", "last message", WAIT).await?;

    // Ctrl-C, as far as the page can tell.
    let addr = server.addr();
    server.stop().await?;
    badge_is(&browser, "reconnecting").await?;
    browser
        .wait_for_text(
            "#log",
            "the server went away (1001 server shutting down)",
            WAIT,
        )
        .await?;
    let before = browser.count("#log li.push").await?;

    let server = LessonServer::start_on(addr, push::run).await?;
    badge_is(&browser, "open").await?;
    browser
        .wait_for_count("#log li.push", before + 3, WAIT)
        .await?;
    browser
        .wait_for_text("#log", "the server restarted", WAIT)
        .await?;

    // Every message shown once: (run, number) pairs are unique, and there
    // are two runs.
    let boots = browser.attributes("#log li.push", "data-boot").await?;
    let seqs = browser.attributes("#log li.push", "data-seq").await?;
    let shown: Vec<_> = boots.into_iter().zip(seqs).collect();
    let unique: HashSet<_> = shown.iter().collect();
    assert_eq!(
        unique.len(),
        shown.len(),
        "a message shown twice: {shown:?}"
    );
    let runs: HashSet<_> = shown.iter().map(|(boot, _)| boot).collect();
    assert_eq!(runs.len(), 2, "{shown:?}");
    let counts = browser.text("#counts").await?;
    assert!(
        counts.ends_with(" received · 0 missed · 0 duplicates dropped"),
        "{counts}"
    );

    finish(browser, server, "push").await
}
