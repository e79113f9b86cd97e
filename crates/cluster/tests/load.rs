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
//! A second test takes the survivors away: a client that cannot get back
//! in gives up at loadgen's reconnect deadline, with an error.
//!
//! Without redis-server these tests skip themselves loudly; REQUIRE_REDIS=1
//! makes that a failure.

#![cfg(unix)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Redis, program};
use futures_util::StreamExt;
use loadgen::{BroadcastOptions, Protocol, RECONNECT_DEADLINE, Target, run_broadcast};
use tokio::net::{TcpListener, TcpStream};

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
    assert_eq!(report.lost_server as usize, clients / 3, "{report}");
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
/// [`RECONNECT_DEADLINE`], with an error that says so, even in the middle of
/// a join that would never end.
///
/// Two addresses: a `cluster` process, killed halfway through, and one that
/// passes its connections on to a second process until a quarter of the
/// way through (well after everybody joined, well before the kill), and
/// from then on completes the WebSocket handshake and says nothing
/// (tokio-tungstenite's server side). The killed process's clients
/// connect there and send their join, which is never answered. The window
/// is long enough for the deadline to pass inside it: when the run ends, a
/// join still waiting ends quietly, as a run that is over should.
#[tokio::test]
async fn a_client_that_gets_no_welcome_gives_up_at_the_reconnect_deadline() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    let (mut doomed, first) = program(&redis).await;
    let (_survivor, second) = program(&redis).await;
    let mute = Arc::new(AtomicBool::new(false));
    let quiet = quiet_after(second, Arc::clone(&mute)).await;
    let doomed_pid = doomed.id().expect("running");
    let clients = 10;
    let window = RECONNECT_DEADLINE * 2 + Duration::from_secs(6);
    let options = BroadcastOptions {
        target: Target::parse(&format!("ws://{first}/ws")).unwrap(),
        also: vec![Target::parse(&format!("ws://{quiet}/ws")).unwrap()],
        clients,
        protocol: Protocol::Chatroom,
        rate: 10,
        size: 24,
        duration: window,
        warmup: Duration::from_millis(500),
        server_pid: None,
        syscalls: false,
        kill_server: Some(doomed_pid),
    };
    // The kill comes halfway through the window; everybody has joined long
    // before.
    let muting = tokio::spawn(async move {
        tokio::time::sleep(window / 4).await;
        mute.store(true, Ordering::Relaxed);
    });
    let started = tokio::time::Instant::now();
    let report = tokio::time::timeout(window * 2, run_broadcast(&options))
        .await
        .expect("the run ends")
        .unwrap();
    muting.await.unwrap();
    println!("{report} (the run took {:?})", started.elapsed());
    assert!(
        report.killed_at_us.is_some(),
        "the server was killed: {report}"
    );
    assert!(
        doomed.try_wait().unwrap().is_some(),
        "the killed server is gone"
    );
    assert_eq!(report.ready, clients, "{report}");
    assert_eq!(report.lost_server as usize, clients / 2, "{report}");
    assert_eq!(report.reconnected, 0, "{report}");
    // Half the clients were on the killed server: each of them gave up,
    // inside the window, in a join that was never answered.
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
    assert!(
        example.contains("no answer before the deadline"),
        "{example}"
    );
}

/// A listener that passes each connection on to `upstream`, byte for byte,
/// until `mute` is set; a connection accepted after that gets a WebSocket
/// handshake and then silence. Returns its address.
async fn quiet_after(upstream: SocketAddr, mute: Arc<AtomicBool>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mute = mute.load(Ordering::Relaxed);
            tokio::spawn(async move {
                if mute {
                    if let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await {
                        // Read what comes (the join), answer nothing.
                        while let Some(Ok(_)) = ws.next().await {}
                    }
                } else if let Ok(mut up) = TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut stream, &mut up).await;
                }
            });
        }
    });
    addr
}
