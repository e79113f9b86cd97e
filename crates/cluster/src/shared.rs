//! [`SharedRoom`]: lesson 5's room, kept in Redis, so that every instance
//! started on the same Redis serves one room. It is a [`Hall`]: lesson 5's
//! server and connection loop run on it unchanged.
//!
//! Each instance keeps only its own sockets' queues. Everything else is in
//! Redis: a page's `say` becomes an event in the stream (by a script, which
//! numbers it); one task per instance reads the stream and puts each event
//! in the queues of that instance's members, in stream order. So every page
//! in the cluster sees the same events in the same order, whichever
//! instance it is connected to.

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chatroom::{Hall, JoinError, Membership, ServerMessage, Since, Unavailable};
use futures_util::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client, RedisError};
use tokio::sync::mpsc;
use tokio::time::{MissedTickBehavior, interval, sleep, timeout};
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_util::sync::CancellationToken;

use crate::store::{
    ALIVE_EVERY, ALIVE_TTL, Holder, Joined, REDIS_TIMEOUT, Store, entries, event_of,
};

/// How long the stream reader waits for new events in one `XREAD`: 1 s.
const BLOCK: Duration = Duration::from_secs(1);

/// How many events one `XREAD` may bring.
const READ_COUNT: usize = 512;

/// How long to wait before trying Redis again after losing it.
const RETRY: Duration = Duration::from_millis(500);

/// How many delivered events an instance keeps, for a member whose join
/// finished after the reader had already passed its `joined` event.
const RECENT_KEPT: usize = 1024;

/// A member of this instance, as the reader sees it.
#[derive(Debug)]
struct Local {
    id: u64,
    folded: String,
    /// The number of its `joined`: it is given every event from there on.
    from: u64,
    queue: mpsc::Sender<Utf8Bytes>,
    dropped: CancellationToken,
    replaced: CancellationToken,
    unavailable: CancellationToken,
}

/// This instance's side of the room.
#[derive(Debug, Default)]
struct State {
    /// The stream reader is following the stream: Redis is there.
    up: bool,
    /// Counts the times Redis was lost: a join that started before a loss
    /// must not finish after it.
    losses: u64,
    next_id: u64,
    /// Members whose join script is on its way: theirs until it answers.
    joining: HashSet<u64>,
    members: Vec<Local>,
    /// The last event the reader delivered.
    last: u64,
    /// The last [`RECENT_KEPT`] events delivered, numbered.
    recent: VecDeque<(u64, Utf8Bytes)>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    client: Client,
    instance: String,
    queue_capacity: usize,
    state: Mutex<State>,
}

/// The room of every instance started on the same Redis (see the module's
/// documentation). Dropping it stops its tasks.
#[derive(Debug)]
pub struct SharedRoom {
    inner: Arc<Inner>,
    stop: CancellationToken,
}

impl Drop for SharedRoom {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl SharedRoom {
    /// Connects to the Redis at `url` and starts following the room kept
    /// under `prefix` (`chat`). Each member's queue holds `queue_capacity`
    /// events.
    ///
    /// # Errors
    ///
    /// The URL is not a Redis URL, or Redis cannot be reached now.
    pub async fn connect(
        url: &str,
        prefix: &str,
        queue_capacity: usize,
    ) -> Result<Arc<SharedRoom>, RedisError> {
        let client = Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_with_config(client.clone(), config).await?;
        let inner = Arc::new(Inner {
            store: Store::new(conn, prefix),
            client,
            instance: format!("{:016x}", rand::random::<u64>()),
            queue_capacity: queue_capacity.max(2),
            state: Mutex::new(State::default()),
        });
        let stop = CancellationToken::new();
        tokio::spawn(read_stream(Arc::clone(&inner), stop.clone()));
        tokio::spawn(stay_alive(Arc::clone(&inner), stop.clone()));
        Ok(Arc::new(SharedRoom { inner, stop }))
    }

    /// This instance's name in Redis.
    pub fn instance(&self) -> &str {
        &self.inner.instance
    }

    /// Whether the room is following the stream (Redis is there).
    pub fn is_up(&self) -> bool {
        self.inner.lock().up
    }

    /// The members connected to this instance.
    pub fn local_members(&self) -> usize {
        self.inner.lock().members.len()
    }

