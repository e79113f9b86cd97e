//! The closed-loop echo benchmark: N connections, each sending one text
//! message and waiting for its echo before sending the next.
//!
//! "Closed loop" means the server sets the pace: a slow answer delays the
//! next question. So throughput is `connections / round trip`, and the
//! latencies are what each message took *given* that load, not what a
//! client arriving on its own schedule would see (that is an open-loop test,
//! which needs a rate and corrects for "coordinated omission"). For comparing
//! two servers under the same load, closed loop is the standard: it is what
//! fastwebsockets' published benchmarks and the book's performance appendix
//! use.
//!
//! The timeline of a run:
//!
//! ```text
//! connect all ─► warm-up (not recorded) ─► measured window ─► close all
//!                 caches, allocators and      every round trip that starts
//!                 the TCP windows settle      and ends inside it counts
//! ```

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use frame::Message;
use hdrhistogram::Histogram;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};

use crate::client::{Client, Echo, SessionError};
use crate::fleet::{CLOSE_TIMEOUT, close_kind, joined_or_panic, open_many};
use crate::peer::{ClientCodec, EchoPeer};
use crate::sys::{self, CapacityError};
use crate::{Tally, Target};

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoOptions {
    /// The echo server.
    pub target: Target,
    /// How many connections, each with one message in flight.
    pub connections: usize,
    /// Bytes of text per message.
    pub size: usize,
    /// The measured window.
    pub duration: Duration,
    /// Time before the window whose round trips are not recorded.
    pub warmup: Duration,
    /// The server's process id, to report its CPU share over the window.
    pub server_pid: Option<u32>,
    /// Also count the server's system calls over the window (needs
    /// `server_pid`, and perf).
    pub syscalls: bool,
    /// Which codec speaks on the connections once they are open.
    pub client: ClientCodec,
}

/// How long after the end of the window a round trip still in flight may
/// take before we call its connection stuck. Generous: only a server that
/// stopped answering takes this long.
pub const STALL_GRACE: Duration = Duration::from_secs(2);

/// Round-trip percentiles, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    /// The median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// The slowest.
    pub max: u64,
    /// The mean.
    pub mean: f64,
}

impl Latency {
    /// Reads the percentiles off a histogram of microseconds; `None` if it is
    /// empty.
    pub fn from_histogram(h: &Histogram<u64>) -> Option<Latency> {
        (!h.is_empty()).then(|| Latency {
            p50: h.value_at_quantile(0.50),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        })
    }
}

/// The result of [`run_echo`].
#[derive(Debug, Clone)]
pub struct EchoReport {
    /// The options it ran with.
    pub options: EchoOptions,
    /// Connections that completed their handshake.
    pub connected: usize,
    /// Round trips recorded: started and finished inside the window, with
    /// the right echo.
    pub messages: u64,
    /// Their latency; `None` if there were none.
    pub latency: Option<Latency>,
    /// Everything that went wrong, by kind (`mismatch` for a wrong echo).
    pub errors: Tally,
    /// The server's CPU time over the window divided by its length: 1.0 is
    /// one core fully busy. `None` without a server pid.
    pub server_cpu: Option<f64>,
    /// The same for this process. Near 1.0 per thread, the generator may be
    /// what limits the figures.
    pub loadgen_cpu: Option<f64>,
    /// The server's system calls over the window (`--syscalls`).
    pub server_syscalls: Option<sys::Syscalls>,
    /// Conditions that make the figures doubtful.
    pub warnings: Vec<String>,
}

impl EchoReport {
    /// Recorded round trips per second of the window.
    pub fn msgs_per_sec(&self) -> f64 {
        self.messages as f64 / self.options.duration.as_secs_f64()
    }

    /// The report as one JSON object, for scripts.
    pub fn to_json(&self) -> serde_json::Value {
        let l = self.latency;
        serde_json::json!({
            "mode": "echo",
            "url": self.options.target.to_string(),
            "connections": self.options.connections,
            "connected": self.connected,
            "size": self.options.size,
            "warmup_s": self.options.warmup.as_secs_f64(),
            "duration_s": self.options.duration.as_secs_f64(),
            "messages": self.messages,
            "msgs_per_s": self.msgs_per_sec().round(),
            "p50_us": l.map(|l| l.p50),
            "p99_us": l.map(|l| l.p99),
            "p999_us": l.map(|l| l.p999),
            "max_us": l.map(|l| l.max),
            "mean_us": l.map(|l| (l.mean * 10.0).round() / 10.0),
            "server_pid": self.options.server_pid,
            "server_cpu": self.server_cpu.map(round3),
            "loadgen_cpu": self.loadgen_cpu.map(round3),
            "server_syscalls": self.server_syscalls.map(sys::Syscalls::to_json),
            "client": self.options.client.name(),
            "errors": self.errors.total(),
            "error_kinds": self.errors.to_json(),
            "warnings": self.warnings,
        })
    }
}

pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A few lines for people; `--json` gives the same as one line for scripts.
impl fmt::Display for EchoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        writeln!(
            f,
            "echo {}: {} of {} connections × {} B, {:.1} s measured after {:.1} s warm-up",
            o.target,
            self.connected,
            o.connections,
            o.size,
            o.duration.as_secs_f64(),
            o.warmup.as_secs_f64()
        )?;
        write!(
            f,
            "  {:.0} msgs/s ({} round trips)",
            self.msgs_per_sec(),
            self.messages
        )?;
        match self.latency {
            Some(l) => writeln!(
                f,
                "; round trip µs: p50 {}  p99 {}  p99.9 {}  max {}",
                l.p50, l.p99, l.p999, l.max
            )?,
            None => writeln!(f)?,
        }
        let share = |s: Option<f64>| s.map_or("?".into(), |s| format!("{:.0}%", s * 100.0));
        match o.server_pid {
            Some(_) => writeln!(
                f,
                "  CPU (share of one core): server {}, loadgen {}",
                share(self.server_cpu),
                share(self.loadgen_cpu)
            )?,
            None if self.loadgen_cpu.is_some() => writeln!(
                f,
                "  CPU (share of one core): loadgen {} (--server-pid PID adds the server's)",
                share(self.loadgen_cpu)
            )?,
            None => {}
        }
        write!(
            f,
            "  errors: {}",
            self.errors.to_string().replace('\n', "\n          ")
        )?;
        for w in &self.warnings {
            write!(f, "\n  warning: {w}")?;
        }
        Ok(())
    }
}

/// When recording starts and everything stops; shared by all connections.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

/// What one connection brings back.
struct Outcome {
    messages: u64,
    errors: Tally,
}

/// The round trips of every connection, in one histogram behind a mutex.
///
/// One histogram per connection, merged at the end, is the lock-free
/// textbook answer, and we measured it: a hundred of them take 1.6 MB, the
/// counter each record touches is a cache miss every time, and that miss
/// alone was 3% of the generator's CPU (a quarter of its time outside the
/// kernel). One shared histogram stays in cache; the lock around a
/// few-nanosecond record is uncontended on the default one-thread runtime
/// and cheap on a few threads.
pub(crate) type Recorder = Arc<Mutex<Histogram<u64>>>;

/// A histogram of microseconds with 3 significant figures (0.1%
/// resolution), growing as values arrive: it starts at 16 KB (up to 2 ms)
/// instead of the ~140 KB a 1-minute range would take up front.
pub(crate) fn new_histogram() -> Histogram<u64> {
    // 3 significant figures is within the 0..=5 the crate allows.
    Histogram::new(3).expect("3 significant figures is a valid precision")
}

/// The histogram, even if a task panicked while holding it: a record is a
/// single counter increment, so a poisoned lock cannot hide a torn value.
pub(crate) fn lock(recorder: &Recorder) -> std::sync::MutexGuard<'_, Histogram<u64>> {
    recorder.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Records one round trip, in whole microseconds.
pub(crate) fn record(histogram: &mut Histogram<u64>, round_trip: Duration) {
    let micros = u64::try_from(round_trip.as_micros()).unwrap_or(u64::MAX);
    // `record` grows the histogram to fit; `saturating_record` would clamp
    // to its current top (2,047 µs at first) and quietly flatten the very
    // tail we are here to see. Growing can only fail past usize::MAX buckets.
    if histogram.record(micros).is_err() {
        histogram.saturating_record(micros);
    }
}

