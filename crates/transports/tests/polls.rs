//! Short and long polling: every event exactly once, in order, however the
//! polls and the feed interleave; the timeout, the hang-up, the stale
//! cursor, bad input.

mod common;

use std::time::Duration;

use common::{WAIT, assert_exactly_once, batch, quiet, start};
use loadgen::http::HttpClient;
use tokio::time::timeout;
use transports::Config;

#[tokio::test]
async fn short_poll_answers_at_once_and_catches_up_in_batches() {
    let server = start(quiet()).await;
    let mut client = HttpClient::connect(server.addr).await.unwrap();
    // Nothing yet: an empty answer, at once.
    let (head, body) = timeout(WAIT, client.get("/poll?since=0", &[]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(
        head.headers.get_one("content-type"),
        Some("application/json")
    );
    assert_eq!(batch(&body), (vec![], 0));
    // The feed runs far faster than we poll: 600 events between two polls,
    // more than one answer holds (256). The cursor brings them all, once.
    server.publish(600);
    let mut seen = Vec::new();
    let mut since = 0;
    loop {
        let (head, body) = timeout(WAIT, client.get(&format!("/poll?since={since}"), &[]))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(head.status, 200);
        let (seqs, next) = batch(&body);
        if seqs.is_empty() {
            assert_eq!(next, since);
            break;
        }
        assert!(seqs.len() <= transports::MAX_BATCH);
        seen.extend(seqs);
        since = next;
        // And more arrive while we catch up.
        if seen.len() == 256 {
            server.publish(10);
        }
    }
    assert_exactly_once(&seen, 1, 610);
    // All of it on one keep-alive connection.
    assert_eq!(client.requests, 5);
    // Without `since`: from now on.
    let (_, body) = client.get("/poll", &[]).await.unwrap();
    assert_eq!(batch(&body), (vec![], 610));
    server.stop().await;
}

#[tokio::test]
async fn long_poll_never_loses_an_event_between_polls() {
    let server = start(quiet()).await;
    // The feed runs on its own, in bursts, while we poll: whatever arrives
    // between the answer and our next request is in the next answer.
    let log = server.log.clone();
    let total: u64 = (0..50u64).map(|burst| burst % 7 + 1).sum();
    let feed = tokio::spawn(async move {
        for burst in 0..50u64 {
            for _ in 0..=(burst % 7) {
                log.append(
                    transports::Quote {
                        symbol: "WARP".into(),
                        price_cents: 100,
                        change_cents: 0,
                    },
                    0,
                );
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    let mut seen = Vec::new();
    let mut since = 0;
    let mut client = HttpClient::connect(server.addr).await.unwrap();
    while (seen.len() as u64) < total {
        // Every tenth poll on a fresh connection: a reconnect carries the
        // cursor, nothing else.
        if client.requests == 10 {
            client = HttpClient::connect(server.addr).await.unwrap();
        }
        let (head, body) = timeout(WAIT, client.get(&format!("/long-poll?since={since}"), &[]))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(head.status, 200, "{}", String::from_utf8_lossy(&body));
        let (seqs, next) = batch(&body);
        assert!(!seqs.is_empty(), "a long poll answers 200 only with news");
        seen.extend(seqs);
        since = next;
    }
    timeout(WAIT, feed).await.unwrap().unwrap();
    assert_eq!(server.log.head(), total);
    assert_exactly_once(&seen, 1, total);
    server.stop().await;
}

#[tokio::test]
async fn long_poll_waits_then_answers_at_once() {
    let server = start(quiet()).await;
    let mut client = HttpClient::connect(server.addr).await.unwrap();
    let waiting = tokio::spawn(async move { client.get("/long-poll?since=0", &[]).await });
    timeout(WAIT, server.long_polls.wait_until(1))
        .await
        .unwrap();
    server.publish(1);
    let (head, body) = timeout(WAIT, waiting).await.unwrap().unwrap().unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(batch(&body), (vec![1], 1));
    timeout(WAIT, server.long_polls.wait_until(0))
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test]
async fn long_poll_times_out_with_204() {
    let server = start(Config {
        long_poll_timeout: Duration::from_millis(200),
        ..quiet()
    })
    .await;
    let mut client = HttpClient::connect(server.addr).await.unwrap();
    let (head, body) = timeout(WAIT, client.get("/long-poll?since=0", &[]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.status, 204);
    assert!(body.is_empty());
    // The connection is still good for the next poll.
    server.publish(1);
    let (head, _) = timeout(WAIT, client.get("/long-poll?since=0", &[]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_hangs_up_while_waiting_leaves_nothing_behind() {
    let server = start(quiet()).await;
    let mut clients = Vec::new();
    for _ in 0..5 {
        let mut client = HttpClient::connect(server.addr).await.unwrap();
        clients.push(tokio::spawn(async move {
            let _ = client.get("/long-poll?since=0", &[]).await;
        }));
    }
    timeout(WAIT, server.long_polls.wait_until(5))
        .await
        .unwrap();
    // Hang up: the tasks own the connections, aborting them closes the sockets.
    for client in &clients {
        client.abort();
    }
    timeout(WAIT, server.long_polls.wait_until(0))
        .await
        .expect("every waiting long poll is gone with its connection");
    server.stop().await;
}

#[tokio::test]
async fn a_stale_cursor_is_told_what_it_missed() {
    let server = start(Config {
        log_capacity: 10,
        ..quiet()
    })
    .await;
    server.publish(25);
    let mut client = HttpClient::connect(server.addr).await.unwrap();
    for path in ["/poll?since=3", "/long-poll?since=3"] {
        let (head, body) = timeout(WAIT, client.get(path, &[])).await.unwrap().unwrap();
        assert_eq!(head.status, 410, "{path}");
        let gap: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(gap["type"], "gap");
        assert_eq!(gap["missed"], 12, "16..=25 are held, 4..=15 are gone");
        assert_eq!(gap["resume"], 15);
        assert!(
            gap["reason"]
                .as_str()
                .unwrap()
                .starts_with("you missed events")
        );
        // The cursor it names works.
        let (head, body) = client.get("/poll?since=15", &[]).await.unwrap();
        assert_eq!(head.status, 200);
        assert_exactly_once(&batch(&body).0, 16, 25);
    }
    // A cursor from a previous run of the server is ahead of this one.
    let (head, body) = client.get("/long-poll?since=99", &[]).await.unwrap();
    assert_eq!(head.status, 410);
    let gap: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(gap["resume"], 0);
    server.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_status_and_a_reason() {
    let server = start(quiet()).await;
    for path in [
        "/poll?since=soon",
        "/long-poll?since=-1",
        "/sse?since=1.5",
        "/ws?since=x",
    ] {
        // A fresh connection each: a refusal may close the connection.
        let mut client = HttpClient::connect(server.addr).await.unwrap();
        let (head, body) = timeout(WAIT, client.get(path, &[])).await.unwrap().unwrap();
        let body = String::from_utf8_lossy(&body);
        // A plain GET to /ws is refused by lesson 1's rules first (426).
        if path.starts_with("/ws") {
            assert_eq!(head.status, 426, "{path}: {body}");
            continue;
        }
        assert_eq!(head.status, 400, "{path}: {body}");
        assert!(body.contains("is not a cursor"), "{path}: {body}");
    }
    let mut client = HttpClient::connect(server.addr).await.unwrap();
    let (head, body) = client
        .get("/sse", &[("Last-Event-ID", "abc")])
        .await
        .unwrap();
    assert_eq!(head.status, 400);
    assert!(String::from_utf8_lossy(&body).contains("Last-Event-ID"));
    let (head, body) = client.get("/nope", &[]).await.unwrap();
    assert_eq!(head.status, 404);
    assert!(String::from_utf8_lossy(&body).contains("/long-poll"));
    let (head, body) = client.get("/", &[]).await.unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(&body[..], transports::PAGE.as_bytes());
    server.stop().await;
}
