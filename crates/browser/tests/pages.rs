//! Each lesson's page, opened in headless Chromium, shows what the lesson
//! promises. One test per page; each starts its own lesson server and its
//! own browser, waits for what a person would wait for, and saves a
//! screenshot (`target/screenshots/<page>.png`, copied into the book by
//! `scripts/screenshots.sh`).
//!
//! Without Chromium these tests skip themselves loudly (see the crate docs);
//! with `REQUIRE_BROWSER=1` they fail instead.

#![cfg(unix)]

use browser::{Browser, Error, LessonServer, WAIT};

/// Lesson 1: the page opens a WebSocket, the server completes the handshake
/// by hand, sends the accept computation, and closes with 1000. The page
/// must end up saying so, and its accept value must be the one the lesson's
/// own `accept_key` computes from the key the browser sent.
#[tokio::test]
async fn handshake_page_shows_a_completed_handshake() -> Result<(), Error> {
    if browser::skip_if_unavailable() {
        return Ok(());
    }
    let server = LessonServer::start(handshake::run).await?;
    let browser = Browser::start().await?;
    browser.goto(&server.url()).await?;

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

    let png = browser.screenshot("handshake").await?;
    eprintln!("screenshot: {}", png.display());
    browser.close().await?;
    server.stop().await
}

/// Lesson 3: what is typed comes back, byte for byte, multi-byte UTF-8
/// included, whether sent with Enter or with the Send button.
#[tokio::test]
async fn echo_page_echoes_what_is_typed() -> Result<(), Error> {
    if browser::skip_if_unavailable() {
        return Ok(());
    }
    let server = LessonServer::start(echo::run).await?;
    let browser = Browser::start().await?;
    browser.goto(&server.url()).await?;

    // Page load is not WebSocket open: typing before "open" would only get
    // the page's "not connected" line.
    browser
        .wait_for_text("#state", |t: &str| t == "open", WAIT)
        .await?;

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

    let png = browser.screenshot("echo").await?;
    eprintln!("screenshot: {}", png.display());
    browser.close().await?;
    server.stop().await
}
