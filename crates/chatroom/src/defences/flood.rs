//! Flood control: how many messages one connection may send, and what
//! happens when it sends more.

use std::time::Duration;

use tokio::time::Instant;

// ANCHOR: rate
/// How fast one connection may send, on average: 5 messages a second.
/// Faster than anyone types; slower than a script in a loop.
pub const RATE_PER_SECOND: f64 = 5.0;

/// How many messages one connection may send at once before the rate
/// applies: 10 (a burst of quick replies, or a page re-joining after a
/// reconnect).
pub const BURST: u32 = 10;
// ANCHOR_END: rate

/// The limit of one connection: [`RATE_PER_SECOND`] and [`BURST`] unless
/// configured otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Tokens added per second.
    pub per_second: f64,
    /// The most tokens the bucket holds.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_second: RATE_PER_SECOND,
            burst: BURST,
        }
    }
}

/// What to do with one incoming message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limit: handle it.
    Pass,
    /// Over the limit for the first time: drop the message and warn the
    /// sender; the next one over the limit ends the connection.
    Warn,
    /// Over the limit again after a warning: close with 1008.
    Kick,
}

// ANCHOR: bucket
/// A token bucket, plus one warning.
///
/// The bucket holds up to `burst` tokens and gains `per_second` of them a
/// second; each message takes one. A message that finds the bucket empty
/// is dropped with a warning; a second one before the bucket has filled
/// up again ends the connection. A person who pastes in a hurry gets told;
/// a script that ignores the telling is let go.
#[derive(Debug, Clone)]
pub struct Flood {
    limit: RateLimit,
    tokens: f64,
    last: Instant,
    warned: bool,
}

impl Flood {
    /// A full bucket, as of `now`.
    pub fn new(limit: RateLimit, now: Instant) -> Flood {
        Flood {
            limit,
            tokens: f64::from(limit.burst),
            last: now,
            warned: false,
        }
    }

    /// Judges one message arriving at `now`.
    pub fn check(&mut self, now: Instant) -> Verdict {
        let burst = f64::from(self.limit.burst);
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.limit.per_second).min(burst);
        // A full bucket means the sender has been calm for a while: the
        // warning is forgotten.
        if self.tokens >= burst {
            self.warned = false;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Verdict::Pass
        } else if self.warned {
            Verdict::Kick
        } else {
            self.warned = true;
            Verdict::Warn
        }
    }
}
// ANCHOR_END: bucket

/// How long, at `limit`, until one more message passes: what the warning
/// tells the sender.
pub fn one_token(limit: RateLimit) -> Duration {
    Duration::from_secs_f64(1.0 / limit.per_second.max(f64::MIN_POSITIVE))
        .min(Duration::from_secs(3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_warning_then_kick() {
        let t0 = Instant::now();
        let mut flood = Flood::new(RateLimit::default(), t0);
        for _ in 0..BURST {
            assert_eq!(flood.check(t0), Verdict::Pass);
        }
        assert_eq!(flood.check(t0), Verdict::Warn);
        assert_eq!(flood.check(t0), Verdict::Kick);
    }

    #[test]
    fn the_rate_refills_and_calm_forgets_the_warning() {
        let t0 = Instant::now();
        let mut flood = Flood::new(RateLimit::default(), t0);
        for _ in 0..BURST {
            flood.check(t0);
        }
        assert_eq!(flood.check(t0), Verdict::Warn);
        // 200 ms at 5 a second: one token back.
        let t1 = t0 + Duration::from_millis(200);
        assert_eq!(flood.check(t1), Verdict::Pass);
        // Two seconds of calm fill the bucket: a fresh start, warning included.
        let t2 = t1 + Duration::from_secs(2);
        for _ in 0..BURST {
            assert_eq!(flood.check(t2), Verdict::Pass);
        }
        assert_eq!(flood.check(t2), Verdict::Warn);
    }

    #[test]
    fn steady_sending_at_the_rate_never_trips() {
        let t0 = Instant::now();
        let mut flood = Flood::new(RateLimit::default(), t0);
        for i in 0..1000 {
            let at = t0 + Duration::from_millis(200 * i);
            assert_eq!(flood.check(at), Verdict::Pass, "message {i}");
        }
        assert_eq!(one_token(RateLimit::default()), Duration::from_millis(200));
    }
}
