//! The command line, parsed by hand: a dozen flags do not need a framework,
//! and every limit is checked here, before a socket is opened.

use std::fmt;
use std::time::Duration;

use crate::{EchoOptions, IdleOptions, Target};

/// What `--help` prints.
pub const USAGE: &str = "\
usage: loadgen [--url URL] [--connections N] [--size BYTES] [--duration D] [--warmup D]
               [--server-pid PID] [--threads N] [--json]
       loadgen --idle N [--url URL] [--hold D] [--server-pid PID] [--threads N] [--json]

Echo mode (the default), closed loop: N connections each send one masked text
message of BYTES, wait for its echo, check it and time it, and repeat. After
the warm-up, round trips are recorded for D; then msgs/s and p50/p99/p99.9.

Idle mode: open N connections, hold them for the --hold time, and report how
much the server's memory grew per connection (needs --server-pid).

  --url URL          ws://HOST[:PORT]/PATH, loopback only   [ws://127.0.0.1:9003/ws]
  --connections N    connections, one message in flight each [100]
  --size BYTES       text bytes per message                  [20]
  --duration D       measured time: 300ms, 10s, 1.5m        [10s]
  --warmup D         time before it, not recorded            [2s]
  --idle N           idle mode with N connections
  --hold D           idle mode: hold before weighing         [1s]
  --server-pid PID   report the server's CPU share (echo) or memory (idle)
  --threads N        runtime threads; 1 suits a generator pinned to one core [1]
  --json             one line of JSON instead of the human report

Only loopback servers are accepted. Many connections need a raised open-file
limit: `ulimit -n` in this shell and in the server's.";

/// The most connections either mode opens: below the 28,232 local ports
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

/// The default server: lesson 3's echo.
pub const DEFAULT_URL: &str = "ws://127.0.0.1:9003/ws";

/// Which benchmark to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Closed-loop echo round trips.
    Echo(EchoOptions),
    /// Idle connections and the server's memory.
    Idle(IdleOptions),
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

/// The outcome of [`parse_args`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Run this.
    Run(Cli),
    /// `-h` or `--help`: print [`USAGE`].
    Help,
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

/// Flags as given, before defaults and checks.
#[derive(Default)]
struct Given {
    url: Option<String>,
    connections: Option<String>,
    size: Option<String>,
    duration: Option<String>,
    warmup: Option<String>,
    idle: Option<String>,
    hold: Option<String>,
    server_pid: Option<String>,
    threads: Option<String>,
    json: bool,
}

/// Parses the arguments after the program name. Flags take their value as
/// the next argument or after `=` (`--size 20`, `--size=20`).
///
/// # Errors
///
/// [`ArgsError`]: an unknown or repeated flag, a missing or malformed value,
/// a value out of range, an echo flag in idle mode (or the reverse), or a
/// URL that is not loopback.
pub fn parse_args<I>(args: I) -> Result<Parsed, ArgsError>
where
    I: IntoIterator<Item = String>,
{
    let mut given = Given::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Parsed::Help);
        }
        if arg == "--json" {
            given.json = true;
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        let slot = match flag.as_str() {
            "--url" => &mut given.url,
            "--connections" => &mut given.connections,
            "--size" => &mut given.size,
            "--duration" => &mut given.duration,
            "--warmup" => &mut given.warmup,
            "--idle" => &mut given.idle,
            "--hold" => &mut given.hold,
            "--server-pid" => &mut given.server_pid,
            "--threads" => &mut given.threads,
            f if f.starts_with('-') => return Err(error(format!("unknown flag {f} (see --help)"))),
            other => return Err(error(format!("unexpected argument {other:?} (see --help)"))),
        };
        let value = match inline {
            Some(v) => v,
            None => args
                .next()
                .ok_or_else(|| error(format!("{flag} needs a value")))?,
        };
        if slot.replace(value).is_some() {
            return Err(error(format!("{flag} given twice")));
        }
    }
    build(given).map(Parsed::Run)
}

/// Applies defaults and limits.
fn build(given: Given) -> Result<Cli, ArgsError> {
    let url = given.url.as_deref().unwrap_or(DEFAULT_URL);
    let target = Target::parse(url).map_err(|e| error(e.to_string()))?;
    let server_pid = given
        .server_pid
        .as_deref()
        .map(|v| number("--server-pid", v, 1, u32::MAX as usize).map(|n| n as u32))
        .transpose()?;
    let threads = given
        .threads
        .as_deref()
        .map_or(Ok(1), |v| number("--threads", v, 1, MAX_THREADS))?;

    let mode = if let Some(idle) = given.idle.as_deref() {
        let echo_only = [
            ("--connections", &given.connections),
            ("--size", &given.size),
            ("--duration", &given.duration),
            ("--warmup", &given.warmup),
        ];
        if let Some((flag, _)) = echo_only.iter().find(|(_, v)| v.is_some()) {
            return Err(error(format!(
                "{flag} is for echo mode; --idle takes its count as its value"
            )));
        }
        Mode::Idle(IdleOptions {
            target,
            connections: number("--idle", idle, 1, MAX_CONNECTIONS)?,
            hold: given
                .hold
                .as_deref()
                .map_or(Ok(Duration::from_secs(1)), |v| {
                    duration("--hold", v, Duration::ZERO, MAX_DURATION)
                })?,
            server_pid,
        })
    } else {
        if given.hold.is_some() {
            return Err(error("--hold is for idle mode (--idle N)"));
        }
        Mode::Echo(EchoOptions {
            target,
            connections: given
                .connections
                .as_deref()
                .map_or(Ok(100), |v| number("--connections", v, 1, MAX_CONNECTIONS))?,
            size: given
                .size
                .as_deref()
                .map_or(Ok(20), |v| number("--size", v, 0, MAX_SIZE))?,
            duration: given
                .duration
                .as_deref()
                .map_or(Ok(Duration::from_secs(10)), |v| {
                    duration("--duration", v, Duration::from_millis(1), MAX_DURATION)
                })?,
            warmup: given
                .warmup
                .as_deref()
                .map_or(Ok(Duration::from_secs(2)), |v| {
                    duration("--warmup", v, Duration::ZERO, MAX_WARMUP)
                })?,
            server_pid,
        })
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

    fn parse(args: &str) -> Result<Parsed, ArgsError> {
        parse_args(args.split_whitespace().map(str::to_owned))
    }

    fn cli(args: &str) -> Cli {
        match parse(args) {
            Ok(Parsed::Run(cli)) => cli,
            other => panic!("{args}: {other:?}"),
        }
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

        let Mode::Idle(i) = cli("--idle 10000 --hold 2.5s --server-pid 7").mode else {
            panic!()
        };
        assert_eq!(
            (i.connections, i.hold, i.server_pid),
            (10_000, Duration::from_millis(2500), Some(7))
        );
        assert_eq!(parse("-h"), Ok(Parsed::Help));
        assert_eq!(parse("--size 5 --help"), Ok(Parsed::Help));
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
            ("--bogus", "unknown flag --bogus"),
            ("stray", "unexpected argument"),
            ("--size", "--size needs a value"),
            ("--size 1 --size 2", "given twice"),
            ("--size -1", "whole number"),
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
