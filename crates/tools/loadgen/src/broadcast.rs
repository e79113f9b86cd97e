//! Broadcast mode: N clients in one chat room, R messages a second sent
//! into it, and every client timing and checking every message it receives.
//!
//! This is an open-loop test, unlike [`crate::run_echo`]: the generator
//! sends on its own schedule (a tokio interval, one message every `1/R`
//! seconds, from the clients in turn), whatever the server does with them.
//! A server that falls behind shows it as growing latency and, if it gives
//! up on slow members, as loss, instead of quietly slowing the test down.
//!
//! Each message's text starts with a tag: its id and the time it was
//! written, in microseconds since one [`Instant`] of this process. Every
//! client that receives it reads the tag back and records receipt minus
//! send, the fan-out latency, in one HDR histogram (for messages sent
//! inside the measured window), and the id in its list of receipts, which
//! [`crate::ledger::check`] goes through after the run: every client must
//! have received every message meant for it, exactly once, and all of them
//! in the same order.
//!
//! ```text
//! connect all ─► join (chatroom) ─► warm-up ─► measured window ─► grace ─► close all
//!                every welcome in,   sent and   sent, timed and   the last
//!                the presence storm  checked,   checked           messages
//!                over                not timed                    arrive
//! ```
//!
//! Two wire protocols ([`Protocol`]): our chat room's JSON (lesson 5), and
//! plain text relayed as-is to every other connection, as in
//! tokio-tungstenite's `examples/server.rs`.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use frame::Message;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::{
    Instant, MissedTickBehavior, interval, interval_at, sleep, sleep_until, timeout, timeout_at,
};

use crate::client::{Client, SessionError};
use crate::echo::{CpuSample, Recorder, lock, new_histogram, record, round3};
use crate::fleet::{CLOSE_TIMEOUT, close_kind, joined_or_panic, open_many};
use crate::ledger::{self, Fanout};
use crate::sys::{self, CapacityError};
use crate::{Latency, Tally, Target};

/// The wire protocol of the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Lesson 5's chat room: each client joins with
    /// `{"type":"join","nick":"c12"}` and waits for its welcome; messages go
    /// in as `{"type":"say","text":…}` and come back to every member, the
    /// sender included, as `{"type":"message","seq":…,"text":…}`, among
    /// presence events (`joined`, `left`) that we skip.
    Chatroom,
    /// Text frames relayed as they are to every other connection, the
    /// sender excluded (tokio-tungstenite's `examples/server.rs`).
    Plain,
}

impl Protocol {
    /// `chatroom` or `plain`, as `--protocol` takes it.
    pub fn parse(name: &str) -> Option<Protocol> {
        match name {
            "chatroom" => Some(Protocol::Chatroom),
            "plain" => Some(Protocol::Plain),
            _ => None,
        }
    }