    /// The nicknames of the members connected to this instance, as
    /// compared (folded), in joining order.
    pub fn local_nicks(&self) -> Vec<String> {
        self.inner
            .lock()
            .members
            .iter()
            .map(|m| m.folded.clone())
            .collect()
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn holder<'a>(&'a self, id: u64, folded: &'a str) -> Holder<'a> {
        Holder {
            instance: &self.instance,
            member: id,
            folded,
        }
    }

    /// Redis is gone: every member of this instance is told (1013), since
    /// it can no longer hear or be heard; its pages come back when Redis
    /// does.
    fn lost(&self) {
        let mut state = self.lock();
        if state.up {
            tracing::warn!(
                instance = self.instance,
                "lost Redis: closing every page with 1013"
            );
        }
        state.up = false;
        state.losses += 1;
        for member in state.members.drain(..) {
            member.unavailable.cancel();
        }
        state.recent.clear();
    }

    // ANCHOR: deliver
    /// Puts one event of the stream in the queue of every member of this
    /// instance that joined before it. A member whose queue is full has
    /// stopped reading: it is dropped, and its departure goes to Redis.
    fn deliver(
        self: &Arc<Self>,
        seq: u64,
        event: &ServerMessage,
        departure: Option<crate::store::Departure>,
    ) {
        let json = Utf8Bytes::from(event.to_json());
        let mut state = self.lock();
        if seq <= state.last {
            return; // read twice across a reconnect
        }
        if skipped(state.last, seq) {
            // This server fell so far behind that the stream trimmed events
            // it had not read: its pages missed them. They are told (1013)
            // and come back with `since`, which says what is gone.
            tracing::warn!(
                instance = self.instance,
                "fell behind the room: events {}..{seq} were trimmed unread",
                state.last + 1
            );
            for member in state.members.drain(..) {
                member.unavailable.cancel();
            }
            state.recent.clear();
        }
        state.last = seq;
        if state.recent.len() == RECENT_KEPT {
            state.recent.pop_front();
        }
        state.recent.push_back((seq, json.clone()));
        // A `left` about one of ours: its name was taken back elsewhere.
        if let Some(gone) = departure.filter(|d| d.instance == self.instance)
            && let Some(at) = state.members.iter().position(|m| m.id == gone.member)
        {
            let member = state.members.remove(at);
            if gone.replaced {
                member.replaced.cancel();
            }
            member.dropped.cancel();
        }
        let stalled: Vec<Local> = state
            .members
            .extract_if(.., |m| {
                m.from <= seq && m.queue.try_send(json.clone()).is_err()
            })
            .collect();
        drop(state);
        for member in stalled {
            member.dropped.cancel();
            let inner = Arc::clone(self);
            tokio::spawn(async move {
                let who = inner.holder(member.id, &member.folded);
                let _ = inner.store.leave(&who, support::unix_millis()).await;
            });
        }
    }
    // ANCHOR_END: deliver
}

// ANCHOR: join
impl Hall for SharedRoom {
    fn join<'a>(
        &'a self,
        nick: &'a str,
        key: Option<&'a str>,
        since: Option<Since>,
    ) -> BoxFuture<'a, Result<Membership, JoinError>> {
        Box::pin(async move {
            let parsed = chatroom::Nick::parse(nick).map_err(JoinError::Invalid)?;
            if key.is_some_and(|k| k.len() > chatroom::MAX_KEY_BYTES) {
                return Err(JoinError::KeyTooLong);
            }
            let inner = &self.inner;
            let folded = parsed.folded();
            // A number for the member, held as "joining" so that this
            // instance's sweep does not take its name away meanwhile.
            let (id, losses) = {
                let mut state = inner.lock();
                if !state.up {
                    return Err(down("not following the room yet"));
                }
                state.next_id += 1;
                let id = state.next_id;
                state.joining.insert(id);
                (id, state.losses)
            };
            let joining = Joining { inner, id };
            let who = inner.holder(id, &folded);
            let answer = inner
                .store
                .join(&who, nick, key, support::unix_millis(), since.as_ref())
                .await;
            drop(joining);
            let mut state = inner.lock();
            let (seq, boot, members, history, complete) = match answer {
                Err(e) => return Err(down(&e.to_string())),
                Ok(Joined::Taken { taken }) => return Err(JoinError::Taken(taken)),
                Ok(Joined::In {
                    seq,
                    boot,
                    members,
                    history,
                    complete,
                }) => (seq, boot, members, history, complete),
            };
            if state.losses != losses || !state.up {
                // Redis was lost while we waited: the sweep after it comes
                // back removes the name.
                return Err(down("lost while joining"));
            }
            let history = history
                .into_iter()
                .filter_map(|(id, from, text, ts)| {
                    Some(chatroom::Chat {
                        seq: crate::store::seq_of(&id)?,
                        from,
                        text,
                        ts: ts.parse().ok()?,
                    })
                })
                .collect();
            let welcome = ServerMessage::Welcome {
                you: nick.to_owned(),
                boot,
                members,
                history,
                complete,
            };
            let (tx, rx) = mpsc::channel(inner.queue_capacity);
            let _ = tx.try_send(Utf8Bytes::from(welcome.to_json()));
            // Events from our `joined` on that the reader has already
            // delivered to the others: ours too, in order.
            if state.last >= seq {
                let oldest = state.recent.front().map_or(u64::MAX, |(s, _)| *s);
                if oldest > seq {
                    return Err(down("too far behind the room; try again"));
                }
                for (_, event) in state.recent.iter().filter(|(s, _)| *s >= seq) {
                    if tx.try_send(event.clone()).is_err() {
                        return Err(down("too far behind the room; try again"));
                    }
                }
            }
            let (dropped, replaced, unavailable) = Default::default();
            let member = Membership {
                id,
                nick: nick.to_owned(),
                queue: rx,
                dropped: CancellationToken::clone(&dropped),
                replaced: CancellationToken::clone(&replaced),
                unavailable: CancellationToken::clone(&unavailable),
            };
            state.members.push(Local {
                id,
                folded,
                from: seq,
                queue: tx,
                dropped,
                replaced,
                unavailable,
            });
            Ok(member)
        })
    }
    // ANCHOR_END: join

