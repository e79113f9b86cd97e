//! SSE and WebSocket: every event exactly once, in order, across a
//! reconnect; keep-alives; gaps; and what Ctrl-C does to every transport.

mod common;

use std::time::Duration;

use common::{WAIT, assert_exactly_once, quiet, start};
use futures_util::StreamExt;
use loadgen::http::{HttpClient, sse_events};
use tokio::time::timeout;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;
use transports::Config;

/// Reads an SSE stream until at least `want` events with an `id:` have come; returns
/// their ids and every event seen (gaps included).
async fn read_sse(client: &mut HttpClient, want: usize) -> (Vec<u64>, Vec<Vec<(String, String)>>) {
    let mut rest = String::new();
    let mut ids = Vec::new();
    let mut all = Vec::new();
    while ids.len() < want {
        let chunk = timeout(WAIT, client.chunk())
            .await
            .expect("the stream keeps coming")
            .unwrap()
            .expect("the stream does not end");
        for event in sse_events(&mut rest, std::str::from_utf8(&chunk).unwrap()) {
            if let Some((_, id)) = event.iter().find(|(name, _)| name == "id") {
                let data = &event.iter().find(|(name, _)| name == "data").unwrap().1;
                let tick: transports::Tick = serde_json::from_str(data).unwrap();
                assert_eq!(
                    id.parse::<u64>().unwrap(),
                    tick.seq,
                    "the id is the event's number"
                );
                ids.push(tick.seq);
            }
            all.push(event);
        }
    }
    (ids, all)
}

#[tokio::test]
async fn sse_replays_after_last_event_id_across_a_reconnect() {
    let server = start(quiet()).await;
    server.publish(3);
    let mut client = HttpClient::connect(server.addr).await.unwrap();
    let head = timeout(WAIT, client.request("/sse?since=0", &[]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(
        head.headers.get_one("content-type"),
        Some("text/event-stream")
    );
    assert_eq!(head.headers.get_one("cache-control"), Some("no-store"));
    let (ids, all) = read_sse(&mut client, 3).await;
    assert_eq!(all[0], [("retry".to_owned(), "2000".to_owned())]);
    assert_exactly_once(&ids, 1, 3);
    // The feed outruns the stream for a moment.
    server.publish(300);
    let (more, _) = read_sse(&mut client, 100).await;
    // Events come in batches: we stop somewhere after the hundredth.
    let last = *more.last().unwrap();
    assert_exactly_once(&more, 4, last);
    // The connection breaks. Events keep coming while the browser is away;
    // it comes back with the last id it saw, as EventSource does.
    drop(client);
    timeout(WAIT, server.streams.wait_until(0))
        .await
        .expect("the stream's task ends");
    server.publish(50);
    let mut client = HttpClient::connect(server.addr).await.unwrap();
    let head = client
        .request("/sse", &[("Last-Event-ID", &last.to_string())])
        .await
        .unwrap();
    assert_eq!(head.status, 200);
    let (rest, _) = read_sse(&mut client, (353 - last) as usize).await;
    assert_exactly_once(&rest, last + 1, 353);
    server.stop().await;
}

#[tokio::test]
async fn sse_keeps_alive_and_says_gap() {
    let server = start(Config {
        keep_alive: Duration::from_millis(50),
        log_capacity: 10,
        ..quiet()
    })
    .await;
    server.publish(30);
    let mut client = HttpClient::connect(server.addr).await.unwrap();
    client
        .request("/sse", &[("Last-Event-ID", "5")])
        .await
        .unwrap();
    let (ids, all) = read_sse(&mut client, 10).await;
    let gap = all
        .iter()
        .find(|e| e[0] == ("event".to_owned(), "gap".to_owned()))
        .expect("a gap event");
    let gap: serde_json::Value = serde_json::from_str(&gap[1].1).unwrap();
    assert_eq!(gap["missed"], 15);
    assert_exactly_once(&ids, 21, 30);
    // Quiet now: a comment line comes within the keep-alive.
    let chunk = timeout(WAIT, client.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(&chunk[..], b": keep-alive\n\n");
    server.stop().await;
}

/// Receives `n` more ticks into `seen`.
async fn receive(ws: &mut Client, n: usize, seen: &mut Vec<u64>) {
    let target = seen.len() + n;
    while seen.len() < target {
        let message = timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap();
        if let Message::Text(text) = message {
            let tick: transports::Tick = serde_json::from_str(&text).unwrap();
            seen.push(tick.seq);
        }
    }
}

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[tokio::test]
async fn websocket_delivers_everything_once_across_a_reconnect() {
    let server = start(quiet()).await;
    server.publish(5);
    let url = format!("ws://{}/ws?since=0", server.addr);
    let (mut ws, _) = timeout(WAIT, connect_async(&url)).await.unwrap().unwrap();
    let mut seen = Vec::new();
    receive(&mut ws, 5, &mut seen).await;
    server.publish(500);
    receive(&mut ws, 500, &mut seen).await;
    assert_exactly_once(&seen, 1, 505);
    drop(ws);
    timeout(WAIT, server.websockets.wait_until(0))
        .await
        .unwrap();
    server.publish(20);
    let url = format!("ws://{}/ws?since=505", server.addr);
    let (mut ws, _) = timeout(WAIT, connect_async(&url)).await.unwrap().unwrap();
    receive(&mut ws, 20, &mut seen).await;
    assert_exactly_once(&seen, 1, 525);
    // A polite goodbye from the page's side this time.
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = timeout(WAIT, ws.next()).await.unwrap() {}
    timeout(WAIT, server.websockets.wait_until(0))
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test]
async fn ctrl_c_answers_every_transport() {
    let server = start(quiet()).await;
    let mut poll = HttpClient::connect(server.addr).await.unwrap();
    let long = tokio::spawn(async move { poll.get("/long-poll", &[]).await });
    let mut sse = HttpClient::connect(server.addr).await.unwrap();
    sse.request("/sse", &[]).await.unwrap();
    let (mut ws, _) = connect_async(format!("ws://{}/ws", server.addr))
        .await
        .unwrap();
    timeout(WAIT, server.long_polls.wait_until(1))
        .await
        .unwrap();
    timeout(WAIT, server.websockets.wait_until(1))
        .await
        .unwrap();
    let streams = server.streams.clone();
    assert_eq!(streams.get(), 1);
    // The page reads on, so that it answers our Close at once.
    let closed = tokio::spawn(async move {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => break frame,
                Some(Ok(_)) => continue,
                other => panic!("expected a Close, got {other:?}"),
            }
        }
    });
    let started = tokio::time::Instant::now();
    server.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no one made the shutdown wait"
    );
    let (head, body) = timeout(WAIT, long).await.unwrap().unwrap().unwrap();
    assert_eq!(head.status, 503, "{}", String::from_utf8_lossy(&body));
    // The stream ends properly: its `retry:`, then the last chunk.
    while let Some(_chunk) = timeout(WAIT, sse.chunk()).await.unwrap().unwrap() {}
    assert_eq!(streams.get(), 0);
    let close = timeout(WAIT, closed).await.unwrap().unwrap();
    assert_eq!(u16::from(close.unwrap().code), 1001);
}
