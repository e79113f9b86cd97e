//! A static file server for the built book, on a bare `TcpListener`.
//!
//! It speaks just enough HTTP/1.1 for a browser reading a book: `GET` and
//! `HEAD`, one request per connection (`Connection: close`), whole files, no
//! ranges, compression or validators. What it does not skimp on is what any
//! server facing a network needs: a request head of bounded size that must
//! arrive within a deadline, a bounded number of connections, and no path,
//! however encoded, that reaches a file outside the directory it serves.

use std::fmt::Write as _;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::fs::File;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinError, JoinSet};
use tokio::time::timeout;
use tracing::{debug, warn};

/// The largest request head (request line and headers) we accept; a larger
/// one is answered with 431 Request Header Fields Too Large.
///
/// A browser's request for a page is well under 2 KiB. The limit is what
/// keeps a client from making us buffer without end while we wait for the
/// blank line that ends the head.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;

/// How long a client has to send its whole request head before we drop the
/// connection without an answer.
///
/// Without a deadline, a client that connects and sends nothing (or one byte
/// a minute) holds a connection slot for ever.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long writing one response may take: a client that stops reading
/// cannot hold its slot for ever either.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections served at once; the rest wait in the kernel's accept queue,
/// where they cost us nothing.
const MAX_CONNECTIONS: usize = 128;

/// After shutdown is signalled, how long requests in flight get to finish
/// before they are cut off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long, and how many bytes, we read and discard after answering; see
/// [`linger`].
const LINGER_TIME: Duration = Duration::from_secs(1);
const LINGER_BYTES: u64 = 64 * 1024;

