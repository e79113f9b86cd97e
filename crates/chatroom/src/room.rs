//! The room: who is in it, what was said, and the one order everybody sees
//! it in. Nothing here touches a socket.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_util::sync::CancellationToken;

use crate::protocol::{BadNick, Chat, HISTORY_LEN, MAX_KEY_BYTES, Nick, Presence, ServerMessage};

/// How many events may wait in one member's queue: 256. A page that is
/// reading keeps its queue near empty; one that has fallen this far behind
/// is not reading, and is dropped (see [`Membership::dropped`]).
pub const QUEUE_CAPACITY: usize = 256;

/// Why a join was refused. The connection stays open for another try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinError {
    /// The nickname breaks the rules of [`Nick::parse`].
    Invalid(BadNick),
    /// Somebody in the room has it (compared ignoring case).
    Taken(String),
    /// The `key` is longer than [`MAX_KEY_BYTES`].
    KeyTooLong,
    /// A shared room's store could not be reached: the connection closes
    /// with 1013, and the page tries again later.
    Unavailable(crate::hall::Unavailable),
}

impl std::fmt::Display for JoinError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JoinError::Invalid(bad) => write!(f, "{bad}"),
            JoinError::Taken(nick) => write!(f, "the nickname {nick:?} is taken: choose another"),
            JoinError::KeyTooLong => write!(f, "a key has at most {MAX_KEY_BYTES} bytes"),
            JoinError::Unavailable(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for JoinError {}

/// What a connection holds once it has joined: its queue, and the signal
/// that the room has dropped it.
#[derive(Debug)]
pub struct Membership {
    /// The member's id in the room, for [`Room::say`] and [`Room::leave`].
    pub id: u64,
    /// The name it joined with.
    pub nick: String,
    /// Its events, in the room's order: the welcome first, then every
    /// event after it. Each is serialised once and shared by every queue
    /// it is put in (tungstenite's `Utf8Bytes`: cloning it copies a
    /// pointer, not the text, and it goes into a message without a copy).
    pub queue: mpsc::Receiver<Utf8Bytes>,
    /// Cancelled when the room drops the member because its queue was
    /// full: it was not reading. The connection then closes with 1013.
    pub dropped: CancellationToken,
    /// Cancelled when a newer connection took the name back with the same
    /// key (`dropped` is cancelled too). The connection closes with 4001.
    pub replaced: CancellationToken,
    /// Cancelled when a shared room lost the store it lives in (lesson 8):
    /// the connection closes with 1013, and the page comes back later. A
    /// [`Room`] in memory never cancels it.
    pub unavailable: CancellationToken,
}

/// A member as the room sees it.
#[derive(Debug)]
struct Member {
    id: u64,
    nick: Nick,
    /// The nickname as compared: [`Nick::folded`].
    folded: String,
    /// The secret that lets a later join take the name over, if any.
    key: Option<String>,
    queue: mpsc::Sender<Utf8Bytes>,
    dropped: CancellationToken,
    replaced: CancellationToken,
}

/// Everything behind the room's lock.
#[derive(Debug, Default)]
struct State {
    /// The last event number handed out.
    seq: u64,
    next_id: u64,
    /// In joining order, which is the order the welcome lists them in.
    members: Vec<Member>,
    history: VecDeque<Chat>,
}

/// A chat room: members, history, and a fan-out that never waits.
///
/// Every change happens under one lock, and the lock is held only for
/// work that cannot wait: numbering the event, recording it, and putting a
/// pointer to it in each member's queue with `try_send`. No socket is
/// written under the lock, so one member that stops reading can delay no
/// one: when its queue is full, the room drops it on the spot.
#[derive(Debug)]
pub struct Room {
    state: Mutex<State>,
    boot: String,
    queue_capacity: usize,
    clock: fn() -> u64,
}

impl Room {
    /// An empty room. `boot` names this run of the server (see
    /// [`ServerMessage::Welcome`]); each member's queue holds
    /// `queue_capacity` events (2 at the least).
    pub fn new(boot: String, queue_capacity: usize) -> Arc<Room> {
        Arc::new(Room {
            state: Mutex::new(State::default()),
            boot,
            // Room for the welcome and the newcomer's own `joined`, at the
            // very least, or nobody could ever join.
            queue_capacity: queue_capacity.max(2),
            clock: support::unix_millis,
        })
    }

    /// Which run of the server this is.
    pub fn boot(&self) -> &str {
        &self.boot
    }

    /// The members' names, in joining order.
    pub fn members(&self) -> Vec<String> {
        self.lock()
            .members
            .iter()
            .map(|m| m.nick.as_str().to_owned())
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the state as consistent
        // as at any other moment (every change is a push, a pop or a
        // removal): carry on rather than take the whole room down.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    // ANCHOR: join
    /// Enters the room as `nick`. The new member's queue starts with its
    /// welcome (the history and who is here), and every member, the
    /// newcomer included, then gets `joined`: all under the lock, so the
    /// newcomer misses nothing and sees nothing twice.
    ///
    /// A name in use is refused, unless the holder joined with the same
    /// `key`: then it is the same page coming back (after a reload, or a
    /// network change the old connection has not noticed yet), and the new
    /// connection takes the name over; the old one is told (4001) and
    /// leaves.
    pub fn join(&self, nick: &str, key: Option<&str>) -> Result<Membership, JoinError> {
        let nick = Nick::parse(nick).map_err(JoinError::Invalid)?;
        if key.is_some_and(|k| k.len() > MAX_KEY_BYTES) {
            return Err(JoinError::KeyTooLong);
        }
        let folded = nick.folded();
        let mut state = self.lock();
        if let Some(at) = state.members.iter().position(|m| m.folded == folded) {
            let holder = &state.members[at];
            if key.is_none() || holder.key.as_deref() != key {
                return Err(JoinError::Taken(holder.nick.as_str().to_owned()));
            }
            let ghost = state.members.remove(at);
            ghost.replaced.cancel();
            self.announce_departures(&mut state, vec![ghost]);
        }
        let (tx, rx) = mpsc::channel(self.queue_capacity);
        let mut members: Vec<String> = state
            .members
            .iter()
            .map(|m| m.nick.as_str().to_owned())
            .collect();
        members.push(nick.as_str().to_owned());
        let welcome = ServerMessage::Welcome {
            you: nick.as_str().to_owned(),
            boot: self.boot.clone(),
            members,
            history: state.history.iter().cloned().collect(),
            complete: None,
        };
        // The queue is new and has room for two: this cannot fail.
        let _ = tx.try_send(Utf8Bytes::from(welcome.to_json()));
        state.next_id += 1;
        let id = state.next_id;
        let dropped = CancellationToken::new();
        let replaced = CancellationToken::new();
        let name = nick.as_str().to_owned();
        state.members.push(Member {
            id,
            nick,
            folded,
            key: key.map(str::to_owned),
            queue: tx,
            dropped: dropped.clone(),
            replaced: replaced.clone(),
        });
        let online = state.members.len();
        self.publish(&mut state, |seq, ts| {
            ServerMessage::Joined(Presence {
                seq,
                nick: name.clone(),
                online,
                ts,
            })
        });
        Ok(Membership {
            id,
            nick: name,
            queue: rx,
            dropped,
            replaced,
            unavailable: CancellationToken::new(),
        })
    }
    // ANCHOR_END: join

    /// Says `text` from member `id` to everybody. The caller has checked
    /// the text ([`crate::protocol::check_text`]). Does nothing if `id` is
    /// no longer a member (the room has just dropped it).
    pub fn say(&self, id: u64, text: &str) {
        let mut state = self.lock();
        let Some(from) = state.members.iter().find(|m| m.id == id) else {
            return;
        };
        let from = from.nick.as_str().to_owned();
        let chat = self.publish(&mut state, |seq, ts| {
            ServerMessage::Message(Chat {
                seq,
                from,
                text: text.to_owned(),
                ts,
            })
        });
        if let ServerMessage::Message(chat) = chat {
            if state.history.len() == HISTORY_LEN {
                state.history.pop_front();
            }
            state.history.push_back(chat);
        }
    }

    /// Member `id` leaves; everybody left is told. Leaving twice, or after
    /// the room has dropped the member, does nothing.
    pub fn leave(&self, id: u64) {
        let mut state = self.lock();
        if let Some(at) = state.members.iter().position(|m| m.id == id) {
            let gone = state.members.remove(at);
            self.announce_departures(&mut state, vec![gone]);
        }
    }

    // ANCHOR: publish
    /// Numbers an event, serialises it once, and offers it to every
    /// member's queue without waiting. A member whose queue is full is
    /// dropped and its departure announced in turn (which may find another
    /// full queue: we go on until nobody is dropped). Returns the event.
    fn publish(
        &self,
        state: &mut State,
        event: impl FnOnce(u64, u64) -> ServerMessage,
    ) -> ServerMessage {
        state.seq += 1;
        let event = event(state.seq, (self.clock)());
        let stalled = offer(state, &Utf8Bytes::from(event.to_json()));
        self.announce_departures(state, stalled);
        event
    }
    // ANCHOR_END: publish

    /// Tells everybody still here that each of `gone` has left.
    fn announce_departures(&self, state: &mut State, mut gone: Vec<Member>) {
        while let Some(member) = gone.pop() {
            // The member's task learns it was dropped (it closes with
            // 1013); a task that ended by itself is not listening.
            member.dropped.cancel();
            state.seq += 1;
            let left = ServerMessage::Left(Presence {
                seq: state.seq,
                nick: member.nick.as_str().to_owned(),
                online: state.members.len(),
                ts: (self.clock)(),
            });
            gone.extend(offer(state, &Utf8Bytes::from(left.to_json())));
        }
    }
}

// ANCHOR: offer
/// Puts `event` in every member's queue with `try_send`, which never
/// waits. Removes and returns the members it could not be given to: a full
/// queue (the member stopped reading) or a closed one (its task has ended
/// and will not read again).
fn offer(state: &mut State, event: &Utf8Bytes) -> Vec<Member> {
    state
        .members
        .extract_if(.., |member| {
            member.queue.try_send(Utf8Bytes::clone(event)).is_err()
        })
        .collect()
}
// ANCHOR_END: offer

#[cfg(test)]
mod tests {
    use super::*;

    fn next(m: &mut Membership) -> serde_json::Value {
        let frame = m.queue.try_recv().expect("an event is queued");
        serde_json::from_str(&frame).unwrap()
    }

    #[test]
    fn welcome_then_joined_then_messages_in_one_order() {
        let room = Room::new("b".into(), 8);
        let mut ann = room.join("ann", None).unwrap();
        assert_eq!(next(&mut ann)["type"], "welcome");
        assert_eq!(next(&mut ann)["type"], "joined");
        room.say(ann.id, "first");
        let mut bob = room.join("bob", None).unwrap();
        let welcome = next(&mut bob);
        assert_eq!(welcome["members"], serde_json::json!(["ann", "bob"]));
        assert_eq!(welcome["history"][0]["text"], "first");
        room.say(bob.id, "second");
        for m in [&mut ann, &mut bob] {
            let seqs: Vec<_> = std::iter::from_fn(|| m.queue.try_recv().ok())
                .map(|f| serde_json::from_str::<serde_json::Value>(&f).unwrap())
                .filter(|v| v["seq"].as_u64() >= Some(3))
                .map(|v| (v["type"].clone(), v["seq"].clone()))
                .collect();
            assert_eq!(
                seqs,
                [("joined".into(), 3.into()), ("message".into(), 4.into())]
            );
        }
    }

    #[test]
    fn names_are_unique_ignoring_case() {
        let room = Room::new("b".into(), 8);
        let _ann = room.join("Ann", None).unwrap();
        assert_eq!(
            room.join("aNN", None).unwrap_err(),
            JoinError::Taken("Ann".into())
        );
        assert!(matches!(room.join("a b", None), Err(JoinError::Invalid(_))));
    }

    #[test]
    fn history_keeps_the_last_fifty() {
        // Room for all 60 in ann's queue: she never reads it here.
        let room = Room::new("b".into(), 128);
        let ann = room.join("ann", None).unwrap();
        for i in 0..60 {
            room.say(ann.id, &i.to_string());
        }
        let mut bob = room.join("bob", None).unwrap();
        let history = next(&mut bob)["history"].as_array().unwrap().clone();
        assert_eq!(history.len(), HISTORY_LEN);
        assert_eq!(history[0]["text"], "10");
        assert_eq!(history[49]["text"], "59");
    }

    #[test]
    fn a_full_queue_is_dropped_and_its_departure_announced() {
        let room = Room::new("b".into(), 4);
        let slow = room.join("slow", None).unwrap(); // never read
        let mut fast = room.join("fast", None).unwrap();
        for i in 0..10 {
            room.say(fast.id, &i.to_string());
            while fast.queue.try_recv().is_ok() {}
        }
        assert!(slow.dropped.is_cancelled());
        assert_eq!(room.members(), ["fast"]);
        // Dropped once, announced once; saying from a dropped id is a no-op.
        room.say(slow.id, "ghost");
        room.leave(slow.id);
        let events: Vec<_> = std::iter::from_fn(|| fast.queue.try_recv().ok()).collect();
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn the_same_key_takes_a_name_back() {
        let room = Room::new("b".into(), 8);
        let ghost = room.join("ann", Some("k1")).unwrap();
        let mut bob = room.join("bob", None).unwrap();
        while bob.queue.try_recv().is_ok() {}
        assert!(matches!(room.join("ann", None), Err(JoinError::Taken(_))));
        assert!(matches!(
            room.join("ANN", Some("k2")),
            Err(JoinError::Taken(_))
        ));
        let back = room.join("ann", Some("k1")).unwrap();
        assert!(ghost.replaced.is_cancelled() && ghost.dropped.is_cancelled());
        assert!(!back.replaced.is_cancelled());
        assert_eq!(room.members(), ["bob", "ann"]);
        let (left, joined) = (next(&mut bob), next(&mut bob));
        assert_eq!(
            (left["type"].as_str(), left["nick"].as_str()),
            (Some("left"), Some("ann"))
        );
        assert_eq!(joined["type"], "joined");
        room.leave(ghost.id);
        assert!(
            bob.queue.try_recv().is_err(),
            "the ghost's own leave is a no-op"
        );
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        assert_eq!(
            room.join("cy", Some(&long)).unwrap_err(),
            JoinError::KeyTooLong
        );
    }

    #[test]
    fn leaving_is_announced_once() {
        let room = Room::new("b".into(), 8);
        let ann = room.join("ann", None).unwrap();
        let mut bob = room.join("bob", None).unwrap();
        while bob.queue.try_recv().is_ok() {}
        room.leave(ann.id);
        room.leave(ann.id);
        let left = next(&mut bob);
        assert_eq!(
            (left["type"].as_str(), left["online"].as_u64()),
            (Some("left"), Some(1))
        );
        assert!(bob.queue.try_recv().is_err());
    }
}
