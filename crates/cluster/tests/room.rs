//! The shared room against a real redis-server: one order across
//! instances, the same history wherever a page joins, names unique across
//! the cluster, resume with `since`, an instance killed, an instance that
//! falls behind the stream's cap, Redis stopped and started again.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use chatroom::{Config, RateLimit};
use cluster::{EVENTS_KEPT, PRESENCE_DEADLINE};
use common::{
    Client, Instance, Redis, WAIT, join_with, joined, next, program, recv, recv_kind, say, send,
};
use serde_json::json;
use tokio::time::{Instant, sleep};

/// The chat messages `ws` receives until it has seen `count` of them.
async fn messages(ws: &mut Client, count: usize) -> Vec<(u64, String)> {
    let mut seen = Vec::new();
    while seen.len() < count {
        let event = recv(ws).await;
        if event["type"] == "message" {
            seen.push((
                event["seq"].as_u64().unwrap(),
                event["text"].as_str().unwrap().to_owned(),
            ));
        }
    }
    seen
}

/// A config whose pages may send as fast as a test needs.
fn unthrottled() -> Config {
    Config {
        rate: RateLimit {
            per_second: 1e6,
            burst: 1_000_000,
        },
        ..Config::default()
    }
}

#[tokio::test]
async fn pages_on_two_instances_see_every_message_once_in_one_order() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    let (a, b) = (
        Instance::start_with(&redis, unthrottled()).await,
        Instance::start_with(&redis, unthrottled()).await,
    );
    let (mut ann, _) = joined(a.addr, "ann").await;
    let (mut bob, welcome) = joined(b.addr, "bob").await;
    assert_eq!(welcome["members"], json!(["ann", "bob"]));
    // Both talk at once, 20 messages each.
    for i in 0..20 {
        send(&mut ann, say(&format!("ann {i}"))).await;
        send(&mut bob, say(&format!("bob {i}"))).await;
    }
    let (seen_by_ann, seen_by_bob) = (messages(&mut ann, 40).await, messages(&mut bob, 40).await);
    assert_eq!(seen_by_ann, seen_by_bob, "one order for both");
    let texts: HashSet<&String> = seen_by_ann.iter().map(|(_, t)| t).collect();
    assert_eq!(texts.len(), 40, "every message once");
    assert!(
        seen_by_ann.windows(2).all(|w| w[0].0 < w[1].0),
        "numbered in order"
    );
    // Each one's own messages in the order sent.
    for who in ["ann", "bob"] {
        let own: Vec<&String> = seen_by_ann
            .iter()
            .map(|(_, t)| t)
            .filter(|t| t.starts_with(who))
            .collect();
        let sent: Vec<String> = (0..20).map(|i| format!("{who} {i}")).collect();
        assert_eq!(own, sent.iter().collect::<Vec<_>>());
    }
    // The history is the same whichever instance a page joins through.
    let (_cy, on_a) = joined(a.addr, "cy").await;
    let (_dee, on_b) = joined(b.addr, "dee").await;
    assert_eq!(on_a["history"], on_b["history"]);
    assert_eq!(on_a["history"].as_array().unwrap().len(), 40);
    assert_eq!(on_a["boot"], on_b["boot"]);
    assert_eq!(on_b["members"], json!(["ann", "bob", "cy", "dee"]));
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_name_is_unique_across_instances_and_its_key_takes_it_back() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    let (a, b) = (Instance::start(&redis).await, Instance::start(&redis).await);
    let (mut ann, _) = join_with(a.addr, "ann", json!({"key": "k1"})).await;
    let (_, refused) = join_with(b.addr, "ANN", json!({})).await;
    assert_eq!(refused["type"], "error");
    assert!(
        refused["reason"].as_str().unwrap().contains("taken"),
        "{refused}"
    );
    let (_, refused) = join_with(b.addr, "ann", json!({"key": "k2"})).await;
    assert_eq!(refused["type"], "error", "another key is another page");
    // The same page (same key) on the other instance takes its name back:
    // the old connection is told 4001.
    let (mut back, welcome) = join_with(b.addr, "ann", json!({"key": "k1"})).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let close = loop {
        match next(&mut ann).await {
            Ok(_) => continue,
            Err(close) => break close.expect("a close code"),
        }
    };
    assert_eq!(u16::from(close.code), chatroom::REPLACED.as_u16());
    send(&mut back, say("still me")).await;
    assert_eq!(recv_kind(&mut back, "message").await["text"], "still me");
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_page_that_comes_back_elsewhere_gets_exactly_what_it_missed() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    let config = unthrottled();
    let (a, b) = (
        Instance::start_with(&redis, config.clone()).await,
        Instance::start_with(&redis, config).await,
    );
    let (mut ann, _) = joined(a.addr, "ann").await;
    let (mut bob, welcome) = joined(b.addr, "bob").await;
    let boot = welcome["boot"].clone();
    send(&mut ann, say("before")).await;
    let (last, _) = messages(&mut bob, 1).await[0].clone();
    drop(bob); // gone without a word
    for i in 0..5 {
        send(&mut ann, say(&format!("missed {i}"))).await;
    }
    messages(&mut ann, 6).await;
    // Back, through the other instance.
    let (mut bob, welcome) = join_with(a.addr, "bob2", json!({"since": last, "boot": boot})).await;
    let history: Vec<&str> = welcome["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        history,
        ["missed 0", "missed 1", "missed 2", "missed 3", "missed 4"]
    );
    assert_eq!(welcome["complete"], true);
    send(&mut ann, say("after")).await;
    assert_eq!(
        recv_kind(&mut bob, "message").await["text"],
        "after",
        "nothing twice"
    );

    // Away for longer than the stream keeps: the page is told. (Bob reads
    // as ann writes: a page that stops reading is dropped.)
    drop(bob);
    for i in 0..EVENTS_KEPT {
        send(&mut ann, say(&format!("flood {i}"))).await;
        recv_kind(&mut ann, "message").await;
    }
    let (_, welcome) = join_with(b.addr, "cy", json!({"since": last, "boot": boot})).await;
    assert_eq!(
        welcome["complete"],
        false,
        "{}",
        welcome["history"].as_array().unwrap().len()
    );
    // Another run of the room: `since` counts in the old one, and is ignored.
    let (_, welcome) = join_with(b.addr, "dee", json!({"since": last, "boot": "other"})).await;
    assert_eq!(
        welcome["history"].as_array().unwrap().len(),
        chatroom::HISTORY_LEN
    );
    assert!(welcome.get("complete").is_none());
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn the_members_of_a_killed_instance_leave_within_the_deadline() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    let (mut doomed, addr) = program(&redis).await;
    let survivor = Instance::start(&redis).await;
    let (_ann, _) = joined(addr, "ann").await;
    let (mut bob, _) = joined(survivor.addr, "bob").await;
    recv_kind(&mut bob, "joined").await; // his own
    doomed.start_kill().unwrap();
    let killed = Instant::now();
    let left = recv_kind(&mut bob, "left").await;
    let took = killed.elapsed();
    assert_eq!(
        (left["nick"].as_str(), left["online"].as_u64()),
        (Some("ann"), Some(1))
    );
    assert!(
        took <= PRESENCE_DEADLINE + Duration::from_secs(2),
        "ann's departure took {took:?}"
    );
    eprintln!("a killed instance's member was announced gone after {took:?}");
    // Her name is free again.
    let (_, welcome) = joined(survivor.addr, "ann").await;
    assert_eq!(welcome["members"], json!(["bob", "ann"]));
    survivor.stop().await;
}

