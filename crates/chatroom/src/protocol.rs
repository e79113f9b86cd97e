//! What travels over the socket: one JSON object per text message, with a
//! `type` field naming it, typed on both sides of serde. The language has a
//! name, [`SUBPROTOCOL`], that a page offers in the handshake.
//!
//! ```text
//! page → server   {"type":"join","nick":"ann"}
//!                 {"type":"say","text":"hello"}
//! server → page   {"type":"welcome","you":"ann","boot":"5f0c2a91","members":["ann","bob"],"history":[…]}
//!                 {"type":"message","seq":42,"from":"bob","text":"hi","ts":1767225600123}
//!                 {"type":"joined","seq":43,"nick":"cy","online":3,"ts":1767225600456}
//!                 {"type":"left","seq":44,"nick":"cy","online":2,"ts":1767225601789}
//!                 {"type":"error","reason":"the nickname \"bob\" is taken"}
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

// ANCHOR: subprotocol
/// The name of the language below, for `Sec-WebSocket-Protocol`
/// (RFC 6455 §1.9): a page offers it, and the 101 names it back. A `.v2`
/// that changed a message could be offered beside it while pages still
/// speak this one.
pub const SUBPROTOCOL: &str = "chat.v1";
// ANCHOR_END: subprotocol

// ANCHOR: limits
/// A nickname is 1 to 24 characters (characters, not bytes: "小明" is two).
pub const MAX_NICK_CHARS: usize = 24;

/// A chat message is 1 to 1,000 characters. The WebSocket limit
/// ([`crate::MAX_MESSAGE_SIZE`], 4 KiB) bounds the bytes on the wire, JSON
/// and escapes included; this bounds what a reader is asked to read.
pub const MAX_TEXT_CHARS: usize = 1000;

/// The longest `key` a join may carry: 64 bytes (the page sends 32 hex
/// digits).
pub const MAX_KEY_BYTES: usize = 64;

/// How many messages a newcomer is shown: the last 50.
pub const HISTORY_LEN: usize = 50;
// ANCHOR_END: limits

// ANCHOR: client_message
/// What a page may send. Anything else (bad JSON, an unknown `type`, a
/// missing field) gets an [`ServerMessage::Error`] back and is otherwise
/// ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Enter the room under this nickname. Allowed until it succeeds; a
    /// refused name (invalid or taken) can be followed by another try.
    Join {
        /// The nickname asked for; see [`Nick::parse`].
        nick: String,
        /// A secret the page made up (random, kept for the tab's life), so
        /// that it can take its own name back: see [`crate::Room::join`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// Coming back: the newest `seq` the page showed, under the `boot`
        /// its welcome named. A room that keeps its events (lesson 8's)
        /// then sends exactly what the page missed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
        /// The `boot` of the welcome `since` counts from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        boot: Option<String>,
    },
    /// Say something to everybody, yourself included.
    Say {
        /// The message, as typed; see [`check_text`].
        text: String,
    },
}
// ANCHOR_END: client_message

// ANCHOR: server_message
/// What the server sends. Every field is decided by the server: the order
/// (`seq`), the time (`ts`), and who said it (`from`, the name the
/// connection joined with, never a name the message claims).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The answer to a successful `join`, and the first message a member
    /// receives: everything after it is newer than its history.
    Welcome {
        /// The nickname, as the room will show it.
        you: String,
        /// Which run of the server this is (random at each start): `seq`
        /// starts over when the server does, so a page that reconnects
        /// compares `boot` before trusting its "already seen" numbers.
        boot: String,
        /// Who is in the room, the newcomer included, in joining order.
        members: Vec<String>,
        /// The last [`HISTORY_LEN`] chat messages, oldest first; for a
        /// join with `since` that the room could replay, every message
        /// after it instead.
        history: Vec<Chat>,
        /// Only for a replayed join: whether `history` holds every message
        /// since the page's `since` (`false`: some had been trimmed away).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        complete: Option<bool>,
    },
    /// A chat message, to everybody (its sender included).
    Message(Chat),
    /// Someone entered the room.
    Joined(Presence),
    /// Someone left the room: closed the page, lost the connection, or was
    /// dropped by the server.
    Left(Presence),
    /// Something the page sent was refused; the connection stays open
    /// unless a Close follows.
    Error {
        /// Why, in a sentence for the person at the keyboard.
        reason: String,
    },
}
// ANCHOR_END: server_message

/// One chat message as the room recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Chat {
    /// Its place in the room's one order: 1, 2, 3, … within a run of the
    /// server, shared with [`Presence`] events, so every member sees every
    /// event in the same order.
    pub seq: u64,
    /// The sender's nickname.
    pub from: String,
    /// What they said, verbatim: the page must show it as text.
    pub text: String,
    /// When the room received it: milliseconds since the Unix epoch, by the
    /// server's clock (the pages' clocks disagree with each other).
    pub ts: u64,
}

/// A join or a leave.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Presence {
    /// Its place in the room's order (see [`Chat::seq`]).
    pub seq: u64,
    /// Who came or went.
    pub nick: String,
    /// How many are in the room now.
    pub online: usize,
    /// When, by the server's clock (milliseconds since the Unix epoch).
    pub ts: u64,
}