    /// The name `--protocol` takes.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Chatroom => "chatroom",
            Protocol::Plain => "plain",
        }
    }

    /// The server's own default address: lesson 5 on :9005, and the
    /// tokio-tungstenite example on :8080 (it accepts any path).
    pub fn default_url(self) -> &'static str {
        match self {
            Protocol::Chatroom => "ws://127.0.0.1:9005/ws",
            Protocol::Plain => "ws://127.0.0.1:8080/",
        }
    }

    fn fanout(self) -> Fanout {
        match self {
            Protocol::Chatroom => Fanout::Everyone,
            Protocol::Plain => Fanout::Others,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// The chat server.
    pub target: Target,
    /// More servers of the same room (lesson 8's cluster): the clients are
    /// spread over `target` and these, in turn.
    pub also: Vec<Target>,
    /// How many clients join the room.
    pub clients: usize,
    /// How the room speaks.
    pub protocol: Protocol,
    /// Messages sent per second, in total, from the clients in turn.
    pub rate: u32,
    /// Characters of text per message: the [`TAG_LEN`]-character tag, then
    /// letters.
    pub size: usize,
    /// The measured window.
    pub duration: Duration,
    /// Sending before the window: checked for loss, but not timed.
    pub warmup: Duration,
    /// The server's process id, for its CPU share and memory.
    pub server_pid: Option<u32>,
    /// Also count the server's system calls over the window (needs
    /// `server_pid`, and perf).
    pub syscalls: bool,
    /// Failover (chat room, several servers): kill this server process
    /// (SIGKILL) halfway through the window. Every client that loses its
    /// connection after that reconnects to the next server and rejoins with
    /// `since`, and must still receive every message once, in order.
    pub kill_server: Option<u32>,
}

/// The tag every message starts with: the id in 8 hex digits and the send
/// time in 12 (microseconds: 8.9 years before they run out).
pub const TAG_LEN: usize = 20;

/// How long joining may take, every welcome in and the presence storm
/// drained: each join is announced to every member, so N joins put N²/2
/// events on the wire (half a million for 1,000 clients, a few seconds).
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(60);

/// How many joins are in flight at once. Each one fans a `joined` event
/// out to everybody already in; all of them at once would pile a thousand
/// events into every member's queue faster than the server writes them
/// out, and a server that drops members whose queue is full (ours does)
/// would drop them. A few at a time keeps the storm at the pace the server
/// sets.
pub const JOIN_CONCURRENCY: usize = 8;

/// How long after the window the last messages may take to reach everyone
/// before the missing ones count as lost.
pub const DELIVERY_GRACE: Duration = Duration::from_secs(5);

/// Send instructions queued per client. The pacer never waits: a client
/// whose queue is full has stopped taking instructions, which is counted
/// (`send-backlog`) instead of slowing the schedule.
const COMMAND_QUEUE: usize = 16;

/// Above every id a run can hand out: `--rate` (10,000 at most) ×
/// (warm-up + duration) (11 minutes at most) is under 6.6 million.
const ID_CEILING: u32 = 1 << 24;

/// The chat room's own limit: 5 messages a second per connection.
const CHATROOM_RATE_PER_CLIENT: f64 = 5.0;

/// How often setup and the grace period look at the clients' progress.
const POLL: Duration = Duration::from_millis(5);

/// Failover: how long a client that lost its server keeps trying the
/// others before it gives up.
pub const RECONNECT_DEADLINE: Duration = Duration::from_secs(10);

/// Failover: the pause between two attempts, after one that failed (a
/// refused connect to the dead server, or a join refused while the room
/// still counts the old connection).
const RECONNECT_PAUSE: Duration = Duration::from_millis(20);

/// The result of [`run_broadcast`].
#[derive(Debug, Clone)]
pub struct BroadcastReport {
    /// The options it ran with.
    pub options: BroadcastOptions,
    /// Connections that completed their handshake.
    pub connected: usize,
    /// Clients in the room when sending began: joined, for the chat room
    /// protocol; connected, for plain.
    pub ready: usize,
    /// From the first connect until the room was ready.
    pub setup_time: Duration,
    /// Messages written to the server.
    pub sent: u64,
    /// Deliveries owed: each message times the clients meant to get it.
    pub expected: u64,
    /// Of those, delivered at least once.
    pub delivered: u64,
    /// Owed and never delivered (`expected - delivered`).
    pub lost: u64,
    /// Deliveries of a message a client already had.
    pub duplicates: u64,
    /// Receipts that contradict the one order everybody else saw.
    pub out_of_order: u64,
    /// Fan-out latency of the deliveries of messages sent in the window.
    pub latency: Option<Latency>,
    /// How many deliveries that is.
    pub timed: u64,
    /// How late the generator wrote messages against its schedule: p99
    /// and max, in microseconds. Large values mean the generator, not the
    /// server, was behind.
    pub send_lag: Option<(u64, u64)>,
    /// The server's CPU time over the window, as a share of one core.
    pub server_cpu: Option<f64>,
    /// The same for this process.
    pub loadgen_cpu: Option<f64>,
    /// The server's resident memory at the end of the window, in bytes.
    pub server_rss: Option<u64>,
    /// The server's system calls over the window (`--syscalls`).
    pub server_syscalls: Option<sys::Syscalls>,
    /// Failover: when the server was killed, in microseconds since the
    /// window began (`None`: no kill was asked for, or it failed).
    pub killed_at_us: Option<u64>,
    /// Failover: how long each client that lost its server took to be back
    /// in the room (welcomed, history replayed), from the kill.
    pub recovery: Option<Recovery>,
    /// Failover: clients that lost their server after the kill.
    pub lost_server: u64,
    /// Failover: clients back in the room after losing their server.
    pub reconnected: u64,
    /// Failover: messages a client wrote again after rejoining, because
    /// they had not come back to it and were not in the replayed history
    /// (the dead server never passed them on), or because writing them
    /// failed when the connection broke.
    pub resent: u64,
    /// What went wrong, by kind; `loss`, `duplicate`, `out-of-order` and
    /// `foreign` are counted once per client affected.
    pub errors: Tally,
    /// Closing handshakes that did not complete. Reported, not counted as
    /// errors: the figures are in by then, and tokio-tungstenite's example
    /// relays a client's Close to every other client, so its goodbyes are
    /// untidy by design.
    pub close_errors: Tally,
    /// Conditions that make the figures doubtful.
    pub warnings: Vec<String>,
}

impl BroadcastReport {
    fn new(options: &BroadcastOptions, connected: usize, errors: Tally) -> BroadcastReport {
        BroadcastReport {
            options: options.clone(),
            connected,
            ready: 0,
            setup_time: Duration::ZERO,
            sent: 0,
            expected: 0,
            delivered: 0,
            lost: 0,
            duplicates: 0,
            out_of_order: 0,
            latency: None,
            timed: 0,
            send_lag: None,
            server_cpu: None,
            loadgen_cpu: None,
            server_rss: None,
            server_syscalls: None,
            killed_at_us: None,
            recovery: None,
            lost_server: 0,
            reconnected: 0,
            resent: 0,
            errors,
            close_errors: Tally::new(),
            warnings: Vec::new(),
        }
    }

    /// Timed deliveries per second of the window.
    pub fn deliveries_per_sec(&self) -> f64 {
        self.timed as f64 / self.options.duration.as_secs_f64()
    }

    /// The report as one JSON object, for scripts.
    pub fn to_json(&self) -> serde_json::Value {
        let o = &self.options;
        let l = self.latency;
        let mut json = serde_json::json!({
            "mode": "broadcast",
            "url": o.target.to_string(),
            "also": o.also.iter().map(Target::to_string).collect::<Vec<_>>(),
            "protocol": o.protocol.name(),
            "clients": o.clients,
            "connected": self.connected,
            "ready": self.ready,
            "setup_s": round3(self.setup_time.as_secs_f64()),
            "rate": o.rate,
            "size": o.size,
            "warmup_s": o.warmup.as_secs_f64(),
            "duration_s": o.duration.as_secs_f64(),
            "sent": self.sent,
            "expected": self.expected,
            "delivered": self.delivered,
            "lost": self.lost,
            "duplicates": self.duplicates,
            "out_of_order": self.out_of_order,
            "timed": self.timed,
            "deliveries_per_s": self.deliveries_per_sec().round(),
            "p50_us": l.map(|l| l.p50),
            "p99_us": l.map(|l| l.p99),
            "p999_us": l.map(|l| l.p999),
            "max_us": l.map(|l| l.max),
            "mean_us": l.map(|l| (l.mean * 10.0).round() / 10.0),
            "send_lag_p99_us": self.send_lag.map(|(p99, _)| p99),
            "send_lag_max_us": self.send_lag.map(|(_, max)| max),
            "server_pid": o.server_pid,
            "server_cpu": self.server_cpu.map(round3),
            "loadgen_cpu": self.loadgen_cpu.map(round3),
            "server_rss_bytes": self.server_rss,
            "server_syscalls": self.server_syscalls.map(sys::Syscalls::to_json),
            "errors": self.errors.total(),
            "error_kinds": self.errors.to_json(),
            "close_errors": self.close_errors.total(),
            "close_error_kinds": self.close_errors.to_json(),
            "warnings": self.warnings,
        });
        // Failover runs only (`--kill-server`); null otherwise.
        json["failover"] = match o.kill_server {
            None => serde_json::Value::Null,
            Some(pid) => serde_json::json!({
                "pid": pid,
                "killed_at_us": self.killed_at_us,
                "lost_server": self.lost_server,
                "reconnected": self.reconnected,
                "recovery_ms_p50": self.recovery.map(|r| r.p50_ms),
                "recovery_ms_max": self.recovery.map(|r| r.max_ms),
                "resent": self.resent,
            }),
        };
        json
    }
}

/// A few lines for people; `--json` gives the same as one line for scripts.
impl fmt::Display for BroadcastReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        let verb = match o.protocol {
            Protocol::Chatroom => "joined",
            Protocol::Plain => "connected",
        };
        writeln!(
            f,
            "broadcast {} ({}): {} of {} clients {verb} in {:.2} s; {} msgs/s × {} B, \
             {:.1} s measured after {:.1} s warm-up",
            o.target,
            o.protocol,
            self.ready,
            o.clients,
            self.setup_time.as_secs_f64(),
            o.rate,
            o.size,
            o.duration.as_secs_f64(),
            o.warmup.as_secs_f64()
        )?;
        writeln!(
            f,
            "  sent {} messages; delivered {} of {} (lost {}, duplicates {}, out of order {})",
            self.sent, self.delivered, self.expected, self.lost, self.duplicates, self.out_of_order
        )?;
        if let Some(l) = self.latency {
            writeln!(
                f,
                "  fan-out latency µs ({} deliveries, {:.0}/s): p50 {}  p99 {}  p99.9 {}  max {}",
                self.timed,
                self.deliveries_per_sec(),
                l.p50,
                l.p99,
                l.p999,
                l.max
            )?;
        }
        let share = |s: Option<f64>| s.map_or("?".into(), |s| format!("{:.0}%", s * 100.0));
        write!(
            f,
            "  CPU (share of one core): server {}, loadgen {}",
            share(self.server_cpu),
            share(self.loadgen_cpu)
        )?;
        if let Some(rss) = self.server_rss {
            write!(f, "; server RSS {:.1} MiB", rss as f64 / (1024.0 * 1024.0))?;
        }
        if let Some((p99, max)) = self.send_lag {
            write!(f, "; send lag p99 {p99} µs, max {max} µs")?;
        }
        writeln!(f)?;
        if let Some(pid) = o.kill_server {
            if self.killed_at_us.is_none() {
                writeln!(f, "  failover: pid {pid} was never killed")?;
            } else {
                write!(
                    f,
                    "  failover: killed pid {pid}; {} clients lost their server, {} back",
                    self.lost_server, self.reconnected
                )?;
                if let Some(r) = self.recovery {
                    write!(
                        f,
                        " after {:.0} ms (median), {:.0} ms (slowest)",
                        r.p50_ms, r.max_ms
                    )?;
                }
                let gave_up = self.errors.count("reconnect");
                if gave_up > 0 {
                    write!(f, ", {gave_up} gave up")?;
                }
                let unfinished = self.lost_server.saturating_sub(self.reconnected + gave_up);
                if unfinished > 0 {
                    write!(f, ", {unfinished} still rejoining when the run ended")?;
                }
                writeln!(
                    f,
                    "; {} written again",
                    match self.resent {
                        1 => "1 message".to_owned(),
                        n => format!("{n} messages"),
                    }
                )?;
            }
        }
        write!(
            f,
            "  errors: {}",
            self.errors.to_string().replace('\n', "\n          ")
        )?;
        if !self.close_errors.is_empty() {
            write!(
                f,
                "\n  unclean closes (not errors): {}",
                self.close_errors.to_string().replace('\n', "\n          ")
            )?;
        }
        for w in &self.warnings {
            write!(f, "\n  warning: {w}")?;
        }
        Ok(())
    }
}

