//! What the kernel tells us through `/proc` (Linux): how many files a process
//! may open, which local ports connections can use, and a process's memory
//! and CPU time.
//!
//! Everything here reads text files, so it needs no `unsafe` and no libc.
//! The price: we cannot *raise* our own open-file limit (that takes the
//! `setrlimit` system call, which `std` does not wrap), so when it is too low
//! we say exactly which `ulimit -n` to run instead.

use std::fmt;
use std::io;
use std::ops::RangeInclusive;
use std::time::Duration;

/// A process's open-file limit (`RLIMIT_NOFILE`), from `/proc/PID/limits`.
/// `None` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    /// The limit in force, which `ulimit -n` changes.
    pub soft: Option<u64>,
    /// The ceiling an unprivileged process may raise the soft limit to.
    pub hard: Option<u64>,
}

/// File descriptors a process uses besides its connections: stdio, the
/// runtime's epoll instance and wake-up pipe, the listener, files we read in
/// `/proc`. Generous on purpose; being a few short is what hurts.
pub const FD_RESERVE: u64 = 64;

/// Reads the open-file limit of `pid`, or of this process when `None`.
///
/// # Errors
///
/// The file cannot be read (not Linux, no such process) or has no
/// "Max open files" line.
pub fn fd_limit(pid: Option<u32>) -> io::Result<FdLimit> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/limits"),
        None => "/proc/self/limits".to_owned(),
    };
    parse_fd_limit(&std::fs::read_to_string(path)?)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no Max open files line"))
}

/// Finds `Max open files  SOFT  HARD  files` in the text of `/proc/PID/limits`.
fn parse_fd_limit(limits: &str) -> Option<FdLimit> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut fields = line["Max open files".len()..].split_whitespace();
    let mut value = || match fields.next()? {
        "unlimited" => Some(None),
        n => n.parse().ok().map(Some),
    };
    Some(FdLimit {
        soft: value()?,
        hard: value()?,
    })
}

/// We cannot open as many connections as asked: the open-file limit is too
/// low, or there are not enough local ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapacityError {
    /// Our soft `RLIMIT_NOFILE` is below what `wanted` connections need.
    FdLimit {
        /// The connections asked for.
        wanted: u64,
        /// File descriptors that needs, [`FD_RESERVE`] included.
        needed: u64,
        /// Our limit.
        limit: FdLimit,
    },
    /// One client address can hold at most one connection per local port to
    /// a given server address and port, and the kernel only hands out the
    /// ports in `net.ipv4.ip_local_port_range`.
    NotEnoughPorts {
        /// The connections asked for.
        wanted: u64,
        /// The ephemeral range.
        range: RangeInclusive<u16>,
    },
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CapacityError::FdLimit {
                wanted,
                needed,
                limit,
            } => {
                let soft = limit.soft.map_or("unlimited".into(), |n| n.to_string());
                write!(
                    f,
                    "{wanted} connections need about {needed} file descriptors, \
                     but this process may open only {soft} (`ulimit -n`)."
                )?;
                match limit.hard {
                    Some(hard) if hard < *needed => write!(
                        f,
                        " The hard limit is {hard}, so only root can raise it \
                         (e.g. /etc/security/limits.conf); or use fewer connections."
                    ),
                    _ => write!(
                        f,
                        " Raise it in this shell with `ulimit -n {needed}` and run again \
                         (the server needs the same in its shell)."
                    ),
                }
            }
            CapacityError::NotEnoughPorts { wanted, range } => write!(
                f,
                "{wanted} connections to one address need as many local ports, but the \
                 kernel hands out only {} ({}-{}, net.ipv4.ip_local_port_range); \
                 sockets in TIME_WAIT from earlier runs hold some of them for 60 s.",
                range.end() - range.start() + 1,
                range.start(),
                range.end()
            ),
        }
    }
}

impl std::error::Error for CapacityError {}

