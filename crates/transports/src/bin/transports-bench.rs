//! `cargo run --release -p transports --bin transports-bench -- [--clients M] [--rate R] [--seconds D] [--intervals MS,MS,…]`
//!
//! Measures what each transport costs per delivered event: M real clients
//! of each (short polling at each interval, long polling, SSE, WebSocket)
//! against this lesson's server on loopback, with a feed of R events a
//! second for D seconds. Bytes are counted at the client's socket, both
//! directions, headers and framing included. Latency runs from the moment
//! the event was appended to the log to the moment a client parsed it,
//! both on this process's monotonic clock. Every client must receive
//! every event exactly once, in order, or the run fails.
//!
//! Prints one JSON object per transport on stdout; with `--out DIR`, also
//! writes `DIR/bench-transports.json`, `DIR/bench-transports.md` (the
//! table the book includes) and `DIR/bench-transports.svg` (its chart).
//! The CPU column is this whole process (server and clients together): the
//! server runs in-process so that latency can be read on one monotonic
//! clock.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, MissedTickBehavior, interval, sleep, timeout};
use tokio_tungstenite::tungstenite::Message;
use transports::client::{HttpClient, sse_events};
use transports::{Config, Log, Quote, Server, Tick};

/// The transports measured, short polling once per interval.
#[derive(Debug, Clone, Copy)]
enum Transport {
    Short(Duration),
    Long,
    Sse,
    WebSocket,
}

impl Transport {
    fn name(self) -> String {
        match self {
            Transport::Short(every) => format!("short poll {} ms", every.as_millis()),
            Transport::Long => "long poll".into(),
            Transport::Sse => "SSE".into(),
            Transport::WebSocket => "WebSocket".into(),
        }
    }
}

/// What one client saw.
#[derive(Debug, Default)]
struct Seen {
    sent: u64,
    received: u64,
    requests: u64,
    latencies_us: Vec<u64>,
}

/// When each event was published: index `seq - 1`.
type Published = Arc<Mutex<Vec<Instant>>>;

struct Clock {
    published: Published,
    cursor: u64,
    total: u64,
    seen: Seen,
}

impl Clock {
    /// Records one event; fails on a duplicate, a hole or disorder.
    fn tick(&mut self, json: &str) -> io::Result<()> {
        let now = Instant::now();
        let tick: Tick = serde_json::from_str(json).map_err(io::Error::other)?;
        if tick.seq != self.cursor + 1 {
            return Err(io::Error::other(format!(
                "got event {} after {}: not exactly once in order",
                tick.seq, self.cursor
            )));
        }
        self.cursor = tick.seq;
        let at = self
            .published
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(usize::try_from(tick.seq - 1).unwrap_or(usize::MAX))
            .copied();
        if let Some(at) = at {
            let us = now.saturating_duration_since(at).as_micros();
            self.seen
                .latencies_us
                .push(u64::try_from(us).unwrap_or(u64::MAX));
        }
        Ok(())
    }

    fn done(&self) -> bool {
        self.cursor >= self.total
    }
}

/// A socket that counts the bytes through it.
struct Counting {
    inner: TcpStream,
    read: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
}

impl AsyncRead for Counting {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        polled
    }
}