/// How long the clients that lost their server took to be back in the room.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recovery {
    /// The median client, in milliseconds from the kill.
    pub p50_ms: f64,
    /// The slowest.
    pub max_ms: f64,
}

impl Recovery {
    fn of(mut times: Vec<Duration>) -> Option<Recovery> {
        times.sort_unstable();
        let ms = |d: Duration| (d.as_secs_f64() * 10_000.0).round() / 10.0;
        Some(Recovery {
            p50_ms: ms(*times.get(times.len() / 2)?),
            max_ms: ms(*times.last()?),
        })
    }
}

/// "Write message `id` now": from the pacer to the client whose turn it is.
#[derive(Debug, Clone, Copy)]
struct Command {
    id: u32,
    /// When the schedule wanted it written.
    scheduled: Instant,
}

/// What the clients' tasks share with the run.
struct Context {
    protocol: Protocol,
    /// Every server of the room, in the order the clients were spread
    /// over them.
    targets: Vec<Target>,
    /// Failover: after the kill, a client that loses its connection
    /// reconnects instead of giving up.
    reconnect: bool,
    /// Failover: when the server was killed.
    killed_at: OnceLock<Instant>,
    /// A random number of this run's: the start of every client's `key`,
    /// the secret that lets it take its own nickname back when it rejoins.
    run_key: u64,
    /// Send times are microseconds since this.
    base: Instant,
    /// The measured window `[start, end)` in microseconds since `base`; set
    /// once setup is over.
    window: OnceLock<(u64, u64)>,
    /// The text every message starts from: `size` letters, the tag
    /// written over the first [`TAG_LEN`].
    template: String,
    latency: Recorder,
    send_lag: Recorder,
    /// Messages written, and deliveries seen, by every client together.
    sent: AtomicU64,
    delivered: AtomicU64,
    /// Clients whose setup is over, joined or failed.
    settled: AtomicUsize,
    /// Per client: in the room.
    ready: Vec<AtomicBool>,
    /// Chat room: per client, the `seq` of the last event it read.
    last_seq: Vec<AtomicU64>,
    /// Chat room: the highest `seq` of any member's own `joined` event.
    last_join_seq: AtomicU64,
    join_gate: Semaphore,
}

impl Context {
    fn micros(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_micros()).unwrap_or(u64::MAX)
    }
}

/// What one client's task brings back.
struct Outcome {
    index: usize,
    ready: bool,
    /// Ids received, in arrival order, duplicates included.
    received: Vec<u32>,
    /// Ids this client wrote.
    sent: Vec<u32>,
    errors: Tally,
    close_error: Option<SessionError>,
    /// Failover: how long this client took to be back in the room after
    /// each loss of its server.
    recoveries: Vec<Duration>,
    /// Failover: whether this client lost its server after the kill.
    lost_server: bool,
    /// Failover: messages written again after rejoining.
    resent: u64,
}

