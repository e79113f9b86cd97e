//! The server to load: a `ws://` URL, refused unless it points at this machine.
//!
//! A load generator is a small denial-of-service tool. Pointed at someone
//! else's server it is an attack, and even a typo can send a flood across a
//! network. So we only talk to loopback addresses, and we decide that from the
//! URL itself: the only name we accept is `localhost`, and we never ask DNS,
//! whose answer could point anywhere.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use handshake::{UrlError, WsUrl};

/// Where to connect and what to put in the handshake request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The loopback address to connect to.
    pub addr: SocketAddr,
    /// The `Host` header: the URL's authority as written (`127.0.0.1:9003`).
    pub host: String,
    /// The request target: path and query, at least `/`.
    pub path: String,
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// Not a `ws://` URL, as lesson 1's [`WsUrl::parse`] reads it (`wss://`
    /// included: TLS would measure the crypto, not the WebSocket server).
    Url(UrlError),
    /// The host is not a loopback address or `localhost`.
    NotLoopback {
        /// The host as written.
        host: String,
    },
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::Url(e) => e.fmt(f),
            TargetError::NotLoopback { host } => write!(
                f,
                "refusing to load {host}: only loopback targets are allowed \
                 (127.0.0.0/8, [::1] or localhost), so that a load test never leaves this machine"
            ),
        }
    }
}

impl std::error::Error for TargetError {}

impl Target {
    /// Parses `ws://HOST[:PORT][/PATH][?QUERY]` (port 80 when absent), as
    /// lesson 1's [`handshake::WsUrl`] does.
    ///
    /// HOST must be a loopback IP literal (`127.0.0.1`, any `127.x.y.z`,
    /// `[::1]`) or `localhost`, which we take as `127.0.0.1` without a lookup
    /// (RFC 6761 §6.3: "localhost" names resolve to loopback).
    ///
    /// # Errors
    ///
    /// [`TargetError`] for anything else.
    pub fn parse(url: &str) -> Result<Target, TargetError> {
        let parsed = WsUrl::parse(url).map_err(TargetError::Url)?;
        let ip = loopback_ip(&parsed.host).ok_or_else(|| TargetError::NotLoopback {
            host: parsed.host.clone(),
        })?;
        Ok(Target {
            addr: SocketAddr::new(ip, parsed.port),
            host: parsed.authority,
            path: parsed.path,
        })
    }
}

/// The address `host` stands for, if it is on this machine.
fn loopback_ip(host: &str) -> Option<IpAddr> {
    if host.eq_ignore_ascii_case("localhost") {
        return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    // `to_canonical` turns ::ffff:127.0.0.1 into 127.0.0.1, which
    // `is_loopback` then recognises.
    let ip = host.parse::<IpAddr>().ok()?.to_canonical();
    ip.is_loopback().then_some(ip)
}

/// The URL again, e.g. `ws://127.0.0.1:9003/ws`.
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ws://{}{}", self.host, self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls() {
        let t = Target::parse("ws://127.0.0.1:9003/ws").unwrap();
        assert_eq!(t.addr, "127.0.0.1:9003".parse().unwrap());
        assert_eq!(
            (t.host.as_str(), t.path.as_str()),
            ("127.0.0.1:9003", "/ws")
        );
        assert_eq!(t.to_string(), "ws://127.0.0.1:9003/ws");

        let t = Target::parse("WS://localhost").unwrap();
        assert_eq!(t.addr, "127.0.0.1:80".parse().unwrap());
        assert_eq!(t.path, "/");

        let t = Target::parse("ws://[::1]:9100?x=1").unwrap();
        assert_eq!(t.addr, "[::1]:9100".parse().unwrap());
        assert_eq!((t.host.as_str(), t.path.as_str()), ("[::1]:9100", "/?x=1"));

        assert!(Target::parse("ws://127.8.9.10:1/").is_ok());
        assert!(Target::parse("ws://[::ffff:127.0.0.1]:1/").is_ok());
    }

    #[test]
    fn anything_off_this_machine_is_refused() {
        for url in [
            "ws://example.com/ws",
            "ws://10.0.0.1:9003/ws",
            "ws://0.0.0.0:9003/ws",
            "ws://[::]:9003/",
            "ws://[2001:db8::1]:80/",
            "ws://localhost.example.com/",
            "ws://127.0.0.1.nip.io/",
        ] {
            assert!(
                matches!(Target::parse(url), Err(TargetError::NotLoopback { .. })),
                "{url}"
            );
        }
        let message = Target::parse("ws://example.com/").unwrap_err().to_string();
        assert!(message.contains("only loopback"), "{message}");
    }

    #[test]
    fn other_mistakes_are_lesson_ones() {
        // WsUrl's own tests go through every form; here, that its refusals
        // come through as they are.
        assert_eq!(
            Target::parse("wss://127.0.0.1/"),
            Err(TargetError::Url(UrlError::Tls))
        );
    }
}
