//! The chromedriver process, its private folder, and the watchdog that
//! cleans both up whatever happens to the test.
//!
//! Two facts shape this file. Chromedriver starts Chromium, and Chromium
//! starts a dozen processes of its own: killing chromedriver alone leaves
//! them all running. So chromedriver gets a process group of its own, and we
//! kill the group. And a test that is killed outright (SIGKILL, an OOM kill,
//! a CI job's time limit) runs no destructor, so the killing cannot be
//! left to [`Drop`] alone. A small `sh` watchdog holds the read end of a
//! pipe whose write end only the test holds; the kernel closes that end
//! however the test ends, the watchdog's `read` returns, and it kills the
//! group and deletes the folder. Dropping [`Driver`] closes the pipe on
//! purpose, so the path a killed test takes is the path every test takes.
//!
//! One kind of Chromium process escapes the group: the crash handler
//! (`chrome_crashpad_handler`) puts itself in a session of its own. It
//! exits by itself as soon as the browser it watches is gone (in about
//! 0.1 s, measured), and its files go under `XDG_CONFIG_HOME`, inside our
//! folder; that late writer is why the watchdog's `rm` tries more than once.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use std::{fs, thread};

use tokio::sync::oneshot;

use crate::{Error, Tools};

/// How long chromedriver gets to print its port. It starts in well under a
/// second; this only bounds a broken install.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// How long [`Driver::drop`] waits for the watchdog to finish cleaning up
/// before it kills the group itself.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(10);

/// How many lines of chromedriver's own output (stdout and stderr: a few
/// lines at start-up, then only trouble) we keep for error messages.
const OUTPUT_LINES: usize = 20;
/// How many of the page's console lines a failure message shows.
const CONSOLE_LINES: usize = 20;
/// How many lines of the end of chromedriver's log a failure message shows:
/// enough for the last few commands and answers.
const LOG_LINES: usize = 15;

/// The watchdog. `$1` is the folder to delete, the rest is the chromedriver
/// command line.
///
/// `setsid` runs chromedriver in a new session, so a new process group whose
/// id is chromedriver's pid: `$!`. (It does so without forking, because a
/// background job of a non-interactive shell is never a group leader.)
/// Chromium inherits that group, so `kill -KILL -$pgid` reaches every
/// process. The watchdog ignores SIGINT/SIGTERM/SIGHUP so that Ctrl-C on
/// `cargo test`, which kills the test, still leaves it alive to clean up.
const WATCHDOG: &str = r#"
trap '' INT TERM HUP
dir=$1; shift
setsid "$@" </dev/null &
pgid=$!
# Block until the test closes our stdin: on purpose, or because it died.
while read -r _; do :; done
kill -KILL "-$pgid" 2>/dev/null
wait "$pgid" 2>/dev/null
# A killed process writes nothing more, but a file can land between our
# kill and its death; rm then finds a folder not empty, so try again.
for _ in 1 2 3 4 5 6 7 8 9 10; do
  rm -rf -- "$dir" 2>/dev/null
  [ -e "$dir" ] || break
  sleep 0.2
done
"#;

/// A running chromedriver with its private folder; dropping it kills
/// chromedriver and every Chromium process, and deletes the folder.
pub(crate) struct Driver {
    /// The port chromedriver listens on, on 127.0.0.1.
    pub(crate) port: u16,
    /// The folder everything of this browser lives in: the profile, the
    /// temp and XDG folders, chromedriver's log.
    pub(crate) dir: PathBuf,
    /// The watchdog `sh`.
    watchdog: Child,
    /// The write end of the watchdog's lifeline; dropping it starts the
    /// cleanup.
    lifeline: Option<ChildStdin>,
    /// The last lines chromedriver printed to stdout/stderr.
    output: Arc<Mutex<VecDeque<String>>>,
}

/// How many times [`Driver::start`] starts chromedriver when it could not
/// listen. Given `--port=0`, it takes a free port for IPv6 and then tries
/// the same number on IPv4, where another socket may already hold it (seen
/// after benchmarks left thousands of connections in TIME_WAIT): it says
/// "IPv4 port not available" and exits, and a new start picks a new port.
const START_ATTEMPTS: usize = 3;

/// What chromedriver prints when it cannot listen on the port it chose.
const PORT_TAKEN: &str = "port not available";

impl Driver {
    /// Starts chromedriver (see [`Driver::start_once`]), again when the port
    /// it chose was taken, up to [`START_ATTEMPTS`] times.
    pub(crate) async fn start(tools: &Tools) -> Result<Driver, Error> {
        let mut attempt = 1;
        loop {
            match Driver::start_once(tools).await {
                Err(e) if attempt < START_ATTEMPTS && e.to_string().contains(PORT_TAKEN) => {
                    attempt += 1;
                }
                started => return started,
            }
        }
    }