// ANCHOR: run_broadcast
/// Runs the broadcast benchmark: connects the clients, joins them (chat
/// room), sends `rate` messages a second for warm-up plus duration, waits
/// up to [`DELIVERY_GRACE`] for the last deliveries, closes, checks every
/// client's receipts, and reports.
///
/// Every wait is bounded: connects by [`crate::CONNECT_TIMEOUT`], setup by
/// [`SETUP_TIMEOUT`], the tail by [`DELIVERY_GRACE`], closes by
/// [`CLOSE_TIMEOUT`].
///
/// # Errors
///
/// [`CapacityError`] before anything is opened, if this process cannot hold
/// that many connections.
pub async fn run_broadcast(options: &BroadcastOptions) -> Result<BroadcastReport, CapacityError> {
    sys::check_capacity(options.clients)?;
    let base = Instant::now();
    let targets: Vec<Target> = std::iter::once(options.target.clone())
        .chain(options.also.iter().cloned())
        .collect();
    let opened = open_many(&targets, options.clients).await;
    let mut report = BroadcastReport::new(options, opened.clients.len(), opened.failures);
    if let Some(pid) = options.server_pid {
        report
            .warnings
            .extend(sys::server_fd_warning(pid, options.clients));
        if let Err(e) = sys::cpu_time(pid) {
            report
                .warnings
                .push(format!("cannot read the CPU time of pid {pid}: {e}"));
        }
    }
    let per_client = f64::from(options.rate) / options.clients as f64;
    if options.protocol == Protocol::Chatroom && per_client > CHATROOM_RATE_PER_CLIENT {
        report.warnings.push(format!(
            "{per_client:.1} messages/s per client is over the chat room's limit of \
             {CHATROOM_RATE_PER_CLIENT}/s: it will warn, then close connections"
        ));
    }
    if opened.clients.is_empty() {
        return Ok(report); // nothing to measure; the errors say why
    }

    let count = opened.clients.len();
    let ctx = Arc::new(Context {
        protocol: options.protocol,
        targets,
        reconnect: options.kill_server.is_some(),
        killed_at: OnceLock::new(),
        run_key: rand::random(),
        base,
        window: OnceLock::new(),
        template: (0..options.size)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect(),
        latency: Arc::new(std::sync::Mutex::new(new_histogram())),
        send_lag: Arc::new(std::sync::Mutex::new(new_histogram())),
        sent: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        settled: AtomicUsize::new(0),
        ready: (0..count).map(|_| AtomicBool::new(false)).collect(),
        last_seq: (0..count).map(|_| AtomicU64::new(0)).collect(),
        last_join_seq: AtomicU64::new(0),
        join_gate: Semaphore::new(JOIN_CONCURRENCY),
    });
    let mut tasks = JoinSet::new();
    let mut commands = Vec::with_capacity(count);
    for (index, client) in opened.clients.into_iter().enumerate() {
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        commands.push(tx);
        tasks.spawn(member(client, index, Arc::clone(&ctx), rx));
    }

    let set_up = setup(&ctx, count).await;
    report.setup_time = base.elapsed();
    let receivers: Vec<usize> = (0..count)
        .filter(|&i| ctx.ready[i].load(Ordering::Acquire))
        .collect();
    report.ready = receivers.len();
    let mut next_id = 0u32;
    if let Err(unready) = set_up {
        report.errors.add("setup-timeout", || {
            format!(
                "{unready} clients were not in the room (joined, presence caught up) after {} s: \
                 nothing was sent",
                SETUP_TIMEOUT.as_secs()
            )
        });
    } else if !receivers.is_empty() {
        // The clock starts once the room is ready, so joining is neither
        // warm-up nor measured.
        let warm_from = Instant::now();
        let start = warm_from + options.warmup;
        let end = start + options.duration;
        // Set once, here, before any message is sent: cannot already be set.
        let _ = ctx.window.set((ctx.micros(start), ctx.micros(end)));
        let mine: Vec<_> = receivers.iter().map(|&i| commands[i].clone()).collect();
        let pacing = pace(&mine, options.rate, warm_from, end, &mut report.errors);
        let sampling = async {
            sleep_until(start).await;
            let before = CpuSample::take(options.server_pid);
            let mut warnings = Vec::new();
            let counter = sys::count_syscalls(
                options.server_pid,
                options.syscalls,
                options.duration,
                &mut warnings,
            );
            sleep_until(end).await;
            let after = CpuSample::take(options.server_pid);
            let rss = options.server_pid.and_then(|pid| sys::rss_bytes(pid).ok());
            let syscalls = sys::syscalls_counted(counter, &mut warnings).await;
            (after.share_since(&before), rss, syscalls, warnings)
        };
        // Failover: halfway through the window, the server dies.
        let killing = async {
            let pid = options.kill_server?;
            sleep_until(start + options.duration / 2).await;
            // Set first, so that every client that then finds its
            // connection gone knows the kill is why.
            let _ = ctx.killed_at.set(Instant::now());
            let killed = kill(pid).await;
            Some(killed.map(|()| ctx.micros(Instant::now()).saturating_sub(ctx.micros(start))))
        };
        let (handed_out, ((server_cpu, loadgen_cpu), rss, syscalls, warnings), killed) =
            tokio::join!(pacing, sampling, killing);
        match killed {
            Some(Ok(at)) => report.killed_at_us = Some(at),
            Some(Err(e)) => report.errors.add("kill", || e),
            None => {}
        }
        next_id = handed_out;
        (report.server_cpu, report.loadgen_cpu, report.server_rss) = (server_cpu, loadgen_cpu, rss);
        report.server_syscalls = syscalls;
        report.warnings.extend(warnings);

        // The tail: the last messages are still on their way.
        let owed_each = match options.protocol {
            Protocol::Chatroom => receivers.len() as u64,
            Protocol::Plain => receivers.len() as u64 - 1,
        };
        let grace_end = Instant::now() + DELIVERY_GRACE;
        let mut poll = interval(POLL);
        while ctx.delivered.load(Ordering::Relaxed) < ctx.sent.load(Ordering::Relaxed) * owed_each
            && Instant::now() < grace_end
        {
            poll.tick().await;
        }
    }

    // Closing every command queue tells every client the run is over.
    drop(commands);
    let mut received: Vec<Option<Vec<u32>>> = vec![None; count];
    let mut sent_by: Vec<Option<u32>> = vec![None; next_id as usize];
    let mut recoveries = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let outcome = joined_or_panic(joined);
        report.errors.merge(outcome.errors);
        report.lost_server += u64::from(outcome.lost_server);
        if !outcome.recoveries.is_empty() {
            report.reconnected += 1;
        }
        recoveries.extend(outcome.recoveries);
        report.resent += outcome.resent;
        if let Some(e) = outcome.close_error {
            report
                .close_errors
                .add(close_kind(&e), || format!("closing: {e}"));
        }
        for id in outcome.sent {
            if let Some(slot) = sent_by.get_mut(id as usize) {
                *slot = Some(outcome.index as u32);
            }
        }
        if outcome.ready {
            received[outcome.index] = Some(outcome.received);
        }
    }
    report.sent = sent_by.iter().flatten().count() as u64;
    report.recovery = Recovery::of(recoveries);
    tally_checks(&mut report, &sent_by, &received);

    report.latency = Latency::from_histogram(&lock(&ctx.latency));
    report.timed = lock(&ctx.latency).len();
    report.send_lag = {
        let lag = lock(&ctx.send_lag);
        (!lag.is_empty()).then(|| (lag.value_at_quantile(0.99), lag.max()))
    };
    if report.loadgen_cpu.is_some_and(|share| share > 0.9) {
        report.warnings.push(
            "the generator kept its CPU more than 90% busy: the latencies may be its own, \
             not the server's (give it its own core)"
                .into(),
        );
    }
    // Later than one interval: messages went out in bunches, not evenly.
    let period = 1_000_000 / u64::from(options.rate.max(1));
    if report.send_lag.is_some_and(|(p99, _)| p99 > period) {
        report.warnings.push(format!(
            "the generator wrote 1% of its messages more than {period} µs (one interval) behind \
             schedule: the rate held on average, but messages went out in bunches (a busy \
             machine, or a generator short of CPU); latency is timed from the actual write"
        ));
    }
    Ok(report)
}
// ANCHOR_END: run_broadcast

