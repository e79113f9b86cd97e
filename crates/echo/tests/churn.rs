//! 10,000 connections, each: handshake, one echo, close handshake. Nothing
//! may be left behind: the live-connection gauge returns to 0.

mod common;

use common::{RawClient, TestServer, WAIT, close_frame};
use frame::{CloseCode, Frame};
use tokio::task::JoinSet;
use tokio::time::timeout;

const CONNECTIONS: usize = 10_000;
/// How many clients run at once.
const CONCURRENCY: usize = 50;

/// One client's life: connect, echo, close.
async fn cycle(server: std::net::SocketAddr, n: usize) {
    let mut client = RawClient::connect(server).await;
    let text = format!("connection {n}");
    client.send(Frame::text(text.clone())).await;
    assert_eq!(client.expect_frame().await, Frame::text(text));
    client.send(close_frame(CloseCode::NORMAL, "")).await;
    client.expect_close(CloseCode::NORMAL).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_connections_leave_nothing_behind() {
    let server = TestServer::start().await;
    let addr = server.addr;
    let mut clients = JoinSet::new();
    for worker in 0..CONCURRENCY {
        clients.spawn(async move {
            for i in (worker..CONNECTIONS).step_by(CONCURRENCY) {
                cycle(addr, i).await;
            }
        });
    }
    while let Some(done) = timeout(WAIT * 4, clients.join_next())
        .await
        .expect("10,000 cycles took too long")
    {
        done.unwrap();
    }
    // Each task ends just after its client has seen TCP close: wait for the
    // last few.
    server.all_gone().await;
    assert_eq!(server.live.get(), 0);
    server.stop().await;
}
