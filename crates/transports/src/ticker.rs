//! The feed: a made-up stock market, a few symbols on a random walk, one
//! price update per tick into the [`Log`].

use std::convert::Infallible;
use std::time::Duration;

use rand::Rng;
use tokio::time::{Instant, MissedTickBehavior, interval_at};

use crate::log::{Log, Quote};

/// The symbols of our market and their opening prices, in cents.
pub const SYMBOLS: &[(&str, u64)] = &[
    ("RUST", 12_000),
    ("TOKIO", 4_200),
    ("WARP", 1_550),
    ("HYPER", 8_800),
    ("SERDE", 3_100),
];

/// A random walk over [`SYMBOLS`]: each step picks a symbol and moves its
/// price up or down by up to 1 %, never below one cent.
#[derive(Debug, Clone)]
pub struct Market {
    prices: Vec<(&'static str, u64)>,
}

impl Market {
    /// The market at its opening prices.
    pub fn new() -> Market {
        Market {
            prices: SYMBOLS.to_vec(),
        }
    }

    /// The next price update.
    pub fn step(&mut self, rng: &mut impl Rng) -> Quote {
        let i = rng.random_range(0..self.prices.len());
        let (symbol, price) = &mut self.prices[i];
        let most = (*price / 100).max(1);
        let delta = rng.random_range(0..=2 * most);
        // Up by `delta - most`, in [-most, +most], floored at one cent.
        let new = (*price + delta).saturating_sub(most).max(1);
        let change =
            i64::try_from(new).unwrap_or(i64::MAX) - i64::try_from(*price).unwrap_or(i64::MAX);
        *price = new;
        Quote {
            symbol: (*symbol).to_owned(),
            price_cents: new,
            change_cents: change,
        }
    }
}

impl Default for Market {
    fn default() -> Market {
        Market::new()
    }
}

// ANCHOR: publish
/// The feed's one producer: every `every`, the market's next quote into
/// `log`. It never returns; the server drops it when it stops.
pub async fn publish(log: &Log, every: Duration) -> Infallible {
    let mut market = Market::new();
    let mut ticks = interval_at(Instant::now() + every, every);
    // After a stall (a suspended laptop) we skip what we missed instead of
    // publishing a burst of stale prices.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        // A thread-local generator, used and let go before the next await.
        let quote = market.step(&mut rand::rng());
        log.append(quote, support::unix_millis());
    }
}
// ANCHOR_END: publish

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walk_moves_by_at_most_one_percent() {
        let mut market = Market::new();
        let mut rng = rand::rng();
        let mut last: std::collections::HashMap<String, u64> =
            SYMBOLS.iter().map(|&(s, p)| (s.to_owned(), p)).collect();
        for _ in 0..10_000 {
            let quote = market.step(&mut rng);
            let before = last[&quote.symbol];
            assert!(quote.price_cents >= 1);
            assert_eq!(
                i64::try_from(quote.price_cents).unwrap() - i64::try_from(before).unwrap(),
                quote.change_cents
            );
            assert!(quote.change_cents.unsigned_abs() <= (before / 100).max(1));
            last.insert(quote.symbol, quote.price_cents);
        }
    }
}