/// Waits until every client has settled (joined or failed) and, in the
/// chat room, every member has read the `joined` event of the last one in,
/// so that the presence storm is over before anything is measured.
/// Returns how many clients were not ready at [`SETUP_TIMEOUT`].
async fn setup(ctx: &Context, count: usize) -> Result<(), usize> {
    let deadline = Instant::now() + SETUP_TIMEOUT;
    let mut poll = interval(POLL);
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        poll.tick().await;
        let settled = ctx.settled.load(Ordering::Acquire);
        let caught_up = settled == count && {
            let last = ctx.last_join_seq.load(Ordering::Acquire);
            (0..count).all(|i| {
                !ctx.ready[i].load(Ordering::Acquire)
                    || ctx.last_seq[i].load(Ordering::Relaxed) >= last
            })
        };
        if caught_up {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let behind = (0..count)
                .filter(|&i| {
                    !ctx.ready[i].load(Ordering::Acquire)
                        || ctx.last_seq[i].load(Ordering::Relaxed)
                            < ctx.last_join_seq.load(Ordering::Relaxed)
                })
                .count();
            return Err(behind.max(count - settled));
        }
    }
}

/// Sends SIGKILL to `pid`, as a crash or a pulled plug would end it: no
/// goodbye to its clients or to Redis. Through kill(1), which every Linux
/// has, since this crate has no `unsafe` for the system call.
async fn kill(pid: u32) -> Result<(), String> {
    let status = tokio::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .await
        .map_err(|e| format!("cannot run kill(1) for pid {pid}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "kill -KILL {pid} failed ({status}): no such process?"
        ))
    }
}

// ANCHOR: pace
/// The open loop: from `from` until `end`, one message every `1 / rate`
/// seconds, each from the next client in turn. Never waits for a client:
/// one that has gone is skipped, one whose queue is full misses its turn
/// (counted). Returns how many ids it handed out.
async fn pace(
    clients: &[mpsc::Sender<Command>],
    rate: u32,
    from: Instant,
    end: Instant,
    errors: &mut Tally,
) -> u32 {
    let mut ticks = interval_at(from, Duration::from_secs(1) / rate);
    // Burst (tokio's default, said out loud): after a stall, catch up with
    // the schedule rather than send fewer messages than the rate.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut next_id = 0u32;
    let mut turn = 0usize;
    loop {
        let scheduled = ticks.tick().await;
        if scheduled >= end {
            break;
        }
        let command = Command {
            id: next_id,
            scheduled,
        };
        let mut sent = false;
        for _ in 0..clients.len() {
            let client = &clients[turn % clients.len()];
            turn += 1;
            match client.try_send(command) {
                Ok(()) => {
                    sent = true;
                    break;
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    errors.add("send-backlog", || {
                        "a client had 16 messages to send queued: it stopped taking its turns"
                            .into()
                    });
                    sent = true; // its turn is used up; the id is not sent
                    break;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {} // gone: the next one
            }
        }
        if !sent {
            break; // every client has gone
        }
        next_id += 1;
    }
    next_id
}
// ANCHOR_END: pace

/// Counts each client's losses, duplicates, foreign receipts and order
/// breaks into the report: message totals in its fields, one error per
/// client affected in its tally.
fn tally_checks(
    report: &mut BroadcastReport,
    sent_by: &[Option<u32>],
    received: &[Option<Vec<u32>>],
) {
    let checks = ledger::check(sent_by, report.options.protocol.fanout(), received);
    for (client, c) in checks.iter().enumerate() {
        if received[client].is_none() {
            continue;
        }
        report.expected += c.expected;
        report.delivered += c.delivered;
        report.lost += c.missing;
        report.duplicates += c.duplicates;
        report.out_of_order += c.order_breaks;
        if c.missing > 0 {
            report.errors.add("loss", || {
                format!(
                    "client {client} missed {} of {} messages (the first: id {})",
                    c.missing,
                    c.expected,
                    c.first_missing.unwrap_or_default()
                )
            });
        }
        if c.duplicates > 0 {
            report.errors.add("duplicate", || {
                format!("client {client} received {} messages twice", c.duplicates)
            });
        }
        if c.foreign > 0 {
            report.errors.add("foreign", || {
                format!(
                    "client {client} received {} messages not meant for it \
                     (never sent, or its own where the sender is excluded)",
                    c.foreign
                )
            });
        }
        if c.order_breaks > 0 {
            report.errors.add("out-of-order", || {
                format!(
                    "client {client}'s order disagrees with the others' {} times",
                    c.order_breaks
                )
            });
        }
    }
}

// ANCHOR: member
/// One client, from its handshake to its goodbye: joins (chat room), then
/// until the run is over writes the messages the pacer hands it and reads
/// everything the room sends, in one task and one `select!`. In a failover
/// run, a connection lost after the kill is not the end: the client
/// rejoins through another server and carries on.
async fn member(
    mut client: Client,
    index: usize,
    ctx: Arc<Context>,
    mut commands: mpsc::Receiver<Command>,
) -> Outcome {
    let mut member = Member {
        index,
        ctx: &ctx,
        seen: Vec::new(),
        boot: None,
        outbox: Vec::new(),
        outcome: Outcome {
            index,
            ready: false,
            received: Vec::new(),
            sent: Vec::new(),
            errors: Tally::new(),
            close_error: None,
            recoveries: Vec::new(),
            lost_server: false,
            resent: 0,
        },
    };
    let joined = match ctx.protocol {
        Protocol::Plain => Ok(()),
        Protocol::Chatroom => member.join(&mut client, &mut commands).await,
    };
    member.outcome.ready = joined.is_ok();
    ctx.ready[index].store(joined.is_ok(), Ordering::Release);
    ctx.settled.fetch_add(1, Ordering::AcqRel);
    if let Err(e) = joined {
        if let Some(e) = e {
            member.outcome.errors.add(e.kind(), || e.to_string());
        }
        return member.outcome;
    }

    loop {
        let lost = tokio::select! {
            // Sends first: they are what the schedule is about.
            biased;
            command = commands.recv() => match command {
                Some(command) => match member.send(&mut client, command).await {
                    Ok(()) => continue,
                    Err(e) => SessionError::from(e),
                },
                None => break, // the run is over
            },
            // `next_event` is cancel-safe: losing the race to a send loses
            // no bytes.
            event = client.next_event() => {
                let at = Instant::now();
                match event {
                    Ok(Message::Ping(payload)) => match client.pong(payload).await {
                        Ok(()) => continue,
                        Err(e) => SessionError::from(e),
                    },
                    Ok(message) => {
                        member.received(message, at);
                        continue;
                    }
                    Err(e) => e,
                }
            }
        };
        tracing::debug!("client {index}: {lost}");
        // Before the kill (or without one), a lost connection is a failure.
        if !(ctx.reconnect && ctx.killed_at.get().is_some()) {
            member.outcome.errors.add(lost.kind(), || lost.to_string());
            return member.outcome;
        }
        member.outcome.lost_server = true;
        match member.rejoin(&mut commands).await {
            Ok(back) => client = back,
            Err(e) => {
                if let Some(e) = e {
                    member.outcome.errors.add("reconnect", || e);
                }
                return member.outcome;
            }
        }
    }

    match timeout(CLOSE_TIMEOUT, client.close()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => member.outcome.close_error = Some(e),
        Err(_elapsed) => member.outcome.close_error = Some(SessionError::TimedOut),
    }
    member.outcome
}
// ANCHOR_END: member

/// One client's state while its task runs.
struct Member<'a> {
    index: usize,
    ctx: &'a Context,
    /// A bit per message id: received (or, where the sender is left out,
    /// sent by us). Only so that [`Context::delivered`] counts each
    /// delivery once, for the end of the grace period: a duplicate must
    /// not make up for a message still on its way. The real check is
    /// [`ledger::check`]'s, after the run.
    seen: Vec<u64>,
    /// Chat room: the `boot` of our welcome, which a rejoin's `since`
    /// counts in.
    boot: Option<String>,
    /// Failover runs: our own messages not yet back from the room, oldest
    /// first. The room sends every message to its sender too, so one that
    /// never comes back (live or in a rejoin's history) never entered the
    /// room, and is written again.
    outbox: Vec<Outgoing>,
    outcome: Outcome,
}

