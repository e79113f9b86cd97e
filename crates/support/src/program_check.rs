//! What the tests check of every program, lessons and tools alike, so each
//! behaves as a well-mannered command line tool:
//!
//! - `--help` prints the usage on standard output and exits 0;
//! - an unknown flag prints a one-line error and the usage on standard
//!   error, and exits 2;
//! - a server that cannot bind its address exits 1 with a sentence saying
//!   what to do.
//!
//! Each crate's `tests/program.rs` calls these with its binaries
//! (`env!("CARGO_BIN_EXE_<name>")`). They panic, with what was seen, when a
//! program misbehaves, and kill a program that does not exit in time.

use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a program may take to print its usage or its refusal.
pub const WAIT: Duration = Duration::from_secs(30);

/// Runs `exe` with `args`, no standard input, and returns what it did;
/// panics if it is still running after [`WAIT`].
pub fn run(exe: &str, args: &[&str]) -> Output {
    let mut command = Command::new(exe);
    command.args(args);
    finish(command)
}

/// Runs `command` with no standard input and returns what it did; panics
/// if it is still running after [`WAIT`].
pub fn finish(mut command: Command) -> Output {
    let exe = command.get_program().to_string_lossy().into_owned();
    let args: Vec<_> = command
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {exe}: {e}"));
    let started = Instant::now();
    while child
        .try_wait()
        .expect("the child can be waited for")
        .is_none()
    {
        if started.elapsed() > WAIT {
            let _ = child.kill();
            let output = child
                .wait_with_output()
                .expect("the killed child is reaped");
            panic!(
                "{exe} {args:?} was still running after {WAIT:?}; stderr: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child
        .wait_with_output()
        .expect("the child's output is read")
}

/// `--help` exits 0 with the usage on standard output, and `--no-such-flag`
/// exits 2 with a one-line error, then the usage, on standard error.
pub fn help_and_mistakes(exe: &str) {
    let help = run(exe, &["--help"]);
    let stdout = String::from_utf8_lossy(&help.stdout);
    assert_eq!(help.status.code(), Some(0), "{exe} --help: {help:?}");
    assert!(
        stdout.contains("Usage:"),
        "{exe} --help printed no usage: {stdout}"
    );

    let wrong = run(exe, &["--no-such-flag"]);
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(
        wrong.status.code(),
        Some(2),
        "{exe} --no-such-flag: {wrong:?}"
    );
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("error:") && first.contains("--no-such-flag"),
        "{exe} --no-such-flag: the first line should name the mistake: {stderr}"
    );
    assert!(
        stderr.contains("Usage:"),
        "{exe} --no-such-flag: no usage: {stderr}"
    );
    assert!(
        wrong.stdout.is_empty(),
        "{exe} --no-such-flag wrote to stdout"
    );
}

/// Runs `exe` with `args` followed by an address that is already taken,
/// and expects exit status 1 and a sentence on standard error that names
/// the address and says to pass another.
pub fn bind_failure(exe: &str, args: &[&str]) {
    let taken = TcpListener::bind("127.0.0.1:0").expect("a port to take");
    let addr = taken.local_addr().expect("its address").to_string();
    let mut all = args.to_vec();
    all.push(&addr);
    let output = run(exe, &all);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{exe} {all:?}: {output:?}");
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")) && stderr.contains("Pass another"),
        "{exe} {all:?}: the refusal should name {addr} and say what to do: {stderr}"
    );
}
