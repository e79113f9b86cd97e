//! The event log: every tick of the feed, numbered and serialised once,
//! kept in a bounded ring so that a client can ask "what came after N?".
//!
//! All four transports read this one log. That is what makes them
//! comparable, and what makes them correct: a client's position is a
//! number (its cursor), not a subscription that exists only while it is
//! connected, so nothing published between two requests is lost.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// How many events the log keeps by default: 1,024, eight and a half
/// minutes of the default feed. A cursor older than that gets a [`Gap`].
pub const LOG_CAPACITY: usize = 1024;

/// The most events one answer carries: 256. A client far behind catches up
/// in a few answers rather than one huge one.
pub const MAX_BATCH: usize = 256;

// ANCHOR: tick
/// One price update: the source articles' `price_update` message, numbered and
/// stamped by the log. On the wire:
///
/// ```text
/// {"type":"price_update","seq":42,"symbol":"RUST","price_cents":12345,"change_cents":-17,"sent_at":1767225600123}
/// ```
///
/// Prices are whole cents: a quote is an amount of money, and binary
/// floating point cannot hold 0.10 exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "price_update")]
pub struct Tick {
    /// 1, 2, 3, … within a run of the server: the event's place in the log,
    /// and the cursor a client sends back.
    pub seq: u64,
    /// The stock's ticker symbol.
    pub symbol: String,
    /// The new price, in cents.
    pub price_cents: u64,
    /// The change since this symbol's last tick, in cents: positive is up.
    pub change_cents: i64,
    /// When the server published it: milliseconds since the Unix epoch, so
    /// a client on the same clock can tell how late it arrived.
    pub sent_at: u64,
}
// ANCHOR_END: tick

/// A price update before the log numbers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// See [`Tick::symbol`].
    pub symbol: String,
    /// See [`Tick::price_cents`].
    pub price_cents: u64,
    /// See [`Tick::change_cents`].
    pub change_cents: i64,
}

/// One event in the log: its number and its JSON, serialised once when it
/// was published. `Bytes` is reference-counted, so handing an event to a
/// thousand clients copies a pointer a thousand times, not the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// See [`Tick::seq`].
    pub seq: u64,
    /// The [`Tick`] as JSON, one line.
    pub json: Bytes,
}

// ANCHOR: gap
/// Why the log cannot continue from a cursor. Every transport says so out
/// loud (410 for the polls, a `gap` event on the streams) instead of
/// silently skipping: the client must learn that it has a hole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gap {
    /// The events after `since` have already left the ring: the oldest it
    /// holds is `oldest`, so `oldest - since - 1` events are lost.
    Stale {
        /// The cursor the client sent.
        since: u64,
        /// The oldest event the log still holds.
        oldest: u64,
    },
    /// The cursor is past the newest event: it comes from an earlier run of
    /// the server (numbers start over at each start), or it is made up.
    Ahead {
        /// The cursor the client sent.
        since: u64,
        /// The newest event of this run.
        head: u64,
    },
}
// ANCHOR_END: gap

impl Gap {
    /// The cursor to carry on from, accepting the hole: just before the
    /// oldest event still held, or the start of this run.
    pub fn resume(&self) -> u64 {
        match *self {
            Gap::Stale { oldest, .. } => oldest - 1,
            Gap::Ahead { .. } => 0,
        }
    }

    /// How many events the client will never see, when we know.
    pub fn missed(&self) -> Option<u64> {
        match *self {
            Gap::Stale { since, oldest } => Some(oldest - since - 1),
            Gap::Ahead { .. } => None,
        }
    }

    /// The gap as the JSON every transport sends:
    /// `{"type":"gap","since":3,"resume":15,"missed":12,"reason":"…"}`.
    pub fn to_json(&self) -> String {
        /// The wire form, fields in this order.
        #[derive(Serialize)]
        #[serde(tag = "type", rename = "gap")]
        struct Wire {
            since: u64,
            resume: u64,
            missed: Option<u64>,
            reason: String,
        }
        let since = match *self {
            Gap::Stale { since, .. } | Gap::Ahead { since, .. } => since,
        };
        let wire = Wire {
            since,
            resume: self.resume(),
            missed: self.missed(),
            reason: self.to_string(),
        };
        // Integers and a string always serialise.
        serde_json::to_string(&wire).unwrap_or_default()
    }
}

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Gap::Stale { since, oldest } => write!(
                f,
                "you missed events: {} after {since} are gone from the log, whose oldest is \
                 {oldest}; continue from {} and reload what you show",
                oldest - since - 1,
                oldest - 1
            ),
            Gap::Ahead { since, head } => write!(
                f,
                "no event {since} yet: the newest is {head} (the server has restarted since \
                 you got that number); start over from 0"
            ),
        }
    }
}

impl std::error::Error for Gap {}

/// The feed's history: the last `capacity` events, and a watch on the
/// newest number so that waiters wake when it moves.
#[derive(Debug)]
pub struct Log {
    ring: Mutex<Ring>,
    head: watch::Sender<u64>,
}

#[derive(Debug)]
struct Ring {
    events: VecDeque<Event>,
    capacity: usize,
}

impl Log {
    /// An empty log that keeps the last `capacity` events (at least one).
    pub fn new(capacity: usize) -> Log {
        let capacity = capacity.max(1);
        Log {
            ring: Mutex::new(Ring {
                events: VecDeque::with_capacity(capacity),
                capacity,
            }),
            head: watch::Sender::new(0),
        }
    }

