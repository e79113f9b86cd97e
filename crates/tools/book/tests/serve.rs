//! Serving a small book built for the purpose, over real TCP on a port of
//! its own: the right files with the right types, nothing outside the build
//! directory, and live reload, from the edit to the reloaded page.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use common::TempDir;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

/// Every wait in these tests is bounded by this. Generous: a rebuild on a
/// busy machine can take a few seconds.
const WAIT: Duration = Duration::from_secs(30);

/// Outside the build directory, beside `book.toml`: no request may read it.
const SECRET: &str = "the secret that must not leak";

/// A book in a temporary directory: two chapters, one of which includes a
/// file from `lesson/`, which `book.toml` names as an extra directory to
/// watch, as ours names `crates/` and `static/`.
struct Fixture {
    dir: TempDir,
}

impl Fixture {
    fn new(label: &str) -> Fixture {
        let dir = TempDir::new(label);
        dir.write(
            "book/book.toml",
            "[book]\ntitle = \"Test\"\n\n[build]\nbuild-dir = \"build\"\n\
             create-missing = false\nextra-watch-dirs = [\"../lesson\"]\n",
        );
        dir.write(
            "book/src/SUMMARY.md",
            "# Summary\n\n- [Intro](intro.md)\n- [Chapter](chapter.md)\n",
        );
        dir.write("book/src/intro.md", "# Intro\n\nFirst words.\n");
        dir.write(
            "book/src/chapter.md",
            "# Chapter\n\n```rust\n{{#include ../../lesson/src/lib.rs}}\n```\n",
        );
        dir.write("book/src/files/hello.txt", "hello, reader\n");
        dir.write("lesson/src/lib.rs", "pub fn first_version() {}\n");
        dir.write("book/secret.txt", SECRET);
        Fixture { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("book")
    }
}

/// The fixture's book, built and served, and what it takes to stop it.
struct Server {
    addr: SocketAddr,
    build_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), book::Error>>,
    fixture: Fixture,
}

impl Server {
    async fn start(label: &str) -> Server {
        let fixture = Fixture::new(label);
        let root = fixture.root();
        let build_dir = timeout(
            WAIT,
            tokio::task::spawn_blocking(move || book::build(&root, None)),
        )
        .await
        .expect("the book builds in time")
        .expect("the build does not panic")
        .expect("the test book builds");

        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(book::serve(
            listener,
            fixture.root(),
            build_dir.clone(),
            async {
                let _ = stopped.await;
            },
        ));
        Server {
            addr,
            build_dir,
            stop: Some(stop),
            task,
            fixture,
        }
    }