/// One of a client's own messages, on its way.
#[derive(Debug, Clone, Copy)]
struct Outgoing {
    id: u32,
    /// Whether a write of it has succeeded (it may still have died with
    /// the server).
    written: bool,
}

impl Member<'_> {
    /// Joins the chat room: waits for a turn (answering pings meanwhile),
    /// sends the join, and reads until the welcome and then our own
    /// `joined` event. `Err(None)` when the run gave up waiting.
    ///
    /// After a first welcome, this is a rejoin: the join carries `since`
    /// (the last event we read) and `boot`, the welcome's history is what
    /// we missed, and messages the pacer hands us meanwhile wait in the
    /// outbox.
    async fn join(
        &mut self,
        client: &mut Client,
        commands: &mut mpsc::Receiver<Command>,
    ) -> Result<(), Option<SessionError>> {
        let nick = format!("c{}", self.index);
        let ctx = self.ctx;
        let rejoin = self.boot.is_some();
        let permit = loop {
            tokio::select! {
                permit = ctx.join_gate.acquire() => match permit {
                    Ok(permit) => break permit,
                    Err(_closed) => return Err(None), // we never close it
                },
                command = commands.recv() => self.while_joining(command)?,
                event = client.next_event() => self.before_welcome(client, event).await?,
            }
        };
        // The key is ours for the whole run, so a rejoin can take our name
        // back from the connection the dead server left behind.
        let mut join = serde_json::json!({
            "type": "join",
            "nick": nick,
            "key": format!("{:016x}{:08x}", ctx.run_key, self.index),
        });
        if let Some(boot) = &self.boot {
            join["since"] = ctx.last_seq[self.index].load(Ordering::Relaxed).into();
            join["boot"] = boot.as_str().into();
        }
        client
            .send_text(&join.to_string())
            .await
            .map_err(SessionError::from)?;
        let mut welcomed = false;
        loop {
            let event = tokio::select! {
                command = commands.recv() => {
                    self.while_joining(command)?;
                    continue;
                }
                event = client.next_event() => event,
            };
            let at = Instant::now();
            if !welcomed {
                let Ok(Message::Text(text)) = &event else {
                    self.before_welcome(client, event).await?;
                    continue;
                };
                let value: serde_json::Value = match serde_json::from_str(text) {
                    Ok(value) => value,
                    Err(_) => {
                        self.unexpected(text);
                        continue;
                    }
                };
                match value["type"].as_str() {
                    Some("welcome") => {
                        welcomed = true;
                        if rejoin {
                            self.replay(&value, at);
                        } else {
                            self.boot = value["boot"].as_str().map(str::to_owned);
                        }
                    }
                    Some("error") => {
                        let reason = value["reason"].as_str().unwrap_or_default().to_owned();
                        if rejoin {
                            // Perhaps our name is still held by the old
                            // connection: the caller tries again.
                            return Err(Some(SessionError::JoinRefused(reason)));
                        }
                        self.outcome
                            .errors
                            .add("join-refused", || format!("{nick}: {reason}"));
                        return Err(None);
                    }
                    _ => self.unexpected(text),
                }
                continue;
            }
            // After the welcome: presence events (our own `joined` first).
            match event {
                Ok(Message::Ping(payload)) => {
                    client.pong(payload).await.map_err(SessionError::from)?
                }
                Ok(Message::Text(text)) => {
                    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                    if let Some(seq) = value["seq"].as_u64() {
                        self.ctx.last_seq[self.index].store(seq, Ordering::Relaxed);
                        if value["type"] == "joined" && value["nick"] == nick.as_str() {
                            if !rejoin {
                                self.ctx.last_join_seq.fetch_max(seq, Ordering::AcqRel);
                            }
                            drop(permit);
                            return Ok(());
                        }
                    } else {
                        self.unexpected(&text);
                    }
                }
                Ok(Message::Binary(_)) => self.unexpected("a binary message"),
                Ok(_) => {}
                Err(e) => return Err(Some(e)),
            }
        }
    }

    /// A command that came while joining: before the first welcome nothing
    /// should come (the queue closing means the run gave up on setup); on
    /// a rejoin, it waits in the outbox. `Err(None)`: the run is over.
    fn while_joining(&mut self, command: Option<Command>) -> Result<(), Option<SessionError>> {
        match command {
            Some(command) if self.boot.is_some() => {
                self.outbox.push(Outgoing {
                    id: command.id,
                    written: false,
                });
                Ok(())
            }
            _ => Err(None),
        }
    }

    /// A rejoin's welcome: its history is every message we missed, each
    /// a delivery like any other.
    fn replay(&mut self, welcome: &serde_json::Value, at: Instant) {
        if welcome["boot"].as_str() != self.boot.as_deref() {
            self.outcome.errors.add("boot-changed", || {
                "the room's numbering started over while we were away: nothing to resume".into()
            });
        }
        if welcome["complete"] == false {
            self.outcome.errors.add("history-trimmed", || {
                "the room no longer kept every message we missed".into()
            });
        }
        for chat in welcome["history"].as_array().into_iter().flatten() {
            if let Some(seq) = chat["seq"].as_u64() {
                self.ctx.last_seq[self.index].store(seq, Ordering::Relaxed);
            }
            match chat["text"].as_str() {
                Some(text) => self.tagged(text, at),
                None => self.unexpected(&chat.to_string()),
            }
        }
    }

    /// After losing our server: reconnects to the next one, and the one
    /// after, until a rejoin succeeds, for at most [`RECONNECT_DEADLINE`];
    /// then writes whatever of ours never made it into the room. `Err(None)`
    /// when the run ended meanwhile.
    async fn rejoin(
        &mut self,
        commands: &mut mpsc::Receiver<Command>,
    ) -> Result<Client, Option<String>> {
        let ctx = self.ctx;
        let deadline = Instant::now() + RECONNECT_DEADLINE;
        let mut last_error = String::new();
        for attempt in 1.. {
            // The servers after ours, in turn: a client whose server was
            // i-th goes to the (i+1)-th, so the survivors share the load.
            let target = &ctx.targets[(self.index + attempt) % ctx.targets.len()];
            // The deadline bounds the attempt under way too: a server that
            // takes the connection and never answers must not hold us past it.
            let trying = async {
                let mut client = Client::connect(target)
                    .await
                    .map_err(|e| Some(e.to_string()))?;
                self.join(&mut client, commands)
                    .await
                    .map_err(|e| e.map(|e| e.to_string()))?;
                Ok::<Client, Option<String>>(client)
            };
            match timeout_at(deadline, trying).await {
                Ok(Ok(mut client)) => {
                    let from = ctx.killed_at.get().copied().unwrap_or_else(Instant::now);
                    self.outcome.recoveries.push(from.elapsed());
                    match self.resend(&mut client).await {
                        Ok(()) => return Ok(client),
                        Err(e) => last_error = format!("{target}: writing again: {e}"),
                    }
                }
                Ok(Err(None)) => return Err(None),
                Ok(Err(Some(e))) => last_error = format!("{target}: {e}"),
                Err(_elapsed) => {
                    last_error = format!("{target}: no answer before the deadline");
                    break;
                }
            }
            if Instant::now() + RECONNECT_PAUSE >= deadline {
                break;
            }
            sleep(RECONNECT_PAUSE).await;
        }
        Err(Some(format!(
            "not back in the room within {} s; last: {last_error}",
            RECONNECT_DEADLINE.as_secs()
        )))
    }

    /// Writes the outbox again, oldest first: each message still in it
    /// never reached the room.
    async fn resend(&mut self, client: &mut Client) -> std::io::Result<()> {
        for i in 0..self.outbox.len() {
            let Outgoing { id, written } = self.outbox[i];
            self.write(client, id).await?;
            if !written {
                self.outbox[i].written = true;
                self.count_sent(id);
            }
            self.outcome.resent += 1;
        }
        Ok(())
    }

    /// Before the welcome, only pings are expected.
    async fn before_welcome(
        &mut self,
        client: &mut Client,
        event: Result<Message, SessionError>,
    ) -> Result<(), Option<SessionError>> {
        match event {
            Ok(Message::Ping(payload)) => client.pong(payload).await.map_err(|e| Some(e.into())),
            Ok(Message::Text(text)) => {
                self.unexpected(&text);
                Ok(())
            }
            Ok(Message::Binary(_)) => {
                self.unexpected("a binary message");
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => Err(Some(e)),
        }
    }

    // ANCHOR: send
    /// Writes message `command.id`, stamped with the time of writing.
    async fn send(&mut self, client: &mut Client, command: Command) -> std::io::Result<()> {
        if self.ctx.reconnect {
            // Until it comes back: if our server dies first, it is written
            // again after the rejoin.
            self.outbox.push(Outgoing {
                id: command.id,
                written: false,
            });
        }
        let now = self.write(client, command.id).await?;
        if let Some(last) = self.outbox.last_mut() {
            last.written = true;
        }
        self.count_sent(command.id);
        record(
            &mut lock(&self.ctx.send_lag),
            now.saturating_duration_since(command.scheduled),
        );
        Ok(())
    }

    /// Writes message `id` with a tag of the time now; returns that time.
    async fn write(&mut self, client: &mut Client, id: u32) -> std::io::Result<Instant> {
        let now = Instant::now();
        let tag = stamp(&self.ctx.template, id, self.ctx.micros(now));
        let text = match self.ctx.protocol {
            // Letters and hex digits: nothing to escape in JSON.
            Protocol::Chatroom => format!(r#"{{"type":"say","text":"{tag}"}}"#),
            Protocol::Plain => tag,
        };
        client.send_text(&text).await?;
        Ok(now)
    }

    /// Books message `id` as sent by us, once.
    fn count_sent(&mut self, id: u32) {
        self.outcome.sent.push(id);
        if self.ctx.protocol.fanout() == Fanout::Others {
            self.first_time(id); // not one we are owed
        }
        self.ctx.sent.fetch_add(1, Ordering::Relaxed);
    }
    // ANCHOR_END: send

    // ANCHOR: received
    /// Handles one message from the room, read at `at`.
    fn received(&mut self, message: Message, at: Instant) {
        let text = match &message {
            Message::Text(text) => &text[..],
            _ => {
                self.unexpected("a binary message");
                return;
            }
        };
        match self.ctx.protocol {
            Protocol::Plain => self.tagged(text, at),
            Protocol::Chatroom => {
                if let Some((seq, chat)) = chat_message(text)
                    && read_stamp(&self.ctx.template, chat).is_some()
                {
                    // How far this member has read the room: a rejoin's
                    // `since`.
                    self.ctx.last_seq[self.index].store(seq, Ordering::Relaxed);
                    self.tagged(chat, at);
                    return;
                }
                // Everything else through serde_json: `Value` costs about
                // 0.6 µs an event here, fine for presence and errors.
                let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
                    self.unexpected(text);
                    return;
                };
                if let Some(seq) = value["seq"].as_u64() {
                    // For setup: how far this member has read the room.
                    self.ctx.last_seq[self.index].store(seq, Ordering::Relaxed);
                }
                match value["type"].as_str() {
                    Some("message") => match value["text"].as_str() {
                        Some(chat) => self.tagged(chat, at),
                        None => self.unexpected(text),
                    },
                    Some("joined" | "left") => {}
                    Some("error") => {
                        let reason = value["reason"].as_str().unwrap_or_default();
                        self.outcome
                            .errors
                            .add("server-error", || format!("the room said: {reason}"));
                    }
                    _ => self.unexpected(text),
                }
            }
        }
    }

    /// A message of this run: note its id, and time it if it was sent in
    /// the window.
    fn tagged(&mut self, text: &str, at: Instant) {
        let Some((id, sent_us)) = read_stamp(&self.ctx.template, text) else {
            self.unexpected(text);
            return;
        };
        self.outcome.received.push(id);
        if let Some(mine) = self.outbox.iter().position(|o| o.id == id) {
            self.outbox.remove(mine); // ours, back: it is in the room
        }
        if self.first_time(id) {
            self.ctx.delivered.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(&(start, end)) = self.ctx.window.get()
            && (start..end).contains(&sent_us)
        {
            let took = self.ctx.micros(at).saturating_sub(sent_us);
            record(&mut lock(&self.ctx.latency), Duration::from_micros(took));
        }
    }
    // ANCHOR_END: received

    /// Marks `id` seen; whether it was new. An id past any this run can
    /// hand out (a stranger's text that happens to look like a tag) is
    /// never new, and never grows the bitmap.
    fn first_time(&mut self, id: u32) -> bool {
        if id >= ID_CEILING {
            return false;
        }
        let (word, bit) = (id as usize / 64, 1u64 << (id % 64));
        if word >= self.seen.len() {
            self.seen.resize(word + 1, 0);
        }
        let new = self.seen[word] & bit == 0;
        self.seen[word] |= bit;
        new
    }

    fn unexpected(&mut self, what: &str) {
        self.outcome.errors.add("unexpected", || {
            let shown: String = what.chars().take(80).collect();
            format!(
                "client {}: not a message of this run: {shown:?}",
                self.index
            )
        });
    }
}

/// The `seq` and `text` of a chat room `message` event, found without a
/// JSON parser when the event has the shape lesson 5's serde writes
/// (`{"type":"message","seq":…,"from":"…","text":"…",…}`) and the text has
/// no escapes, as our tags never do; `None` sends the event through
/// serde_json instead.
///
/// Why bother: a 1,000-way fan-out reaches the generator as 1,000 events
/// at once, which its one core reads one after the other, so the last
/// client's latency includes the generator's time for the 999 before it.
/// A full parse (0.6 µs) would add 0.6 ms to that tail, and to our server's
/// figures only, since the plain protocol needs no parsing; this search
/// costs tens of nanoseconds. A nickname cannot hold a `"` (lesson 5's
/// rule), so `"text":"` cannot be found inside `from`.
fn chat_message(event: &str) -> Option<(u64, &str)> {
    let rest = event.strip_prefix(r#"{"type":"message","seq":"#)?;
    let digits = rest.find(|c: char| !c.is_ascii_digit())?;
    let seq = rest[..digits].parse().ok()?;
    let rest = rest[digits..].strip_prefix(',')?;
    let start = rest.find(r#""text":""#)? + r#""text":""#.len();
    let text = &rest[start..];
    let text = &text[..text.find('"')?];
    (!text.contains('\\')).then_some((seq, text))
}

// ANCHOR: stamp
/// The text of message `id` written at `micros`: the template with the tag
/// (8 + 12 hex digits) over its first [`TAG_LEN`] characters.
fn stamp(template: &str, id: u32, micros: u64) -> String {
    let mut text = format!("{id:08x}{:012x}", micros & 0xffff_ffff_ffff);
    text.push_str(&template[TAG_LEN..]);
    text
}

/// The id and send time in a text [`stamp`] wrote, if it is one: the
/// right length, a tag of hex digits, and the template's letters after it.
fn read_stamp(template: &str, text: &str) -> Option<(u32, u64)> {
    if text.len() != template.len() || text.as_bytes()[TAG_LEN..] != template.as_bytes()[TAG_LEN..]
    {
        return None;
    }
    let hex = |digits: &str| {
        digits
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
            .then(|| u64::from_str_radix(digits, 16).ok())
            .flatten()
    };
    let id = u32::try_from(hex(text.get(..8)?)?).ok()?;
    let micros = hex(text.get(8..TAG_LEN)?)?;
    Some((id, micros))
}
// ANCHOR_END: stamp

#[cfg(test)]
mod tests {
    use super::*;

    fn template(size: usize) -> String {
        (0..size)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect()
    }

    #[test]
    fn stamps_read_back() {
        let t = template(24);
        let text = stamp(&t, 0x2a, 1_234_567);
        assert_eq!(text, "0000002a00000012d687uvwx");
        assert_eq!(read_stamp(&t, &text), Some((42, 1_234_567)));
        assert_eq!(stamp(&template(20), 7, 0).len(), 20);
    }

    #[test]
    fn foreign_texts_are_refused() {
        let t = template(24);
        for bad in [
            "",
            "hello",
            "0000002a00000012d687uvw",   // short
            "0000002a00000012d687uvwy",  // wrong letters
            "0000002g00000012d687uvwx",  // not hex
            "+000002a00000012d687uvwx",  // from_str_radix would take the sign
            "0000002a00000012d687uvwxy", // long
        ] {
            assert_eq!(read_stamp(&t, bad), None, "{bad:?}");
        }
    }

    #[test]
    fn chat_messages_found_without_a_parser() {
        let event =
            r#"{"type":"message","seq":42,"from":"c7","text":"0000002a00000012d687uvwx","ts":1}"#;
        assert_eq!(chat_message(event), Some((42, "0000002a00000012d687uvwx")));
        for other in [
            r#"{"type":"joined","seq":43,"nick":"c8","online":2,"ts":1}"#,
            r#"{"seq":42,"type":"message","text":"x"}"#, // another shape: serde's turn
            r#"{"type":"message","seq":42,"from":"c7","text":"a\"b","ts":1}"#,
            r#"{"type":"message","seq":42,"from":"c7","text":"unterminated"#,
            r#"{"type":"message","seq":-1,"from":"c7","text":"x","ts":1}"#,
            r#"{"type":"message","seq":99999999999999999999,"from":"c7","text":"x"}"#,
            r#"{"type":"message","seq":"#,
        ] {
            assert_eq!(chat_message(other), None, "{other}");
        }
    }

    #[test]
    fn protocols_by_name() {
        for p in [Protocol::Chatroom, Protocol::Plain] {
            assert_eq!(Protocol::parse(p.name()), Some(p));
            assert!(Target::parse(p.default_url()).is_ok());
        }
        assert_eq!(Protocol::parse("json"), None);
    }
}
