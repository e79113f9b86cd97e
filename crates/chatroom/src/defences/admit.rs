//! Admission: the limits a connection meets the moment it is accepted,
//! before a byte of its request is read.
//!
//! The [`gate`](crate::gate) counts WebSockets, but a connection is not a
//! WebSocket yet while it is still speaking HTTP: loading the page,
//! fetching a ticket, or sending its upgrade request one byte at a time.
//! hyper drops a head that takes longer than 10 s, yet nothing bounds how
//! many such connections are open at once, nor how many of them (or of the
//! WebSockets) come from one address. Two limits do:
//!
//! - [`MAX_HTTP_CONNECTIONS`]: connections that have not upgraded (yet).
//!   The next one is answered 503 with `Retry-After` and closed.
//! - [`MAX_PER_IP`]: connections from one address, in any phase. The next
//!   one is answered 429 with `Retry-After` and closed. IPv6 addresses are
//!   counted by their /64 prefix, because one host holds a whole /64.
//!
//! Both are taken when the connection is accepted and given back when it
//! ends: the HTTP permit when hyper lets go of the socket (a response
//! sent and the connection closed, or the 101 sent), the per-address count
//! when the socket closes for good, WebSocket included.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, timeout_at};

// ANCHOR: limits
/// How many connections may be in the HTTP phase at once (not upgraded,
/// or never going to be): 512. Each lasts at most the head timeout between
/// requests, so a slow client costs a permit for 10 s, not forever.
pub const MAX_HTTP_CONNECTIONS: usize = 512;

/// How many connections one address may hold at once, WebSockets and HTTP
/// together: 100. Enough for a household or an office behind one NAT,
/// few enough that one machine cannot take the room's 1,000 slots.
pub const MAX_PER_IP: usize = 100;

/// How long a turned-away connection is given to read our answer before
/// it is dropped: 1 s.
pub const TURN_AWAY_TIMEOUT: Duration = Duration::from_secs(1);
// ANCHOR_END: limits

/// Why a connection was turned away at the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turned {
    /// As many connections are in the HTTP phase as allowed: 503.
    Busy {
        /// The limit.
        max: usize,
    },
    /// This address holds as many connections as one may: 429.
    TooManyFromYou {
        /// The limit.
        max: usize,
    },
}

impl Turned {
    /// The HTTP status this refusal earns.
    pub fn status(self) -> u16 {
        match self {
            Turned::Busy { .. } => 503,
            // RFC 6585 §4: "the user has sent too many requests".
            Turned::TooManyFromYou { .. } => 429,
        }
    }

    /// The whole response, as lesson 1 writes it.
    pub fn response(self) -> Vec<u8> {
        handshake::http_response(
            self.status(),
            &[("Retry-After", "10")],
            "text/plain; charset=utf-8",
            format!("{self}: try again in a little while\n").as_bytes(),
        )
    }
}

impl fmt::Display for Turned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Turned::Busy { max } => write!(f, "the server is busy ({max} connections opening)"),
            Turned::TooManyFromYou { max } => {
                write!(f, "too many connections from your address (at most {max})")
            }
        }
    }
}

/// The key an address is counted under: IPv4 as it is, IPv6 by its /64
/// (an IPv4 address mapped into IPv6 counts as the IPv4 address).
pub(crate) fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

type Counts = Arc<Mutex<HashMap<IpAddr, usize>>>;

// ANCHOR: admission
/// Both limits, shared by every connection of a server.
#[derive(Debug, Clone)]
pub struct Admission {
    http: Arc<Semaphore>,
    max_http: usize,
    per_ip: Counts,
    max_per_ip: usize,
    /// Proxies whose connections carry many clients (see [`Admission::admit`]).
    trusted: Arc<[IpAddr]>,
}

/// A connection's place, taken at the door.
#[derive(Debug)]
pub struct Admitted {
    /// Given back when the HTTP phase ends.
    pub http: OwnedSemaphorePermit,
    /// Given back when the last holder drops it: the HTTP connection, then
    /// the WebSocket if it upgrades. `None` for a connection from a trusted
    /// proxy, which carries many clients: the gate counts each WebSocket
    /// against the address the proxy forwards instead.
    pub ip: Option<Arc<IpCount>>,
}

/// One connection counted against its address.
#[derive(Debug)]
pub struct IpCount {
    key: IpAddr,
    counts: Counts,
}

impl Drop for IpCount {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&self.key) {
            *n -= 1;
            // Forget an address with nothing open, so the map holds only
            // addresses that are connected now.
            if *n == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

impl Admission {
    /// At most `max_http` connections in the HTTP phase, and `max_per_ip`
    /// from one address.
    pub fn new(max_http: usize, max_per_ip: usize) -> Admission {
        Admission {
            http: Arc::new(Semaphore::new(max_http)),
            max_http,
            per_ip: Counts::default(),
            max_per_ip,
            trusted: Arc::from([]),
        }
    }

    /// The same limits, with connections from these proxies counted by the
    /// client address each forwards, not by the proxy's own (see
    /// [`Admission::admit`]).
    pub fn trusting(self, proxies: Vec<IpAddr>) -> Admission {
        Admission {
            trusted: Arc::from(proxies),
            ..self
        }
    }

    /// Whether `ip` is a proxy we trust to say who its clients are.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.contains(&ip)
    }

