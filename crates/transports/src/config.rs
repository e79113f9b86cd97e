//! What the server can be tuned with, and the command line that tunes it.

use std::time::Duration;

use handshake::{Arguments, UsageError};

use crate::log::{LOG_CAPACITY, MAX_BATCH};

/// Where `cargo run -p transports` listens unless told otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:9006";

// ANCHOR: timings
/// How often the feed publishes by default: twice a second, slow enough to
/// watch, fast enough that short polling visibly lags.
pub const TICK_INTERVAL: Duration = Duration::from_millis(500);

/// How long a long poll waits for news before answering 204: 25 s, under
/// the 30 s or more that proxies and load balancers commonly allow an idle
/// request (nginx's `proxy_read_timeout` is 60 s, some are 30 s).
pub const LONG_POLL_TIMEOUT: Duration = Duration::from_secs(25);

/// What an SSE stream tells the browser to wait before reconnecting
/// (`retry:`): 2 s.
pub const SSE_RETRY: Duration = Duration::from_secs(2);

/// How long an SSE stream may stay silent before we send a comment line:
/// 15 s, so that no proxy on the way mistakes a quiet feed for a dead one.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
// ANCHOR_END: timings

/// Everything the server can be tuned with.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// How often the feed publishes; `None`: it does not (the tests publish
    /// themselves, through [`crate::Server::log`]).
    pub tick_interval: Option<Duration>,
    /// How many events the log keeps ([`LOG_CAPACITY`]).
    pub log_capacity: usize,
    /// The most events one answer or one write carries ([`MAX_BATCH`]).
    pub max_batch: usize,
    /// See [`LONG_POLL_TIMEOUT`].
    pub long_poll_timeout: Duration,
    /// See [`SSE_RETRY`].
    pub sse_retry: Duration,
    /// See [`KEEP_ALIVE`].
    pub keep_alive: Duration,
    /// Lesson 5's settings for what this lesson takes from it: the upgrade
    /// gate (allowed origins, the connection cap), hyper's head limits, the
    /// heartbeat, the write timeout (for SSE streams too), and the
    /// shutdown timeout. Its chat-only fields are unused.
    pub limits: chatroom::Config,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tick_interval: Some(TICK_INTERVAL),
            log_capacity: LOG_CAPACITY,
            max_batch: MAX_BATCH,
            long_poll_timeout: LONG_POLL_TIMEOUT,
            sse_retry: SSE_RETRY,
            keep_alive: KEEP_ALIVE,
            limits: chatroom::Config::default(),
        }
    }
}

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    /// `HOST:PORT` to listen on.
    pub addr: String,
    /// The server's settings.
    pub config: Config,
}

/// How to call the program.
pub const USAGE: &str = "usage: transports [HOST:PORT] [--rate R] [--long-poll-timeout S] \
[--log-capacity N] [--allow-origin ORIGIN]...

  HOST:PORT              where to listen (default 127.0.0.1:9006)
  --rate R               publish R price updates a second (default 2; 0: none)
  --long-poll-timeout S  answer a long poll with 204 after S seconds of quiet (default 25)
  --log-capacity N       keep the last N events for clients that fall behind (default 1024)
  --allow-origin O       also accept WebSockets from pages of origin O";

impl Args {
    /// Reads the arguments after the program's name (with lesson 1's
    /// [`Arguments`]).
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, UsageError> {
        let mut config = Config::default();
        let mut args = Arguments::new(args);
        while let Some(flag) = args.next_flag()? {
            match flag.as_str() {
                "--rate" => {
                    let rate: f64 =
                        args.number(&flag, "events a second, 0 to 10000", |r: &f64| {
                            r.is_finite() && (0.0..=10_000.0).contains(r)
                        })?;
                    config.tick_interval =
                        (rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate));
                }
                "--long-poll-timeout" => {
                    let secs = args.number(&flag, "seconds above 0", |&s| s > 0)?;
                    config.long_poll_timeout = Duration::from_secs(secs);
                }
                "--log-capacity" => {
                    config.log_capacity = args.number(&flag, "a number above 0", |&n| n > 0)?;
                }
                "--allow-origin" => {
                    let origin = chatroom::origin_arg(args.value(&flag)?)?;
                    config.limits.allowed_origins.push(origin);
                }
                _ => return Err(args.unknown(&flag)),
            }
        }
        Ok(Args {
            addr: args.addr_or(DEFAULT_ADDR),
            config,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, UsageError> {
        Args::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_flags_and_mistakes() {
        let args = parse(&[]).unwrap();
        assert_eq!(
            (args.addr.as_str(), args.config),
            (DEFAULT_ADDR, Config::default())
        );
        let args = parse(&["--rate", "20", "0.0.0.0:9106", "--long-poll-timeout", "5"]).unwrap();
        assert_eq!(args.addr, "0.0.0.0:9106");
        assert_eq!(args.config.tick_interval, Some(Duration::from_millis(50)));
        assert_eq!(args.config.long_poll_timeout, Duration::from_secs(5));
        assert_eq!(parse(&["--rate", "0"]).unwrap().config.tick_interval, None);
        for bad in [
            &["--rate"][..],
            &["--rate", "-1"],
            &["--rate", "NaN"],
            &["--long-poll-timeout", "0"],
            &["--log-capacity", "many"],
            &["--allow-origin", "localhost:8000"],
            &["--verbose"],
            &["a:1", "b:2"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
