//! # Lesson 8: beyond one machine
//!
//! Lesson 5's room lives in one process: run it twice and you have two
//! rooms. Here every instance started on the same Redis serves one room,
//! with lesson 5's server, connection loop and page unchanged: only where
//! the room lives is new ([`SharedRoom`], a [`chatroom::Hall`]).
//!
//! - **One order.** A page's message is appended to a Redis Stream by a Lua
//!   script that numbers it: Redis runs a script atomically, so the number
//!   and the place in the stream agree. Each instance reads the stream and
//!   fills its own pages' queues, in stream order.
//! - **History and resume.** The last 50 messages are a second, capped
//!   stream. A page that comes back with `since` gets every message after
//!   it that the stream still keeps ([`EVENTS_KEPT`]), and is told if some
//!   were trimmed.
//! - **Names and presence.** A nickname is a field of one hash, taken by
//!   the join script only if nobody holds it. Each instance renews a key
//!   that expires ([`ALIVE_TTL`]); the members of an instance whose key has
//!   expired are announced gone by the others within
//!   [`PRESENCE_DEADLINE`].
//! - **Redis away.** Every page of an instance that lost Redis is closed
//!   with 1013 (try again later); they come back when Redis does, and
//!   resume. Nothing is buffered meanwhile.
//!
//! | module | what it holds |
//! |---|---|
//! | `store` | the keys, the Lua scripts, what they answer |
//! | `shared` | [`SharedRoom`]: the local queues, the stream reader, the heartbeat |
//! | [`args`] | the command line |
//!
//! ## Run it
//!
//! ```text
//! redis-server --port 6379 --save ''      # in a terminal of its own
//! cargo run -p cluster                    # three instances: 9011, 9012, 9013
//! ```
//!
//! Open <http://127.0.0.1:9011/> and <http://127.0.0.1:9012/>: two pages on
//! two servers, one room.

mod shared;
mod store;

pub mod args;

pub use shared::SharedRoom;
pub use store::{ALIVE_EVERY, ALIVE_TTL, EVENTS_KEPT, PRESENCE_DEADLINE, REDIS_TIMEOUT};

/// The prefix of every key the room keeps in Redis (`chat:seq`, …).
pub const PREFIX: &str = "chat";

/// Where the cluster's Redis is unless told: `redis://127.0.0.1:6379`.
pub const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";

/// The three instances `cargo run -p cluster` starts.
pub const DEFAULT_LISTEN: [&str; 3] = ["127.0.0.1:9011", "127.0.0.1:9012", "127.0.0.1:9013"];
