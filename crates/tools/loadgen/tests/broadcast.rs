//! Broadcast mode against the relays of `common::relay`: a plain relay (the
//! shape of tokio-tungstenite's chat example) and a small chat room on
//! lesson 5's protocol, each honest or wrong in one chosen way. The checks
//! must find exactly the mistake made, and nothing when there is none.
//! Nothing here asserts a speed: that is `scripts/bench-chat.sh`'s job.

mod common;

use std::time::Duration;

use common::relay::{Fault, Style, start_relay};
use common::{bounded, closed_port};
use loadgen::{BroadcastOptions, BroadcastReport, Protocol, Target, run_broadcast};

fn options(target: Target, clients: usize, protocol: Protocol) -> BroadcastOptions {
    BroadcastOptions {
        target,
        also: Vec::new(),
        clients,
        protocol,
        rate: 200,
        size: 24,
        duration: Duration::from_millis(300),
        warmup: Duration::from_millis(100),
        server_pid: None,
        syscalls: false,
        kill_server: None,
    }
}

async fn broadcast(options: BroadcastOptions) -> BroadcastReport {
    bounded("the broadcast run", run_broadcast(&options))
        .await
        .expect("a few connections fit any fd limit")
}

/// The counts every clean run must show.
fn assert_clean(report: &BroadcastReport, receivers: u64, owed_each: u64) {
    assert!(report.errors.is_empty(), "{report}");
    assert_eq!(report.ready as u64, receivers, "{report}");
    assert!(report.sent > 0, "{report}");
    assert_eq!(report.expected, report.sent * owed_each, "{report}");
    assert_eq!(report.delivered, report.expected, "{report}");
    assert_eq!(
        (report.lost, report.duplicates, report.out_of_order),
        (0, 0, 0)
    );
    let l = report.latency.expect("deliveries in the window were timed");
    assert!(report.timed > 0);
    assert!(
        l.p50 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max,
        "{l:?}"
    );
}

#[tokio::test]
async fn plain_relay_every_client_gets_every_other_clients_messages() {
    let relay = start_relay(Style::Plain, Fault::None).await;
    let report = broadcast(options(relay.target(), 5, Protocol::Plain)).await;

    assert_eq!(report.connected, 5);
    // Four others receive each message.
    assert_clean(&report, 5, 4);
    // 200/s for 0.4 s, give or take a tick.
    assert!((75..=85).contains(&report.sent), "{report}");
    let json = report.to_json();
    assert_eq!(
        (json["mode"].as_str(), json["protocol"].as_str()),
        (Some("broadcast"), Some("plain"))
    );
    assert_eq!(json["lost"], 0);
}

#[tokio::test]
async fn chat_room_everyone_gets_every_message_after_the_presence_storm() {
    let relay = start_relay(Style::Chat, Fault::None).await;
    let report = broadcast(options(relay.target(), 20, Protocol::Chatroom)).await;

    // Everybody, the sender included; `joined` events were skipped.
    assert_clean(&report, 20, 20);
}

#[tokio::test]
async fn a_dropped_message_is_loss_for_that_client_only() {
    let relay = start_relay(Style::Chat, Fault::Drop { peer: 2, nth: 5 }).await;
    let report = broadcast(options(relay.target(), 4, Protocol::Chatroom)).await;

    assert_eq!(report.expected, report.sent * 4, "{report}");
    assert_eq!(report.lost, 1, "{report}");
    assert_eq!(report.delivered, report.expected - 1);
    assert_eq!(report.errors.count("loss"), 1, "{}", report.errors);
    assert_eq!(report.errors.total(), 1, "{}", report.errors);
    let json = report.to_json();
    let example = json["error_kinds"]["loss"]["example"].as_str().unwrap();
    assert!(example.contains("missed 1 of"), "{example}");
    assert_eq!((report.duplicates, report.out_of_order), (0, 0));
}

#[tokio::test]
async fn a_message_sent_twice_is_a_duplicate_not_a_delivery() {
    let relay = start_relay(Style::Plain, Fault::Duplicate { peer: 1, nth: 3 }).await;
    let report = broadcast(options(relay.target(), 3, Protocol::Plain)).await;

    assert_eq!(report.duplicates, 1, "{report}");
    assert_eq!(report.errors.count("duplicate"), 1, "{}", report.errors);
    assert_eq!(report.errors.total(), 1, "{}", report.errors);
    assert_eq!((report.lost, report.out_of_order), (0, 0), "{report}");
    assert_eq!(report.delivered, report.expected);
}

#[tokio::test]
async fn one_client_seeing_two_messages_swapped_is_out_of_order() {
    let relay = start_relay(Style::Chat, Fault::Swap { peer: 3, nth: 4 }).await;
    let report = broadcast(options(relay.target(), 5, Protocol::Chatroom)).await;

    assert_eq!(report.out_of_order, 1, "{report}");
    assert_eq!(report.errors.count("out-of-order"), 1, "{}", report.errors);
    assert_eq!(report.errors.total(), 1, "{}", report.errors);
    assert_eq!((report.lost, report.duplicates), (0, 0), "{report}");
}

#[tokio::test]
async fn a_refused_join_leaves_that_client_out_of_the_books() {
    let relay = start_relay(Style::Chat, Fault::RefuseJoin { peer: 0 }).await;
    let report = broadcast(options(relay.target(), 4, Protocol::Chatroom)).await;

    assert_eq!((report.connected, report.ready), (4, 3), "{report}");
    assert_eq!(report.errors.count("join-refused"), 1, "{}", report.errors);
    assert_eq!(report.errors.total(), 1, "{}", report.errors);
    // The three members got everything the three of them sent.
    assert_eq!(report.expected, report.sent * 3);
    assert_eq!(report.lost, 0, "{report}");
}

#[tokio::test]
async fn refused_connections_are_counted_and_nothing_is_sent() {
    let addr = closed_port().await;
    let target = Target::parse(&format!("ws://{addr}/ws")).unwrap();
    let report = broadcast(options(target, 3, Protocol::Plain)).await;

    assert_eq!((report.connected, report.ready, report.sent), (0, 0, 0));
    assert_eq!(report.errors.count("refused"), 3, "{}", report.errors);
    assert!(report.latency.is_none());
}
