//! The command line: where to listen, where to forward, how to print.

use crate::{DEFAULT_PREVIEW, Format, Options};

/// The default upstream: the chat lesson, whose traffic is the liveliest.
pub const DEFAULT_UPSTREAM: &str = "127.0.0.1:9005";
/// The default listening address: this lesson's port.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9007";
/// The largest `--preview`: the tap holds this much per frame in flight.
pub const MAX_PREVIEW: usize = 64 * 1024;

/// A proxy that forwards every byte unchanged between its clients and the
/// upstream lesson, and prints what goes by: HTTP heads with lesson 1's
/// notes, WebSocket frames field by field as lesson 2 explains them.
#[derive(Debug, Clone, PartialEq, Eq, clap::Parser)]
#[command(name = "wiretap")]
pub struct Cli {
    /// The lesson to forward to, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT", default_value = DEFAULT_UPSTREAM, value_parser = host_port)]
    pub upstream: String,
    /// Where clients connect, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT", default_value = DEFAULT_LISTEN, value_parser = host_port)]
    pub listen: String,
    /// One JSON object per event and line, instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also dump every read, byte for byte, as it came (cookies included:
    /// the annotations hide them, a dump cannot).
    #[arg(long)]
    pub hex: bool,
    /// Show frame headers only, no payload of data frames.
    #[arg(long)]
    pub no_payload: bool,
    /// Payload bytes kept and shown per frame (at most 65536).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_PREVIEW, value_parser = preview)]
    pub preview: usize,
}

impl Cli {
    /// How to print.
    pub fn format(&self) -> Format {
        if self.json {
            Format::Json
        } else {
            Format::Text
        }
    }

    /// What the tap keeps and reports.
    pub fn options(&self) -> Options {
        Options {
            preview: self.preview,
            no_payload: self.no_payload,
            hex: self.hex,
        }
    }
}

/// `host:port` with a port number; the host is resolved later.
fn host_port(addr: &str) -> Result<String, String> {
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
            Ok(addr.to_owned())
        }
        _ => Err("expected HOST:PORT, e.g. 127.0.0.1:9003".to_owned()),
    }
}

fn preview(bytes: &str) -> Result<usize, String> {
    match bytes.parse() {
        Ok(n) if n <= MAX_PREVIEW => Ok(n),
        _ => Err(format!("expected a number of bytes up to {MAX_PREVIEW}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("wiretap").chain(args.iter().copied()))
    }

    #[test]
    fn defaults() {
        let cli = parse(&[]).unwrap();
        assert_eq!(cli.listen, DEFAULT_LISTEN);
        assert_eq!(cli.upstream, DEFAULT_UPSTREAM);
        assert_eq!(cli.format(), Format::Text);
        assert_eq!(cli.options(), Options::default());
    }

    #[test]
    fn every_flag() {
        let cli = parse(&[
            "--upstream",
            "127.0.0.1:9003",
            "--listen=localhost:9107",
            "--json",
            "--hex",
            "--no-payload",
            "--preview",
            "16",
        ])
        .unwrap();
        assert_eq!(cli.upstream, "127.0.0.1:9003");
        assert_eq!(cli.listen, "localhost:9107");
        assert_eq!(cli.format(), Format::Json);
        assert_eq!(
            cli.options(),
            Options {
                preview: 16,
                no_payload: true,
                hex: true
            }
        );
    }

    #[test]
    fn mistakes_are_refused_with_a_reason() {
        for (args, needle) in [
            (&["--upstream"][..], "a value is required"),
            (&["--upstream", "9003"], "expected HOST:PORT"),
            (&["--listen", "host:port"], "expected HOST:PORT"),
            (&["--json", "--json"], "cannot be used multiple times"),
            (&["--json=yes"], "unexpected value"),
            (&["--preview", "lots"], "number of bytes"),
            (&["--preview", "100000"], "number of bytes"),
            (&["--verbose"], "unexpected argument"),
            (&["127.0.0.1:9003"], "unexpected argument"),
        ] {
            let error = parse(args).unwrap_err().to_string();
            assert!(error.contains(needle), "{args:?}: {error}");
        }
    }
}