    fn ring(&self) -> MutexGuard<'_, Ring> {
        // Nothing that can panic runs under this lock, and the ring is
        // valid between any two statements, so a poisoned lock is safe to
        // use.
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // ANCHOR: append
    /// Numbers, stamps and stores `quote`, dropping the oldest event if the
    /// ring is full, then wakes everybody waiting for a newer event.
    pub fn append(&self, quote: Quote, sent_at: u64) -> Event {
        let event = {
            let mut ring = self.ring();
            let seq = ring.events.back().map_or(1, |last| last.seq + 1);
            let tick = Tick {
                seq,
                symbol: quote.symbol,
                price_cents: quote.price_cents,
                change_cents: quote.change_cents,
                sent_at,
            };
            // A struct of strings and integers always serialises.
            let json = serde_json::to_vec(&tick).unwrap_or_default();
            let event = Event {
                seq,
                json: Bytes::from(json),
            };
            if ring.events.len() == ring.capacity {
                ring.events.pop_front();
            }
            ring.events.push_back(event.clone());
            event
        };
        // After the event is in the ring, so a waiter that wakes finds it.
        self.head.send_replace(event.seq);
        event
    }
    // ANCHOR_END: append

    /// The newest event's number (0 before the first).
    pub fn head(&self) -> u64 {
        *self.head.borrow()
    }

    /// A watch on [`Log::head`]: `wait_for(|&head| head > since)` completes
    /// as soon as there is something after `since`, at once if there is
    /// already. Because it holds the latest value, not a queue of
    /// notifications, a waiter cannot miss a wake-up, however late it
    /// subscribes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }

    // ANCHOR: read
    /// The events after `since`, oldest first, at most `max` of them;
    /// empty if there is nothing newer yet. A cursor the log cannot
    /// continue from is a [`Gap`].
    pub fn read(&self, since: u64, max: usize) -> Result<Vec<Event>, Gap> {
        let ring = self.ring();
        let head = ring.events.back().map_or(0, |e| e.seq);
        if since > head {
            return Err(Gap::Ahead { since, head });
        }
        let Some(oldest) = ring.events.front().map(|e| e.seq) else {
            return Ok(Vec::new());
        };
        // `since == oldest - 1` is fine: the next event the client needs is
        // the oldest we hold.
        if since + 1 < oldest {
            return Err(Gap::Stale { since, oldest });
        }
        // Numbers are consecutive, so the position is arithmetic: no search.
        let start = usize::try_from(since + 1 - oldest).unwrap_or(usize::MAX);
        Ok(ring.events.iter().skip(start).take(max).cloned().collect())
    }
    // ANCHOR_END: read
}

/// Completes when the log's head (watched by `head`, from
/// [`Log::subscribe`]) is no longer `cursor`: there is news after it, or
/// the cursor is from another run. The borrow of the watched value ends
/// here, so the caller's future stays `Send`.
pub(crate) async fn news(head: &mut watch::Receiver<u64>, cursor: u64) {
    // The sender lives in the log, which every caller holds: the wait
    // cannot fail.
    let _ = head.wait_for(|&head| head != cursor).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote(price: u64) -> Quote {
        Quote {
            symbol: "RUST".into(),
            price_cents: price,
            change_cents: 1,
        }
    }

    #[test]
    fn numbers_ring_and_gaps() {
        let log = Log::new(3);
        assert_eq!(log.read(0, 10), Ok(vec![]));
        assert_eq!(log.read(1, 10), Err(Gap::Ahead { since: 1, head: 0 }));
        for price in 1..=5 {
            log.append(quote(price), 0);
        }
        assert_eq!(log.head(), 5);
        let seqs =
            |r: Result<Vec<Event>, Gap>| r.map(|v| v.iter().map(|e| e.seq).collect::<Vec<_>>());
        assert_eq!(seqs(log.read(2, 10)), Ok(vec![3, 4, 5]));
        assert_eq!(seqs(log.read(3, 1)), Ok(vec![4]));
        assert_eq!(seqs(log.read(5, 10)), Ok(vec![]));
        let stale = log.read(1, 10).unwrap_err();
        assert_eq!(
            stale,
            Gap::Stale {
                since: 1,
                oldest: 3
            }
        );
        assert_eq!((stale.resume(), stale.missed()), (2, Some(1)));
        assert!(
            stale
                .to_string()
                .starts_with("you missed events: 1 after 1")
        );
        assert_eq!(log.read(9, 10), Err(Gap::Ahead { since: 9, head: 5 }));
    }

    #[test]
    fn the_json_is_the_source_articles_price_update() {
        let log = Log::new(4);
        let event = log.append(quote(12345), 1_767_225_600_123);
        let text = std::str::from_utf8(&event.json).unwrap();
        assert_eq!(
            text,
            r#"{"type":"price_update","seq":1,"symbol":"RUST","price_cents":12345,"change_cents":1,"sent_at":1767225600123}"#
        );
        let tick: Tick = serde_json::from_str(text).unwrap();
        assert_eq!(tick.seq, 1);
        let json = Gap::Stale {
            since: 1,
            oldest: 5,
        }
        .to_json();
        assert!(json.starts_with(r#"{"type":"gap","since":1,"resume":4,"missed":3,"reason":"#));
        let gap: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(gap["type"], "gap");
        assert_eq!(gap["resume"], 4);
        assert_eq!(gap["missed"], 3);
    }
}
