//! Server-Sent Events: one long HTTP response, `text/event-stream`, that
//! never ends while there is news to tell.
//!
//! The format (WHATWG HTML, "Server-sent events") is lines of text: `id:`
//! names the event, `data:` carries it, `event:` gives it a type other than
//! `message`, `retry:` sets the browser's reconnection delay in
//! milliseconds, a line starting with `:` is a comment, and a blank line
//! ends an event. When the stream breaks, the browser reconnects by itself
//! and sends the last `id:` it saw as `Last-Event-ID`. Ignoring that header
//! (as the source articles' Node server does) is how events get lost in the gap.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::mpsc;
use tokio::time::{sleep, timeout};
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::{Reply, Response};

use crate::log::{Event, Gap, news};
use crate::poll::{Shared, since, text};

/// How many chunks may wait between the stream's task and hyper: a few.
/// When the client stops reading they fill up, and the task waits (then
/// gives up after the write timeout) instead of piling up memory: the log
/// holds the events anyway.
const QUEUE: usize = 4;

// ANCHOR: sse
/// `GET /sse`: the stream. It starts after `Last-Event-ID` when the browser
/// reconnects, after `?since=N` if the page asks, or from now on.
pub(crate) fn sse(
    last_event_id: Option<String>,
    query: &HashMap<String, String>,
    shared: &Shared,
) -> Response {
    let cursor = match last_event_id {
        // Only ever an `id:` we sent, unless somebody types one by hand.
        Some(id) => match id.trim().parse() {
            Ok(cursor) => cursor,
            Err(_) => {
                let why = format!("Last-Event-ID {id:?} is not one of our event ids\n");
                return text(StatusCode::BAD_REQUEST, why);
            }
        },
        None => match since(query, &shared.log) {
            Ok(cursor) => cursor,
            Err(bad) => return *bad,
        },
    };
    // A task writes the stream into a small queue that the response body
    // reads. When the client goes away hyper drops the body, the queue
    // closes, and the task notices and ends: nothing is left behind.
    let (tx, mut rx) = mpsc::channel::<Bytes>(QUEUE);
    let open = shared.streams.enter();
    let shared = shared.clone();
    tokio::spawn(async move {
        let _open = open;
        stream(&tx, cursor, &shared).await;
    });
    let body = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx).map(|chunk| chunk.map(Ok::<_, Infallible>))
    });
    let mut response = warp::reply::stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // nginx reads this header and passes the stream on as it comes instead
    // of buffering it (the header's whole job; `proxy_buffering off` in its
    // configuration does the same for every response).
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}
// ANCHOR_END: sse

// ANCHOR: stream
/// Writes events after `cursor` for as long as the client listens and the
/// server runs.
async fn stream(tx: &mpsc::Sender<Bytes>, mut cursor: u64, shared: &Shared) {
    let config = &shared.config;
    let limit = config.limits.write_timeout;
    let retry = format!("retry: {}\n\n", config.sse_retry.as_millis());
    if !send(tx, Bytes::from(retry), limit).await {
        return;
    }
    let mut head = shared.log.subscribe();
    loop {
        let chunk = match shared.log.read(cursor, config.max_batch) {
            Ok(events) if events.is_empty() => None,
            Ok(events) => {
                cursor = events.last().map_or(cursor, |e| e.seq);
                Some(frame_events(&events))
            }
            Err(gap) => {
                cursor = gap.resume();
                Some(frame_gap(&gap))
            }
        };
        if let Some(chunk) = chunk {
            if !send(tx, chunk, limit).await {
                return;
            }
            continue;
        }
        tokio::select! {
            () = shared.stopping.cancelled() => return,
            () = tx.closed() => return,
            () = news(&mut head, cursor) => {}
            () = sleep(config.keep_alive) => {
                // A comment: the browser ignores it, every proxy on the way
                // sees bytes move.
                if !send(tx, Bytes::from_static(b": keep-alive\n\n"), limit).await {
                    return;
                }
            }
        }
    }
}
// ANCHOR_END: stream

/// Queues a chunk for the body; `false` when the client has gone, or has
/// not read for `limit` (then we drop it: the log will still hold what it
/// missed, for a while, when it comes back).
async fn send(tx: &mpsc::Sender<Bytes>, chunk: Bytes, limit: Duration) -> bool {
    match timeout(limit, tx.send(chunk)).await {
        Ok(Ok(())) => true,
        Ok(Err(_)) => false,
        Err(_) => {
            tracing::info!("SSE client not reading for {limit:?}: dropping the stream");
            false
        }
    }
}

// ANCHOR: frame
/// Events as SSE: `id:` and `data:` each, a blank line after each. Our JSON
/// has no newline in it, so one `data:` line holds it.
pub fn frame_events(events: &[Event]) -> Bytes {
    let size: usize = events.iter().map(|e| e.json.len() + 32).sum();
    let mut chunk = BytesMut::with_capacity(size);
    for event in events {
        chunk.put_slice(format!("id: {}\ndata: ", event.seq).as_bytes());
        chunk.put_slice(&event.json);
        chunk.put_slice(b"\n\n");
    }
    chunk.freeze()
}

/// A gap as SSE: a `gap` event, which `onmessage` does not see (the page
/// listens for it by name), and no `id:`, so `Last-Event-ID` still names
/// the last price the browser really has.
pub fn frame_gap(gap: &Gap) -> Bytes {
    Bytes::from(format!("event: gap\ndata: {}\n\n", gap.to_json()))
}
// ANCHOR_END: frame