/// Serves the files under `root` on `listener` until `shutdown` completes.
///
/// Each connection gets one request and one answer:
///
/// - `GET` or `HEAD` of a file under `root`: 200 with its `Content-Type` and
///   `Content-Length`; a directory is served as its `index.html`, after a 301
///   to the same path with a trailing `/` so that relative links resolve;
/// - a path that names nothing: 404, with the book's own `404.html` if it has
///   one;
/// - any other method: 405 with `Allow: GET, HEAD`;
/// - a path that would leave `root` (`..` in any encoding, a symlink pointing
///   out), or anything malformed: 400 or 404, never the file;
/// - a head over [`MAX_HEAD_BYTES`]: 431; a head not complete within
///   [`READ_TIMEOUT`]: the connection is dropped.
///
/// When `shutdown` completes we stop accepting, give the requests in flight a
/// few seconds to finish, and return.
///
/// # Errors
///
/// Fails only if `root` cannot be resolved (it does not exist). Errors on a
/// single connection are logged and end that connection alone.
pub async fn serve(listener: TcpListener, root: PathBuf, shutdown: impl Future) -> io::Result<()> {
    // Resolve symlinks once, here: every file we serve is resolved too and
    // must still be inside this path.
    let root: Arc<Path> = tokio::fs::canonicalize(&root).await?.into();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);

    loop {
        // Collect finished connections so the set only holds live ones.
        while let Some(finished) = connections.try_join_next() {
            log_task_end(finished);
        }
        let (stream, peer, slot) = tokio::select! {
            _ = &mut shutdown => break,
            next = next_connection(&listener, &slots) => next,
        };
        let root = Arc::clone(&root);
        connections.spawn(async move {
            // Held until this connection is done, freeing its slot.
            let _slot = slot;
            if let Err(e) = handle(stream, peer, &root).await {
                debug!(%peer, "connection ended: {e}");
            }
        });
    }

    drop(listener);
    let drained = timeout(SHUTDOWN_GRACE, async {
        while let Some(finished) = connections.join_next().await {
            log_task_end(finished);
        }
    })
    .await;
    if drained.is_err() {
        warn!(
            "{} connections still open after {SHUTDOWN_GRACE:?}; closing them",
            connections.len()
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Waits for a free connection slot, then for a connection.
///
/// An accept error is about one connection (it was reset before we took it)
/// or about us (out of file descriptors); either way the listener is still
/// good, so we log, pause briefly in case the cause is the second kind, and
/// go on.
async fn next_connection(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> (TcpStream, SocketAddr, OwnedSemaphorePermit) {
    let slot = Arc::clone(slots)
        .acquire_owned()
        .await
        .expect("the semaphore is never closed");
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                // We write a whole response and close: waiting to coalesce
                // small segments (Nagle) would only delay the last one.
                if let Err(e) = stream.set_nodelay(true) {
                    debug!(%peer, "cannot set TCP_NODELAY: {e}");
                }
                return (stream, peer, slot);
            }
            Err(e) => {
                warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

fn log_task_end(finished: Result<(), JoinError>) {
    if let Err(e) = finished
        && e.is_panic()
    {
        warn!("a connection task panicked: {e}");
    }
}

/// Reads one request from `stream`, answers it, and closes.
async fn handle<S>(mut stream: S, peer: SocketAddr, root: &Path) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = vec![0; MAX_HEAD_BYTES];
    let head = match timeout(READ_TIMEOUT, read_head(&mut stream, &mut buf)).await {
        Ok(head) => head?,
        Err(_) => {
            debug!(%peer, "no complete request head within {READ_TIMEOUT:?}; dropping");
            return Ok(());
        }
    };
    let (response, head_only) = match head {
        Head::Complete(len) => match parse_head(&buf[..len]) {
            Ok(request) => {
                let response = respond(&request, root).await;
                debug!(
                    %peer,
                    target = request.target,
                    status = response.status.code,
                    "{:?}",
                    request.method
                );
                (response, request.method == Method::Head)
            }
            Err(rejection) => {
                debug!(%peer, status = rejection.status.code, "{}", rejection.reason);
                (rejection.into(), false)
            }
        },
        Head::TooLarge => {
            let rejection = Rejection::new(
                Status::HEADER_FIELDS_TOO_LARGE,
                "the request line and headers are larger than this server accepts",
            );
            (rejection.into(), false)
        }
        Head::Closed => return Ok(()),
    };
    match timeout(WRITE_TIMEOUT, send(&mut stream, response, head_only)).await {
        Ok(sent) => sent?,
        Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out")),
    }
    linger(&mut stream).await;
    Ok(())
}

/// What reading a request head gave.
enum Head {
    /// A complete head, ending with its blank line, is the first `n` bytes
    /// of the buffer.
    Complete(usize),
    /// The buffer filled up before the head ended.
    TooLarge,
    /// The client closed the connection before the head ended.
    Closed,
}

/// Reads into `buf` until it holds a head ending in `\r\n\r\n`.
///
/// Anything after the head (a request body) stays unread: we never need it.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut [u8]) -> io::Result<Head> {
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            return Ok(Head::TooLarge);
        }
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(Head::Closed);
        }
        // The terminator may straddle two reads: look back three bytes.
        let from = filled.saturating_sub(3);
        filled += n;
        if let Some(at) = buf[from..filled].windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(Head::Complete(from + at + 4));
        }
    }
}

/// The methods we answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Head,
}

/// The parts of a request we use.
#[derive(Debug)]
struct Request<'a> {
    method: Method,
    /// The request target, checked to be printable ASCII starting with `/`.
    target: &'a str,
}

