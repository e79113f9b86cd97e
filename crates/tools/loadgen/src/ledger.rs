//! The books of a broadcast run: who sent which message, what each client
//! received, and, after the run, whether every client got every message
//! meant for it, once, in one order shared by all.
//!
//! Nothing here is timed: the run only appends message ids to a list per
//! client as they arrive (a `push`, cheap enough for 100,000 deliveries a
//! second on one core), and [`check`] does the counting after the measured
//! window, when the generator's CPU no longer matters.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Which clients receive a broadcast message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fanout {
    /// Every member, the sender included (our chat room: a sender sees its
    /// message come back in the room's order).
    Everyone,
    /// Every connection but the sender's (tokio-tungstenite's chat example).
    Others,
}

/// What one client should have received and what it did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientCheck {
    /// Messages meant for it: every message sent while it was in the room
    /// (for [`Fanout::Others`], minus its own).
    pub expected: u64,
    /// Of those, how many it received at least once.
    pub delivered: u64,
    /// Expected but never received.
    pub missing: u64,
    /// The first missing message id, for the report.
    pub first_missing: Option<u32>,
    /// Receipts of a message it had already received.
    pub duplicates: u64,
    /// Receipts of a message not meant for it: an id nobody sent, or (with
    /// [`Fanout::Others`]) its own message echoed back.
    pub foreign: u64,
    /// Consecutive receipts (a, then b) that contradict the one order of
    /// the run (see [`check`]): 0 when every client saw the same order.
    pub order_breaks: u64,
}

/// Checks every client's receipts.
///
/// - `sent_by[id]` is the client that sent message `id`, or `None` for an
///   id that was handed out but never written (its sender had failed).
/// - `received[c]` is what client `c` received, in the order it arrived;
///   `None` for a client that never entered the room (it is not checked:
///   its failure to join is reported on its own).
///
/// Loss and duplicates are counted per client against `sent_by`. Order is
/// checked across clients: "a before b" for every two messages a client
/// received one after the other, from every client, must fit one order. We
/// build that order as a topological sort of those pairs (smallest id
/// first among equals, so, where receipts allow it, the order the messages
/// were sent in). When all clients saw one order the pairs have no cycle,
/// the sort respects every pair, and every client's `order_breaks` is 0.
/// When two clients disagree the pairs hold a cycle, which we cut at its
/// smallest id, and a client whose receipts contradict the resulting order
/// has breaks counted. Checked this way, a server is free to order two
/// messages differently from how they were sent (two senders racing), as
/// long as it shows everybody the same order, which is what a chat room
/// promises.
pub fn check(
    sent_by: &[Option<u32>],
    fanout: Fanout,
    received: &[Option<Vec<u32>>],
) -> Vec<ClientCheck> {
    let ids = sent_by.len();
    let mut seen = vec![false; ids];
    let mut firsts: Vec<Option<Vec<u32>>> = Vec::with_capacity(received.len());
    let mut checks = Vec::with_capacity(received.len());
    let total_sent = sent_by.iter().flatten().count() as u64;
    let mut sent_per_client = vec![0u64; received.len()];
    for sender in sent_by.iter().flatten() {
        if let Some(count) = sent_per_client.get_mut(*sender as usize) {
            *count += 1;
        }
    }

    for (client, receipts) in received.iter().enumerate() {
        let Some(receipts) = receipts else {
            checks.push(ClientCheck::default());
            firsts.push(None);
            continue;
        };
        seen.fill(false);
        let mut check = ClientCheck::default();
        let mut first = Vec::with_capacity(receipts.len());
        for &id in receipts {
            let meant = match sent_by.get(id as usize) {
                Some(Some(sender)) => fanout == Fanout::Everyone || *sender as usize != client,
                _ => false,
            };
            if !meant {
                check.foreign += 1;
            } else if seen[id as usize] {
                check.duplicates += 1;
            } else {
                seen[id as usize] = true;
                first.push(id);
            }
        }
        check.expected = match fanout {
            Fanout::Everyone => total_sent,
            Fanout::Others => total_sent - sent_per_client[client],
        };
        check.delivered = first.len() as u64;
        check.missing = check.expected - check.delivered;
        if check.missing > 0 {
            check.first_missing = (0..ids).find_map(|id| {
                let meant = match sent_by[id] {
                    Some(sender) => fanout == Fanout::Everyone || sender as usize != client,
                    None => false,
                };
                (meant && !seen[id]).then_some(id as u32)
            });
        }
        checks.push(check);
        firsts.push(Some(first));
    }

    let rank = one_order(ids, &firsts);
    for (check, first) in checks.iter_mut().zip(&firsts) {
        if let Some(first) = first {
            check.order_breaks = first
                .windows(2)
                .filter(|pair| rank[pair[0] as usize] > rank[pair[1] as usize])
                .count() as u64;
        }
    }
    checks
}