impl AsyncWrite for Counting {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = &polled {
            self.written.fetch_add(*n as u64, Ordering::Relaxed);
        }
        polled
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

async fn client(transport: Transport, addr: SocketAddr, mut clock: Clock) -> io::Result<Seen> {
    match transport {
        Transport::Short(_) | Transport::Long => {
            let mut http = HttpClient::connect(addr).await?;
            while !clock.done() {
                let route = if matches!(transport, Transport::Long) {
                    "/long-poll"
                } else {
                    "/poll"
                };
                let (head, body) = http
                    .get(&format!("{route}?since={}", clock.cursor), &[])
                    .await?;
                if head.status == 200 {
                    let value: serde_json::Value =
                        serde_json::from_slice(&body).map_err(io::Error::other)?;
                    for event in value["events"].as_array().into_iter().flatten() {
                        clock.tick(&event.to_string())?;
                    }
                } else if head.status != 204 {
                    return Err(io::Error::other(format!("status {}", head.status)));
                }
                if let Transport::Short(every) = transport {
                    sleep(every).await;
                }
            }
            clock.seen.sent = http.sent;
            clock.seen.received = http.received;
            clock.seen.requests = http.requests;
        }
        Transport::Sse => {
            let mut http = HttpClient::connect(addr).await?;
            http.request("/sse?since=0", &[]).await?;
            let mut rest = String::new();
            while !clock.done() {
                let chunk = http
                    .chunk()
                    .await?
                    .ok_or_else(|| io::Error::other("stream ended"))?;
                let text = std::str::from_utf8(&chunk).map_err(io::Error::other)?;
                for event in sse_events(&mut rest, text) {
                    if let Some((_, data)) = event.iter().find(|(name, _)| name == "data") {
                        clock.tick(data)?;
                    }
                }
            }
            clock.seen.sent = http.sent;
            clock.seen.received = http.received;
            clock.seen.requests = http.requests;
        }
        Transport::WebSocket => {
            let (read, written) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let counting = Counting {
                inner: stream,
                read: Arc::clone(&read),
                written: Arc::clone(&written),
            };
            let url = format!("ws://{addr}/ws?since=0");
            let (mut ws, _) = tokio_tungstenite::client_async(url, counting)
                .await
                .map_err(io::Error::other)?;
            while !clock.done() {
                match ws.next().await {
                    Some(Ok(Message::Text(text))) => clock.tick(&text)?,
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(io::Error::other(e)),
                    None => return Err(io::Error::other("socket closed")),
                }
            }
            let _ = ws.close(None).await;
            clock.seen.sent = written.load(Ordering::Relaxed);
            clock.seen.received = read.load(Ordering::Relaxed);
            clock.seen.requests = 1;
        }
    }
    Ok(clock.seen)
}

/// Process CPU time so far (user + system), from `/proc/self/stat`.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports in clock ticks of 1/100 s on every common platform.
    Some(Duration::from_millis(ticks * 10))
}

async fn measure(
    transport: Transport,
    clients: usize,
    rate: u64,
    seconds: u64,
) -> io::Result<serde_json::Value> {
    let total = rate * seconds;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let config = Config {
        tick_interval: None,
        log_capacity: usize::try_from(total).unwrap_or(usize::MAX) + 1,
        max_batch: usize::MAX,
        ..Config::default()
    };
    let server = Server::with_config(listener, config);
    let addr = server.local_addr()?;
    let log: Arc<Log> = server.log();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    let published: Published = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let clock = Clock {
            published: Arc::clone(&published),
            cursor: 0,
            total,
            seen: Seen::default(),
        };
        tasks.push(tokio::spawn(client(transport, addr, clock)));
    }
    // Let every client connect before the first event.
    sleep(Duration::from_millis(200)).await;
    let cpu_before = cpu_time();
    let started = Instant::now();
    let mut ticks = interval(Duration::from_secs_f64(1.0 / rate as f64));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    for i in 0..total {
        ticks.tick().await;
        // Recorded before the append, so no client can parse it first.
        published
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Instant::now());
        log.append(
            Quote {
                symbol: "RUST".into(),
                price_cents: 10_000 + i,
                change_cents: 1,
            },
            0,
        );
    }
    let mut seen = Vec::new();
    for task in tasks {
        let result = timeout(Duration::from_secs(seconds + 30), task)
            .await
            .map_err(|_| io::Error::other("a client never finished"))?
            .map_err(io::Error::other)??;
        seen.push(result);
    }
    let elapsed = started.elapsed();
    let cpu = cpu_before.zip(cpu_time()).map(|(a, b)| b.saturating_sub(a));
    let _ = stop.send(());
    let _ = timeout(Duration::from_secs(10), running).await;
    let delivered = (total * clients as u64) as f64;
    let sum = |f: fn(&Seen) -> u64| seen.iter().map(f).sum::<u64>() as f64;
    let mut latencies: Vec<u64> = seen
        .iter()
        .flat_map(|s| s.latencies_us.iter().copied())
        .collect();
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0)
    };
    let mean = latencies.iter().sum::<u64>() as f64 / latencies.len().max(1) as f64;
    Ok(serde_json::json!({
        "transport": transport.name(),
        "clients": clients,
        "rate": rate,
        "seconds": seconds,
        "events_delivered": delivered,
        // A client that misses, repeats or reorders an event fails the run.
        "lost": 0,
        "bytes_in_per_event": sum(|s| s.received) / delivered,
        "bytes_out_per_event": sum(|s| s.sent) / delivered,
        "requests_per_event": sum(|s| s.requests) / delivered,
        "latency_us_p50": pct(0.5),
        "latency_us_p99": pct(0.99),
        "latency_us_mean": mean,
        "process_cpu_ms_per_1000_events": cpu.map(|c| c.as_secs_f64() * 1e6 / delivered),
        "wall_s": elapsed.as_secs_f64(),
    }))
}

