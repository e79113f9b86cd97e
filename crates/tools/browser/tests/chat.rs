//! Lesson 5's page in two headless Chromiums: two people join, talk, and
//! one of them reloads. Saves `chat.png` for the book (copied by
//! `scripts/screenshots.sh`).
//!
//! Without Chromium this test skips itself loudly (see the crate docs);
//! with `REQUIRE_BROWSER=1` it fails instead.

#![cfg(unix)]

use std::collections::HashSet;

use browser::chat::{join_chat, join_in, say};
use browser::{Browser, Error, LessonServer, WAIT};

/// Two pages, one room (which requires tickets): what one types, the other
/// shows, as text (markup included, verbatim), in the same order; who is
/// online on both; a reload keeps the name and shows no message twice; and
/// when the server stops and starts again, both pages come back by
/// themselves (the shared reconnecting helper in `/lesson.js`) and rejoin.
#[tokio::test]
async fn two_pages_talk_and_a_reload_keeps_the_name() -> Result<(), Error> {
    if browser::skip_if_unavailable() {
        return Ok(());
    }
    // With tickets required, so that the page's ticket fetch is tested too.
    let config = chatroom::Config {
        require_ticket: true,
        ..chatroom::Config::default()
    };
    let room = |config: chatroom::Config| {
        move |listener, shutdown| chatroom::Server::with_config(listener, config).run(shutdown)
    };
    let server = LessonServer::start(room(config.clone())).await?;
    let ann = join_chat(&server.url(), "ann").await?;
    let bob = join_chat(&server.url(), "bob").await?;
    ann.wait_for_text("#members", |t: &str| t.contains("bob"), WAIT)
        .await?;
    ann.wait_for_text("#count", "2", WAIT).await?;

    say(&ann, "hello bob, this is <b>not bold</b>").await?;
    bob.wait_for_text("#log", "this is <b>not bold</b>", WAIT)
        .await?;
    say(&bob, "hi ann! 👋").await?;
    say(&ann, "see you in the book").await?;
    for page in [&ann, &bob] {
        page.wait_for_count("#log li.message", 3, WAIT).await?;
    }
    // Each page marks its own messages, and only those.
    assert_eq!(ann.count("#log li.mine").await?, 2);
    assert_eq!(bob.count("#log li.mine").await?, 1);
    // The room's language, offered by the page and named in the 101.
    assert_eq!(
        ann.script("return ws.protocol;").await?,
        chatroom::SUBPROTOCOL
    );
    // One order for everybody.
    let ann_seqs = ann.attributes("#log li.message", "data-seq").await?;
    let bob_seqs = bob.attributes("#log li.message", "data-seq").await?;
    assert_eq!(ann_seqs, bob_seqs);

    // Reload: same tab, same sessionStorage, so the same name, and the
    // history arrives again but is shown once.
    bob.goto(&server.url()).await?;
    bob.wait_for_text(
        "#members",
        |t: &str| t.contains("bob") && t.contains("ann"),
        WAIT,
    )
    .await?;
    bob.wait_for_count("#log li.message", 3, WAIT).await?;
    let seqs = bob.attributes("#log li.message", "data-seq").await?;
    let unique: HashSet<_> = seqs.iter().collect();
    assert_eq!(unique.len(), seqs.len(), "a message shown twice: {seqs:?}");
    say(&bob, "back, same name").await?;
    ann.wait_for_text("#log", "back, same name", WAIT).await?;

    let png = ann.screenshot("chat").await?;
    eprintln!("screenshot: {}", png.display());

    // Ctrl-C and a restart on the same port: nobody touches the pages. The
    // first retry comes within half a second (the backoff's first ceiling),
    // each page fetches a new ticket, opens, and rejoins under its name.
    let addr = server.addr();
    server.stop().await?;
    for page in [&ann, &bob] {
        page.wait_for_text("#state", |t: &str| t == "reconnecting", WAIT)
            .await?;
        page.wait_for_text("#log", "the server went away (1001", WAIT)
            .await?;
    }
    let server = LessonServer::start_on(addr, room(config)).await?;
    for page in [&ann, &bob] {
        page.wait_for_text("#log", "the server restarted", WAIT)
            .await?;
        page.wait_for_text(
            "#members",
            |t: &str| t.contains("ann") && t.contains("bob"),
            WAIT,
        )
        .await?;
    }
    say(&ann, "still here after the restart").await?;
    bob.wait_for_text("#log", "still here after the restart", WAIT)
        .await?;

    ann.close().await?;
    bob.close().await?;
    server.stop().await
}