// ANCHOR: run_echo
/// Runs the echo benchmark: opens the connections, drives them for warm-up
/// plus duration, closes them, and reports.
///
/// Connection failures, wrong echoes and broken connections are counted in
/// [`EchoReport::errors`], not returned as errors: a benchmark of a flaky
/// server should say how flaky.
///
/// Every wait is bounded: connects by [`crate::CONNECT_TIMEOUT`], the last
/// round trip by [`STALL_GRACE`] after the window, the close by
/// [`CLOSE_TIMEOUT`].
///
/// # Errors
///
/// [`CapacityError`] before anything is opened, if this process cannot hold
/// that many connections.
pub async fn run_echo(options: &EchoOptions) -> Result<EchoReport, CapacityError> {
    sys::check_capacity(options.connections)?;
    let mut warnings = Vec::new();
    if let Some(pid) = options.server_pid {
        warnings.extend(sys::server_fd_warning(pid, options.connections));
        if let Err(e) = sys::cpu_time(pid) {
            warnings.push(format!("cannot read the CPU time of pid {pid}: {e}"));
        }
    }

    let opened = open_many(std::slice::from_ref(&options.target), options.connections).await;
    let mut report = EchoReport {
        options: options.clone(),
        connected: opened.clients.len(),
        messages: 0,
        latency: None,
        errors: opened.failures,
        server_cpu: None,
        loadgen_cpu: None,
        server_syscalls: None,
        warnings,
    };
    if opened.clients.is_empty() {
        return Ok(report); // nothing to measure; the errors say why
    }

    // The clock starts once every connection is open, so connecting is
    // neither warm-up nor measured.
    let warm_from = Instant::now();
    let window = Window {
        start: warm_from + options.warmup,
        end: warm_from + options.warmup + options.duration,
    };
    let recorder: Recorder = Arc::new(Mutex::new(new_histogram()));
    let mut tasks = JoinSet::new();
    for (index, client) in opened.clients.into_iter().enumerate() {
        let recorder = Arc::clone(&recorder);
        tasks.spawn(drive(
            client,
            options.client,
            index as u64,
            options.size,
            window,
            recorder,
        ));
    }

    sleep_until(window.start).await;
    let before = CpuSample::take(options.server_pid);
    let counter = sys::count_syscalls(
        options.server_pid,
        options.syscalls,
        options.duration,
        &mut report.warnings,
    );
    sleep_until(window.end).await;
    let after = CpuSample::take(options.server_pid);
    (report.server_cpu, report.loadgen_cpu) = after.share_since(&before);
    report.server_syscalls = sys::syscalls_counted(counter, &mut report.warnings).await;

    while let Some(joined) = tasks.join_next().await {
        let outcome = joined_or_panic(joined);
        report.messages += outcome.messages;
        report.errors.merge(outcome.errors);
    }
    report.latency = Latency::from_histogram(&lock(&recorder));
    if report.loadgen_cpu.is_some_and(|share| share > 0.9) {
        report.warnings.push(
            "the generator kept its CPU more than 90% busy: the figures may be its limit, \
             not the server's (give it its own core, or more --threads)"
                .into(),
        );
    }
    Ok(report)
}
// ANCHOR_END: run_echo

// ANCHOR: drive
/// One connection's closed loop: send, wait for the echo, check it, time
/// it, repeat until the window ends; then close.
async fn drive(
    client: Client,
    codec: ClientCodec,
    index: u64,
    size: usize,
    window: Window,
    recorder: Recorder,
) -> Outcome {
    let mut outcome = Outcome {
        messages: 0,
        errors: Tally::new(),
    };
    let mut client = EchoPeer::new(client, codec).await;
    let mut payload = Payload::new(size);
    // One timer for the whole run, polled with each round trip, instead of
    // a new timeout per message: the timer wheel is touched once.
    let stalled = sleep_until(window.end + STALL_GRACE);
    tokio::pin!(stalled);

    for seq in 0u64.. {
        let sent_at = Instant::now();
        if sent_at >= window.end {
            break;
        }
        let text = payload.stamp(index, seq);
        let result = tokio::select! {
            // Poll the round trip first: the timer only matters when the
            // server has gone quiet.
            biased;
            result = client.round_trip(text) => result,
            () = &mut stalled => Err(SessionError::TimedOut),
        };
        let done = Instant::now();
        match result {
            Ok(Echo::Matched) => {
                if sent_at >= window.start && done <= window.end {
                    record(&mut lock(&recorder), done - sent_at);
                    outcome.messages += 1;
                }
            }
            // The stream is still in step (one message in, one out), so we
            // count the wrong echo and carry on.
            Ok(Echo::Mismatched(got)) => {
                outcome
                    .errors
                    .add("mismatch", || describe_mismatch(text, &got));
            }
            Err(e) => {
                tracing::debug!("connection {index}: {e}");
                outcome.errors.add(e.kind(), || e.to_string());
                return outcome; // broken: nothing to close politely
            }
        }
    }

    match tokio::time::timeout(CLOSE_TIMEOUT, client.close()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => outcome
            .errors
            .add(close_kind(&e), || format!("closing: {e}")),
        Err(_elapsed) => {
            let e = SessionError::TimedOut;
            outcome
                .errors
                .add(close_kind(&e), || format!("closing: {e}"));
        }
    }
    outcome
}
// ANCHOR_END: drive

/// "sent 20 B of text "…", got 20 B of text "…"", cut short for long messages.
fn describe_mismatch(sent: &str, got: &Message) -> String {
    fn excerpt(bytes: &[u8]) -> String {
        const SHOWN: usize = 40;
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(SHOWN)]);
        let more = if bytes.len() > SHOWN { "…" } else { "" };
        format!("{shown:?}{more}")
    }
    let got = match got {
        Message::Text(t) => format!("{} B of text {}", t.len(), excerpt(t.as_bytes())),
        Message::Binary(b) => format!("{} B of binary {}", b.len(), excerpt(b)),
        other => format!("{other:?}"), // `recv` only returns text or binary
    };
    format!(
        "sent {} B of text {}, got {got}",
        sent.len(),
        excerpt(sent.as_bytes())
    )
}