fn arg(args: &[String], flag: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = (|| -> Option<(usize, u64, u64, Vec<u64>)> {
        let intervals = arg(&args, "--intervals", "100,500,1000")
            .split(',')
            .map(|ms| ms.trim().parse().ok())
            .collect::<Option<Vec<u64>>>()?;
        Some((
            arg(&args, "--clients", "50").parse().ok()?,
            arg(&args, "--rate", "20").parse().ok().filter(|&r| r > 0)?,
            arg(&args, "--seconds", "10")
                .parse()
                .ok()
                .filter(|&s| s > 0)?,
            intervals,
        ))
    })();
    let Some((clients, rate, seconds, intervals)) = parsed else {
        eprintln!(
            "usage: transports-bench [--clients M] [--rate R] [--seconds D] [--intervals MS,MS,...]"
        );
        return std::process::ExitCode::from(2);
    };
    let mut all: Vec<Transport> = intervals
        .iter()
        .map(|&ms| Transport::Short(Duration::from_millis(ms)))
        .collect();
    all.extend([Transport::Long, Transport::Sse, Transport::WebSocket]);
    let mut results = Vec::new();
    for transport in all {
        match measure(transport, clients, rate, seconds).await {
            Ok(result) => {
                println!("{result}");
                results.push(result);
            }
            Err(e) => {
                eprintln!("{}: {e}", transport.name());
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    if let Some(dir) = args
        .iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1))
    {
        let dir = std::path::Path::new(dir);
        let json = serde_json::to_string_pretty(&results).unwrap_or_default();
        let written = std::fs::write(dir.join("bench-transports.json"), json + "\n")
            .and_then(|()| {
                std::fs::write(
                    dir.join("bench-transports.md"),
                    table(&results, clients, rate, seconds),
                )
            })
            .and_then(|()| std::fs::write(dir.join("bench-transports.svg"), chart(&results)));
        if let Err(e) = written {
            eprintln!("cannot write into {}: {e}", dir.display());
            return std::process::ExitCode::FAILURE;
        }
    }
    std::process::ExitCode::SUCCESS
}

/// Two bar charts side by side, as SVG: bytes per event (in and out) and
/// median latency on a logarithmic scale, one row per transport. Written
/// by hand: a dozen rectangles need no plotting library.
fn chart(results: &[serde_json::Value]) -> String {
    let (row, top, label, panel) = (26.0, 40.0, 150.0, 300.0);
    let height = top + row * results.len() as f64 + 30.0;
    let width = label + 2.0 * panel + 60.0;
    let max_bytes = results
        .iter()
        .map(|r| {
            r["bytes_in_per_event"].as_f64().unwrap_or(0.0)
                + r["bytes_out_per_event"].as_f64().unwrap_or(0.0)
        })
        .fold(1.0, f64::max);
    // Latency from 0.1 ms to 1 s on a log scale: four decades.
    let log_x = |us: f64| ((us.max(100.0) / 100.0).log10() / 4.0).clamp(0.0, 1.0) * (panel - 20.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{label}\" y=\"20\" font-weight=\"bold\">bytes per event (in, out)</text>\n\
         <text x=\"{}\" y=\"20\" font-weight=\"bold\">latency p50 (log scale)</text>\n",
        label + panel + 30.0
    );
    for (i, r) in results.iter().enumerate() {
        let y = top + row * i as f64;
        let name = r["transport"].as_str().unwrap_or_default();
        let bytes_in = r["bytes_in_per_event"].as_f64().unwrap_or(0.0);
        let bytes_out = r["bytes_out_per_event"].as_f64().unwrap_or(0.0);
        let scale = (panel - 70.0) / max_bytes;
        let (w_in, w_out) = (bytes_in * scale, bytes_out * scale);
        let p50 = r["latency_us_p50"].as_f64().unwrap_or(0.0);
        let x2 = label + panel + 30.0;
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{name}</text>\n\
             <rect x=\"{label}\" y=\"{}\" width=\"{w_in:.1}\" height=\"16\" fill=\"#2f6fdf\"/>\n\
             <rect x=\"{:.1}\" y=\"{}\" width=\"{w_out:.1}\" height=\"16\" fill=\"#b7791f\"/>\n\
             <text x=\"{:.1}\" y=\"{}\">{:.0} B</text>\n\
             <rect x=\"{x2}\" y=\"{}\" width=\"{:.1}\" height=\"16\" fill=\"#1f9d55\"/>\n\
             <text x=\"{:.1}\" y=\"{}\">{:.2} ms</text>\n",
            label - 8.0,
            y + 12.0,
            y,
            label + w_in,
            y,
            label + w_in + w_out + 4.0,
            y + 12.0,
            bytes_in + bytes_out,
            y,
            log_x(p50),
            x2 + log_x(p50) + 4.0,
            y + 12.0,
            p50 / 1000.0,
        ));
    }
    let axis = top + row * results.len() as f64 + 14.0;
    for (us, tick) in [
        (100.0, "0.1 ms"),
        (1_000.0, "1 ms"),
        (10_000.0, "10 ms"),
        (100_000.0, "100 ms"),
        (1_000_000.0, "1 s"),
    ] {
        svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{axis}\" fill=\"#6b7385\" text-anchor=\"middle\">{tick}</text>\n",
            label + panel + 30.0 + log_x(us)
        ));
    }
    svg.push_str(&format!(
        "<text x=\"{label}\" y=\"{axis}\" fill=\"#6b7385\">blue: in, amber: out</text>\n</svg>\n"
    ));
    svg
}