/// The room speaking TLS itself (`--tls-cert`, `--tls-key`): the page loads
/// over https, its WebSocket is wss://, and two pages talk. The certificate
/// is made for 127.0.0.1 at test time; the browsers accept it as a person
/// clicking through the warning would.
#[tokio::test]
async fn the_room_over_its_own_tls_is_https_and_wss() -> Result<(), Error> {
    if browser::skip_if_unavailable() {
        return Ok(());
    }
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
        .expect("rcgen makes a certificate");
    let tls = chatroom::Tls::from_pem(
        made.cert.pem().as_bytes(),
        made.signing_key.serialize_pem().as_bytes(),
    )
    .expect("the certificate and key go together");
    let config = chatroom::Config {
        tls: Some(tls),
        ..chatroom::Config::default()
    };
    let server = LessonServer::start(move |listener, shutdown| {
        chatroom::Server::with_config(listener, config).run(shutdown)
    })
    .await?;
    let url = format!("https://{}/", server.addr());
    let ann = join_in(
        Browser::start_accepting_any_certificate().await?,
        &url,
        "ann",
    )
    .await?;
    let bob = join_in(
        Browser::start_accepting_any_certificate().await?,
        &url,
        "bob",
    )
    .await?;
    let ws = ann.script("return ws.url;").await?;
    let wss = format!("wss://{}/ws", server.addr());
    assert!(ws.as_str().is_some_and(|u| u.starts_with(&wss)), "{ws}");
    say(&ann, "encrypted all the way").await?;
    bob.wait_for_text("#log", "encrypted all the way", WAIT)
        .await?;
    ann.close().await?;
    bob.close().await?;
    server.stop().await?;
    Ok(())
}

/// The page's outbox has a limit: it keeps at most the nine messages it
/// said last (`MAX_UNCONFIRMED`: the room's burst of 10, less the rejoin's
/// join) until they come back. Ann's page says twelve into a connection
/// that never passes them on (its `send` drops them, as a server that
/// hangs would), then gives that connection up. It rejoins with `since`
/// and says again the nine newest, all of which the room takes: the three
/// oldest are gone, and every page shows the nine once, in the order they
/// were said. A page that kept ten or more would have the newest refused
/// as too fast instead, and lose it.
#[tokio::test]
async fn a_page_says_again_at_most_the_nine_newest_of_what_never_came_back() -> Result<(), Error> {
    if browser::skip_if_unavailable() {
        return Ok(());
    }
    let server = LessonServer::start(|listener, shutdown| {
        chatroom::Server::with_config(listener, chatroom::Config::default()).run(shutdown)
    })
    .await?;
    let ann = join_chat(&server.url(), "ann").await?;
    let bob = join_chat(&server.url(), "bob").await?;
    ann.wait_for_text("#count", "2", WAIT).await?;
    say(&ann, "before the trouble").await?;
    bob.wait_for_text("#log", "before the trouble", WAIT)
        .await?;

    ann.script(
        "window.realSend = WebSocket.prototype.send; \
         WebSocket.prototype.send = function (data) { \
           if (String(data).includes('\"say\"')) return; \
           return window.realSend.call(this, data); };",
    )
    .await?;
    let said: Vec<String> = (1..=12).map(|i| format!("unheard {i:02}")).collect();
    for text in &said {
        say(&ann, text).await?;
    }
    assert_eq!(
        ann.script("return unconfirmed.length;").await?,
        9,
        "the page keeps nine"
    );
    ann.script(
        "WebSocket.prototype.send = window.realSend; \
         connection.giveUp('a server that went quiet');",
    )
    .await?;
    let newest = &said[3..];
    for page in [&ann, &bob] {
        page.wait_for_text("#log", newest[8].as_str(), WAIT).await?;
    }
    for (nick, page) in [("ann", &ann), ("bob", &bob)] {
        let shown: Vec<String> = page
            .script(
                "return [...document.querySelectorAll('#log li.message .text')]\
                 .map(t => t.textContent);",
            )
            .await?
            .as_array()
            .map(|texts| {
                texts
                    .iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .filter(|t| t.starts_with("unheard"))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            shown, newest,
            "{nick}'s page: the nine newest, once, in order"
        );
    }
    assert_eq!(ann.script("return unconfirmed.length;").await?, 0);
    ann.close().await?;
    bob.close().await?;
    server.stop().await
}
