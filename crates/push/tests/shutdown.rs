//! Ctrl-C: every page gets Close 1001 and the server returns within its
//! deadline, whatever the pages do.

mod common;

use common::*;
use push::Config;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

/// Three pages, each reading: each gets 1001 "server shutting down", each
/// answers (tokio-tungstenite does), and `run` returns at once.
#[tokio::test(start_paused = true)]
async fn every_page_gets_1001_and_the_server_stops() {
    let server = serve(Config::default()).await;
    let mut pages = [
        server.client().await,
        server.client().await,
        server.client().await,
    ];
    for page in &mut pages {
        next_push(page).await;
    }
    let start = Instant::now();
    server.press_ctrl_c();
    for page in &mut pages {
        assert_eq!(
            expect_close(page).await,
            (1001, "server shutting down".into())
        );
    }
    server.finish().await;
    assert_eq!(start.elapsed(), std::time::Duration::ZERO, "no waiting");
}

/// A page that never answers our Close holds the shutdown for no more than
/// the close timeout; the others are not held up by it.
#[tokio::test(start_paused = true)]
async fn a_page_that_never_answers_our_close_is_dropped_at_the_deadline() {
    let config = Config::default();
    let server = serve(config).await;
    let _mute = server.client().await; // never read: never answers
    let mut polite = server.client().await;
    next_push(&mut polite).await;
    let start = Instant::now();
    server.press_ctrl_c();
    assert_eq!(expect_close(&mut polite).await.0, 1001);
    assert_eq!(start.elapsed(), std::time::Duration::ZERO);
    server.live_is(0).await;
    assert_eq!(start.elapsed(), config.close_timeout);
    timeout(config.shutdown_timeout, server.stop())
        .await
        .expect("run returns within the shutdown timeout");
}

/// A connection still sending its request when Ctrl-C comes is simply
/// closed: there is no WebSocket yet to say 1001 on.
#[tokio::test(start_paused = true)]
async fn a_half_sent_request_is_dropped_at_once() {
    let server = serve(Config::default()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    server.live_is(1).await;
    let start = Instant::now();
    server.press_ctrl_c();
    assert!(read_to_end(&mut stream).await.is_empty(), "no answer");
    server.finish().await;
    assert_eq!(start.elapsed(), std::time::Duration::ZERO);
}