/// A rank for every id `0..ids`: a topological order of the "received one
/// after the other" pairs of all `sequences`, smallest id first among the
/// ids that are free to go next, with each cycle cut at its smallest id.
fn one_order(ids: usize, sequences: &[Option<Vec<u32>>]) -> Vec<u32> {
    let mut edges: Vec<(u32, u32)> = sequences
        .iter()
        .flatten()
        .flat_map(|s| s.windows(2).map(|pair| (pair[0], pair[1])))
        .collect();
    edges.sort_unstable();
    edges.dedup();
    // The edges out of `id` are `targets[start[id]..start[id + 1]]`.
    let mut start = vec![0usize; ids + 1];
    let mut indegree = vec![0u32; ids];
    for &(from, to) in &edges {
        start[from as usize + 1] += 1;
        indegree[to as usize] += 1;
    }
    for i in 0..ids {
        start[i + 1] += start[i];
    }
    let targets: Vec<u32> = edges.iter().map(|&(_, to)| to).collect();

    const UNRANKED: u32 = u32::MAX;
    let mut rank = vec![UNRANKED; ids];
    let mut free: BinaryHeap<Reverse<u32>> = (0..ids as u32)
        .filter(|&id| indegree[id as usize] == 0)
        .map(Reverse)
        .collect();
    // The smallest id not ranked yet only grows, so finding it is one
    // pass over all ids in total, however many cycles there are.
    let mut smallest_unranked = 0usize;
    let mut next_rank = 0u32;
    while (next_rank as usize) < ids {
        let id = match free.pop() {
            Some(Reverse(id)) => id as usize,
            None => {
                // Only cycles are left: cut one at its smallest id.
                while rank[smallest_unranked] != UNRANKED {
                    smallest_unranked += 1;
                }
                smallest_unranked
            }
        };
        if rank[id] != UNRANKED {
            continue; // ranked when a cycle was cut; its edges are done
        }
        rank[id] = next_rank;
        next_rank += 1;
        for &to in &targets[start[id]..start[id + 1]] {
            let to = to as usize;
            indegree[to] = indegree[to].saturating_sub(1);
            if indegree[to] == 0 && rank[to] == UNRANKED {
                free.push(Reverse(to as u32));
            }
        }
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four messages, sent by clients 0, 1, 2, 0.
    const SENT_BY: [Option<u32>; 4] = [Some(0), Some(1), Some(2), Some(0)];

    fn all(receipts: &[&[u32]]) -> Vec<Option<Vec<u32>>> {
        receipts.iter().map(|r| Some(r.to_vec())).collect()
    }

    #[test]
    fn everyone_gets_everything_in_order() {
        let r = all(&[&[0, 1, 2, 3], &[0, 1, 2, 3], &[0, 1, 2, 3]]);
        let checks = check(&SENT_BY, Fanout::Everyone, &r);
        for c in &checks {
            assert_eq!((c.expected, c.delivered, c.missing), (4, 4, 0), "{c:?}");
            assert_eq!((c.duplicates, c.foreign, c.order_breaks), (0, 0, 0));
        }
    }

    #[test]
    fn others_do_not_get_their_own() {
        let r = all(&[&[1, 2], &[0, 2, 3], &[0, 1, 3]]);
        let checks = check(&SENT_BY, Fanout::Others, &r);
        let expected: Vec<_> = checks.iter().map(|c| (c.expected, c.missing)).collect();
        assert_eq!(expected, [(2, 0), (3, 0), (3, 0)]);
        assert!(checks.iter().all(|c| c.order_breaks == 0 && c.foreign == 0));

        // Its own message echoed back is foreign, not a delivery.
        let r = all(&[&[0, 1, 2, 3], &[0, 2, 3], &[0, 1, 3]]);
        let c = &check(&SENT_BY, Fanout::Others, &r)[0];
        assert_eq!((c.foreign, c.delivered, c.missing), (2, 2, 0));
    }

    #[test]
    fn loss_and_duplicates_are_counted_per_client() {
        let r = all(&[&[0, 1, 2, 3], &[0, 2, 2, 3], &[0, 1, 2, 3, 3, 9]]);
        let checks = check(&SENT_BY, Fanout::Everyone, &r);
        assert_eq!(
            checks[0],
            ClientCheck {
                expected: 4,
                delivered: 4,
                ..Default::default()
            }
        );
        assert_eq!((checks[1].missing, checks[1].first_missing), (1, Some(1)));
        assert_eq!(checks[1].duplicates, 1);
        assert_eq!(
            (checks[2].duplicates, checks[2].foreign, checks[2].missing),
            (1, 1, 0)
        );
        // A duplicate arriving late is a duplicate, not an order break.
        assert_eq!(checks[2].order_breaks, 0);
    }

    #[test]
    fn unsent_ids_are_not_expected_and_absent_clients_not_checked() {
        let sent_by = [Some(0), None, Some(1)];
        let r = vec![Some(vec![0, 2]), None, Some(vec![0, 1, 2])];
        let checks = check(&sent_by, Fanout::Everyone, &r);
        assert_eq!((checks[0].expected, checks[0].missing), (2, 0));
        assert_eq!(checks[1], ClientCheck::default());
        assert_eq!((checks[2].foreign, checks[2].missing), (1, 0));
    }

    #[test]
    fn one_order_other_than_the_sending_order_is_fine() {
        // The server put 2 before 1, for everybody.
        let r = all(&[&[0, 2, 1, 3], &[0, 2, 1, 3], &[0, 2, 1, 3]]);
        let checks = check(&SENT_BY, Fanout::Everyone, &r);
        assert!(checks.iter().all(|c| c.order_breaks == 0), "{checks:?}");
    }

    #[test]
    fn disagreeing_orders_are_caught() {
        // Client 1 saw 2 before 1; the others 1 before 2.
        let r = all(&[&[0, 1, 2, 3], &[0, 2, 1, 3], &[0, 1, 2, 3]]);
        let checks = check(&SENT_BY, Fanout::Everyone, &r);
        let breaks: Vec<_> = checks.iter().map(|c| c.order_breaks).collect();
        assert_eq!(breaks, [0, 1, 0]);

        // Without its own messages, a client's receipts still count: here
        // client 0 saw 1 before 2 and client 3 (which sent nothing) 2
        // before 1.
        let r = all(&[&[1, 2], &[0, 2, 3], &[0, 1, 3], &[0, 2, 1, 3]]);
        let checks = check(&SENT_BY, Fanout::Others, &r);
        let breaks: Vec<_> = checks.iter().map(|c| c.order_breaks).collect();
        assert_eq!(breaks, [0, 0, 0, 1]);
        // Gaps where a client's own messages would be are no disagreement.
        let r = all(&[&[1, 2], &[0, 3, 2], &[0, 1, 3]]);
        let checks = check(&SENT_BY, Fanout::Others, &r);
        assert!(checks.iter().all(|c| c.order_breaks == 0), "{checks:?}");
    }

    #[test]
    fn long_cycles_terminate() {
        let n = 1000u32;
        let sent_by: Vec<_> = (0..n).map(|_| Some(0)).collect();
        let forward: Vec<u32> = (0..n).collect();
        let backward: Vec<u32> = (0..n).rev().collect();
        let checks = check(&sent_by, Fanout::Everyone, &[Some(forward), Some(backward)]);
        assert_eq!(
            checks[0].order_breaks + checks[1].order_breaks,
            u64::from(n - 1)
        );
        assert!(checks.iter().all(|c| c.missing == 0));
    }
}
