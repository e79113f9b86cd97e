//! The file server, over real TCP on a port of its own: the right files
//! with the right types, and nothing outside the directory it serves.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Every wait in these tests is bounded by this.
const WAIT: Duration = Duration::from_secs(10);

const INDEX: &str = "<!DOCTYPE html><title>Book</title><link rel=stylesheet href=css/style.css>";
const STYLE: &str = "body { color: black; }\n";
const NOT_FOUND_PAGE: &str = "<!DOCTYPE html><title>Not here</title>";
const SECRET: &str = "[package]\nname = \"secret\"\n";

/// A running server on a temporary site, and what it takes to stop it.
struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    /// The site is `<dir>/site`; `<dir>/Cargo.toml` is outside it.
    _dir: TempDir,
}

impl Server {
    async fn start(label: &str) -> Server {
        let dir = TempDir::new(label);
        dir.write("site/index.html", INDEX);
        dir.write("site/css/style.css", STYLE);
        dir.write("site/404.html", NOT_FOUND_PAGE);
        dir.write(
            "site/guide/index.html",
            "<!DOCTYPE html><title>Guide</title>",
        );
        dir.write("Cargo.toml", SECRET);

        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let root = dir.path().join("site");
        let task = tokio::spawn(async move {
            book::serve(listener, root, async {
                let _ = stopped.await;
            })
            .await
        });
        Server {
            addr,
            stop: Some(stop),
            task,
            _dir: dir,
        }
    }

    /// Sends `raw` as the whole request and reads the whole response.
    async fn send(&self, raw: &[u8]) -> Response {
        timeout(WAIT, async {
            let mut stream = TcpStream::connect(self.addr).await.expect("connect");
            stream.write_all(raw).await.expect("send the request");
            let mut bytes = Vec::new();
            stream
                .read_to_end(&mut bytes)
                .await
                .expect("read the response");
            Response::parse(&bytes)
        })
        .await
        .expect("the server answers in time")
    }

    async fn get(&self, target: &str) -> Response {
        self.send(format!("GET {target} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())
            .await
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        timeout(WAIT, &mut self.task)
            .await
            .expect("the server stops in time")
            .expect("the server task does not panic")
            .expect("the server returns Ok");
    }
}

/// A response, split into its parts.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn parse(bytes: &[u8]) -> Response {
        let end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no complete head in {:?}", String::from_utf8_lossy(bytes)));
        let head = std::str::from_utf8(&bytes[..end]).expect("an ASCII head");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().expect("a status line");
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let headers = lines
            .map(|line| {
                let (name, value) = line.split_once(':').expect("a header line");
                (name.to_ascii_lowercase(), value.trim().to_owned())
            })
            .collect();
        Response {
            status,
            headers,
            body: bytes[end + 4..].to_vec(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[tokio::test]
async fn serves_index_html_for_the_root() {
    let server = Server::start("index").await;
    let response = server.get("/").await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        response.header("content-length"),
        Some(INDEX.len().to_string().as_str())
    );
    assert_eq!(response.text(), INDEX);
    // The same page by name, with a query string that means nothing here.
    assert_eq!(server.get("/index.html?v=2").await.text(), INDEX);
    server.stop().await;
}

#[tokio::test]
async fn serves_css_as_css() {
    let server = Server::start("css").await;
    let response = server.get("/css/style.css").await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/css; charset=utf-8")
    );
    assert_eq!(response.text(), STYLE);
    // Percent-encoded letters are the same letters.
    assert_eq!(server.get("/css/%73tyle.css").await.text(), STYLE);
    server.stop().await;
}

#[tokio::test]
async fn head_sends_the_headers_of_get_and_no_body() {
    let server = Server::start("head").await;
    let response = server
        .send(b"HEAD /css/style.css HTTP/1.1\r\nHost: test\r\n\r\n")
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-length"),
        Some(STYLE.len().to_string().as_str())
    );
    assert!(response.body.is_empty(), "{:?}", response.text());
    server.stop().await;
}

#[tokio::test]
async fn a_missing_file_is_a_404_with_the_books_page() {
    let server = Server::start("404").await;
    let response = server.get("/no/such/page.html").await;
    assert_eq!(response.status, 404);
    assert_eq!(
        response.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(response.text(), NOT_FOUND_PAGE);
    server.stop().await;
}

#[tokio::test]
async fn a_directory_without_its_slash_is_redirected() {
    let server = Server::start("redirect").await;
    let response = server.get("/guide").await;
    assert_eq!(response.status, 301);
    assert_eq!(response.header("location"), Some("/guide/"));
    assert!(server.get("/guide/").await.text().contains("Guide"));
    server.stop().await;
}

#[tokio::test]
async fn no_path_leaves_the_site() {
    let server = Server::start("traversal").await;
    for target in [
        "/../Cargo.toml",
        "/css/../../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/%2E%2E%2fCargo.toml",
        "/css/.%2e/%2e./Cargo.toml",
        "/..%5cCargo.toml",
    ] {
        let response = server.get(target).await;
        assert_eq!(response.status, 400, "{target}: {}", response.text());
        assert!(
            !response.text().contains("secret"),
            "{target} leaked the file"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn only_get_and_head_are_answered() {
    let server = Server::start("post").await;
    let response = server
        .send(b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello")
        .await;
    assert_eq!(response.status, 405);
    assert_eq!(response.header("allow"), Some("GET, HEAD"));
    let response = server
        .send(b"DELETE /index.html HTTP/1.1\r\nHost: test\r\n\r\n")
        .await;
    assert_eq!(response.status, 405);
    server.stop().await;
}

#[tokio::test]
async fn malformed_requests_get_a_400() {
    let server = Server::start("malformed").await;
    for raw in [
        &b"GET /\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET http://test/ HTTP/1.1\r\nHost: test\r\n\r\n",
        b"GET /%zz HTTP/1.1\r\nHost: test\r\n\r\n",
    ] {
        let response = server.send(raw).await;
        assert_eq!(response.status, 400, "{:?}", String::from_utf8_lossy(raw));
    }
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_head_gets_a_431() {
    let server = Server::start("431").await;
    let filler = "a".repeat(book::MAX_HEAD_BYTES);
    let response = server
        .send(format!("GET / HTTP/1.1\r\nHost: test\r\nX-Filler: {filler}\r\n\r\n").as_bytes())
        .await;
    assert_eq!(response.status, 431);
    server.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_silent_client_is_dropped_after_the_read_timeout() {
    let server = Server::start("silent").await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\n")
        .await
        .expect("send half a head");
    // The clock is paused, so this waits for the server's deadline in no
    // real time; the server closes without a word.
    let mut bytes = Vec::new();
    timeout(book::READ_TIMEOUT * 2, stream.read_to_end(&mut bytes))
        .await
        .expect("the server drops us before our own deadline")
        .expect("a clean close");
    assert!(bytes.is_empty(), "{:?}", String::from_utf8_lossy(&bytes));
    server.stop().await;
}

#[tokio::test]
async fn shutdown_stops_accepting() {
    let server = Server::start("shutdown").await;
    let addr = server.addr;
    assert_eq!(server.get("/").await.status, 200);
    server.stop().await;
    let refused = timeout(WAIT, TcpStream::connect(addr))
        .await
        .expect("connect returns in time");
    assert!(refused.is_err(), "still accepting after shutdown");
}