// ANCHOR: payload
/// The text a connection sends: a tag in hex, then letters.
///
/// The tag is the connection's index in its top 24 bits and the message's
/// sequence number in the low 40, written as 16 hex digits (the last ones
/// only when the message is shorter). A server that answers with a stale
/// message, another connection's message or shifted bytes is caught by the
/// comparison, not just one that garbles everything.
#[derive(Debug, Clone)]
struct Payload {
    bytes: Vec<u8>,
}

impl Payload {
    /// Hex digits of the tag that fit in front.
    const TAG_DIGITS: usize = 16;

    fn new(size: usize) -> Payload {
        // The letters after the tag never change: write them once.
        let bytes = (0..size)
            .map(|i| b'a' + (i % 26) as u8)
            .collect::<Vec<u8>>();
        Payload { bytes }
    }

    /// The text for message `seq` of connection `index`.
    fn stamp(&mut self, index: u64, seq: u64) -> &str {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let tag = (index << 40) | (seq & ((1 << 40) - 1));
        let digits = self.bytes.len().min(Self::TAG_DIGITS);
        for (i, byte) in self.bytes[..digits].iter_mut().enumerate() {
            let shift = 4 * (digits - 1 - i);
            *byte = HEX[((tag >> shift) & 0xf) as usize];
        }
        // Every byte is an ASCII hex digit or letter.
        std::str::from_utf8(&self.bytes).expect("ASCII by construction")
    }
}
// ANCHOR_END: payload

/// CPU time used so far by the server and by us, and when we looked.
pub(crate) struct CpuSample {
    at: Instant,
    server: Option<Duration>,
    loadgen: Option<Duration>,
}

impl CpuSample {
    pub(crate) fn take(server_pid: Option<u32>) -> CpuSample {
        CpuSample {
            at: Instant::now(),
            server: server_pid.and_then(|pid| sys::cpu_time(pid).ok()),
            loadgen: sys::cpu_time(std::process::id()).ok(),
        }
    }

    /// (server, loadgen) CPU time since `earlier`, as a share of wall time.
    pub(crate) fn share_since(&self, earlier: &CpuSample) -> (Option<f64>, Option<f64>) {
        let wall = (self.at - earlier.at).as_secs_f64();
        let share = |now: Option<Duration>, then: Option<Duration>| {
            let used = now?.checked_sub(then?)?;
            (wall > 0.0).then(|| used.as_secs_f64() / wall)
        };
        (
            share(self.server, earlier.server),
            share(self.loadgen, earlier.loadgen),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_tags_each_message() {
        let mut p = Payload::new(20);
        assert_eq!(p.stamp(0, 42), "000000000000002aqrst");
        assert_eq!(p.stamp(3, 1), "0000030000000001qrst");
        let mut short = Payload::new(4);
        assert_eq!(short.stamp(0, 0x12345), "2345");
        assert_eq!(Payload::new(0).stamp(1, 1), "");
        let long = Payload::new(100).stamp(0, 0).to_owned();
        assert_eq!(&long[16..20], "qrst");
        assert_eq!(long.len(), 100);
    }

    #[test]
    fn mismatch_description() {
        let d = describe_mismatch("abc", &Message::Text("abd".into()));
        assert_eq!(d, r#"sent 3 B of text "abc", got 3 B of text "abd""#);
        let d = describe_mismatch("abc", &Message::Binary(vec![b'x'; 50].into()));
        assert!(
            d.ends_with("got 50 B of binary \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"…"),
            "{d}"
        );
    }

    #[test]
    fn slow_round_trips_are_kept_not_clamped() {
        let mut h = new_histogram();
        record(&mut h, Duration::from_micros(60));
        record(&mut h, Duration::from_millis(5));
        record(&mut h, Duration::from_secs(3));
        let l = Latency::from_histogram(&h).unwrap();
        // 3 significant figures: within 0.1%.
        assert!((2_997_000..=3_003_000).contains(&l.max), "{l:?}");
        assert!((4_995..=5_005).contains(&h.value_at_quantile(0.5)), "{l:?}");
    }

    #[test]
    fn empty_histogram_has_no_latency() {
        assert!(Latency::from_histogram(&new_histogram()).is_none());
        let mut h = new_histogram();
        for v in 1..=1000 {
            h.record(v).unwrap();
        }
        let l = Latency::from_histogram(&h).unwrap();
        assert!(l.p50 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max);
        assert_eq!(l.max, 1000);
    }
}
