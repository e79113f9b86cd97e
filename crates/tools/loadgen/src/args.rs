//! The command line: clap reads the flags, and [`Flags::check`] applies the
//! defaults, the limits and which flag belongs to which mode, before a
//! socket is opened.

use std::fmt;
use std::time::Duration;

use crate::{BroadcastOptions, ClientCodec, EchoOptions, IdleOptions, Protocol, TAG_LEN, Target};

/// The modes and their flags, after clap's list of flags in `--help`.
const MODES: &str = "\
Echo mode (the default), closed loop: N connections each send one masked text
message of BYTES, wait for its echo, check it and time it, and repeat. After
the warm-up, round trips are recorded for D; then msgs/s and p50/p99/p99.9.

Idle mode (--idle N): open N connections, hold them for the --hold time, and
report how much the server's memory grew per connection (needs --server-pid).

Broadcast mode (--broadcast N), open loop: N clients join one chat room; R
messages a second go in, from the clients in turn; every client times every
message it receives (fan-out latency) and checks it got every message meant
for it, once, in the order everybody saw. Loss, duplicates and order are
counted over warm-up and window; latency over the window. Failover
(--kill-server PID, several --url): that server is killed halfway through the
window; its clients rejoin through the others with `since`, must still miss
nothing, and their time to be back is reported. A client not back within
10 s gives up, with an error.

Only loopback servers are accepted. Many connections need a raised open-file
limit: `ulimit -n` in this shell and in the server's.";

/// The most connections any mode opens: below the 28,232 local ports
/// Linux hands out by default (32768-60999), the real ceiling for one client
/// address talking to one server port.
pub const MAX_CONNECTIONS: usize = 25_000;
/// The largest message: 1 MiB. Larger measures memcpy, not WebSocket.
pub const MAX_SIZE: usize = 1024 * 1024;
/// The longest measured window or hold: 10 minutes.
pub const MAX_DURATION: Duration = Duration::from_secs(600);
/// The longest warm-up: 1 minute.
pub const MAX_WARMUP: Duration = Duration::from_secs(60);
/// The most runtime threads.
pub const MAX_THREADS: usize = 64;
/// The fewest broadcast clients: with one, a relay that skips the sender
/// has nobody to deliver to.
pub const MIN_CLIENTS: usize = 2;
/// The highest broadcast rate, messages per second in total: 10,000, a
/// hundred times the issue's. Each is delivered to every client, so the
/// deliveries per second are this times the clients.
pub const MAX_RATE: usize = 10_000;
/// The largest broadcast message: 1,000 characters, lesson 5's chat limit.
pub const MAX_BROADCAST_SIZE: usize = 1000;
/// The most deliveries one broadcast run may owe (clients × rate ×
/// (warm-up + duration)): 50 million. Every one is remembered, 4 bytes
/// each, for the loss and order check after the run: 200 MB at most.
pub const MAX_DELIVERIES: u64 = 50_000_000;

/// The default server: lesson 3's echo.
pub const DEFAULT_URL: &str = "ws://127.0.0.1:9003/ws";

/// Which benchmark to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Closed-loop echo round trips.
    Echo(EchoOptions),
    /// Idle connections and the server's memory.
    Idle(IdleOptions),
    /// A chat room's fan-out: latency, loss, order.
    Broadcast(BroadcastOptions),
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cli {
    /// What to run.
    pub mode: Mode,
    /// Print one line of JSON instead of the human report.
    pub json: bool,
    /// Runtime worker threads; 1 means tokio's current-thread runtime.
    pub threads: usize,
}

/// A command line we cannot run, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgsError(pub String);

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArgsError {}

fn error(message: impl Into<String>) -> ArgsError {
    ArgsError(message.into())
}