    fn say<'a>(&'a self, id: u64, text: &'a str) -> BoxFuture<'a, Result<(), Unavailable>> {
        Box::pin(async move {
            let inner = &self.inner;
            let Some(folded) = inner
                .lock()
                .members
                .iter()
                .find(|m| m.id == id)
                .map(|m| m.folded.clone())
            else {
                return Ok(()); // dropped meanwhile
            };
            let who = inner.holder(id, &folded);
            match inner.store.say(&who, text, support::unix_millis()).await {
                Ok(_) => Ok(()),
                Err(e) => Err(Unavailable(e.to_string())),
            }
        })
    }

    fn leave(&self, id: u64) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let inner = &self.inner;
            let member = {
                let mut state = inner.lock();
                let at = state.members.iter().position(|m| m.id == id);
                at.map(|at| state.members.remove(at))
            };
            if let Some(member) = member {
                let who = inner.holder(id, &member.folded);
                // If Redis is away, the sweep after it comes back does it.
                let _ = inner.store.leave(&who, support::unix_millis()).await;
            }
        })
    }
}

/// Whether event `seq` comes after a gap: every script numbers and appends
/// in one step, so the numbers in the stream have none, and a reader that
/// last delivered `last` must see `last + 1` next, unless the stream
/// trimmed it first. (`last` is 0 before the first event.)
fn skipped(last: u64, seq: u64) -> bool {
    last > 0 && seq > last + 1
}

/// A member's number held as "joining" until its join script has answered,
/// however the join ends: also when the page goes away meanwhile and its
/// future is dropped. A number left behind would keep its name from this
/// server's sweep for good.
struct Joining<'a> {
    inner: &'a Inner,
    id: u64,
}

impl Drop for Joining<'_> {
    fn drop(&mut self) {
        self.inner.lock().joining.remove(&self.id);
    }
}

fn down(why: &str) -> JoinError {
    JoinError::Unavailable(Unavailable(why.to_owned()))
}

// ANCHOR: read_stream
/// The instance's one reader: follows the stream, and delivers each event
/// to this instance's members. On any error it counts Redis as lost (every
/// member gets 1013), and starts over once Redis answers again, from the
/// stream's end at that moment.
async fn read_stream(inner: Arc<Inner>, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            Err(e) = follow(&inner) => {
                tracing::warn!(instance = inner.instance, "the room's stream: {e}");
            }
        }
        inner.lost();
        tokio::select! {
            () = stop.cancelled() => return,
            () = sleep(RETRY) => {}
        }
    }
}

