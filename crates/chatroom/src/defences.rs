//! What keeps the room standing on the open internet, apart from the room
//! itself: each piece is a "going to production" step of the chapter, and
//! the room and its protocol read without them.
//!
//! | module | what it holds |
//! |---|---|
//! | `upgrade` | the gate: lesson 1's checks, the Origin, the connection cap; our own 101 |
//! | `admit` | the limits when a connection is accepted, before its request is read |
//! | `ticket` | one-time tickets for `--require-ticket` |
//! | `flood` | the token bucket that bounds how fast a page may talk |

pub(crate) mod admit;
pub(crate) mod flood;
pub(crate) mod ticket;
pub(crate) mod upgrade;
