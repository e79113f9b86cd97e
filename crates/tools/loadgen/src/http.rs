//! A small HTTP/1.1 client on one keep-alive connection that counts every
//! byte it writes and reads, headers included: the tests talk to the polls
//! and the stream with it, and a benchmark can count the cost of each
//! transport at the socket, where it is paid.
//!
//! It reads heads with lesson 1's parser, and knows the two body framings
//! our server uses: `Content-Length` and `Transfer-Encoding: chunked`.

use std::io;
use std::net::SocketAddr;

use bytes::{Buf, Bytes, BytesMut};
use handshake::{Headers, find_blank_line, parse_response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response's status line and headers.
#[derive(Debug, Clone)]
pub struct Head {
    /// The status code.
    pub status: u16,
    /// The headers, as sent.
    pub headers: Headers,
    /// The whole head as it came off the socket, status line to blank line
    /// included: what the benchmark shows of our server's answers.
    pub raw: Bytes,
}

impl Head {
    fn chunked(&self) -> bool {
        self.headers
            .get_one("transfer-encoding")
            .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
    }
}

/// One connection to the server, with its byte counts.
#[derive(Debug)]
pub struct HttpClient {
    stream: TcpStream,
    host: String,
    buf: BytesMut,
    /// Bytes written to the socket so far.
    pub sent: u64,
    /// Bytes read from the socket so far.
    pub received: u64,
    /// Requests sent so far.
    pub requests: u64,
}

fn invalid(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.into())
}

impl HttpClient {
    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr) -> io::Result<HttpClient> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(HttpClient {
            stream,
            host: addr.to_string(),
            buf: BytesMut::with_capacity(8 * 1024),
            sent: 0,
            received: 0,
            requests: 0,
        })
    }

    /// `GET target` with `headers`, and the whole answer: its head and body.
    pub async fn get(
        &mut self,
        target: &str,
        headers: &[(&str, &str)],
    ) -> io::Result<(Head, Bytes)> {
        let head = self.request(target, headers).await?;
        let body = if head.chunked() {
            let mut body = BytesMut::new();
            while let Some(chunk) = self.chunk().await? {
                body.extend_from_slice(&chunk);
            }
            body.freeze()
        } else {
            let length = match head.headers.get_one("content-length") {
                Some(n) => n.parse().map_err(|_| invalid("bad Content-Length"))?,
                None => 0,
            };
            self.take(length).await?
        };
        Ok((head, body))
    }

    /// Sends `GET target` and reads the head of the answer; read its body
    /// with [`HttpClient::chunk`] (a stream) or use [`HttpClient::get`].
    pub async fn request(&mut self, target: &str, headers: &[(&str, &str)]) -> io::Result<Head> {
        let mut request = format!("GET {target} HTTP/1.1\r\nHost: {}\r\n", self.host);
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        self.stream.write_all(request.as_bytes()).await?;
        self.sent += request.len() as u64;
        self.requests += 1;
        let end = loop {
            if let Some(end) = find_blank_line(&self.buf, 0) {
                break end;
            }
            self.fill().await?;
        };
        let head = self.buf.split_to(end);
        let parsed = parse_response(&head).map_err(|e| invalid(format!("{e:?}")))?;
        Ok(Head {
            status: parsed.status,
            headers: parsed.headers,
            raw: head.freeze(),
        })
    }

    /// The next chunk of a chunked body, `None` after the last.
    pub async fn chunk(&mut self) -> io::Result<Option<Bytes>> {
        let line = self.line().await?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            // No trailers from our server: the blank line ends the body.
            self.line().await?;
            return Ok(None);
        }
        let data = self.take(size).await?;
        let crlf = self.take(2).await?;
        if &crlf[..] != b"\r\n" {
            return Err(invalid("chunk not followed by CRLF"));
        }
        Ok(Some(data))
    }

    async fn line(&mut self) -> io::Result<String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf.split_to(i + 2);
                return String::from_utf8(line[..i].to_vec()).map_err(|_| invalid("not UTF-8"));
            }
            self.fill().await?;
        }
    }

    async fn take(&mut self, n: usize) -> io::Result<Bytes> {
        while self.buf.len() < n {
            self.fill().await?;
        }
        Ok(self.buf.split_to(n).freeze())
    }

    async fn fill(&mut self) -> io::Result<()> {
        self.buf.reserve(4096);
        let n = self.stream.read_buf(&mut self.buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.received += n as u64;
        Ok(())
    }

    /// Bytes read from the socket but not yet handed out.
    pub fn buffered(&self) -> usize {
        self.buf.remaining()
    }
}

/// Splits the text of an SSE stream into its events: each event's fields
/// (`id`, `event`, `data`, `retry`) in order, comments left out. `rest`
/// keeps an unfinished event for the next call.
pub fn sse_events(rest: &mut String, more: &str) -> Vec<Vec<(String, String)>> {
    rest.push_str(more);
    let mut events = Vec::new();
    while let Some(end) = rest.find("\n\n") {
        let block: String = rest.drain(..end + 2).collect();
        let fields: Vec<(String, String)> = block
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with(':'))
            .map(|line| match line.split_once(':') {
                Some((name, value)) => (
                    name.to_owned(),
                    value.strip_prefix(' ').unwrap_or(value).to_owned(),
                ),
                None => (line.to_owned(), String::new()),
            })
            .collect();
        if !fields.is_empty() {
            events.push(fields);
        }
    }
    events
}