/// Follows the stream from its end until Redis fails: `XREAD` waits up to
/// [`BLOCK`] for entries after the last one read.
async fn follow(inner: &Arc<Inner>) -> Result<Infallible, RedisError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(REDIS_TIMEOUT))
        .set_response_timeout(Some(BLOCK + REDIS_TIMEOUT));
    let mut conn = inner
        .client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    let mut last_id = last_entry(&mut conn, &inner.store.keys.events).await?;
    {
        let mut state = inner.lock();
        state.up = true;
        state.last = crate::store::seq_of(&last_id).unwrap_or(0);
    }
    tracing::info!(
        instance = inner.instance,
        "following the room from {last_id}"
    );
    loop {
        let reply: redis::Value = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(&inner.store.keys.events)
            .arg(&last_id)
            .query_async(&mut conn)
            .await?;
        for (id, fields) in entries(&reply) {
            if let Some((seq, event, departure)) = event_of(&id, &fields) {
                inner.deliver(seq, &event, departure);
            }
            last_id = id;
        }
    }
}
// ANCHOR_END: read_stream

/// The ID of the stream's last entry, or `0-0` for an empty stream.
async fn last_entry(conn: &mut MultiplexedConnection, stream: &str) -> Result<String, RedisError> {
    let reply: redis::Value = redis::cmd("XREVRANGE")
        .arg(stream)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(conn)
        .await?;
    Ok(entries(&reply)
        .into_iter()
        .next()
        .map_or_else(|| "0-0".to_owned(), |(id, _)| id))
}

// ANCHOR: stay_alive
/// Every [`ALIVE_EVERY`]: renews this instance's `alive` key, takes back the
/// names of members it no longer has (a leave lost while Redis was away),
/// and announces the departure of every member of an instance whose
/// `alive` key has expired.
async fn stay_alive(inner: Arc<Inner>, stop: CancellationToken) {
    let mut ticks = interval(ALIVE_EVERY);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        if let Err(e) = timeout(REDIS_TIMEOUT, beat(&inner))
            .await
            .unwrap_or_else(|_| Err(RedisError::from((redis::ErrorKind::Io, "timed out"))))
        {
            tracing::debug!(instance = inner.instance, "heartbeat: {e}");
        }
    }
    // Stopping: our members are leaving with their own Close; the key
    // expires by itself if this does not get through.
    let mut conn = inner.store.conn.clone();
    let key = inner.store.keys.alive(&inner.instance);
    let _: Result<(), _> = timeout(
        REDIS_TIMEOUT,
        redis::cmd("DEL").arg(key).query_async(&mut conn),
    )
    .await
    .unwrap_or(Ok(()));
}

async fn beat(inner: &Inner) -> Result<(), RedisError> {
    let store = &inner.store;
    let mut conn = store.conn.clone();
    let keys = &store.keys;
    let _: () = redis::pipe()
        .cmd("SET")
        .arg(keys.alive(&inner.instance))
        .arg(1)
        .arg("PX")
        .arg(ALIVE_TTL.as_millis() as u64)
        .ignore()
        .cmd("SADD")
        .arg(&keys.instances)
        .arg(&inner.instance)
        .ignore()
        .query_async(&mut conn)
        .await?;
    let now = support::unix_millis();
    let keep: Option<Vec<u64>> = {
        let state = inner.lock();
        state.up.then(|| {
            state
                .members
                .iter()
                .map(|m| m.id)
                .chain(state.joining.iter().copied())
                .collect()
        })
    };
    if let Some(keep) = keep {
        store.sweep(&inner.instance, Some(&keep), now).await?;
    }
    let others: Vec<String> = redis::cmd("SMEMBERS")
        .arg(&keys.instances)
        .query_async(&mut conn)
        .await?;
    for other in others.iter().filter(|o| **o != inner.instance) {
        let gone = store.sweep(other, None, now).await?;
        if gone > 0 {
            tracing::info!(
                instance = inner.instance,
                dead = other,
                gone,
                "an instance died"
            );
        }
    }
    Ok(())
}
// ANCHOR_END: stay_alive

#[cfg(test)]
mod tests {
    use super::skipped;

    #[test]
    fn a_gap_in_the_numbers_is_a_skip() {
        assert!(!skipped(0, 1), "the first event");
        assert!(!skipped(0, 500), "following a stream from where it is");
        assert!(!skipped(41, 42));
        assert!(skipped(41, 43));
        assert!(skipped(41, 1_041));
    }
}