#[tokio::test]
async fn redis_stopped_and_started_again_closes_pages_with_1013_then_recovers() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    let port = redis.port;
    let a = Instance::start(&redis).await;
    let (mut ann, _) = joined(a.addr, "ann").await;
    redis.stop().await;
    // Her page is told: try again later.
    let close = loop {
        match next(&mut ann).await {
            Ok(_) => continue,
            Err(close) => break close.expect("a close code"),
        }
    };
    assert_eq!(u16::from(close.code), 1013, "{close:?}");
    // While Redis is away, a join is told the same.
    let (_, answer) = join_with(a.addr, "bob", json!({})).await;
    assert_eq!(answer, json!({"type": "closed", "code": 1013}));
    assert_eq!(a.room.local_members(), 0, "nothing held for them meanwhile");
    // Back: the instance follows the room again by itself.
    let _redis = Redis::start_on(port).await.unwrap();
    let deadline = Instant::now() + WAIT;
    let (mut ann, welcome) = loop {
        let (ws, welcome) = join_with(a.addr, "ann", json!({})).await;
        if welcome["type"] == "welcome" {
            break (ws, welcome);
        }
        assert!(Instant::now() < deadline, "never recovered: {welcome}");
        sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(welcome["members"], json!(["ann"]));
    send(&mut ann, say("back")).await;
    assert_eq!(recv_kind(&mut ann, "message").await["text"], "back");
    a.stop().await;
}