    /// Sends a GET of `target`, exactly as written (no client tidies the
    /// path first), and reads the whole response.
    async fn get(&self, target: &str) -> Response {
        timeout(WAIT, async {
            let mut stream = TcpStream::connect(self.addr).await.expect("connect");
            let request =
                format!("GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
            stream
                .write_all(request.as_bytes())
                .await
                .expect("send the request");
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
    body: String,
}

impl Response {
    fn parse(bytes: &[u8]) -> Response {
        let text = String::from_utf8_lossy(bytes);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no complete head in {text:?}"));
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
            body: body.to_owned(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Asserts a 200 with a content type starting with `mime`.
    fn assert_ok(&self, mime: &str) {
        assert_eq!(self.status, 200, "{self:?}");
        let content_type = self.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with(mime),
            "{content_type:?} for {self:?}"
        );
    }
}

const SCRIPT_TAG: &str = r#"<script src="/__livereload.js"></script>"#;

#[tokio::test]
async fn serves_the_index_and_a_chapter_as_html_with_the_live_reload_script() {
    let server = Server::start("pages").await;

    let index = server.get("/").await;
    index.assert_ok("text/html");
    assert!(index.body.contains("First words."), "{}", index.body);
    assert!(index.body.contains(SCRIPT_TAG), "{}", index.body);

    let chapter = server.get("/chapter.html").await;
    chapter.assert_ok("text/html");
    assert!(chapter.body.contains("first_version"), "{}", chapter.body);
    assert!(chapter.body.contains(SCRIPT_TAG), "{}", chapter.body);
    assert_eq!(chapter.header("cache-control"), Some("no-store"));

    // The script is added on the way out: the build on disk stays plain.
    let on_disk = std::fs::read_to_string(server.build_dir.join("chapter.html")).expect("read");
    assert!(!on_disk.contains("__livereload"), "{on_disk}");
    server.stop().await;
}

#[tokio::test]
async fn serves_the_script_and_other_files_untouched() {
    let server = Server::start("files").await;

    let script = server.get("/__livereload.js").await;
    script.assert_ok("text/javascript");
    assert_eq!(script.body, book::LIVE_RELOAD_SCRIPT);
    assert!(script.body.contains("location.reload()"), "{}", script.body);

    let text = server.get("/files/hello.txt").await;
    text.assert_ok("text/plain");
    assert_eq!(text.body, "hello, reader\n");
    server.stop().await;
}

#[tokio::test]
async fn a_missing_page_is_a_404_with_the_books_own_page() {
    let server = Server::start("404").await;
    let response = server.get("/no/such/page.html").await;
    assert_eq!(response.status, 404, "{response:?}");
    assert!(
        response
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{response:?}"
    );
    // mdBook's 404 page, with its links back into the book.
    assert!(
        response.body.contains("Document not found"),
        "{}",
        response.body
    );
    server.stop().await;
}

#[tokio::test]
async fn no_path_leaves_the_build_directory() {
    let server = Server::start("traversal").await;
    for target in [
        "/../secret.txt",
        "/files/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2fsecret.txt",
        "/files/.%2e/%2e./secret.txt",
        "/..%5csecret.txt",
    ] {
        let response = server.get(target).await;
        assert_ne!(response.status, 200, "{target}: {response:?}");
        assert!(!response.body.contains(SECRET), "{target} leaked the file");
    }
    // The file is there, one level up: the refusals above are not for want
    // of it.
    assert!(server.fixture.root().join("secret.txt").is_file());
    server.stop().await;
}

/// The socket's next message, within [`WAIT`].
async fn next_message<S>(socket: &mut S) -> Message
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    timeout(WAIT, socket.next())
        .await
        .expect("the reload comes in time")
        .expect("the socket is open")
        .expect("a message")
}

#[tokio::test]
async fn an_edit_rebuilds_the_book_and_reloads_the_open_pages() {
    let server = Server::start("reload").await;
    let url = format!("ws://{}/__livereload", server.addr);
    let (mut socket, _) = timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("the handshake ends in time")
        .expect("the live-reload socket opens");

    // A chapter changes: the page is told, and the new text is served.
    server
        .fixture
        .dir
        .write("book/src/intro.md", "# Intro\n\nSecond words, and more.\n");
    assert_eq!(next_message(&mut socket).await, Message::text("reload"));
    let intro = server.get("/intro.html").await;
    intro.assert_ok("text/html");
    assert!(intro.body.contains("Second words"), "{}", intro.body);

    // A file the chapter includes from an extra watched directory: the
    // same.
    server
        .fixture
        .dir
        .write("lesson/src/lib.rs", "pub fn second_version() {}\n");
    assert_eq!(next_message(&mut socket).await, Message::text("reload"));
    let chapter = server.get("/chapter.html").await;
    assert!(chapter.body.contains("second_version"), "{}", chapter.body);

    // Stopping the server closes the socket: 1001, going away. The client
    // reads on meanwhile, so that it answers the Close and the server's
    // closing handshake can end.
    let addr = server.addr;
    let reader = tokio::spawn(async move {
        let mut messages = Vec::new();
        while let Some(message) = socket.next().await {
            messages.push(message.expect("a clean close"));
        }
        messages
    });
    server.stop().await;
    let messages = timeout(WAIT, reader)
        .await
        .expect("the socket ends in time")
        .expect("the reader does not panic");
    let Some(Message::Close(Some(frame))) = messages.last() else {
        panic!("no Close frame with a code: {messages:?}");
    };
    assert_eq!(u16::from(frame.code), 1001, "{frame:?}");
    let refused = timeout(WAIT, TcpStream::connect(addr))
        .await
        .expect("connect returns in time");
    assert!(refused.is_err(), "still accepting after shutdown");
}