    /// Creates the private folder and starts chromedriver under the
    /// watchdog, then waits for the port it picked.
    async fn start_once(tools: &Tools) -> Result<Driver, Error> {
        let dir = fresh_dir()?;
        for sub in ["profile", "tmp", "config", "cache"] {
            fs::create_dir_all(dir.join(sub))
                .map_err(|e| Error::new(format!("cannot create {}: {e}", dir.display())))?;
        }
        let log = dir.join("chromedriver.log");
        let mut watchdog = Command::new("sh");
        watchdog
            .arg("-c")
            .arg(WATCHDOG)
            .arg("browser-watchdog") // $0
            .arg(&dir)
            .arg(&tools.chromedriver)
            // Port 0: chromedriver picks a free port and prints it, so two
            // tests never race for one.
            .arg("--port=0")
            .arg(format!("--log-path={}", log.display()))
            // Chromium's own log into the same file: that is where the
            // page's console (its `console.error`s and uncaught exceptions)
            // shows up, as `…:INFO:CONSOLE…` lines.
            .arg("--enable-chrome-logs")
            // Chromium writes outside its --user-data-dir (/tmp/org.chromium.*,
            // ~/.config/chromium, ~/.cache/…) unless these point elsewhere;
            // the driver passes its environment on to the browser.
            .env("TMPDIR", dir.join("tmp"))
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env("XDG_CACHE_HOME", dir.join("cache"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Out of the test's process group: Ctrl-C in the terminal goes
            // to the foreground group, and the watchdog must outlive it.
            .process_group(0);
        let mut watchdog = match watchdog.spawn() {
            Ok(child) => child,
            Err(e) => {
                // Nothing was started, so nothing but the folder to clean.
                let _ = fs::remove_dir_all(&dir);
                return Err(Error::new(format!("cannot start sh for chromedriver: {e}")));
            }
        };
        let lifeline = watchdog.stdin.take();
        let output = Arc::new(Mutex::new(VecDeque::new()));
        let (port_tx, port_rx) = oneshot::channel();
        // Both pipes must be drained for as long as chromedriver lives, or a
        // full pipe would block it; plain threads, since the reads block.
        // Only stdout can carry the port line.
        if let Some(stdout) = watchdog.stdout.take() {
            drain(stdout, Arc::clone(&output), Some(port_tx));
        }
        if let Some(stderr) = watchdog.stderr.take() {
            drain(stderr, Arc::clone(&output), None);
        }
        // From here on, Drop cleans up whatever goes wrong.
        let mut driver = Driver {
            port: 0,
            dir,
            watchdog,
            lifeline,
            output,
        };
        match tokio::time::timeout(STARTUP_TIMEOUT, port_rx).await {
            Ok(Ok(port)) => {
                driver.port = port;
                Ok(driver)
            }
            Ok(Err(_)) => Err(Error::new(format!(
                "chromedriver exited before it printed its port\n{}",
                driver.log_tail()
            ))),
            Err(_) => Err(Error::new(format!(
                "chromedriver printed no port within {STARTUP_TIMEOUT:?}\n{}",
                driver.log_tail()
            ))),
        }
    }

    /// What a failure message needs from the logs: the page's console,
    /// chromedriver's own output, and the last lines of its log (the last
    /// commands and their answers).
    pub(crate) fn log_tail(&self) -> String {
        let mut tail = String::new();
        let log = fs::read_to_string(self.dir.join("chromedriver.log")).unwrap_or_default();
        // Chromium logs a lot besides (D-Bus, GPU: all harmless in a
        // container); the console lines are the ones about the page.
        let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
        section(&mut tail, "the page's console", &console, CONSOLE_LINES);
        if let Ok(lines) = self.output.lock() {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            section(&mut tail, "chromedriver's output", &lines, OUTPUT_LINES);
        }
        let lines: Vec<&str> = log.lines().collect();
        section(&mut tail, "chromedriver.log", &lines, LOG_LINES);
        tail
    }

    /// Where this browser keeps its profile.
    pub(crate) fn profile_dir(&self) -> PathBuf {
        self.dir.join("profile")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Closing the lifeline is the signal: the watchdog kills the group
        // and deletes the folder, exactly as if the test had died.
        drop(self.lifeline.take());
        let deadline = Instant::now() + CLEANUP_TIMEOUT;
        loop {
            match self.watchdog.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                // The watchdog is stuck (or gone strange): do its job here.
                _ => break,
            }
        }
        // Read the group before killing the watchdog: /proc forgets its
        // children when it dies.
        let pgid = self.pgid();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
        if let Some(pgid) = pgid {
            // The shell's builtin `kill`: no extra package, and (unlike std)
            // it can signal a whole group without `unsafe`.
            let _ = Command::new("sh")
                .args(["-c", r#"kill -KILL "-$1""#, "sh", &pgid.to_string()])
                .status();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Driver {
    /// Chromedriver's process group, read back from `/proc` (the watchdog's
    /// only child is the `setsid` that became chromedriver). Only the
    /// fallback path in `drop` needs it.
    fn pgid(&self) -> Option<u32> {
        let id = self.watchdog.id();
        let children = fs::read_to_string(format!("/proc/{id}/task/{id}/children")).ok()?;
        children.split_whitespace().next()?.parse().ok()
    }
}

/// Appends the last `max` of `lines` under a heading (or says there were
/// none, which is worth knowing too).
fn section(out: &mut String, title: &str, lines: &[&str], max: usize) {
    let shown = &lines[lines.len().saturating_sub(max)..];
    if shown.len() < lines.len() {
        out.push_str(&format!(
            "--- {title} (last {max} of {} lines) ---\n",
            lines.len()
        ));
    } else {
        out.push_str(&format!("--- {title} ---\n"));
    }
    if lines.is_empty() {
        out.push_str("(nothing)\n");
    }
    for line in shown {
        out.push_str(line);
        out.push('\n');
    }
}

/// Reads `pipe` line by line on a thread, keeping the last lines in
/// `output` and sending the port from chromedriver's "started successfully
/// on port N." line to `port`.
fn drain(
    pipe: impl Read + Send + 'static,
    output: Arc<Mutex<VecDeque<String>>>,
    mut port: Option<oneshot::Sender<u16>>,
) {
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = parse_port(&line)
                && let Some(tx) = port.take()
            {
                let _ = tx.send(n);
            }
            let taken = line.contains(PORT_TAKEN);
            if let Ok(mut lines) = output.lock() {
                if lines.len() == OUTPUT_LINES {
                    lines.pop_front();
                }
                lines.push_back(line);
            }
            // It is about to exit: no port will come (the watchdog keeps
            // the pipe open, so its end would not say so). Kept above, the
            // line is in the error `start` reports.
            if taken {
                port = None;
            }
        }
        // Dropping `port` unsent tells `start` that chromedriver ended
        // without ever printing one.
    });
}

/// The port in chromedriver's "ChromeDriver was started successfully on
/// port 45179." line.
pub(crate) fn parse_port(line: &str) -> Option<u16> {
    let rest = line.split_once("started successfully on port ")?.1;
    rest.trim_end().trim_end_matches('.').parse().ok()
}

/// A new, empty folder under the system temp dir, unique to this process
/// and call.
fn fresh_dir() -> Result<PathBuf, Error> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = std::env::temp_dir();
    // `create_dir` (not `_all`) fails if the name exists, so a stale folder
    // of a recycled pid is never reused: we just try the next number.
    for _ in 0..100 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("ws-browser-{}-{n}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::new(format!("cannot create {}: {e}", dir.display()))),
        }
    }
    Err(Error::new(format!(
        "no free ws-browser-* folder name in {}",
        base.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_port_line() {
        assert_eq!(
            parse_port("ChromeDriver was started successfully on port 45179."),
            Some(45179)
        );
        assert_eq!(parse_port("Starting ChromeDriver 156.0 on port 0"), None);
        assert_eq!(parse_port("Only local connections are allowed."), None);
    }

    #[test]
    fn a_port_taken_ends_the_wait_at_once_and_is_in_the_output() {
        use std::io::Write;
        // A pipe that stays open, as the watchdog keeps chromedriver's.
        let (reader, mut writer) = std::io::pipe().unwrap();
        let output = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = oneshot::channel();
        drain(reader, Arc::clone(&output), Some(tx));
        writer
            .write_all(
                b"Starting ChromeDriver 156.0 on port 0\nIPv4 port not available. Exiting...\n",
            )
            .unwrap();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        thread::spawn(move || done_tx.send(rx.blocking_recv()));
        let port = done_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the wait for a port ends as soon as chromedriver says it cannot have one");
        assert!(port.is_err(), "no port: {port:?}");
        let lines = output.lock().unwrap();
        assert!(lines.iter().any(|l| l.contains(PORT_TAKEN)), "{lines:?}");
        drop(writer);
    }

    #[test]
    fn fresh_dirs_differ() {
        let a = fresh_dir().unwrap();
        let b = fresh_dir().unwrap();
        assert_ne!(a, b);
        fs::remove_dir(a).unwrap();
        fs::remove_dir(b).unwrap();
    }
}
