//! Counting what went wrong, by kind, with one example of each.
//!
//! A run over 10,000 connections can fail 10,000 times the same way; printing
//! each failure would bury the one line that matters. So we count failures
//! per kind and keep the first message of each kind as its example.

use std::collections::BTreeMap;
use std::fmt;

/// Failures counted by kind (`"refused"`, `"mismatch"`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    // A BTreeMap, not a HashMap: reports list kinds in a stable order.
    kinds: BTreeMap<&'static str, Entry>,
}

/// How often one kind of failure happened, and the first time in words.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    count: u64,
    example: String,
}

impl Tally {
    /// An empty tally.
    pub fn new() -> Tally {
        Tally::default()
    }

    /// Counts one failure of `kind`. `example` is only called for the first
    /// of its kind, so describing a failure costs nothing after that.
    pub fn add(&mut self, kind: &'static str, example: impl FnOnce() -> String) {
        self.kinds
            .entry(kind)
            .and_modify(|e| e.count += 1)
            .or_insert_with(|| Entry {
                count: 1,
                example: example(),
            });
    }

    /// Adds every count of `other`, keeping our examples where we have them.
    pub fn merge(&mut self, other: Tally) {
        for (kind, theirs) in other.kinds {
            self.kinds
                .entry(kind)
                .and_modify(|ours| ours.count += theirs.count)
                .or_insert(theirs);
        }
    }

    /// How many failures of `kind`.
    pub fn count(&self, kind: &str) -> u64 {
        self.kinds.get(kind).map_or(0, |e| e.count)
    }

    /// How many failures of every kind together.
    pub fn total(&self) -> u64 {
        self.kinds.values().map(|e| e.count).sum()
    }

    /// Whether nothing failed.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// Each kind with its count and first example, in alphabetical order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64, &str)> + '_ {
        self.kinds
            .iter()
            .map(|(kind, e)| (*kind, e.count, e.example.as_str()))
    }

    /// `{"refused": {"count": 3, "example": "..."}, ...}`.
    pub fn to_json(&self) -> serde_json::Value {
        self.iter()
            .map(|(kind, count, example)| {
                (
                    kind.to_owned(),
                    serde_json::json!({ "count": count, "example": example }),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

/// One line per kind: `refused ×3 (e.g. connection refused)`, or `none`.
impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return write!(f, "none");
        }
        for (i, (kind, count, example)) in self.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{kind} ×{count} (first: {example})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_first_examples() {
        let mut a = Tally::new();
        a.add("refused", || "first".into());
        a.add("refused", || unreachable!("only the first is described"));
        let mut b = Tally::new();
        b.add("refused", || "later".into());
        b.add("mismatch", || "m".into());
        a.merge(b);
        assert_eq!(
            (a.count("refused"), a.count("mismatch"), a.total()),
            (3, 1, 4)
        );
        assert_eq!(
            a.to_json(),
            serde_json::json!({
                "mismatch": {"count": 1, "example": "m"},
                "refused": {"count": 3, "example": "first"},
            })
        );
        assert_eq!(
            a.to_string(),
            "mismatch ×1 (first: m)\nrefused ×3 (first: first)"
        );
        assert_eq!(Tally::new().to_string(), "none");
    }
}
