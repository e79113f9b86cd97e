//! What the server can be tuned with, and the command line that tunes it.

use std::time::Duration;

use echo::{CLOSE_TIMEOUT, SHUTDOWN_TIMEOUT};
use handshake::{HEAD_TIMEOUT, MAX_HEAD_BYTES};

use crate::defences::admit::{MAX_HTTP_CONNECTIONS, MAX_PER_IP};
use crate::defences::flood::RateLimit;
use crate::room::QUEUE_CAPACITY;

/// Where `cargo run -p chatroom` listens unless told otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:9005";

// ANCHOR: limits
/// How many WebSocket connections the server holds at once: 1,000. The
/// next one is refused with 503 and a sentence, before its upgrade.
pub const MAX_CONNECTIONS: usize = 1000;

/// The largest message a page may send: 4 KiB, a thousand characters of
/// chat in JSON with room to spare. A bigger one gets Close 1009.
pub const MAX_MESSAGE_SIZE: usize = 4 * 1024;

/// How long one write to a page may take: 10 s. A write only waits when
/// the page has stopped reading and every buffer on the way is full.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a WebSocket may stay in the room's doorway without joining:
/// 60 s, time enough for a person to choose a name. Then it is closed with
/// 4002; the page reconnects quietly and joins once a name is chosen.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(60);
// ANCHOR_END: limits

/// Everything the server can be tuned with.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Origins allowed besides the page's own (`http://` + the request's
    /// `Host`), exactly as a browser sends them: `http://localhost:8000`.
    pub allowed_origins: Vec<String>,
    /// Reverse proxies in front of us (nginx, lesson 8): a connection from
    /// one of them is counted against the client address it forwards in
    /// `X-Forwarded-For`, and its `X-Forwarded-Proto` says whether the page
    /// came over https. From anybody else those headers are ignored: they
    /// are whatever the client wrote.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Speak TLS on every connection (`--tls-cert`, `--tls-key`): pages
    /// load over `https://` and connect over `wss://`.
    pub tls: Option<crate::tls::Tls>,
    /// See [`MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// See [`MAX_HTTP_CONNECTIONS`].
    pub max_http_connections: usize,
    /// See [`MAX_PER_IP`].
    pub max_per_ip: usize,
    /// See [`JOIN_TIMEOUT`].
    pub join_timeout: Duration,
    /// Refuse an upgrade (401) without a ticket from `POST /ticket`
    /// (`--require-ticket`; see [`crate::Tickets`]).
    pub require_ticket: bool,
    /// See [`MAX_MESSAGE_SIZE`]; it bounds a single frame as well.
    pub max_message_size: usize,
    /// Each connection's flood limit.
    pub rate: RateLimit,
    /// Each member's queue, in events ([`QUEUE_CAPACITY`]).
    pub queue_capacity: usize,
    /// How often we ping each page (lesson 4's [`push::PING_INTERVAL`]).
    pub ping_interval: Duration,
    /// How long a page may stay silent, pongs included, before we drop
    /// it (lesson 4's [`push::PONG_TIMEOUT`]).
    pub pong_timeout: Duration,
    /// See [`WRITE_TIMEOUT`].
    pub write_timeout: Duration,
    /// The largest request head, start line included: lesson 1's
    /// [`MAX_HEAD_BYTES`] (8 KiB); over it, 431.
    pub max_head_bytes: usize,
    /// How long a request head may take to arrive: lesson 1's
    /// [`HEAD_TIMEOUT`] (10 s); after it, the connection is dropped.
    pub head_timeout: Duration,
    /// How long our Close waits for the page's answer (lesson 3's
    /// [`CLOSE_TIMEOUT`]).
    pub close_timeout: Duration,
    /// How long a shutdown waits for every connection to say goodbye
    /// (lesson 3's [`SHUTDOWN_TIMEOUT`]).
    pub shutdown_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            tls: None,
            max_connections: MAX_CONNECTIONS,
            max_http_connections: MAX_HTTP_CONNECTIONS,
            max_per_ip: MAX_PER_IP,
            join_timeout: JOIN_TIMEOUT,
            require_ticket: false,
            max_message_size: MAX_MESSAGE_SIZE,
            rate: RateLimit::default(),
            queue_capacity: QUEUE_CAPACITY,
            ping_interval: push::PING_INTERVAL,
            pong_timeout: push::PONG_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
            max_head_bytes: MAX_HEAD_BYTES,
            head_timeout: HEAD_TIMEOUT,
            close_timeout: CLOSE_TIMEOUT,
            shutdown_timeout: SHUTDOWN_TIMEOUT,
        }
    }
}

