//! What warp's `ws()` filter does on its own, served by `warp::serve`: the
//! gaps the chapter's table lists, measured, so the table cannot drift from
//! the warp we build with. (If warp closes a gap, this test fails, and the
//! chapter gets a happier row.)

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use warp::Filter;
use warp::ws::Ws;

#[tokio::test]
async fn ws_alone_lets_through_what_lesson_one_refuses() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let route = warp::path("ws").and(warp::ws()).map(|ws: Ws| {
        ws.on_upgrade(|socket| async move {
            // Hold the socket a moment, then let it go.
            tokio::time::sleep(Duration::from_millis(100)).await;
            drop(socket);
        })
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        warp::serve(route)
            .incoming(listener)
            .graceful(async move {
                let _ = stopped.await;
            })
            .run(),
    );

    // The chapter's table, in its order: what `ws()` alone answers.
    let answered = ["101", "101", "101", "101", "400", "400", "101", "101"];
    for ((what, request), want) in table_rows().into_iter().zip(answered) {
        let answer = raw(addr, request.as_bytes()).await;
        assert_eq!(answer.get(9..12), Some(want), "{what}: {answer}");
    }

    // Half a head: still held open after two seconds (we measured over 20).
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(
        timeout(Duration::from_secs(2), stream.read(&mut byte))
            .await
            .is_err(),
        "warp::serve has no head timeout"
    );
    drop(stream);
    let _ = stop.send(());
    let _ = timeout(WAIT, server).await;
}
