//! The command line: `cluster [--redis URL] [--listen HOST:PORT]...`.

use crate::{DEFAULT_LISTEN, DEFAULT_REDIS};

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq, clap::Parser)]
#[command(
    name = "cluster",
    about = "Lesson 8: lesson 5's chat room on several servers sharing one room in Redis."
)]
pub struct Args {
    /// The Redis every instance shares.
    #[arg(long, value_name = "URL", default_value = DEFAULT_REDIS)]
    pub redis: String,
    /// Start an instance on HOST:PORT; give it once per instance. Without
    /// it: three, on 127.0.0.1:9011, :9012 and :9013.
    #[arg(long = "listen", value_name = "HOST:PORT")]
    pub listen: Vec<String>,
    /// A reverse proxy in front (nginx with deploy/nginx.conf: 127.0.0.1),
    /// believed about who the client is (lesson 5's --trusted-proxy).
    #[arg(long = "trusted-proxy", value_name = "IP")]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Each server holds at most N WebSockets (lesson 5's limit).
    #[arg(long, value_name = "N", default_value_t = chatroom::MAX_CONNECTIONS, value_parser = support::above_zero)]
    pub max_connections: usize,
    /// At most N connections from one address, on each server (lesson 5's
    /// limit).
    #[arg(long, value_name = "N", default_value_t = chatroom::MAX_PER_IP, value_parser = support::above_zero)]
    pub max_per_ip: usize,
}

impl Args {
    /// Each server's settings: lesson 5's defaults, with what the command
    /// line changed.
    pub fn config(&self) -> chatroom::Config {
        chatroom::Config {
            trusted_proxies: self.trusted_proxies.clone(),
            max_connections: self.max_connections,
            max_per_ip: self.max_per_ip,
            ..chatroom::Config::default()
        }
    }
}

impl Args {
    /// Where the instances listen.
    pub fn addrs(&self) -> Vec<String> {
        if self.listen.is_empty() {
            DEFAULT_LISTEN.iter().map(|a| (*a).to_owned()).collect()
        } else {
            self.listen.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn defaults_and_flags() {
        let args = Args::try_parse_from(["cluster"]).unwrap();
        assert_eq!(args.redis, DEFAULT_REDIS);
        assert_eq!(args.addrs(), DEFAULT_LISTEN);
        let args = Args::try_parse_from([
            "cluster",
            "--redis",
            "redis://10.0.0.5:6380",
            "--listen",
            "127.0.0.1:9005",
            "--trusted-proxy",
            "127.0.0.1",
        ])
        .unwrap();
        assert_eq!(args.trusted_proxies.len(), 1);
        assert_eq!(args.config().max_per_ip, chatroom::MAX_PER_IP);
        assert!(Args::try_parse_from(["cluster", "--max-per-ip", "0"]).is_err());
        assert_eq!(args.addrs(), ["127.0.0.1:9005"]);
        assert_eq!(args.redis, "redis://10.0.0.5:6380");
        assert!(Args::try_parse_from(["cluster", "--listen"]).is_err());
        assert!(Args::try_parse_from(["cluster", "9011"]).is_err());
    }
}