/// Parses a request head (RFC 9112 §2-3), checking only what we rely on.
fn parse_head(head: &[u8]) -> Result<Request<'_>, Rejection> {
    let bad = |reason| Rejection::new(Status::BAD_REQUEST, reason);
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let request_line = lines.next().unwrap_or_default();
    let request_line =
        std::str::from_utf8(request_line).map_err(|_| bad("the request line is not text"))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("the request line is not `METHOD TARGET VERSION`"));
    };
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        v if v.starts_with("HTTP/") => {
            return Err(Rejection::new(
                Status::HTTP_VERSION_NOT_SUPPORTED,
                "only HTTP/1.0 and HTTP/1.1 are spoken here",
            ));
        }
        _ => return Err(bad("the request line has no HTTP version")),
    };
    let method = match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "" => return Err(bad("the request line has no method")),
        _ => {
            return Err(Rejection::new(
                Status::METHOD_NOT_ALLOWED,
                "this server only answers GET and HEAD",
            ));
        }
    };
    // Origin form only (a path); every byte printable ASCII, which also
    // guarantees nothing from it can break a header we write back.
    if !target.starts_with('/') || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("the request target is not a path"));
    }
    // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without
    // exactly one Host header.
    let hosts = lines
        .take_while(|line| !line.is_empty())
        .filter(|line| {
            line.split(|&b| b == b':')
                .next()
                .is_some_and(|name| name.eq_ignore_ascii_case(b"host"))
        })
        .count();
    if http11 && hosts != 1 {
        return Err(bad("an HTTP/1.1 request needs exactly one Host header"));
    }
    Ok(Request { method, target })
}

/// Turns a request target into the path segments it names under the root,
/// and whether it ended with `/`.
///
/// We decode first and split second, so `%2F` separates segments like `/`
/// does and `%2e%2e` is `..` like `..` is; and we decode exactly once, so
/// `%252e` is the harmless name `%2e`. A `..` segment is refused outright
/// rather than resolved: browsers remove dot segments before sending
/// (RFC 3986 §5.2.4), so one that reaches us was put there on purpose.
fn resolve(target: &str) -> Result<(Vec<String>, bool), Rejection> {
    let bad = |reason| Rejection::new(Status::BAD_REQUEST, reason);
    // The query means nothing to a file server. `split` always yields at
    // least one piece.
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let decoded = percent_decode(path).ok_or_else(|| bad("broken percent-encoding in the path"))?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad("the path is not UTF-8"))?;
    if decoded.contains(['\0', '\\']) {
        return Err(bad("the path contains a NUL or a backslash"));
    }
    let mut segments = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => continue,
            ".." => return Err(bad("the path leaves the book")),
            _ => {}
        }
        // Only a plain name may be pushed onto the root: on Windows `C:` is a
        // prefix that would replace it.
        let mut components = Path::new(segment).components();
        if !matches!(
            (components.next(), components.next()),
            (Some(Component::Normal(_)), None)
        ) {
            return Err(bad("the path has a segment that is not a plain name"));
        }
        segments.push(segment.to_owned());
    }
    Ok((segments, decoded.ends_with('/')))
}

/// Decodes `%XX` escapes; `None` if an escape is truncated or not hex.
/// `+` stays `+`: it means a space only in form data, not in paths.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let high = hex(*bytes.get(i + 1)?)?;
            let low = hex(*bytes.get(i + 2)?)?;
            out.push(high << 4 | low);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Builds a path from decoded segments for a `Location` header, escaping
/// everything but the characters RFC 3986 allows in a segment as is.
///
/// Built from the segments, not copied from the request, so that `//host`
/// (which a browser would read as another site) comes back as `/host/`.
fn encode_path(segments: &[String]) -> String {
    let mut out = String::from("/");
    for segment in segments {
        for &b in segment.as_bytes() {
            if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
                out.push(b as char);
            } else {
                // Writing to a String cannot fail.
                let _ = write!(out, "%{b:02X}");
            }
        }
        out.push('/');
    }
    out
}

/// Finds the file a request names and makes the response for it.
async fn respond(request: &Request<'_>, root: &Path) -> Response {
    let (segments, trailing_slash) = match resolve(request.target) {
        Ok(resolved) => resolved,
        Err(rejection) => return rejection.into(),
    };
    let mut path = root.to_path_buf();
    path.extend(&segments);
    match tokio::fs::metadata(&path).await {
        Ok(meta) if meta.is_dir() => {
            if !trailing_slash && !segments.is_empty() {
                // `index.html` links to `style.css`, which the browser
                // resolves against the URL: `/guide` would fetch
                // `/style.css`, `/guide/` fetches `/guide/style.css`.
                let mut response = Response::text(Status::MOVED_PERMANENTLY, "Moved\n".into());
                response.location = Some(encode_path(&segments));
                return response;
            }
            path.push("index.html");
        }
        Ok(_) => {}
        Err(_) => return not_found(root).await,
    }
    match open_inside(root, &path).await {
        Some((file, len)) => Response {
            status: Status::OK,
            content_type: content_type(&path),
            location: None,
            body: Body::File(file, len),
        },
        None => not_found(root).await,
    }
}