/// Checks, before opening anything, that this process can hold `connections`
/// sockets to one server address at once.
///
/// Finding out halfway through (10,000 connect calls in, with `EMFILE`) wastes
/// the run and leaves the server with a pile of half-made connections. Where
/// `/proc` cannot be read (not Linux) we skip the check and let the connect
/// errors speak.
///
/// # Errors
///
/// [`CapacityError`] says what is short and how to fix it.
pub fn check_capacity(connections: usize) -> Result<(), CapacityError> {
    let wanted = connections as u64;
    let needed = wanted + FD_RESERVE;
    if let Ok(limit) = fd_limit(None)
        && limit.soft.is_some_and(|soft| soft < needed)
    {
        return Err(CapacityError::FdLimit {
            wanted,
            needed,
            limit,
        });
    }
    if let Ok(range) = ephemeral_ports()
        && wanted > u64::from(range.end() - range.start()) + 1
    {
        return Err(CapacityError::NotEnoughPorts { wanted, range });
    }
    Ok(())
}

/// A warning when the server process `pid` may not open `connections` more
/// sockets: it will refuse or reset the ones past its limit, and the run
/// would report the limit instead of the server's cost.
pub fn server_fd_warning(pid: u32, connections: usize) -> Option<String> {
    let limit = fd_limit(Some(pid)).ok()?;
    let soft = limit.soft?;
    let needed = connections as u64 + FD_RESERVE;
    (soft < needed).then(|| {
        format!(
            "the server (pid {pid}) may open only {soft} files, fewer than the {needed} \
             that {connections} connections need: raise `ulimit -n` in the shell that starts it"
        )
    })
}

/// The local ports the kernel picks from for outgoing connections.
///
/// # Errors
///
/// `/proc/sys/net/ipv4/ip_local_port_range` cannot be read or parsed.
pub fn ephemeral_ports() -> io::Result<RangeInclusive<u16>> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")?;
    let mut ports = text.split_whitespace().map(str::parse::<u16>);
    match (ports.next(), ports.next()) {
        (Some(Ok(low)), Some(Ok(high))) if low <= high => Ok(low..=high),
        _ => Err(io::Error::new(io::ErrorKind::InvalidData, text)),
    }
}

/// The resident set size (memory in RAM) of process `pid`, in bytes, from
/// the `VmRSS` line of `/proc/PID/status`.
///
/// # Errors
///
/// The process does not exist (or is not ours to read), or the line is missing.
pub fn rss_bytes(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_vm_rss(&status).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no VmRSS line"))
}

/// `VmRSS:    2208 kB` → 2,260,992. The kernel says "kB" and means KiB.
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut fields = line["VmRSS:".len()..].split_whitespace();
    let kib: u64 = fields.next()?.parse().ok()?;
    (fields.next()? == "kB").then_some(kib * 1024)
}

/// Clock ticks per second in `/proc/PID/stat` (`USER_HZ`). Asking for it
/// takes `sysconf(_SC_CLK_TCK)` through libc. It is part of the kernel's ABI,
/// independent of the kernel's own tick rate, and 100 on x86, ARM and nearly
/// every other architecture, so we use that.
const USER_HZ: u64 = 100;

/// CPU time process `pid` has used so far, user and system, all threads:
/// fields 14 (`utime`) and 15 (`stime`) of `/proc/PID/stat`.
///
/// The resolution is 10 ms, so measure over seconds, not milliseconds.
///
/// # Errors
///
/// The process does not exist or the file cannot be parsed.
pub fn cpu_time(pid: u32) -> io::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let ticks =
        parse_cpu_ticks(&stat).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, stat))?;
    Ok(Duration::from_millis(ticks * 1000 / USER_HZ))
}

/// `utime + stime` from a `/proc/PID/stat` line.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // Field 2 is the command name in parentheses, and it may itself contain
    // spaces and ')': fields are only safe to count after the *last* ')'.
    let after_comm = &stat[stat.rfind(')')? + 1..];
    // After it comes field 3 (state), so field n is at index n - 3.
    let mut fields = after_comm.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The system calls a process made over a window, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Syscalls {
    /// Every system call.
    pub total: u64,
    /// Those that send bytes: `write`, `writev`, `sendto`, `sendmsg`.
    pub writes: u64,
    /// Those that take bytes in: `read`, `readv`, `recvfrom`, `recvmsg`.
    pub reads: u64,
    /// Waits for readiness: `epoll_wait`, `epoll_pwait`.
    pub waits: u64,
}

