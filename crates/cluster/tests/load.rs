//! Failover at the load generator's scale: three `cluster` processes on one
//! real redis-server, the load generator's chat clients spread over them
//! and talking all along, and one process killed (SIGKILL) halfway through.
//! Its clients rejoin through the survivors with `since`; every client must
//! still have every message once, in the one order.
//!
//! The doomed process is frozen (SIGSTOP) a few hundred milliseconds before
//! it is killed, as a server that hangs before it dies: what its clients
//! write meanwhile never reaches the room, and what the room says never
//! reaches them. The first must be written again after the rejoin, the
//! second comes in the rejoin's history.
//!
//! Without redis-server this test skips itself loudly; REQUIRE_REDIS=1
//! makes that a failure.

#![cfg(unix)]

mod common;

use std::time::Duration;

use common::{Redis, program};
use loadgen::{BroadcastOptions, Protocol, RECONNECT_DEADLINE, Target, run_broadcast};

#[tokio::test]
async fn a_killed_server_s_clients_rejoin_under_load_missing_nothing() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    let mut children = Vec::new();
    let mut targets = Vec::new();
    for _ in 0..3 {
        let (child, addr) = program(&redis).await;
        children.push(child);
        targets.push(Target::parse(&format!("ws://{addr}/ws")).unwrap());
    }
    let doomed = children[1].id().expect("running");
    let clients = 30;
    let options = BroadcastOptions {
        target: targets[0].clone(),
        also: targets[1..].to_vec(),
        clients,
        protocol: Protocol::Chatroom,
        // 2 a second per client: under the room's limit of 5, resends
        // included.
        rate: 60,
        size: 24,
        duration: Duration::from_secs(3),
        warmup: Duration::from_millis(500),
        server_pid: None,
        syscalls: false,
        kill_server: Some(doomed),
    };
    // The kill comes halfway through the window: after setup (tens of
    // milliseconds here), 0.5 s of warm-up and 1.5 s of the window. The
    // freeze comes 0.4 s or so before it.
    let freeze = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1600)).await;
        std::process::Command::new("kill")
            .args(["-STOP", &doomed.to_string()])
            .status()
            .map(|s| s.success())
    });
    let report = run_broadcast(&options).await.unwrap();
    assert!(
        freeze.await.unwrap().unwrap(),
        "the doomed server was frozen before it was killed"
    );
    println!("{report}");
    assert!(
        report.killed_at_us.is_some(),
        "the server was killed: {report}"
    );
    assert!(
        children[1].try_wait().unwrap().is_some(),
        "the killed server is gone"
    );
    assert_eq!(report.ready, clients, "{report}");
    assert!(report.sent > 100, "{report}");
    // Every client on the killed server came back, and no other client had
    // to (the clients go to the servers in turn).
    assert_eq!(report.reconnected as usize, clients / 3, "{report}");
    assert!(report.recovery.is_some(), "recovery times: {report}");
    assert!(
        report.resent > 0,
        "what was written to the frozen server is written again: {report}"
    );
    assert_eq!(report.errors.total(), 0, "{report}");
    assert_eq!(
        (report.lost, report.duplicates, report.out_of_order),
        (0, 0, 0),
        "{report}"
    );
    assert_eq!(report.delivered, report.expected, "{report}");
    assert_eq!(report.expected, report.sent * clients as u64, "{report}");
}

/// With no server left to rejoin, a client gives up after
/// [`RECONNECT_DEADLINE`], with an error that says so, and the run ends.
/// Two processes: the second is frozen (it takes connections and answers
/// nothing) just before the first is killed, so the first's clients try
/// one that refuses and one that never answers, in turn.
#[tokio::test]
async fn with_no_server_left_a_client_gives_up_at_the_reconnect_deadline() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    let (mut doomed, first) = program(&redis).await;
    let (frozen, second) = program(&redis).await;
    let (doomed_pid, frozen_pid) = (doomed.id().expect("running"), frozen.id().expect("running"));
    let clients = 10;
    let options = BroadcastOptions {
        target: Target::parse(&format!("ws://{first}/ws")).unwrap(),
        also: vec![Target::parse(&format!("ws://{second}/ws")).unwrap()],
        clients,
        protocol: Protocol::Chatroom,
        rate: 20,
        size: 24,
        duration: Duration::from_secs(2),
        warmup: Duration::from_millis(500),
        server_pid: None,
        syscalls: false,
        kill_server: Some(doomed_pid),
    };
    // The kill comes 1.5 s in (after the warm-up and half the window).
    let freeze = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        std::process::Command::new("kill")
            .args(["-STOP", &frozen_pid.to_string()])
            .status()
            .map(|s| s.success())
    });
    // Without a deadline the clients would try for ever.
    let report = tokio::time::timeout(Duration::from_secs(60), run_broadcast(&options))
        .await
        .expect("the run ends")
        .unwrap();
    assert!(
        freeze.await.unwrap().unwrap(),
        "the second server was frozen"
    );
    println!("{report}");
    assert!(
        report.killed_at_us.is_some(),
        "the server was killed: {report}"
    );
    assert!(
        doomed.try_wait().unwrap().is_some(),
        "the killed server is gone"
    );
    assert_eq!(report.reconnected, 0, "{report}");
    // Half the clients were on the killed server: each of them gave up.
    assert_eq!(
        report.errors.count("reconnect"),
        clients as u64 / 2,
        "{report}"
    );
    let (_, _, example) = report
        .errors
        .iter()
        .find(|(kind, _, _)| *kind == "reconnect")
        .expect("a reconnect error");
    let said = format!(
        "not back in the room within {} s",
        RECONNECT_DEADLINE.as_secs()
    );
    assert!(example.contains(&said), "{example}");
    drop(frozen);
}