/// Opens `path` if, once symlinks are resolved, it is a regular file inside
/// `root`; returns it with its length.
async fn open_inside(root: &Path, path: &Path) -> Option<(File, u64)> {
    let real = tokio::fs::canonicalize(path).await.ok()?;
    if !real.starts_with(root) {
        warn!("refusing {}: it resolves outside the book", path.display());
        return None;
    }
    let file = File::open(&real).await.ok()?;
    let meta = file.metadata().await.ok()?;
    meta.is_file().then_some((file, meta.len()))
}

/// A 404, with the book's own `404.html` when it has one.
async fn not_found(root: &Path) -> Response {
    let page = root.join("404.html");
    match open_inside(root, &page).await {
        Some((file, len)) => Response {
            status: Status::NOT_FOUND,
            content_type: content_type(&page),
            location: None,
            body: Body::File(file, len),
        },
        None => Response::text(Status::NOT_FOUND, "404 Not Found\n".into()),
    }
}

/// The `Content-Type` for a file, from its extension.
fn content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        // RFC 9239: text/javascript is the one to use.
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// An HTTP status code with its reason phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Status {
    code: u16,
    reason: &'static str,
}

impl Status {
    const OK: Status = Status::new(200, "OK");
    const MOVED_PERMANENTLY: Status = Status::new(301, "Moved Permanently");
    const BAD_REQUEST: Status = Status::new(400, "Bad Request");
    const NOT_FOUND: Status = Status::new(404, "Not Found");
    const METHOD_NOT_ALLOWED: Status = Status::new(405, "Method Not Allowed");
    const HEADER_FIELDS_TOO_LARGE: Status = Status::new(431, "Request Header Fields Too Large");
    const HTTP_VERSION_NOT_SUPPORTED: Status = Status::new(505, "HTTP Version Not Supported");

    const fn new(code: u16, reason: &'static str) -> Status {
        Status { code, reason }
    }
}

/// A request we refuse, and why, in a sentence for the client.
#[derive(Debug)]
struct Rejection {
    status: Status,
    reason: &'static str,
}

impl Rejection {
    fn new(status: Status, reason: &'static str) -> Rejection {
        Rejection { status, reason }
    }
}

impl From<Rejection> for Response {
    fn from(rejection: Rejection) -> Response {
        let Status { code, reason } = rejection.status;
        Response::text(
            rejection.status,
            format!("{code} {reason}: {}\n", rejection.reason),
        )
    }
}

/// A response, ready to send.
#[derive(Debug)]
struct Response {
    status: Status,
    content_type: &'static str,
    /// For a redirect: where to. Always built by [`encode_path`].
    location: Option<String>,
    body: Body,
}

#[derive(Debug)]
enum Body {
    Text(String),
    /// A file and the length we announce for it.
    File(File, u64),
}

impl Response {
    fn text(status: Status, text: String) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            location: None,
            body: Body::Text(text),
        }
    }
}

