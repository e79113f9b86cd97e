//! The feed: a phrase every interval, numbered and stamped, serialised once
//! and handed to every connection at the same moment.

use std::convert::Infallible;
use std::time::Duration;

use rand::seq::SliceRandom;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio::time::{Instant, MissedTickBehavior, interval_at};
use tokio_tungstenite::tungstenite::Utf8Bytes;

// ANCHOR: phrases
/// What the server says. Multi-byte UTF-8 on purpose (Chinese: 3 bytes a
/// character; emoji: 4), and the last phrase is over 125 bytes on its own,
/// so its frame needs the 16-bit extended length (RFC 6455 §5.2): a server
/// that writes the length in one byte corrupts it.
pub const PHRASES: &[&str] = &[
    "The server spoke first: nobody asked, and here it is anyway.",
    "服务器先开口了：不用刷新，也不用问。",
    "No polling was harmed in the making of this message. 📬",
    "每十秒一次心跳，路上的 NAT 就不会把我们忘掉。💓",
    "One phrase, one number, every page at once: that is a broadcast. 📡",
    "Text frames carry UTF-8: 中文, ñ and 🦀 arrive exactly as they left.",
    "Stop the server with Ctrl-C and this page says 1001: going away, not gone for good.",
    "这一句故意写得很长，超过了一百二十五个字节：帧头放不下它的长度，只好先写 126，\
     再用两个字节写出真正的长度。只写一个长度字节的服务器会把它弄坏，浏览器随即断开连接。🧪",
];
// ANCHOR_END: phrases

/// How many pushes a connection may fall behind before it skips ahead: 16,
/// sixteen seconds of phrases at the default rate. Only a peer that stops
/// reading gets that far behind, and the heartbeat drops such a peer first.
pub const FEED_CAPACITY: usize = 16;

/// Phrases in random order without repeats: each round is a fresh shuffle
/// of them all, so every phrase shows up within `PHRASES.len()` pushes, and
/// a round never starts with the phrase the last one ended with.
#[derive(Debug, Clone)]
pub struct Phrases {
    order: Vec<&'static str>,
    next: usize,
}

impl Phrases {
    /// An endless shuffle of `phrases`, which must not be empty.
    pub fn new(phrases: &[&'static str]) -> Phrases {
        assert!(!phrases.is_empty(), "nothing to say");
        Phrases {
            order: phrases.to_vec(),
            next: phrases.len(),
        }
    }
}

impl Iterator for Phrases {
    type Item = &'static str;

    fn next(&mut self) -> Option<&'static str> {
        if self.next == self.order.len() {
            let last = self.order[self.order.len() - 1];
            // A thread-local generator, used and let go right here: nothing
            // that is not `Send` is held across an `.await`.
            self.order.shuffle(&mut rand::rng());
            if self.order[0] == last {
                let end = self.order.len() - 1;
                self.order.swap(0, end);
            }
            self.next = 0;
        }
        self.next += 1;
        Some(self.order[self.next - 1])
    }
}

// ANCHOR: message
/// One pushed message. The page receives it as a text frame of JSON:
///
/// ```text
/// {"boot":"5f0c2a91","sent_at":1767225600123,"seq":42,"text":"…"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// Which run of the server sent it, random at each start. Numbers start
    /// over when the server does, so a message is named by `(boot, seq)`.
    pub boot: String,
    /// 1, 2, 3, … within a run. The page ignores a number it has already
    /// shown, and a jump tells it how many it missed while away.
    pub seq: u64,
    /// When the server sent it: milliseconds since the Unix epoch.
    pub sent_at: u64,
    /// The phrase.
    pub text: String,
}
// ANCHOR_END: message

impl Push {
    /// The JSON the page receives.
    pub fn to_json(&self) -> String {
        json!({
            "boot": self.boot,
            "seq": self.seq,
            "sent_at": self.sent_at,
            "text": self.text,
        })
        .to_string()
    }

    /// Reads a message back (the client and the tests do); `None` if `json`
    /// is not one.
    pub fn from_json(json: &str) -> Option<Push> {
        let value: Value = serde_json::from_str(json).ok()?;
        Some(Push {
            boot: value.get("boot")?.as_str()?.to_owned(),
            seq: value.get("seq")?.as_u64()?,
            sent_at: value.get("sent_at")?.as_u64()?,
            text: value.get("text")?.as_str()?.to_owned(),
        })
    }
}

/// A fresh run id for [`Push::boot`]: 32 random bits in hex.
pub fn new_boot() -> String {
    format!("{:08x}", rand::random::<u32>())
}

// ANCHOR: publish
/// The feed's one producer: every `every`, the next phrase, numbered and
/// stamped, to every subscriber of `feed`. It never returns; the server
/// drops it when it stops.
pub async fn publish(
    feed: &broadcast::Sender<Utf8Bytes>,
    boot: &str,
    every: Duration,
) -> Infallible {
    let mut phrases = Phrases::new(PHRASES);
    let mut ticks = interval_at(Instant::now() + every, every);
    // After a stall (a suspended laptop, a debugger) we skip the pushes we
    // missed rather than fire them all at once.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut seq = 0;
    loop {
        ticks.tick().await;
        seq += 1;
        let push = Push {
            boot: boot.to_owned(),
            seq,
            sent_at: support::unix_millis(),
            text: phrases.next().unwrap_or_default().to_owned(),
        };
        // Serialised once for everybody: Utf8Bytes is reference-counted,
        // so each subscriber gets a clone of the pointer, not of the text.
        // `send` never waits for anyone. It fails only when nobody is
        // subscribed; then the phrase is said to an empty room, and lost.
        let _ = feed.send(Utf8Bytes::from(push.to_json()));
    }
}
// ANCHOR_END: publish

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_exercise_the_length_forms_and_utf8() {
        assert!(
            PHRASES.iter().any(|p| p.len() > 125),
            "one phrase needs the 16-bit length"
        );
        assert!(PHRASES.iter().any(|p| p.chars().any(|c| c.len_utf8() == 3)));
        assert!(PHRASES.iter().any(|p| p.chars().any(|c| c.len_utf8() == 4)));
    }

    #[test]
    fn every_phrase_once_per_round_never_twice_in_a_row() {
        let said: Vec<_> = Phrases::new(PHRASES).take(PHRASES.len() * 50).collect();
        for round in said.chunks(PHRASES.len()) {
            let mut round = round.to_vec();
            round.sort_unstable();
            let mut all = PHRASES.to_vec();
            all.sort_unstable();
            assert_eq!(round, all);
        }
        assert!(said.windows(2).all(|w| w[0] != w[1]));
    }

    #[test]
    fn json_round_trip() {
        let push = Push {
            boot: "0badcafe".into(),
            seq: 7,
            sent_at: 1_767_225_600_123,
            text: PHRASES[7].into(),
        };
        let json = push.to_json();
        assert!(json.starts_with(r#"{"boot":"0badcafe","sent_at":1767225600123,"seq":7,"#));
        assert_eq!(Push::from_json(&json), Some(push));
        assert_eq!(Push::from_json(r#"{"seq":1}"#), None);
        assert_eq!(Push::from_json("not json"), None);
    }
}
