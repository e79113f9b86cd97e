//! The shared room against a real redis-server: one order across
//! instances, the same history wherever a page joins, names unique across
//! the cluster, resume with `since`, an instance killed, Redis stopped and
//! started again.

mod common;

use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;

use chatroom::{Config, RateLimit};
use cluster::{EVENTS_KEPT, PRESENCE_DEADLINE};
use common::{Client, Instance, Redis, WAIT, join_with, joined, next, recv, recv_kind, say, send};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::{Instant, sleep, timeout};

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

/// The cluster program with one instance on a free port: its child and
/// the address it printed.
async fn program(redis: &Redis) -> (tokio::process::Child, std::net::SocketAddr) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cluster"))
        .args(["--redis", &redis.url(), "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = timeout(WAIT, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr)
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
