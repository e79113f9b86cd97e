//! A `ws://` URL, taken apart for the client handshake (RFC 6455 §3): where
//! to connect, what to send as `Host`, and the request target.

use std::fmt;

/// A parsed `ws://HOST[:PORT][/PATH][?QUERY]` (port 80 when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    /// The host as written: a name, an IPv4 address, or an IPv6 address
    /// without its brackets.
    pub host: String,
    /// The port, 80 when the URL gives none.
    pub port: u16,
    /// The authority as written (`127.0.0.1:9003`): the `Host` header.
    pub authority: String,
    /// The request target: path and query, at least `/`.
    pub path: String,
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    /// The scheme is not `ws://`.
    NotWs {
        /// The URL as given.
        url: String,
    },
    /// `wss://`: these lessons speak plain TCP; TLS is not theirs.
    Tls,
    /// No host, user info, a fragment, or a port that is not 1-65535.
    Malformed {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::NotWs { url } => write!(
                f,
                "{url}: only ws:// URLs are supported (e.g. ws://127.0.0.1:9003/ws)"
            ),
            UrlError::Tls => write!(f, "wss:// (TLS) is not supported: use a ws:// URL"),
            UrlError::Malformed { url, why } => write!(f, "{url}: {why}"),
        }
    }
}

impl std::error::Error for UrlError {}

impl WsUrl {
    /// Parses a `ws://` URL.
    ///
    /// # Errors
    ///
    /// [`UrlError`] for another scheme, `wss://`, or a malformed URL.
    pub fn parse(url: &str) -> Result<WsUrl, UrlError> {
        let malformed = |why| UrlError::Malformed {
            url: url.to_owned(),
            why,
        };
        let not_ws = || UrlError::NotWs {
            url: url.to_owned(),
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(not_ws)?;
        if scheme.eq_ignore_ascii_case("wss") {
            return Err(UrlError::Tls);
        }
        if !scheme.eq_ignore_ascii_case("ws") {
            return Err(not_ws());
        }
        // RFC 6455 §3: "Fragment identifiers are meaningless in the context
        // of WebSocket URIs and MUST NOT be used on these URIs."
        if rest.contains('#') {
            return Err(malformed("a ws:// URL has no fragment (#...)"));
        }
        // The authority ends at the first '/' or '?'.
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        let path = match path {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        if authority.is_empty() {
            return Err(malformed("no host"));
        }
        if authority.contains('@') {
            return Err(malformed("user info (user@host) is not supported"));
        }
        let (host, port) = split_host_port(authority)
            .ok_or_else(|| malformed("bad host or port (a port is 1-65535)"))?;
        Ok(WsUrl {
            host: host.to_owned(),
            port,
            authority: authority.to_owned(),
            path,
        })
    }
}

/// `host:port`, `[v6]:port`, or either without a port (80).
fn split_host_port(authority: &str) -> Option<(&str, u16)> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => 80,
        Some(p) => p.parse().ok().filter(|&p| p != 0)?,
    };
    (!host.is_empty()).then_some((host, port))
}

/// The URL again, e.g. `ws://127.0.0.1:9003/ws`.
impl fmt::Display for WsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ws://{}{}", self.authority, self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_taken_apart() {
        let u = WsUrl::parse("ws://127.0.0.1:9003/ws").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 9003));
        assert_eq!(
            (u.authority.as_str(), u.path.as_str()),
            ("127.0.0.1:9003", "/ws")
        );
        assert_eq!(u.to_string(), "ws://127.0.0.1:9003/ws");
        let u = WsUrl::parse("WS://localhost").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("localhost", 80, "/")
        );
        let u = WsUrl::parse("ws://[::1]:9100?x=1").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9100));
        assert_eq!(
            (u.authority.as_str(), u.path.as_str()),
            ("[::1]:9100", "/?x=1")
        );
        let u = WsUrl::parse("ws://127.0.0.1:9001/runCase?case=3&agent=echo-client").unwrap();
        assert_eq!(u.path, "/runCase?case=3&agent=echo-client");
    }

    #[test]
    fn mistakes() {
        assert_eq!(WsUrl::parse("wss://127.0.0.1/"), Err(UrlError::Tls));
        for url in ["http://127.0.0.1/", "127.0.0.1:9003/ws"] {
            assert!(
                matches!(WsUrl::parse(url), Err(UrlError::NotWs { .. })),
                "{url}"
            );
        }
        for url in [
            "ws:///ws",
            "ws://:80/",
            "ws://127.0.0.1:0/",
            "ws://127.0.0.1:65536/",
            "ws://127.0.0.1:x/",
            "ws://u@127.0.0.1/",
            "ws://127.0.0.1/#top",
            "ws://[::1/",
        ] {
            assert!(
                matches!(WsUrl::parse(url), Err(UrlError::Malformed { .. })),
                "{url}: {:?}",
                WsUrl::parse(url)
            );
        }
    }
}
