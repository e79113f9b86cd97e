//! Where the room lives, as the connections see it. One process keeps it
//! in memory ([`crate::Room`]); a room shared by several servers keeps it
//! somewhere they all reach (lesson 8 puts it in Redis). A connection only
//! joins, says and leaves, and reads its [`Membership`]'s queue: the same
//! loop serves both.

use futures_util::future::BoxFuture;

use crate::room::{JoinError, Membership, Room};

/// A page coming back: the last event it showed, and the run of the room
/// that numbered it (see [`crate::ServerMessage::Welcome`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Since {
    /// The room's run, from the welcome the page had.
    pub boot: String,
    /// The newest `seq` it showed.
    pub seq: u64,
}

/// The room could not be reached (a shared room's store is down or too
/// slow): the connection closes with 1013, and the page comes back later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the room is unavailable: {}", self.0)
    }
}

impl std::error::Error for Unavailable {}

// ANCHOR: hall
/// A room the connections can join: [`Room`] in this process, or one
/// shared by many. Asynchronous, since a shared room is a network away.
pub trait Hall: Send + Sync + std::fmt::Debug {
    /// Enters as `nick` (see [`Room::join`]). `since`: the page is coming
    /// back, and a hall that keeps more than the last messages may replay
    /// what it missed.
    fn join<'a>(
        &'a self,
        nick: &'a str,
        key: Option<&'a str>,
        since: Option<Since>,
    ) -> BoxFuture<'a, Result<Membership, JoinError>>;

    /// Says `text` from member `id` to everybody (see [`Room::say`]).
    fn say<'a>(&'a self, id: u64, text: &'a str) -> BoxFuture<'a, Result<(), Unavailable>>;

    /// Member `id` leaves (see [`Room::leave`]).
    fn leave(&self, id: u64) -> BoxFuture<'_, ()>;
}
// ANCHOR_END: hall

/// The room in this process: every call is done at once. It keeps the last
/// messages only, so `since` changes nothing: the page skips what it has
/// already shown by `seq`.
impl Hall for Room {
    fn join<'a>(
        &'a self,
        nick: &'a str,
        key: Option<&'a str>,
        _since: Option<Since>,
    ) -> BoxFuture<'a, Result<Membership, JoinError>> {
        Box::pin(std::future::ready(Room::join(self, nick, key)))
    }

    fn say<'a>(&'a self, id: u64, text: &'a str) -> BoxFuture<'a, Result<(), Unavailable>> {
        Room::say(self, id, text);
        Box::pin(std::future::ready(Ok(())))
    }

    fn leave(&self, id: u64) -> BoxFuture<'_, ()> {
        Room::leave(self, id);
        Box::pin(std::future::ready(()))
    }
}