/// What the command line asked for: `chatroom [HOST:PORT] [--allow-origin
/// ORIGIN]... [--max-connections N] [--max-per-ip N] [--require-ticket]`.
#[derive(Debug, Clone, PartialEq, clap::Parser)]
#[command(
    name = "chatroom",
    about = "Lesson 5: a chat room on warp: nicknames, history, who is online, limits."
)]
pub struct Args {
    /// Where to listen, HOST:PORT.
    #[arg(value_name = "HOST:PORT", default_value = DEFAULT_ADDR)]
    pub addr: String,
    /// Also accept pages from this origin, e.g. http://localhost:8000 (the
    /// page's own origin is always accepted).
    #[arg(long = "allow-origin", value_name = "ORIGIN", value_parser = parse_origin)]
    pub allowed_origins: Vec<String>,
    /// Hold at most N WebSocket connections.
    #[arg(long, value_name = "N", default_value_t = MAX_CONNECTIONS, value_parser = support::above_zero)]
    pub max_connections: usize,
    /// At most N connections from one address, WebSockets and HTTP together
    /// (IPv6 counted by /64).
    #[arg(long, value_name = "N", default_value_t = MAX_PER_IP, value_parser = support::above_zero)]
    pub max_per_ip: usize,
    /// Refuse an upgrade (401) without a one-time ticket from POST /ticket.
    #[arg(long)]
    pub require_ticket: bool,
    /// A reverse proxy in front of us, e.g. 127.0.0.1: its connections are
    /// counted by the client address it forwards (X-Forwarded-For).
    #[arg(long = "trusted-proxy", value_name = "IP")]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Speak TLS with this certificate chain (PEM): pages use https:// and
    /// wss://. Needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The certificate's private key (PEM). Needs --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
}

impl Args {
    /// The TLS settings the command line names, loaded; `None` without
    /// `--tls-cert`.
    ///
    /// # Errors
    ///
    /// A file cannot be read or does not hold what it should.
    pub fn tls(&self) -> Result<Option<crate::tls::Tls>, String> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => crate::tls::Tls::load(cert, key).map(Some),
            _ => Ok(None),
        }
    }

    /// The server's settings: the defaults, with what the command line
    /// changed (but TLS: see [`Args::tls`]).
    pub fn config(&self) -> Config {
        Config {
            allowed_origins: self.allowed_origins.clone(),
            max_connections: self.max_connections,
            max_per_ip: self.max_per_ip,
            require_ticket: self.require_ticket,
            trusted_proxies: self.trusted_proxies.clone(),
            ..Config::default()
        }
    }
}

/// Checks an origin given on the command line: an origin is
/// `scheme://host[:port]` with nothing after, since a trailing slash or a
/// path would never match what a browser sends.
pub fn parse_origin(origin: &str) -> Result<String, String> {
    let shape_ok = (origin.starts_with("http://") || origin.starts_with("https://"))
        && !origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.contains('/'));
    if !shape_ok {
        return Err(
            "an origin looks like http://host:port, without a path or a trailing slash".to_owned(),
        );
    }
    Ok(origin.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("chatroom").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_and_flags() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.addr, DEFAULT_ADDR);
        assert_eq!(args.config(), Config::default());
        let args = parse(&[
            "--allow-origin",
            "http://localhost:8000",
            "0.0.0.0:9105",
            "--max-connections",
            "5",
            "--require-ticket",
            "--max-per-ip",
            "7",
            "--allow-origin",
            "https://chat.example",
            "--trusted-proxy",
            "127.0.0.1",
        ])
        .unwrap();
        assert_eq!(
            args.trusted_proxies,
            ["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]
        );
        assert_eq!(args.addr, "0.0.0.0:9105");
        let config = args.config();
        assert_eq!(config.max_connections, 5);
        assert_eq!(config.max_per_ip, 7);
        assert!(config.require_ticket);
        assert_eq!(
            config.allowed_origins,
            ["http://localhost:8000", "https://chat.example"]
        );
    }

    #[test]
    fn mistakes_are_refused() {
        for bad in [
            &["--allow-origin"][..],
            &["--allow-origin", "localhost:8000"],
            &["--allow-origin", "http://localhost:8000/"],
            &["--max-connections", "0"],
            &["--max-connections", "many"],
            &["--max-per-ip", "0"],
            &["--max-per-ip"],
            &["--trusted-proxy", "nginx"],
            &["--tls-cert", "cert.pem"],
            &["--tls-key", "key.pem"],
            &["--verbose"],
            &["a:1", "b:2"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
