//! `loadgen [--url ws://127.0.0.1:9003/ws] [--connections 100] [--size 20]
//! [--duration 10s] [--warmup 2s] [--json]`, `loadgen --idle N`, or
//! `loadgen --broadcast N [--protocol chatroom|plain] [--rate 100]`: see
//! `--help` and the crate docs (`src/lib.rs`).
//!
//! Exit status: 0 for a clean run, 1 when anything failed (the report says
//! what), 2 for a command line we cannot run.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, error::ErrorKind};
use loadgen::Flags;

fn main() -> ExitCode {
    let cli = Flags::parse()
        .check()
        .unwrap_or_else(|e| Flags::command().error(ErrorKind::ValueValidation, e).exit());
    // Reports go to stdout; connection-level detail to stderr with RUST_LOG=debug.
    support::init_logging("warn");

    // One thread by default: the generator is meant to be pinned to its own
    // core, where a current-thread runtime avoids waking other threads.
    let runtime = if cli.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("loadgen: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };

    let report = runtime.block_on(async {
        tokio::select! {
            report = loadgen::run(&cli.mode) => Some(report),
            // Ctrl-C ends the process; the server sees resets, not closes.
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    match report {
        None => {
            eprintln!("loadgen: interrupted");
            ExitCode::from(130)
        }
        Some(Err(e)) => {
            eprintln!("loadgen: {e}");
            ExitCode::from(2)
        }
        Some(Ok(report)) => {
            if cli.json {
                println!("{}", report.to_json());
            } else {
                println!("{report}");
            }
            if report.errors().is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