impl ServerMessage {
    /// An error message with this reason.
    pub fn error(reason: impl fmt::Display) -> ServerMessage {
        ServerMessage::Error {
            reason: reason.to_string(),
        }
    }

    /// The JSON text sent to the page.
    pub fn to_json(&self) -> String {
        // Serialising these types cannot fail: every field is a string, a
        // number or a list of them, and every map key is a string.
        serde_json::to_string(self).unwrap_or_default()
    }
}

// ANCHOR: nick
/// A nickname that passed [`Nick::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nick(String);

/// Why a nickname is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadNick {
    /// Empty.
    Empty,
    /// More than [`MAX_NICK_CHARS`] characters.
    TooLong,
    /// A character outside letters, digits, `_`, `-` and `.`.
    BadCharacter(char),
}

impl Nick {
    /// Checks a nickname: 1 to [`MAX_NICK_CHARS`] characters, each a letter
    /// or a digit in any script (`ann`, `小明`, `Zoë`, `محمد`) or one of
    /// `_`, `-`, `.`.
    ///
    /// No spaces, no punctuation, no control or invisible characters: a
    /// name is something people must be able to tell apart and type, and
    /// it ends up in every page's list. (Letters from different scripts can
    /// still look alike, the Latin `a` and the Cyrillic `а`; a public
    /// service would also normalise and check for confusables.)
    pub fn parse(nick: &str) -> Result<Nick, BadNick> {
        if nick.is_empty() {
            return Err(BadNick::Empty);
        }
        if nick.chars().count() > MAX_NICK_CHARS {
            return Err(BadNick::TooLong);
        }
        if let Some(bad) = nick
            .chars()
            .find(|&c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.')))
        {
            return Err(BadNick::BadCharacter(bad));
        }
        Ok(Nick(nick.to_owned()))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form two names are compared in: `Ann` and `ann` are one name in
    /// the room, or the second could pass for the first.
    pub fn folded(&self) -> String {
        self.0.to_lowercase()
    }
}
// ANCHOR_END: nick

impl fmt::Display for BadNick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadNick::Empty => write!(f, "choose a nickname"),
            BadNick::TooLong => write!(f, "a nickname has at most {MAX_NICK_CHARS} characters"),
            BadNick::BadCharacter(c) => write!(
                f,
                "a nickname may only hold letters, digits, _ - and . (not {c:?})"
            ),
        }
    }
}

impl std::error::Error for BadNick {}

/// Checks a chat message: not blank, at most [`MAX_TEXT_CHARS`]
/// characters. Nothing else is changed or refused: `<b>` and `"` are text
/// like any other, and the page shows them as such.
pub fn check_text(text: &str) -> Result<(), &'static str> {
    if text.trim().is_empty() {
        return Err("an empty message is not sent");
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err("a message has at most 1000 characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicknames() {
        for good in ["ann", "小明", "Zoë", "r2-d2", "a.b_c", &"x".repeat(24)] {
            assert!(Nick::parse(good).is_ok(), "{good}");
        }
        assert_eq!(Nick::parse(""), Err(BadNick::Empty));
        assert_eq!(Nick::parse(&"x".repeat(25)), Err(BadNick::TooLong));
        assert_eq!(Nick::parse(&"名".repeat(24)).map(|n| n.0.len()), Ok(72));
        for (bad, c) in [
            ("a b", ' '),
            ("<b>", '<'),
            ("a\u{200b}b", '\u{200b}'),
            ("x\n", '\n'),
        ] {
            assert_eq!(Nick::parse(bad), Err(BadNick::BadCharacter(c)), "{bad:?}");
        }
        assert_eq!(
            Nick::parse("Ann").unwrap().folded(),
            Nick::parse("aNN").unwrap().folded()
        );
    }

    #[test]
    fn texts() {
        assert!(check_text("<script>alert(1)</script>").is_ok());
        assert!(check_text(" \n\t").is_err());
        assert!(check_text(&"字".repeat(1000)).is_ok());
        assert!(check_text(&"字".repeat(1001)).is_err());
    }

    #[test]
    fn the_wire_format() {
        let join: ClientMessage = serde_json::from_str(r#"{"type":"join","nick":"ann"}"#).unwrap();
        assert_eq!(
            join,
            ClientMessage::Join {
                nick: "ann".into(),
                key: None,
                since: None,
                boot: None,
            }
        );
        assert!(serde_json::from_str::<ClientMessage>(r#"{"type":"say"}"#).is_err());
        assert!(
            serde_json::from_str::<ClientMessage>(r#"{"type":"say","text":"x","from":"bob"}"#)
                .is_err(),
            "a page cannot claim a sender"
        );
        let chat = ServerMessage::Message(Chat {
            seq: 42,
            from: "bob".into(),
            text: "hi".into(),
            ts: 1_767_225_600_123,
        });
        assert_eq!(
            chat.to_json(),
            r#"{"type":"message","seq":42,"from":"bob","text":"hi","ts":1767225600123}"#
        );
        let left = ServerMessage::Left(Presence {
            seq: 44,
            nick: "cy".into(),
            online: 2,
            ts: 1,
        });
        assert_eq!(
            left.to_json(),
            r#"{"type":"left","seq":44,"nick":"cy","online":2,"ts":1}"#
        );
        assert_eq!(
            ServerMessage::error("no").to_json(),
            r#"{"type":"error","reason":"no"}"#
        );
    }
}
