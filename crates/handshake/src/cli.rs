//! The command line every lesson with options reads the same way:
//! `[HOST:PORT] [--flag VALUE | --switch]...`, parsed by hand (a dozen
//! flags do not need a framework), with every mistake named and the exit
//! codes of a well-behaved program: 0 for `--help`, 2 for a mistake, 1 when
//! the address cannot be bound.

use std::fmt;
use std::process::ExitCode;
use std::str::FromStr;

use tokio::net::TcpListener;

/// A command line a program cannot follow, or a request for its usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageError {
    /// `-h` or `--help`: print the usage and exit successfully.
    Help,
    /// A mistake, said in one sentence.
    Wrong(String),
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::Help => write!(f, "help asked for"),
            UsageError::Wrong(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for UsageError {}

/// Walks the arguments after the program's name: flags one by one, the
/// value after a flag on request, and at most one bare word, the address.
///
/// ```
/// use handshake::{Arguments, UsageError};
///
/// let mut args = Arguments::new(["0.0.0.0:9100", "--max", "5"].map(String::from));
/// let mut max = 1u32;
/// while let Some(flag) = args.next_flag().unwrap() {
///     match flag.as_str() {
///         "--max" => max = args.number("--max", "a number above 0", |&n| n > 0).unwrap(),
///         _ => panic!("{}", args.unknown(&flag)),
///     }
/// }
/// assert_eq!((args.addr_or("127.0.0.1:9000"), max), ("0.0.0.0:9100".to_owned(), 5));
/// ```
#[derive(Debug)]
pub struct Arguments {
    args: std::vec::IntoIter<String>,
    addr: Option<String>,
}

impl Arguments {
    /// The arguments after the program's name.
    pub fn new(args: impl IntoIterator<Item = String>) -> Arguments {
        Arguments {
            args: args.into_iter().collect::<Vec<_>>().into_iter(),
            addr: None,
        }
    }

    /// The next flag (`--something`), or `None` at the end. A bare word is
    /// taken as the address, once; `-h`/`--help` is [`UsageError::Help`].
    pub fn next_flag(&mut self) -> Result<Option<String>, UsageError> {
        for arg in self.args.by_ref() {
            if arg == "-h" || arg == "--help" {
                return Err(UsageError::Help);
            }
            if arg.starts_with('-') {
                return Ok(Some(arg));
            }
            if self.addr.is_some() {
                return Err(UsageError::Wrong(format!("unexpected argument {arg:?}")));
            }
            self.addr = Some(arg);
        }
        Ok(None)
    }

    /// The value that follows `flag`.
    pub fn value(&mut self, flag: &str) -> Result<String, UsageError> {
        self.args
            .next()
            .ok_or_else(|| UsageError::Wrong(format!("{flag} needs a value")))
    }

    /// The value that follows `flag`, parsed, and accepted by `ok`; else
    /// a mistake that says what was `expected`.
    pub fn number<T: FromStr>(
        &mut self,
        flag: &str,
        expected: &str,
        ok: impl Fn(&T) -> bool,
    ) -> Result<T, UsageError> {
        let value = self.value(flag)?;
        value
            .parse()
            .ok()
            .filter(|n| ok(n))
            .ok_or_else(|| UsageError::Wrong(format!("{flag} {value:?}: expected {expected}")))
    }

    /// The mistake for a flag the program does not know.
    pub fn unknown(&self, flag: &str) -> UsageError {
        UsageError::Wrong(format!("unknown option {flag}"))
    }

    /// The address given, or `default`.
    pub fn addr_or(self, default: &str) -> String {
        self.addr.unwrap_or_else(|| default.to_owned())
    }
}

/// What a `main` does with its parsed command line: the value, or the exit
/// code after printing the usage (on standard output for `--help`, with
/// the mistake on standard error otherwise).
pub fn or_usage<T>(parsed: Result<T, UsageError>, usage: &str) -> Result<T, ExitCode> {
    match parsed {
        Ok(value) => Ok(value),
        Err(UsageError::Help) => {
            println!("{usage}");
            Err(ExitCode::SUCCESS)
        }
        Err(UsageError::Wrong(why)) => {
            eprintln!("{why}\n\n{usage}");
            Err(ExitCode::from(2))
        }
    }
}

/// What the `main` of a lesson with options does first: read its command
/// line (or return the exit code for `--help` or a mistake, see
/// [`or_usage`]), start logging, and bind the address the arguments name
/// (`addr` finds it in them).
pub async fn start<A>(
    parsed: Result<A, UsageError>,
    usage: &str,
    addr: impl FnOnce(&A) -> &str,
) -> Result<(A, TcpListener), ExitCode> {
    let args = or_usage(parsed, usage)?;
    crate::init_logging();
    match bind_or_explain(addr(&args)).await {
        Some(listener) => Ok((args, listener)),
        None => Err(ExitCode::FAILURE),
    }
}

/// Binds `addr`; on failure, says why on standard error (and that another
/// address can be given) and returns `None`.
pub async fn bind_or_explain(addr: &str) -> Option<TcpListener> {
    TcpListener::bind(addr)
        .await
        .inspect_err(|e| eprintln!("cannot listen on {addr}: {e} (pass another HOST:PORT)"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Arguments {
        Arguments::new(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags_values_and_one_address() {
        let mut a = args(&["--x", "1", "host:1", "--on"]);
        assert_eq!(a.next_flag().unwrap().as_deref(), Some("--x"));
        assert_eq!(a.number::<u8>("--x", "a byte", |_| true), Ok(1));
        assert_eq!(a.next_flag().unwrap().as_deref(), Some("--on"));
        assert_eq!(a.next_flag(), Ok(None));
        assert_eq!(a.addr_or("default:0"), "host:1");
        assert_eq!(args(&[]).addr_or("default:0"), "default:0");
    }

    #[test]
    fn mistakes_are_named() {
        let wrong = |e: UsageError| match e {
            UsageError::Wrong(why) => why,
            UsageError::Help => panic!("not help"),
        };
        assert_eq!(
            wrong(args(&["a:1", "b:2"]).next_flag().unwrap_err()),
            "unexpected argument \"b:2\""
        );
        let mut a = args(&["--n"]);
        a.next_flag().unwrap();
        assert_eq!(
            wrong(a.number::<u32>("--n", "a number", |_| true).unwrap_err()),
            "--n needs a value"
        );
        let mut a = args(&["--n", "0"]);
        a.next_flag().unwrap();
        assert_eq!(
            wrong(
                a.number::<u32>("--n", "a number above 0", |&n| n > 0)
                    .unwrap_err()
            ),
            "--n \"0\": expected a number above 0"
        );
        assert_eq!(args(&["--help"]).next_flag(), Err(UsageError::Help));
        assert_eq!(args(&["-h"]).next_flag(), Err(UsageError::Help));
        assert_eq!(wrong(args(&[]).unknown("--nope")), "unknown option --nope");
    }

    #[test]
    fn exit_codes() {
        assert_eq!(or_usage(Ok::<_, UsageError>(7), "u"), Ok(7));
        assert_eq!(
            or_usage::<()>(Err(UsageError::Help), "u"),
            Err(ExitCode::SUCCESS)
        );
        assert_eq!(
            or_usage::<()>(Err(UsageError::Wrong("x".into())), "u"),
            Err(ExitCode::from(2))
        );
    }
}