/// Writes `response` (only its head when `head_only`, for `HEAD`) and
/// closes our side of the connection.
async fn send<S>(stream: &mut S, response: Response, head_only: bool) -> io::Result<()>
where
    S: AsyncWrite + Unpin,
{
    let length = match &response.body {
        Body::Text(text) => text.len() as u64,
        Body::File(_, len) => *len,
    };
    let Status { code, reason } = response.status;
    let mut head = format!(
        "HTTP/1.1 {code} {reason}\r\n\
         Content-Type: {}\r\n\
         Content-Length: {length}\r\n\
         X-Content-Type-Options: nosniff\r\n\
         Cache-Control: no-cache\r\n\
         Connection: close\r\n",
        response.content_type
    );
    if response.status == Status::METHOD_NOT_ALLOWED {
        head.push_str("Allow: GET, HEAD\r\n");
    }
    if let Some(location) = &response.location {
        // Writing to a String cannot fail.
        let _ = write!(head, "Location: {location}\r\n");
    }
    head.push_str("\r\n");

    // One buffer for the head and the start of the body: fewer, fuller
    // segments on the wire.
    let mut out = BufWriter::new(&mut *stream);
    out.write_all(head.as_bytes()).await?;
    if !head_only {
        match response.body {
            Body::Text(text) => out.write_all(text.as_bytes()).await?,
            Body::File(file, len) => {
                // `take`: never send more than we announced, even if the file
                // grew since we looked.
                let sent = tokio::io::copy(&mut file.take(len), &mut out).await?;
                if sent < len {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file shrank while being sent",
                    ));
                }
            }
        }
    }
    out.flush().await?;
    stream.shutdown().await
}

/// Reads and discards what the client still sends, briefly, before we drop
/// the connection.
///
/// Closing a socket whose receive buffer holds unread bytes (say, the body of
/// a POST we refused without reading) makes the kernel send a reset instead of
/// a clean close, and a reset can destroy our response before the client has
/// read it. Reading until the client closes, for a second at most, avoids
/// that.
async fn linger<S: AsyncRead + Unpin>(stream: &mut S) {
    let mut sink = tokio::io::sink();
    let _ = timeout(
        LINGER_TIME,
        tokio::io::copy(&mut stream.take(LINGER_BYTES), &mut sink),
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_plain_paths() {
        let (segments, slash) = resolve("/css/general.css?v=1").unwrap();
        assert_eq!(segments, ["css", "general.css"]);
        assert!(!slash);
        let (segments, slash) = resolve("/").unwrap();
        assert!(segments.is_empty());
        assert!(slash);
        let (segments, _) = resolve("/a%20b/./c%2Fd").unwrap();
        assert_eq!(segments, ["a b", "c", "d"]);
        let (segments, _) = resolve("/%252e%252e/x").unwrap();
        assert_eq!(segments, ["%2e%2e", "x"]);
    }

    #[test]
    fn refuses_traversal_in_every_spelling() {
        for target in [
            "/../Cargo.toml",
            "/css/../../Cargo.toml",
            "/%2e%2e/Cargo.toml",
            "/%2E%2E%2FCargo.toml",
            "/.%2e/Cargo.toml",
            "/..%5cCargo.toml",
            "/%00",
            "/%zz",
            "/%2",
            "/%C0%AE%C0%AE/Cargo.toml",
        ] {
            assert!(resolve(target).is_err(), "{target} was accepted");
        }
    }

    #[test]
    fn parses_request_heads() {
        let request = parse_head(b"GET /x HTTP/1.1\r\nhost: a\r\n\r\n").unwrap();
        assert_eq!((request.method, request.target), (Method::Get, "/x"));
        assert!(parse_head(b"HEAD / HTTP/1.0\r\n\r\n").is_ok());
        let status = |head: &[u8]| parse_head(head).unwrap_err().status.code;
        assert_eq!(status(b"POST / HTTP/1.1\r\nHost: a\r\n\r\n"), 405);
        assert_eq!(status(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
        assert_eq!(status(b"GET / HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
        assert_eq!(status(b"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status(b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    }

    #[test]
    fn locations_are_rebuilt_from_segments() {
        assert_eq!(encode_path(&["host".into()]), "/host/");
        assert_eq!(encode_path(&["a b".into(), "ü".into()]), "/a%20b/%C3%BC/");
    }

    #[test]
    fn content_types() {
        assert_eq!(
            content_type(Path::new("a/INDEX.HTML")),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("f.woff2")), "font/woff2");
        assert_eq!(content_type(Path::new("noext")), "application/octet-stream");
    }
}