/// The flags as given, before defaults and checks ([`Flags::check`]).
#[derive(Debug, Default, clap::Parser)]
#[command(
    name = "loadgen",
    about = "A WebSocket load generator: echo round trips, idle connections, or a chat room's fan-out; loopback only.",
    after_help = MODES
)]
pub struct Flags {
    /// ws://HOST[:PORT]/PATH, loopback only [default: ws://127.0.0.1:9003/ws;
    /// broadcast: ws://127.0.0.1:9005/ws for chatroom, ws://127.0.0.1:8080/
    /// for plain, the servers' defaults]. Broadcast: give it once per server
    /// of one room (lesson 8's cluster), and the clients are spread over
    /// them in turn
    #[arg(long, value_name = "URL")]
    url: Vec<String>,
    /// Echo: connections, one message in flight each [default: 100]
    #[arg(long, value_name = "N")]
    connections: Option<String>,
    /// Text bytes per message [default: 20] (broadcast: 20 to 1000; the
    /// first 20 are the tag)
    #[arg(long, value_name = "BYTES")]
    size: Option<String>,
    /// Measured time: 300ms, 10s, 1.5m [default: 10s]
    #[arg(long, value_name = "D")]
    duration: Option<String>,
    /// Time before it, not recorded [default: 2s]
    #[arg(long, value_name = "D")]
    warmup: Option<String>,
    /// Idle mode with N connections
    #[arg(long, value_name = "N")]
    idle: Option<String>,
    /// Idle mode: hold before weighing [default: 1s]
    #[arg(long, value_name = "D")]
    hold: Option<String>,
    /// Broadcast mode with N clients (2 or more)
    #[arg(long, value_name = "N")]
    broadcast: Option<String>,
    /// Broadcast: chatroom (lesson 5's JSON: join, then say; everyone gets
    /// each message, the sender too) or plain (text relayed to every other
    /// connection, as in tokio-tungstenite's examples/server.rs) [default:
    /// chatroom]
    #[arg(long, value_name = "P")]
    protocol: Option<String>,
    /// Broadcast: messages per second, in total [default: 100]
    #[arg(long, value_name = "R")]
    rate: Option<String>,
    /// Report the server's CPU share (echo, broadcast) and memory (idle,
    /// broadcast)
    #[arg(long, value_name = "PID")]
    server_pid: Option<String>,
    /// Echo: which codec speaks on the connections once open: ours (lessons
    /// 1 and 2) or tungstenite (tokio-tungstenite's, to weigh ours against)
    /// [default: ours]
    #[arg(long, value_name = "CODEC")]
    client: Option<String>,
    /// Echo, broadcast: with --server-pid, also count the server's system
    /// calls over the measured window (perf stat on the kernel's syscall
    /// tracepoints: Debian's linux-perf)
    #[arg(long)]
    syscalls: bool,
    /// Broadcast, chatroom, several --url (failover): kill this server
    /// process (SIGKILL) halfway through the measured window. Its clients
    /// reconnect to the next --url and rejoin with `since`; every client
    /// must still receive every message once, in order. Reports how long
    /// they took to be back
    #[arg(long, value_name = "PID")]
    kill_server: Option<String>,
    /// Runtime threads; 1 suits a generator pinned to one core [default: 1]
    #[arg(long, value_name = "N")]
    threads: Option<String>,
    /// One line of JSON instead of the human report
    #[arg(long)]
    json: bool,
}

impl Flags {
    /// Applies the defaults and the limits.
    ///
    /// # Errors
    ///
    /// [`ArgsError`]: a malformed value, a value out of range, a flag of
    /// another mode (`--hold` in echo mode), or a URL that is not loopback.
    pub fn check(self) -> Result<Cli, ArgsError> {
        build(self)
    }
}

/// The modes, by the flag that selects them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Echo,
    Idle,
    Broadcast,
}

impl Which {
    fn describe(self) -> &'static str {
        match self {
            Which::Echo => "echo mode (the default)",
            Which::Idle => "idle mode (--idle N)",
            Which::Broadcast => "broadcast mode (--broadcast N)",
        }
    }
}

