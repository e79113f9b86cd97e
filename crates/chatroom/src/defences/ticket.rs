//! Authentication on upgrade, the way a browser allows it: a short-lived,
//! one-time ticket fetched over HTTP and passed in the WebSocket's URL.
//!
//! A page cannot set headers on a WebSocket handshake (the browser API
//! takes a URL and nothing else), so `Authorization: Bearer …` is out. What
//! a page *can* do is ask an ordinary HTTP endpoint for a ticket (the place
//! where a real service checks its session cookie), then open
//! `/ws?ticket=…`. The ticket is random, good for one upgrade, and only for
//! [`TICKET_TTL`]: a URL that ends up in a proxy's log is worthless by the
//! time anybody reads it.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

// ANCHOR: ttl
/// How long a ticket is good for: 30 s, ample for a page to open its
/// WebSocket right after fetching it.
pub const TICKET_TTL: Duration = Duration::from_secs(30);

/// How many tickets may be outstanding at once: 10,000. Tickets cost
/// memory until used or expired; past this, issuing one gets 503.
pub const MAX_TICKETS: usize = 10_000;
// ANCHOR_END: ttl

/// Why an upgrade's ticket was refused: each earns 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketError {
    /// The URL has no `ticket`.
    Missing,
    /// Not a ticket we issued, or one already used: they are one-time.
    Unknown,
    /// Issued, but more than [`TICKET_TTL`] ago.
    Expired,
}

impl fmt::Display for TicketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TicketError::Missing => write!(
                f,
                "this room needs a ticket: POST /ticket, then /ws?ticket=…"
            ),
            TicketError::Unknown => {
                write!(f, "unknown ticket (a ticket is good for one connection)")
            }
            TicketError::Expired => write!(f, "expired ticket: fetch a new one"),
        }
    }
}

impl std::error::Error for TicketError {}

// ANCHOR: tickets
/// The tickets issued and not yet used.
#[derive(Debug)]
pub struct Tickets {
    issued: Mutex<HashMap<String, Instant>>,
    ttl: Duration,
}

impl Tickets {
    /// No tickets yet; each will be good for `ttl`.
    pub fn new(ttl: Duration) -> Tickets {
        Tickets {
            issued: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    /// A new ticket: 128 random bits in hex, unguessable. `None` when
    /// [`MAX_TICKETS`] are outstanding even after the expired ones are
    /// forgotten.
    pub fn issue(&self) -> Option<String> {
        let now = Instant::now();
        let mut issued = self.lock();
        if issued.len() >= MAX_TICKETS {
            issued.retain(|_, at| now.duration_since(*at) < self.ttl);
            if issued.len() >= MAX_TICKETS {
                return None;
            }
        }
        let ticket = format!("{:032x}", rand::random::<u128>());
        issued.insert(ticket.clone(), now);
        Some(ticket)
    }

    /// Uses up `ticket`: it is removed whatever the outcome, so it can never
    /// be tried twice.
    pub fn redeem(&self, ticket: Option<&str>) -> Result<(), TicketError> {
        let ticket = ticket.ok_or(TicketError::Missing)?;
        let issued_at = self.lock().remove(ticket).ok_or(TicketError::Unknown)?;
        if issued_at.elapsed() > self.ttl {
            return Err(TicketError::Expired);
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        // A map of strings and instants cannot be left half-changed.
        self.issued
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
// ANCHOR_END: tickets

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_time_and_short_lived() {
        let tickets = Tickets::new(TICKET_TTL);
        let ticket = tickets.issue().unwrap();
        assert_eq!(ticket.len(), 32);
        assert_eq!(tickets.redeem(Some(&ticket)), Ok(()));
        assert_eq!(tickets.redeem(Some(&ticket)), Err(TicketError::Unknown));
        assert_eq!(tickets.redeem(None), Err(TicketError::Missing));
        assert_eq!(tickets.redeem(Some("guess")), Err(TicketError::Unknown));

        let late = tickets.issue().unwrap();
        tokio::time::advance(TICKET_TTL + Duration::from_millis(1)).await;
        assert_eq!(tickets.redeem(Some(&late)), Err(TicketError::Expired));
        assert_eq!(tickets.redeem(Some(&late)), Err(TicketError::Unknown));
    }

    #[tokio::test(start_paused = true)]
    async fn outstanding_tickets_are_bounded() {
        let tickets = Tickets::new(TICKET_TTL);
        for _ in 0..MAX_TICKETS {
            tickets.issue().unwrap();
        }
        assert_eq!(tickets.issue(), None);
        tokio::time::advance(TICKET_TTL).await;
        assert!(tickets.issue().is_some(), "expired ones make room");
    }
}