impl Syscalls {
    /// As JSON, for the reports.
    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "total": self.total,
            "writes": self.writes,
            "reads": self.reads,
            "waits": self.waits,
        })
    }
}

/// Which of the counts of [`Syscalls`] a tracepoint adds to.
type Field = fn(&mut Syscalls) -> &mut u64;

/// The kernel's tracepoints `perf stat` counts, and what each adds to.
const SYSCALL_EVENTS: [(&str, Field); 11] = [
    ("raw_syscalls:sys_enter", |s| &mut s.total),
    ("syscalls:sys_enter_write", |s| &mut s.writes),
    ("syscalls:sys_enter_writev", |s| &mut s.writes),
    ("syscalls:sys_enter_sendto", |s| &mut s.writes),
    ("syscalls:sys_enter_sendmsg", |s| &mut s.writes),
    ("syscalls:sys_enter_read", |s| &mut s.reads),
    ("syscalls:sys_enter_readv", |s| &mut s.reads),
    ("syscalls:sys_enter_recvfrom", |s| &mut s.reads),
    ("syscalls:sys_enter_recvmsg", |s| &mut s.reads),
    ("syscalls:sys_enter_epoll_wait", |s| &mut s.waits),
    ("syscalls:sys_enter_epoll_pwait", |s| &mut s.waits),
];

/// Counts another process's system calls for a while: `perf stat` on the
/// kernel's syscall tracepoints (Debian's linux-perf). It costs the counted
/// process next to nothing, unlike `strace`, which stops it at every call.
#[derive(Debug)]
pub struct SyscallCounter {
    perf: std::process::Child,
}

impl SyscallCounter {
    /// Starts counting the system calls of `pid` for `window`.
    ///
    /// # Errors
    ///
    /// `perf` cannot be started (not installed).
    pub fn start(pid: u32, window: Duration) -> io::Result<SyscallCounter> {
        let events: Vec<&str> = SYSCALL_EVENTS.iter().map(|(name, _)| *name).collect();
        let perf = std::process::Command::new("perf")
            .args([
                "stat",
                "-x",
                ",",
                "-e",
                &events.join(","),
                "-p",
                &pid.to_string(),
            ])
            .args(["--", "sleep", &format!("{:.3}", window.as_secs_f64())])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        Ok(SyscallCounter { perf })
    }

    /// Waits for the window to end and reads the counts (blocking).
    ///
    /// # Errors
    ///
    /// `perf stat` failed (no permission, no tracepoints: its message is
    /// the error) or printed something we cannot read.
    pub fn finish(self) -> io::Result<Syscalls> {
        let output = self.perf.wait_with_output()?;
        let text = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            return Err(io::Error::other(format!("perf stat: {}", text.trim())));
        }
        parse_perf_stat(&text).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("perf stat printed: {}", text.trim()),
            )
        })
    }
}

/// Starts counting the system calls of `pid` over the next `window`, when
/// there is a `pid` and `wanted`; says why not in `warnings` when it cannot.
pub(crate) fn count_syscalls(
    pid: Option<u32>,
    wanted: bool,
    window: Duration,
    warnings: &mut Vec<String>,
) -> Option<SyscallCounter> {
    let pid = pid.filter(|_| wanted)?;
    SyscallCounter::start(pid, window)
        .map_err(|e| {
            warnings.push(format!(
                "--syscalls: cannot start perf ({e}): install Debian's linux-perf"
            ));
        })
        .ok()
}

/// The counts of a counter from [`count_syscalls`], once its window is over;
/// a failure is a warning.
pub(crate) async fn syscalls_counted(
    counter: Option<SyscallCounter>,
    warnings: &mut Vec<String>,
) -> Option<Syscalls> {
    let counted = tokio::task::spawn_blocking(move || counter.map(SyscallCounter::finish))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
    counted
        .map_err(|e| warnings.push(format!("--syscalls: {e}")))
        .ok()
}