    /// Takes a place for a connection from `ip`, or says why not. A
    /// connection from a trusted proxy carries many clients: it takes only
    /// its HTTP place, and the gate counts its WebSocket against the client
    /// address the proxy forwards.
    pub fn admit(&self, ip: IpAddr) -> Result<Admitted, Turned> {
        if self.trusts(ip) {
            return self.admit_proxy();
        }
        let ip = self.count(ip)?;
        // If this fails, `ip` is dropped and the count given back.
        let http = Arc::clone(&self.http)
            .try_acquire_owned()
            .map_err(|_| Turned::Busy { max: self.max_http })?;
        Ok(Admitted { http, ip: Some(ip) })
    }

    /// Takes a place for a connection from a trusted proxy: the HTTP limit
    /// only.
    fn admit_proxy(&self) -> Result<Admitted, Turned> {
        let http = Arc::clone(&self.http)
            .try_acquire_owned()
            .map_err(|_| Turned::Busy { max: self.max_http })?;
        Ok(Admitted { http, ip: None })
    }

    /// Counts one more connection against `ip`, or says it holds as many
    /// as one address may.
    pub fn count(&self, ip: IpAddr) -> Result<Arc<IpCount>, Turned> {
        let key = ip_key(ip);
        let ip = {
            // Checked and counted in one step under the lock: a hundred
            // connections arriving together cannot all see "one left".
            let mut counts = self.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
            let n = counts.entry(key).or_insert(0);
            if *n >= self.max_per_ip {
                return Err(Turned::TooManyFromYou {
                    max: self.max_per_ip,
                });
            }
            *n += 1;
            Arc::new(IpCount {
                key,
                counts: Arc::clone(&self.per_ip),
            })
        };
        Ok(ip)
    }

    /// How many connections `ip` holds now (an IPv6 address counted by its /64).
    pub fn from_ip(&self, ip: IpAddr) -> usize {
        let counts = self.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
        counts.get(&ip_key(ip)).copied().unwrap_or(0)
    }

    /// How many connections are in the HTTP phase now.
    pub fn http_connections(&self) -> usize {
        self.max_http - self.http.available_permits()
    }
}
// ANCHOR_END: admission

// ANCHOR: turn_away
/// Answers a connection we will not serve, without reading its request,
/// and closes it. The request is read afterwards and thrown away: closing a
/// socket with unread bytes makes the kernel send a reset, which can
/// destroy our answer before the client reads it. All of it within
/// [`TURN_AWAY_TIMEOUT`].
pub async fn turn_away(mut stream: TcpStream, why: Turned) {
    let deadline = Instant::now() + TURN_AWAY_TIMEOUT;
    let answered = async {
        stream.write_all(&why.response()).await?;
        stream.shutdown().await?;
        // Until the client closes its side, at most 64 KiB.
        let mut sink = [0u8; 4096];
        let mut left = 64 * 1024usize;
        while left > 0 {
            let n = stream.read(&mut sink).await?;
            if n == 0 {
                break;
            }
            left = left.saturating_sub(n);
        }
        Ok::<_, std::io::Error>(())
    };
    let _ = timeout_at(deadline, answered).await;
}
// ANCHOR_END: turn_away

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn v4(d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, d))
    }

    #[test]
    fn one_address_is_capped_and_its_count_comes_back() {
        let admission = Admission::new(10, 2);
        let a = admission.admit(v4(1)).unwrap();
        let b = admission.admit(v4(1)).unwrap();
        assert_eq!(
            admission.admit(v4(1)).unwrap_err(),
            Turned::TooManyFromYou { max: 2 }
        );
        // Another address is not affected.
        let c = admission.admit(v4(2)).unwrap();
        assert_eq!(admission.from_ip(v4(1)), 2);
        // The HTTP phase ends (upgrade) but the WebSocket still holds the
        // address's count.
        let Admitted { http, ip } = a;
        drop(http);
        assert_eq!(admission.http_connections(), 2);
        assert!(admission.admit(v4(1)).is_err());
        drop(ip);
        assert_eq!(admission.from_ip(v4(1)), 1);
        let d = admission.admit(v4(1)).unwrap();
        drop((b, c, d));
        assert_eq!(admission.from_ip(v4(1)), 0);
        assert_eq!(admission.http_connections(), 0);
        assert!(admission.per_ip.lock().unwrap().is_empty());
    }

    #[test]
    fn the_http_phase_is_capped_and_a_refusal_gives_the_count_back() {
        let admission = Admission::new(2, 10);
        let a = admission.admit(v4(1)).unwrap();
        let _b = admission.admit(v4(2)).unwrap();
        assert_eq!(admission.admit(v4(3)).unwrap_err(), Turned::Busy { max: 2 });
        assert_eq!(
            admission.from_ip(v4(3)),
            0,
            "a refused connection is not counted"
        );
        drop(a);
        assert!(admission.admit(v4(3)).is_ok());
    }

    #[test]
    fn ipv6_is_counted_by_its_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb:cccc:dddd:eeee".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ip_key(a), ip_key(b));
        assert_ne!(ip_key(a), ip_key(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(ip_key(mapped), v4(7));
        let admission = Admission::new(10, 1);
        let _held = admission.admit(a).unwrap();
        assert!(admission.admit(b).is_err());
        assert!(admission.admit(other).is_ok());
    }

    #[test]
    fn refusals_say_what_and_when_to_retry() {
        let busy = String::from_utf8(Turned::Busy { max: 5 }.response()).unwrap();
        assert!(busy.starts_with("HTTP/1.1 503 "), "{busy}");
        assert!(busy.contains("Retry-After: 10\r\n"), "{busy}");
        let mine = String::from_utf8(Turned::TooManyFromYou { max: 5 }.response()).unwrap();
        assert!(mine.starts_with("HTTP/1.1 429 "), "{mine}");
        assert!(mine.contains("at most 5"), "{mine}");
    }
}
