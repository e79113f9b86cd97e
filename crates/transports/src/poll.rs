//! Short polling and long polling: one request, one answer, and the cursor
//! (`since`) that ties the answers together.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use support::LiveConnections;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::{Reply, Response};

use crate::config::Config;
use crate::log::{Event, Gap, Log, news};

/// What the polls and the streams share.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    pub(crate) log: Arc<Log>,
    pub(crate) config: Arc<Config>,
    pub(crate) stopping: CancellationToken,
    /// Long polls waiting right now.
    pub(crate) waiting: LiveConnections,
    /// SSE streams open right now.
    pub(crate) streams: LiveConnections,
}

// ANCHOR: since
/// Reads the cursor from a query: `since` absent means "from now on" (the
/// newest event's number), anything else must be a whole number. The error
/// is the 400 answer, with its reason.
pub(crate) fn since(query: &HashMap<String, String>, log: &Log) -> Result<u64, Box<Response>> {
    match query.get("since") {
        None => Ok(log.head()),
        Some(n) => n.parse().map_err(|_| {
            Box::new(text(
                StatusCode::BAD_REQUEST,
                format!(
                    "since={n:?} is not a cursor: send the number of the last event you have \
                     (0 for everything the log holds), e.g. /poll?since=41\n"
                ),
            ))
        }),
    }
}
// ANCHOR_END: since

// ANCHOR: short_poll
/// `GET /poll?since=N`: what the log holds after `N`, at once, even if
/// that is nothing.
pub(crate) fn short_poll(query: &HashMap<String, String>, shared: &Shared) -> Response {
    let since = match since(query, &shared.log) {
        Ok(since) => since,
        Err(bad) => return *bad,
    };
    match shared.log.read(since, shared.config.max_batch) {
        Ok(events) => batch(since, &events),
        Err(gap) => gone(&gap),
    }
}
// ANCHOR_END: short_poll

// ANCHOR: long_poll
/// `GET /long-poll?since=N`: like [`short_poll`], but with nothing newer
/// than `N` we hold the request until there is (and answer at once), or
/// until the timeout (204: ask again), or until the server stops (503).
///
/// Nothing is registered anywhere while we wait: the wait is this future,
/// watching the log's head. If the client goes away, hyper drops the
/// future, and with it the wait and the gauge's guard; there is no map of
/// waiters to clean up, so nothing can leak.
pub(crate) async fn long_poll(query: HashMap<String, String>, shared: Shared) -> Response {
    let since = match since(&query, &shared.log) {
        Ok(since) => since,
        Err(bad) => return *bad,
    };
    let _waiting = shared.waiting.enter();
    // Subscribe before looking, so that an event appended between the look
    // and the wait still wakes us (the watch holds the latest head).
    let mut head = shared.log.subscribe();
    let waited = tokio::select! {
        waited = timeout(shared.config.long_poll_timeout, news(&mut head, since)) => waited,
        () = shared.stopping.cancelled() => {
            return text(StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down\n".into());
        }
    };
    if waited.is_err() {
        // The source articles' Node server answers `{"messages": []}` with 200; 204 says the same in
        // a status line, without a body to parse.
        return StatusCode::NO_CONTENT.into_response();
    }
    // `head != since` rather than `>`: a cursor from the future (a restart)
    // must get its gap now, not after the timeout.
    match shared.log.read(since, shared.config.max_batch) {
        Ok(events) => batch(since, &events),
        Err(gap) => gone(&gap),
    }
}
// ANCHOR_END: long_poll

// ANCHOR: batch
/// A poll's answer: `{"next":N,"events":[…]}`, where `next` is the cursor
/// to send with the next poll. The events' JSON was made once, when they
/// were published: we only put commas between them.
pub(crate) fn batch(since: u64, events: &[Event]) -> Response {
    let next = events.last().map_or(since, |e| e.seq);
    let size: usize = events.iter().map(|e| e.json.len() + 1).sum();
    let mut body = BytesMut::with_capacity(size + 40);
    body.put_slice(format!("{{\"next\":{next},\"events\":[").as_bytes());
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            body.put_u8(b',');
        }
        body.put_slice(&event.json);
    }
    body.put_slice(b"]}");
    json(StatusCode::OK, body.freeze())
}
// ANCHOR_END: batch

/// A [`Gap`] as an HTTP answer: 410 Gone, and the gap's JSON (with the
/// cursor to resume from) as the body.
pub(crate) fn gone(gap: &Gap) -> Response {
    json(StatusCode::GONE, Bytes::from(gap.to_json()))
}

fn json(status: StatusCode, body: Bytes) -> Response {
    let mut response = warp::http::Response::new(body).into_response();
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // An answer is only true at the moment it is given: no cache on the way
    // may keep it.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A plain-text answer: a status and a sentence.
pub(crate) fn text(status: StatusCode, sentence: String) -> Response {
    let mut response = warp::http::Response::new(sentence).into_response();
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