/// Reads `perf stat -x ,` lines, `COUNT,UNIT,EVENT,...`: every event of
/// [`SYSCALL_EVENTS`] must be there with a count (not `<not supported>`).
fn parse_perf_stat(text: &str) -> Option<Syscalls> {
    let mut counts = Syscalls::default();
    let mut found = 0;
    for line in text.lines() {
        let fields: Vec<&str> = line.split(',').collect();
        let [count, _unit, event, ..] = fields[..] else {
            continue;
        };
        let Some((_, add_to)) = SYSCALL_EVENTS.iter().find(|(name, _)| *name == event) else {
            continue;
        };
        *add_to(&mut counts) += count.parse::<u64>().ok()?;
        found += 1;
    }
    (found == SYSCALL_EVENTS.len()).then_some(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_limit_line() {
        let text = "Limit                     Soft Limit           Hard Limit           Units\n\
                    Max processes             96365                96365                processes\n\
                    Max open files            1024                 unlimited            files\n";
        assert_eq!(
            parse_fd_limit(text),
            Some(FdLimit {
                soft: Some(1024),
                hard: None
            })
        );
        assert_eq!(parse_fd_limit("Max processes 1 1 processes"), None);
    }

    #[test]
    fn vm_rss_line() {
        assert_eq!(
            parse_vm_rss("Name:\tx\nVmRSS:\t    2208 kB\n"),
            Some(2208 * 1024)
        );
        assert_eq!(parse_vm_rss("VmHWM:\t 1 kB\n"), None);
    }

    #[test]
    fn cpu_ticks_survive_odd_command_names() {
        let stat = "13987 (a) b) c) R 13982 13982 3628 0 -1 4194304 103 0 0 0 7 5 0 0 20 0 1 0";
        assert_eq!(parse_cpu_ticks(stat), Some(12));
    }

    #[test]
    fn our_own_process_reads() {
        // Linux-only facts about the test process itself.
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        let pid = std::process::id();
        assert!(rss_bytes(pid).unwrap() > 0);
        cpu_time(pid).unwrap();
        assert!(fd_limit(None).unwrap().soft.unwrap_or(u64::MAX) >= 3);
        let ports = ephemeral_ports().unwrap();
        assert!(ports.start() <= ports.end());
    }

    #[test]
    fn fd_limit_message_names_the_fix() {
        let e = CapacityError::FdLimit {
            wanted: 10_000,
            needed: 10_064,
            limit: FdLimit {
                soft: Some(1024),
                hard: Some(524_288),
            },
        };
        assert!(e.to_string().contains("ulimit -n 10064"), "{e}");
        let e = CapacityError::FdLimit {
            wanted: 10_000,
            needed: 10_064,
            limit: FdLimit {
                soft: Some(1024),
                hard: Some(4096),
            },
        };
        assert!(e.to_string().contains("only root"), "{e}");
    }

    #[test]
    fn perf_stat_counts_by_kind() {
        let mut text = String::from("# a comment line perf may print\n");
        for (i, (name, _)) in SYSCALL_EVENTS.iter().enumerate() {
            text.push_str(&format!("{},,{name},2000512345,100.00,,\n", 10 + i));
        }
        let counts = parse_perf_stat(&text).unwrap();
        // total 10; writes 11..=14; reads 15..=18; waits 19, 20.
        assert_eq!(
            counts,
            Syscalls {
                total: 10,
                writes: 11 + 12 + 13 + 14,
                reads: 15 + 16 + 17 + 18,
                waits: 19 + 20,
            }
        );
        // An event the kernel cannot count, or one missing: no answer.
        let unsupported = text.replace("19,,", "<not supported>,,");
        assert_eq!(parse_perf_stat(&unsupported), None);
        let missing: String = text.lines().skip(2).map(|l| format!("{l}\n")).collect();
        assert_eq!(parse_perf_stat(&missing), None);
    }
}
