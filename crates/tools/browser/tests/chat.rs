//! Lesson 5's page in two headless Chromiums: two people join, talk, and
//! one of them reloads. Saves `chat.png` for the book (copied by
//! `scripts/screenshots.sh`).
//!
//! Without Chromium this test skips itself loudly (see the crate docs);
//! with `REQUIRE_BROWSER=1` it fails instead.

#![cfg(unix)]

use std::collections::HashSet;

use browser::chat::{join_chat, say};
use browser::{Error, LessonServer, WAIT};

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
