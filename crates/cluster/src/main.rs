//! `cargo run -p cluster [-- --redis URL] [--listen HOST:PORT]...`: lesson
//! 5's chat room on three servers (or as many `--listen` as given) that
//! share one room in Redis. Open one page on each, and watch the messages
//! cross.

use std::process::ExitCode;

use chatroom::Server;
use clap::Parser;
use cluster::args::Args;
use cluster::{PREFIX, SharedRoom};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    support::init_logging("info");
    let config = args.config();
    let stop = CancellationToken::new();
    let mut servers = tokio::task::JoinSet::new();
    for addr in args.addrs() {
        let room = match SharedRoom::connect(&args.redis, PREFIX, config.queue_capacity).await {
            Ok(room) => room,
            Err(e) => {
                eprintln!(
                    "cluster: cannot reach Redis at {} ({e}). Start one in another terminal with \
                     `redis-server --port 6379 --save ''`, or name yours with --redis URL.",
                    args.redis
                );
                return ExitCode::FAILURE;
            }
        };
        let Some((listener, bound)) = support::bind(&addr).await else {
            return ExitCode::FAILURE;
        };
        println!(
            "lesson 8 (cluster): open http://{bound}/ (one room, shared through {})",
            args.redis
        );
        let server = Server::with_hall(listener, config.clone(), room);
        servers.spawn(server.run(stop.clone().cancelled_owned()));
    }
    println!("each page talks to its own server; the room is the same. Ctrl-C stops");
    support::ctrl_c().await;
    stop.cancel();
    while servers.join_next().await.is_some() {}
    ExitCode::SUCCESS
}
