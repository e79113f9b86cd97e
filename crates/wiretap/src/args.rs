//! The command line, parsed by hand: six flags do not need a framework.

use crate::{DEFAULT_PREVIEW, Format, Options};

/// What `--help` prints.
pub const USAGE: &str = "\
usage: wiretap [--upstream HOST:PORT] [--listen HOST:PORT] [--json] [--hex]
               [--no-payload] [--preview BYTES]

A proxy that forwards every byte unchanged between its clients and the
upstream lesson, and prints what goes by: HTTP heads with lesson 1's notes,
WebSocket frames field by field as lesson 2 explains them.

  --upstream HOST:PORT  the lesson to forward to             [127.0.0.1:9005]
  --listen HOST:PORT    where clients connect                [127.0.0.1:9007]
  --json                one JSON object per event and line, instead of text
  --hex                 also dump every read, byte for byte, as it came
                        (cookies included: the annotations hide them, a dump cannot)
  --no-payload          show frame headers only, no payload of data frames
  --preview BYTES       payload bytes kept and shown per frame      [256]";

/// The default upstream: the chat lesson, whose traffic is the liveliest.
pub const DEFAULT_UPSTREAM: &str = "127.0.0.1:9005";
/// The default listening address: this lesson's port.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9007";
/// The largest `--preview`: the tap holds this much per frame in flight.
pub const MAX_PREVIEW: usize = 64 * 1024;

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cli {
    /// Where to listen, `HOST:PORT`.
    pub listen: String,
    /// Where to forward to, `HOST:PORT`.
    pub upstream: String,
    /// How to print.
    pub format: Format,
    /// What the tap keeps and reports.
    pub options: Options,
}

/// Parses the arguments after the program name: the command line to run, or
/// `None` for `-h`/`--help` (print [`USAGE`]). Flags with a value take it as
/// the next argument or after `=` (`--listen 127.0.0.1:9107`,
/// `--listen=127.0.0.1:9107`).
///
/// # Errors
///
/// One line saying what is wrong: an unknown or repeated flag, a missing or
/// bad value.
pub fn parse_args<I>(args: I) -> Result<Option<Cli>, String>
where
    I: IntoIterator<Item = String>,
{
    let mut listen = None;
    let mut upstream = None;
    let mut preview = None;
    let mut json = false;
    let mut hex = false;
    let mut no_payload = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg, None),
        };
        let switch = match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--json" => Some(&mut json),
            "--hex" => Some(&mut hex),
            "--no-payload" => Some(&mut no_payload),
            _ => None,
        };
        if let Some(switch) = switch {
            if inline.is_some() {
                return Err(format!("{flag} takes no value"));
            }
            if std::mem::replace(switch, true) {
                return Err(format!("{flag} given twice"));
            }
            continue;
        }
        let slot = match flag.as_str() {
            "--listen" => &mut listen,
            "--upstream" => &mut upstream,
            "--preview" => &mut preview,
            _ => return Err(format!("unknown argument {flag:?}")),
        };
        let value = match inline.or_else(|| args.next()) {
            Some(value) if !value.is_empty() => value,
            _ => return Err(format!("{flag} needs a value")),
        };
        if slot.replace(value).is_some() {
            return Err(format!("{flag} given twice"));
        }
    }
    for (flag, addr) in [("--listen", &listen), ("--upstream", &upstream)] {
        if let Some(addr) = addr
            && !looks_like_host_port(addr)
        {
            return Err(format!(
                "{flag} {addr:?}: expected HOST:PORT, e.g. 127.0.0.1:9003"
            ));
        }
    }
    let preview = match preview {
        None => DEFAULT_PREVIEW,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n <= MAX_PREVIEW => n,
            _ => {
                return Err(format!(
                    "--preview {text:?}: expected a number of bytes up to {MAX_PREVIEW}"
                ));
            }
        },
    };
    Ok(Some(Cli {
        listen: listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
        upstream: upstream.unwrap_or_else(|| DEFAULT_UPSTREAM.to_owned()),
        format: if json { Format::Json } else { Format::Text },
        options: Options {
            preview,
            no_payload,
            hex,
        },
    }))
}

/// `host:port` with a port number; the host is resolved later.
fn looks_like_host_port(addr: &str) -> bool {
    addr.rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Cli>, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    fn run(args: &[&str]) -> Cli {
        match parse(args) {
            Ok(Some(cli)) => cli,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let cli = run(&[]);
        assert_eq!(cli.listen, DEFAULT_LISTEN);
        assert_eq!(cli.upstream, DEFAULT_UPSTREAM);
        assert_eq!(cli.format, Format::Text);
        assert_eq!(cli.options, Options::default());
    }

    #[test]
    fn every_flag() {
        let cli = run(&[
            "--upstream",
            "127.0.0.1:9003",
            "--listen=localhost:9107",
            "--json",
            "--hex",
            "--no-payload",
            "--preview",
            "16",
        ]);
        assert_eq!(cli.upstream, "127.0.0.1:9003");
        assert_eq!(cli.listen, "localhost:9107");
        assert_eq!(cli.format, Format::Json);
        assert_eq!(
            cli.options,
            Options {
                preview: 16,
                no_payload: true,
                hex: true
            }
        );
        assert_eq!(parse(&["-h"]), Ok(None));
    }

    #[test]
    fn mistakes_are_refused_with_a_reason() {
        for (args, needle) in [
            (&["--upstream"][..], "needs a value"),
            (&["--upstream", "9003"], "expected HOST:PORT"),
            (&["--listen", "host:port"], "expected HOST:PORT"),
            (&["--json", "--json"], "twice"),
            (&["--json=yes"], "takes no value"),
            (&["--preview", "lots"], "number of bytes"),
            (&["--preview", "100000"], "number of bytes"),
            (&["--verbose"], "unknown argument"),
            (&["127.0.0.1:9003"], "unknown argument"),
        ] {
            let error = parse(args).unwrap_err();
            assert!(error.contains(needle), "{args:?}: {error}");
        }
    }
}
