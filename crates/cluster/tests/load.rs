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
use loadgen::{BroadcastOptions, Protocol, Target, run_broadcast};

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