/// Applies defaults and limits.
fn build(given: Flags) -> Result<Cli, ArgsError> {
    let which = match (&given.idle, &given.broadcast) {
        (Some(_), Some(_)) => {
            return Err(error(
                "--idle and --broadcast are two different modes: choose one",
            ));
        }
        (Some(_), None) => Which::Idle,
        (None, Some(_)) => Which::Broadcast,
        (None, None) => Which::Echo,
    };
    // Which flag belongs to which modes: one given to another mode is a
    // mistake to point out, not to ignore.
    let belongs: [(&str, bool, &[Which]); 8] = [
        ("--connections", given.connections.is_some(), &[Which::Echo]),
        (
            "--size",
            given.size.is_some(),
            &[Which::Echo, Which::Broadcast],
        ),
        (
            "--duration",
            given.duration.is_some(),
            &[Which::Echo, Which::Broadcast],
        ),
        (
            "--warmup",
            given.warmup.is_some(),
            &[Which::Echo, Which::Broadcast],
        ),
        ("--hold", given.hold.is_some(), &[Which::Idle]),
        ("--protocol", given.protocol.is_some(), &[Which::Broadcast]),
        ("--rate", given.rate.is_some(), &[Which::Broadcast]),
        (
            "--kill-server",
            given.kill_server.is_some(),
            &[Which::Broadcast],
        ),
    ];
    for (flag, present, modes) in belongs {
        if present && !modes.contains(&which) {
            let modes: Vec<_> = modes.iter().map(|m| m.describe()).collect();
            let mut message = format!("{flag} is for {}", modes.join(" and "));
            if flag == "--connections" && which != Which::Echo {
                message += &format!(
                    "; --{} takes its count as its value",
                    if which == Which::Idle {
                        "idle"
                    } else {
                        "broadcast"
                    }
                );
            }
            return Err(error(message));
        }
    }

    let protocol = match given.protocol.as_deref() {
        None => Protocol::Chatroom,
        Some(name) => Protocol::parse(name)
            .ok_or_else(|| error(format!("--protocol is chatroom or plain, not {name:?}")))?,
    };
    let default_url = match which {
        Which::Broadcast => protocol.default_url(),
        Which::Echo | Which::Idle => DEFAULT_URL,
    };
    let mut urls = given.url.iter().map(String::as_str);
    let url = urls.next().unwrap_or(default_url);
    let target = Target::parse(url).map_err(|e| error(e.to_string()))?;
    let also = urls
        .map(|url| Target::parse(url).map_err(|e| error(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    if !also.is_empty() && which != Which::Broadcast {
        return Err(error(
            "--url more than once: only in broadcast mode, for the servers of one room",
        ));
    }
    let server_pid = given
        .server_pid
        .as_deref()
        .map(|v| number("--server-pid", v, 1, u32::MAX as usize).map(|n| n as u32))
        .transpose()?;
    if given.syscalls && (server_pid.is_none() || which == Which::Idle) {
        return Err(error(
            "--syscalls counts the server's system calls: echo or broadcast mode, with --server-pid",
        ));
    }
    let syscalls = given.syscalls;
    let kill_server = given
        .kill_server
        .as_deref()
        .map(|v| number("--kill-server", v, 1, u32::MAX as usize).map(|n| n as u32))
        .transpose()?;
    if kill_server.is_some() {
        if protocol != Protocol::Chatroom || also.is_empty() {
            return Err(error(
                "--kill-server: a chatroom cluster, its servers each given by --url \
                 (the clients of the killed one need another to rejoin)",
            ));
        }
        if kill_server == server_pid {
            return Err(error(
                "--kill-server and --server-pid name the same process: the server measured \
                 must outlive the run",
            ));
        }
    }
    let client = match given.client.as_deref() {
        None => ClientCodec::Ours,
        Some(_) if which != Which::Echo => {
            return Err(error("--client: echo mode only"));
        }
        Some(name) => ClientCodec::parse(name)
            .ok_or_else(|| error(format!("--client takes ours or tungstenite, not {name:?}")))?,
    };
    let threads = given
        .threads
        .as_deref()
        .map_or(Ok(1), |v| number("--threads", v, 1, MAX_THREADS))?;
    let (min_size, max_size) = match which {
        Which::Broadcast => (TAG_LEN, MAX_BROADCAST_SIZE),
        Which::Echo | Which::Idle => (0, MAX_SIZE),
    };
    let size = given
        .size
        .as_deref()
        .map_or(Ok(20), |v| number("--size", v, min_size, max_size))?;
    let measured = given
        .duration
        .as_deref()
        .map_or(Ok(Duration::from_secs(10)), |v| {
            duration("--duration", v, Duration::from_millis(1), MAX_DURATION)
        })?;
    let warmup = given
        .warmup
        .as_deref()
        .map_or(Ok(Duration::from_secs(2)), |v| {
            duration("--warmup", v, Duration::ZERO, MAX_WARMUP)
        })?;

    let mode = match which {
        Which::Idle => Mode::Idle(IdleOptions {
            target,
            connections: number(
                "--idle",
                given.idle.as_deref().unwrap_or_default(),
                1,
                MAX_CONNECTIONS,
            )?,
            hold: given
                .hold
                .as_deref()
                .map_or(Ok(Duration::from_secs(1)), |v| {
                    duration("--hold", v, Duration::ZERO, MAX_DURATION)
                })?,
            server_pid,
        }),
        Which::Broadcast => {
            let clients = number(
                "--broadcast",
                given.broadcast.as_deref().unwrap_or_default(),
                MIN_CLIENTS,
                MAX_CONNECTIONS,
            )?;
            let rate = given
                .rate
                .as_deref()
                .map_or(Ok(100), |v| number("--rate", v, 1, MAX_RATE))?;
            let owed = clients as f64 * rate as f64 * (warmup + measured).as_secs_f64();
            if owed > MAX_DELIVERIES as f64 {
                return Err(error(format!(
                    "{clients} clients × {rate} msgs/s × {:.1} s (warm-up and duration) is {owed:.0} \
                     deliveries, over the {MAX_DELIVERIES} a run may check: fewer clients, a \
                     lower rate or a shorter run",
                    (warmup + measured).as_secs_f64()
                )));
            }
            Mode::Broadcast(BroadcastOptions {
                target,
                also,
                clients,
                protocol,
                // At most MAX_RATE, which fits.
                rate: rate as u32,
                size,
                duration: measured,
                warmup,
                server_pid,
                syscalls,
                kill_server,
            })
        }
        Which::Echo => Mode::Echo(EchoOptions {
            target,
            connections: given
                .connections
                .as_deref()
                .map_or(Ok(100), |v| number("--connections", v, 1, MAX_CONNECTIONS))?,
            size,
            duration: measured,
            warmup,
            server_pid,
            syscalls,
            client,
        }),
    };
    Ok(Cli {
        mode,
        json: given.json,
        threads,
    })
}

/// A whole number in `min..=max`.
fn number(flag: &str, value: &str, min: usize, max: usize) -> Result<usize, ArgsError> {
    let n: usize = value
        .parse()
        .map_err(|_| error(format!("{flag} takes a whole number, not {value:?}")))?;
    if !(min..=max).contains(&n) {
        return Err(error(format!("{flag} must be {min} to {max}, not {n}")));
    }
    Ok(n)
}

/// A duration in `min..=max`: see [`parse_duration`].
fn duration(flag: &str, value: &str, min: Duration, max: Duration) -> Result<Duration, ArgsError> {
    let d = parse_duration(value).ok_or_else(|| {
        error(format!(
            "{flag} takes a duration like 300ms, 10s or 1.5m, not {value:?}"
        ))
    })?;
    if d < min || d > max {
        return Err(error(format!(
            "{flag} must be {min:?} to {max:?}, not {value}"
        )));
    }
    Ok(d)
}

/// `300ms`, `10s`, `1.5s`, `2m`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let (number, unit_secs) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    let n: f64 = number.parse().ok()?;
    // try_from_secs_f64 refuses negatives, NaN and overflow.
    Duration::try_from_secs_f64(n * unit_secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &str) -> Result<Cli, ArgsError> {
        use clap::Parser;
        let words = std::iter::once("loadgen").chain(args.split_whitespace());
        Flags::try_parse_from(words)
            .map_err(|e| ArgsError(e.to_string()))?
            .check()
    }

    fn cli(args: &str) -> Cli {
        parse(args).unwrap_or_else(|e| panic!("{args}: {e}"))
    }

    #[test]
    fn defaults_are_the_issue_s() {
        let c = cli("");
        assert_eq!((c.json, c.threads), (false, 1));
        let Mode::Echo(e) = c.mode else {
            panic!("echo is the default")
        };
        assert_eq!(e.target.to_string(), "ws://127.0.0.1:9003/ws");
        assert_eq!((e.connections, e.size), (100, 20));
        assert_eq!(
            (e.duration, e.warmup),
            (Duration::from_secs(10), Duration::from_secs(2))
        );
        assert_eq!(e.server_pid, None);
    }

    #[test]
    fn every_flag() {
        let c = cli(
            "--url=ws://localhost:9100/ws --connections 4 --size=0 --duration 300ms \
             --warmup 0 --server-pid 42 --threads 2 --json",
        );
        assert!(c.json);
        assert_eq!(c.threads, 2);
        let Mode::Echo(e) = c.mode else { panic!() };
        assert_eq!(e.target.addr, "127.0.0.1:9100".parse().unwrap());
        assert_eq!((e.connections, e.size), (4, 0));
        assert_eq!(
            (e.duration, e.warmup),
            (Duration::from_millis(300), Duration::ZERO)
        );
        assert_eq!(e.server_pid, Some(42));
        assert!(!e.syscalls);
        assert_eq!(e.client, ClientCodec::Ours);
        let Mode::Echo(e) = cli("--client tungstenite").mode else {
            panic!()
        };
        assert_eq!(e.client, ClientCodec::Tungstenite);
        for wrong in ["--client tokio", "--broadcast 2 --client ours"] {
            assert!(parse(wrong).unwrap_err().0.contains("--client"), "{wrong}");
        }

        // --syscalls: the server's, so only with its pid, and not idle.
        let Mode::Echo(e) = cli("--server-pid 42 --syscalls").mode else {
            panic!()
        };
        assert!(e.syscalls);
        let Mode::Broadcast(b) = cli("--broadcast 2 --server-pid 42 --syscalls").mode else {
            panic!()
        };
        assert!(b.syscalls);
        for wrong in ["--syscalls", "--idle 5 --server-pid 42 --syscalls"] {
            assert!(
                parse(wrong).unwrap_err().0.contains("--server-pid"),
                "{wrong}"
            );
        }

        let Mode::Idle(i) = cli("--idle 10000 --hold 2.5s --server-pid 7").mode else {
            panic!()
        };
        assert_eq!(
            (i.connections, i.hold, i.server_pid),
            (10_000, Duration::from_millis(2500), Some(7))
        );
        for help in ["-h", "--size 5 --help"] {
            assert!(parse(help).unwrap_err().0.contains("Usage:"), "{help}");
        }
    }

    #[test]
    fn broadcast_defaults_and_flags() {
        let Mode::Broadcast(b) = cli("--broadcast 1000").mode else {
            panic!("--broadcast selects broadcast mode")
        };
        assert_eq!(b.target.to_string(), "ws://127.0.0.1:9005/ws");
        assert!(b.also.is_empty());
        assert_eq!(
            (b.clients, b.protocol, b.rate, b.size),
            (1000, Protocol::Chatroom, 100, 20)
        );
        // The servers of one room: the clients go to each in turn.
        let Mode::Broadcast(b) =
            cli("--broadcast 9 --url ws://127.0.0.1:9011/ws --url ws://127.0.0.1:9012/ws").mode
        else {
            panic!()
        };
        assert_eq!(b.target.to_string(), "ws://127.0.0.1:9011/ws");
        assert_eq!(b.also.len(), 1);
        let err = parse("--url ws://127.0.0.1:1/ --url ws://127.0.0.1:2/").unwrap_err();
        assert!(err.0.contains("only in broadcast mode"), "{}", err.0);
        assert_eq!(
            (b.duration, b.warmup, b.server_pid),
            (Duration::from_secs(10), Duration::from_secs(2), None)
        );

        let Mode::Broadcast(b) = cli("--broadcast=3 --protocol plain --rate 250 --size 1000 \
             --duration 300ms --warmup 0 --server-pid 9")
        .mode
        else {
            panic!()
        };
        assert_eq!(
            b.target.to_string(),
            "ws://127.0.0.1:8080/",
            "plain: the example's port"
        );
        assert_eq!(
            (b.clients, b.protocol, b.rate, b.size),
            (3, Protocol::Plain, 250, 1000)
        );
        assert_eq!(
            (b.duration, b.warmup, b.server_pid),
            (Duration::from_millis(300), Duration::ZERO, Some(9))
        );
        let Mode::Broadcast(b) = cli("--broadcast 2 --url ws://127.0.0.1:21000/ws").mode else {
            panic!()
        };
        assert_eq!(b.target.addr, "127.0.0.1:21000".parse().unwrap());
        assert_eq!(b.kill_server, None);
    }

    #[test]
    fn the_help_names_the_reconnect_deadline() {
        let deadline = format!("within {} s gives up", crate::RECONNECT_DEADLINE.as_secs());
        let help = MODES.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(help.contains(&deadline), "{MODES}");
    }

    #[test]
    fn a_server_to_kill_needs_a_cluster_to_fail_over_to() {
        let two = "--broadcast 9 --url ws://127.0.0.1:9011/ws --url ws://127.0.0.1:9012/ws";
        let Mode::Broadcast(b) = cli(&format!("{two} --kill-server 77 --server-pid 78")).mode
        else {
            panic!()
        };
        assert_eq!((b.kill_server, b.server_pid), (Some(77), Some(78)));
        for (wrong, says) in [
            ("--broadcast 9 --kill-server 77", "a chatroom cluster"),
            (
                &format!("{two} --protocol plain --kill-server 77"),
                "a chatroom cluster",
            ),
            (
                &format!("{two} --kill-server 77 --server-pid 77"),
                "same process",
            ),
            (&format!("{two} --kill-server 0"), "--kill-server"),
            ("--kill-server 77", "broadcast mode"),
        ] {
            let err = parse(wrong).unwrap_err();
            assert!(err.0.contains(says), "{wrong}: {}", err.0);
        }
    }

    #[test]
    fn broadcast_limits() {
        let cases = [
            ("--broadcast 1", "--broadcast must be 2 to 25000"),
            ("--broadcast 25001", "--broadcast must be 2 to 25000"),
            ("--broadcast x", "whole number"),
            ("--broadcast 10 --rate 0", "--rate must be 1 to 10000"),
            ("--broadcast 10 --rate 10001", "--rate must be 1 to 10000"),
            ("--broadcast 10 --size 19", "--size must be 20 to 1000"),
            ("--broadcast 10 --size 1001", "--size must be 20 to 1000"),
            ("--broadcast 10 --protocol json", "chatroom or plain"),
            (
                "--broadcast 10 --connections 5",
                "--connections is for echo mode",
            ),
            (
                "--broadcast 10 --connections 5",
                "--broadcast takes its count",
            ),
            ("--broadcast 10 --hold 1s", "--hold is for idle mode"),
            ("--broadcast 10 --idle 10", "choose one"),
            ("--rate 5", "--rate is for broadcast mode"),
            ("--protocol plain", "--protocol is for broadcast mode"),
            ("--idle 5 --rate 5", "--rate is for broadcast mode"),
            ("--idle 5 --connections 5", "--idle takes its count"),
            // 25,000 × 10,000 × 12 s: far more than a run may remember.
            ("--broadcast 25000 --rate 10000", "over the 50000000"),
            ("--broadcast 2 --url ws://example.com/", "only loopback"),
        ];
        for (args, want) in cases {
            let e = parse(args).expect_err(args);
            assert!(e.0.contains(want), "{args}: {e}");
        }
        // Just under the delivery limit is fine: 1,000 × 4,000 × 12 s = 48 M.
        assert!(parse("--broadcast 1000 --rate 4000").is_ok());
        assert!(parse("--broadcast 1000 --rate 4200").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("1.5m"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        for bad in ["", "s", "-1s", "1h", "ten", "NaNs", "1e300s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            ("--bogus", "unexpected argument '--bogus'"),
            ("stray", "unexpected argument"),
            ("--size", "a value is required for '--size <BYTES>'"),
            ("--size 1 --size 2", "cannot be used multiple times"),
            ("--size=-1", "whole number"),
            ("--connections 0", "must be 1 to 25000"),
            ("--connections 30000", "must be 1 to 25000"),
            ("--size 2000000", "must be 0 to 1048576"),
            ("--duration 0s", "--duration must be"),
            ("--duration 11m", "--duration must be"),
            ("--warmup 5x", "like 300ms"),
            ("--idle 10 --size 20", "--size is for echo mode"),
            ("--hold 1s", "--hold is for idle mode"),
            ("--threads 0", "--threads must be"),
            ("--url ws://example.com/", "only loopback"),
            ("--url wss://127.0.0.1/", "TLS"),
        ];
        for (args, want) in cases {
            let e = parse(args).expect_err(args);
            assert!(e.0.contains(want), "{args}: {e}");
        }
    }
}