#[tokio::test]
async fn a_redis_that_hangs_is_treated_as_gone_within_the_timeout() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    let a = Instance::start(&redis).await;
    let (mut ann, _) = joined(a.addr, "ann").await;
    // Frozen, not dead: its sockets stay open, and nothing answers.
    redis.signal("STOP");
    let frozen = Instant::now();
    send(&mut ann, say("anyone?")).await;
    let close = loop {
        match next(&mut ann).await {
            Ok(_) => continue,
            Err(close) => break close.expect("a close code"),
        }
    };
    let took = frozen.elapsed();
    assert_eq!(u16::from(close.code), 1013, "{close:?}");
    assert!(
        took < cluster::REDIS_TIMEOUT * 3,
        "a hung Redis took {took:?} to notice"
    );
    eprintln!("a frozen Redis closed the page with 1013 after {took:?}");
    redis.signal("CONT");
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, welcome) = join_with(a.addr, "ann", json!({})).await;
        if welcome["type"] == "welcome" {
            break;
        }
        assert!(Instant::now() < deadline, "never recovered: {welcome}");
        sleep(Duration::from_millis(200)).await;
    }
    a.stop().await;
}

#[tokio::test]
async fn a_server_that_falls_behind_the_stream_s_cap_closes_its_pages_with_1013() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    // A: a process of its own, so that it can be frozen (SIGSTOP) as an
    // overloaded machine would be; B: where bob talks, unthrottled.
    let (slow, addr) = program(&redis).await;
    let b = Instance::start_with(&redis, unthrottled()).await;
    let (mut ann, welcome) = join_with(addr, "ann", json!({"key": "k-ann"})).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let boot = welcome["boot"].as_str().unwrap().to_owned();
    let (mut bob, _) = joined(b.addr, "bob").await;
    let seen = recv_kind(&mut ann, "joined").await; // her own
    assert_eq!(seen["nick"], "ann");
    let last = recv_kind(&mut ann, "joined").await; // bob's
    assert_eq!(last["nick"], "bob");
    let last = last["seq"].as_u64().unwrap();

    let signal = |name: &str| {
        let pid = slow.id().expect("running").to_string();
        let done = std::process::Command::new("kill")
            .args([format!("-{name}"), pid])
            .status()
            .unwrap();
        assert!(done.success(), "kill -{name}");
    };
    // While A is frozen, more than the stream keeps is said: the events
    // right after the last one A read are trimmed before it reads them.
    signal("STOP");
    // (A hundred at a time, read back before the next: bob's own queue
    // must not fill, or B drops him as a reader that stopped.)
    let said = EVENTS_KEPT + 100;
    for batch in (0..said).collect::<Vec<_>>().chunks(100) {
        for i in batch {
            send(&mut bob, say(&format!("m{i}"))).await;
        }
        let back = messages(&mut bob, batch.len()).await;
        assert_eq!(
            back.last().unwrap().1,
            format!("m{}", batch.last().unwrap())
        );
    }
    signal("CONT");

    // A finds the gap and tells its page, rather than let it believe it
    // saw everything.
    let closed = loop {
        match next(&mut ann).await {
            Ok(_) => continue, // what A read before the gap
            Err(close) => break close,
        }
    };
    // (Not "you fell too far behind", the 1013 of a page whose own queue
    // filled: A stops at the gap, before ann's queue could fill.)
    let closed = closed.expect("a Close frame with a code");
    assert_eq!(u16::from(closed.code), 1013, "{closed:?}");
    assert!(
        closed.reason.contains("cannot follow the room"),
        "{closed:?}"
    );
    // Coming back with `since`, the page is told that some are gone.
    let (_ann, welcome) = join_with(
        b.addr,
        "ann",
        json!({"key": "k-ann", "since": last, "boot": boot}),
    )
    .await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_eq!(welcome["complete"], false, "{welcome}");
    let history = welcome["history"].as_array().unwrap();
    assert_eq!(
        history.last().unwrap()["text"],
        format!("m{}", said - 1),
        "what the stream still keeps is replayed"
    );
    b.stop().await;
}
