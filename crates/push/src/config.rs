//! What the server can be tuned with: the push and heartbeat timings, the
//! limits on what a peer may send, and where the numbers can be changed.

use std::fmt;
use std::time::Duration;

use echo::{CLOSE_TIMEOUT, SHUTDOWN_TIMEOUT};
use handshake::Limits;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

// ANCHOR: defaults
/// How often every page gets a phrase: 1 s, as in the demo we rebuild.
pub const PUSH_INTERVAL: Duration = Duration::from_secs(1);

/// How often we ping each peer: every 10 s. Well under the idle timeouts
/// met on the way (nginx's `proxy_read_timeout` and the idle timeout of
/// AWS's Application Load Balancer default to 60 s), so the path never looks idle even if the feed goes
/// quiet; and often enough to notice a dead peer within half a minute.
pub const PING_INTERVAL: Duration = Duration::from_secs(10);

/// How long a peer may stay silent before we drop it: 25 s. A live peer
/// answers each ping within a round trip, so it is never silent for much
/// more than [`PING_INTERVAL`]; 25 s allows two pings to go unanswered (a
/// lost packet, a slow phone waking up) plus five seconds, and then we stop
/// pretending.
pub const PONG_TIMEOUT: Duration = Duration::from_secs(25);

/// The largest message a peer may send us: 4 KiB. The feed is one-way;
/// nothing a page has to say to it needs more, and a bigger message gets
/// Close 1009 (message too big) without being buffered.
pub const MAX_MESSAGE_SIZE: usize = 4 * 1024;

/// tokio-tungstenite's read buffer per connection: 4 KiB instead of its
/// 128 KiB default, which it allocates up front. Our peers send almost
/// nothing, so 128 KiB per idle page would be memory spent on silence.
pub const READ_BUFFER_SIZE: usize = 4 * 1024;
// ANCHOR_END: defaults

/// The environment variables [`Config::from_env`] reads, each a number of
/// seconds (`2`, `0.5`): the ping interval and the pong timeout.
///
/// The push interval has no variable: the page counts on a message every
/// second or so, and treats fifteen seconds of silence as a dead
/// connection.
pub const ENV_VARS: [&str; 2] = ["PUSH_PING_INTERVAL", "PUSH_PONG_TIMEOUT"];

/// Everything the server can be tuned with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// See [`PUSH_INTERVAL`].
    pub push_interval: Duration,
    /// See [`PING_INTERVAL`].
    pub ping_interval: Duration,
    /// See [`PONG_TIMEOUT`]. Must be longer than `ping_interval`, or a
    /// healthy peer that only ever answers pings would be dropped.
    pub pong_timeout: Duration,
    /// See [`MAX_MESSAGE_SIZE`]; it bounds a single frame as well.
    pub max_message_size: usize,
    /// The limits of lesson 1's head reader (size, time).
    pub handshake: Limits,
    /// How long our Close may wait for the peer's answer (lesson 3's
    /// [`CLOSE_TIMEOUT`]).
    pub close_timeout: Duration,
    /// How long a shutdown waits for every connection to say goodbye before
    /// aborting the rest (lesson 3's [`SHUTDOWN_TIMEOUT`]). Keep it above
    /// `close_timeout`.
    pub shutdown_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            push_interval: PUSH_INTERVAL,
            ping_interval: PING_INTERVAL,
            pong_timeout: PONG_TIMEOUT,
            max_message_size: MAX_MESSAGE_SIZE,
            handshake: Limits::default(),
            close_timeout: CLOSE_TIMEOUT,
            shutdown_timeout: SHUTDOWN_TIMEOUT,
        }
    }
}

/// A setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The variable does not hold a number of seconds above zero.
    NotADuration {
        /// The variable's name.
        var: &'static str,
        /// What it holds.
        value: String,
    },
    /// The pong timeout is not longer than the ping interval.
    PongTimeoutTooShort {
        /// The ping interval.
        ping_interval: Duration,
        /// The pong timeout.
        pong_timeout: Duration,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NotADuration { var, value } => write!(
                f,
                "{var}={value:?}: expected a number of seconds above zero, e.g. {var}=2.5"
            ),
            ConfigError::PongTimeoutTooShort {
                ping_interval,
                pong_timeout,
            } => write!(
                f,
                "the pong timeout ({pong_timeout:?}) must be longer than the ping interval \
                 ({ping_interval:?}), or every peer is dropped before its next pong"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// The defaults, with any of [`ENV_VARS`] that are set applied:
    /// `PUSH_PING_INTERVAL=2 PUSH_PONG_TIMEOUT=5 cargo run -p push`.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_vars(|name| std::env::var(name).ok())
    }

    /// [`Config::from_env`] with the variables looked up by `var`, so a test
    /// can hand in its own.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        let [ping, pong] = ENV_VARS;
        for (name, field) in [
            (ping, &mut config.ping_interval),
            (pong, &mut config.pong_timeout),
        ] {
            if let Some(value) = var(name) {
                *field =
                    parse_seconds(&value).ok_or(ConfigError::NotADuration { var: name, value })?;
            }
        }
        config.check()?;
        Ok(config)
    }

    /// Checks the settings against each other.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.pong_timeout <= self.ping_interval {
            return Err(ConfigError::PongTimeoutTooShort {
                ping_interval: self.ping_interval,
                pong_timeout: self.pong_timeout,
            });
        }
        Ok(())
    }

    /// tokio-tungstenite's settings for each connection.
    pub fn websocket(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER_SIZE)
            // Both limits: a frame's length is checked from its header,
            // before any of its payload is buffered; fragments add up to a
            // message, checked as they arrive.
            .max_frame_size(Some(self.max_message_size))
            .max_message_size(Some(self.max_message_size))
    }
}

/// `"2"`, `"0.5"` → a duration; `None` for anything else, zero, or more
/// than a day (a typo, surely).
fn parse_seconds(value: &str) -> Option<Duration> {
    let seconds: f64 = value.trim().parse().ok()?;
    let duration = Duration::try_from_secs_f64(seconds).ok()?;
    (!duration.is_zero() && duration <= Duration::from_secs(24 * 60 * 60)).then_some(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn defaults_are_consistent() {
        assert_eq!(from(&[]), Ok(Config::default()));
        assert!(CLOSE_TIMEOUT < SHUTDOWN_TIMEOUT);
    }

    #[test]
    fn variables_set_the_timings() {
        let config = from(&[("PUSH_PING_INTERVAL", "0.5"), ("PUSH_PONG_TIMEOUT", " 5 ")]).unwrap();
        assert_eq!(config.ping_interval, Duration::from_millis(500));
        assert_eq!(config.pong_timeout, Duration::from_secs(5));
    }

    #[test]
    fn nonsense_is_refused_not_ignored() {
        for bad in ["", "ten", "0", "-1", "NaN", "inf", "90000"] {
            assert_eq!(
                from(&[("PUSH_PING_INTERVAL", bad)]),
                Err(ConfigError::NotADuration {
                    var: "PUSH_PING_INTERVAL",
                    value: bad.into()
                }),
                "{bad:?}"
            );
        }
        assert!(matches!(
            from(&[("PUSH_PONG_TIMEOUT", "10")]),
            Err(ConfigError::PongTimeoutTooShort { .. })
        ));
    }
}