/// The results as a markdown table, with the run's parameters above it.
fn table(results: &[serde_json::Value], clients: usize, rate: u64, seconds: u64) -> String {
    let mut md = format!(
        "<!-- generated by scripts/bench-transports.sh: do not edit -->\n\
         {clients} clients, {rate} events/s for {seconds} s, loopback; per delivered event. \
         CPU is the whole benchmark process (server and clients).\n\n\
         | transport | bytes in | bytes out | requests | latency p50 | latency p99 | latency mean | CPU ms / 1000 events | lost |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    let ms = |v: &serde_json::Value| {
        v.as_f64()
            .map_or("—".into(), |us| format!("{:.2} ms", us / 1000.0))
    };
    for r in results {
        md.push_str(&format!(
            "| {} | {:.1} | {:.1} | {:.3} | {} | {} | {} | {} | {} |\n",
            r["transport"].as_str().unwrap_or_default(),
            r["bytes_in_per_event"].as_f64().unwrap_or_default(),
            r["bytes_out_per_event"].as_f64().unwrap_or_default(),
            r["requests_per_event"].as_f64().unwrap_or_default(),
            ms(&r["latency_us_p50"]),
            ms(&r["latency_us_p99"]),
            ms(&r["latency_us_mean"]),
            r["process_cpu_ms_per_1000_events"]
                .as_f64()
                .map_or("—".into(), |c| format!("{c:.1}")),
            r["lost"],
        ));
    }
    md
}
