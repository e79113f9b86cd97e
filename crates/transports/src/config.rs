//! What the server can be tuned with, and the command line that tunes it.

use std::time::Duration;

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

/// What the command line asked for: `transports [HOST:PORT] [--rate R]
/// [--long-poll-timeout S] [--log-capacity N] [--allow-origin ORIGIN]...`.
#[derive(Debug, Clone, PartialEq, clap::Parser)]
#[command(
    name = "transports",
    about = "Lesson 6: one ticker over short polling, long polling, SSE and WebSocket."
)]
pub struct Args {
    /// Where to listen, HOST:PORT.
    #[arg(value_name = "HOST:PORT", default_value = DEFAULT_ADDR)]
    pub addr: String,
    /// Publish R price updates a second (0: none).
    #[arg(long, value_name = "R", default_value_t = 2.0, value_parser = rate)]
    pub rate: f64,
    /// Answer a long poll with 204 after S seconds of quiet.
    #[arg(long, value_name = "S", default_value_t = LONG_POLL_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    pub long_poll_timeout: u64,
    /// Keep the last N events for clients that fall behind.
    #[arg(long, value_name = "N", default_value_t = LOG_CAPACITY, value_parser = support::above_zero)]
    pub log_capacity: usize,
    /// Also accept WebSockets from pages of this origin, e.g.
    /// http://localhost:8000.
    #[arg(long = "allow-origin", value_name = "ORIGIN", value_parser = chatroom::parse_origin)]
    pub allowed_origins: Vec<String>,
}

impl Args {
    /// The server's settings: the defaults, with what the command line
    /// changed.
    pub fn config(&self) -> Config {
        let mut config = Config {
            tick_interval: (self.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / self.rate)),
            long_poll_timeout: Duration::from_secs(self.long_poll_timeout),
            log_capacity: self.log_capacity,
            ..Config::default()
        };
        config.limits.allowed_origins = self.allowed_origins.clone();
        config
    }
}

fn rate(r: &str) -> Result<f64, String> {
    match r.parse::<f64>() {
        Ok(r) if r.is_finite() && (0.0..=10_000.0).contains(&r) => Ok(r),
        _ => Err("expected events a second, 0 to 10000".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("transports").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_flags_and_mistakes() {
        let args = parse(&[]).unwrap();
        assert_eq!(
            (args.addr.as_str(), args.config()),
            (DEFAULT_ADDR, Config::default())
        );
        let args = parse(&["--rate", "20", "0.0.0.0:9106", "--long-poll-timeout", "5"]).unwrap();
        assert_eq!(args.addr, "0.0.0.0:9106");
        assert_eq!(args.config().tick_interval, Some(Duration::from_millis(50)));
        assert_eq!(args.config().long_poll_timeout, Duration::from_secs(5));
        assert_eq!(
            parse(&["--rate", "0"]).unwrap().config().tick_interval,
            None
        );
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
