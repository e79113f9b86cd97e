//! # Real-browser tests for the lessons' pages
//!
//! Every lesson serves a page, and the page is half of what a reader sees:
//! if its JavaScript breaks, the lesson is broken however green the Rust
//! tests are. This crate opens the pages in a real, headless Chromium and
//! checks what a person would see (a badge that reads "closed 1000", an
//! echoed line in a log), and saves a screenshot of each page for the book.
//!
//! ```text
//! cargo test -p browser                 # the tests, in crates/tools/browser/tests/
//! scripts/screenshots.sh                # the same, then copies the PNGs into book/src/images/
//! ```
//!
//! ## How
//!
//! A test starts its lesson in-process on `127.0.0.1:0` ([`LessonServer`])
//! and its own [`Browser`]: a `chromedriver` on a port it picks itself,
//! driving a Chromium with a fresh profile, over WebDriver (the `fantoccini`
//! client, plain HTTP). The browser's helpers ([`Browser::wait_for_text`],
//! [`Browser::type_into`], [`Browser::click`], [`Browser::screenshot`])
//! never sleep for a fixed time: they poll what the page shows, up to a
//! deadline, and a failure says what the page showed last and what
//! chromedriver logged.
//!
//! Nothing outlives a test, pass, fail or kill: chromedriver and every
//! Chromium process share a process group that a watchdog kills when the
//! test ends, however it ends, and everything the browser writes goes into
//! one temp folder that the watchdog then deletes. `../shared/notes/browser.md`
//! lists the pitfalls behind each of these choices.
//!
//! ## On a machine without a browser
//!
//! `cargo test --workspace` must pass on a machine that has only the Rust
//! toolchain, and it must not pretend it checked the pages when it could
//! not. So each test starts with [`skip_if_unavailable`]: without Chromium
//! and chromedriver the test returns at once, after one line on the terminal
//! (shown even without `--nocapture`):
//!
//! ```text
//! *** browser tests SKIPPED: chromedriver (package chromium-driver) not found; chromium (package chromium) not found. Install with `apt-get update && …` …
//! ```
//!
//! CI installs the two packages and sets `REQUIRE_BROWSER=1`, which turns a
//! missing browser into a failing test: a green CI run always means the
//! pages were opened for real. A browser that is present but fails to start
//! is always a failure, never a skip. `CHROMIUM` and `CHROMEDRIVER` name
//! other binaries than Debian's.
//!
//! Unix only: the cleanup relies on process groups and `sh`.

#![cfg(unix)]

pub mod chat;
mod driver;
mod server;
mod tools;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use driver::Driver;
/// The WebDriver client crate, for [`Browser::client`]'s users: the same
/// version this crate speaks.
pub use fantoccini;
pub use server::{LessonServer, Shutdown};
pub use tools::{
    CHROMEDRIVER_ENV, CHROMIUM_ENV, INSTALL_HINT, REQUIRE_ENV, Tools, browser_available,
    skip_if_unavailable,
};

/// How long the waiting helpers wait by default: long enough for a cold
/// Chromium on two busy cores, short enough that a broken page fails fast.
pub const WAIT: Duration = Duration::from_secs(15);

/// How often [`Browser::wait_for_text`] looks at the page again.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How long one WebDriver command may take (a page load included). Every
/// call to chromedriver is bounded by this, so a hung browser fails the
/// test instead of hanging it.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// The browser window's size, width by height. The page gets a little less
/// (Chromium 156 leaves 1024×625 for the page), and a screenshot shows just
/// the page.
pub const WINDOW_SIZE: (u32, u32) = (1024, 768);

/// Chromium's command line, bar the window size and the profile folder.
/// Each flag is here for a reason met on a machine without a display, a GPU
/// or internet access (a container, CI).
const CHROMIUM_FLAGS: &[&str] = &[
    // No display; the new headless mode renders exactly as a window would.
    "--headless",
    // Containers rarely allow the namespaces the sandbox needs.
    "--no-sandbox",
    // No GPU either: render in software, without probing for one.
    "--disable-gpu",
    // /dev/shm is often tiny in containers; Chromium then crashes tabs.
    "--disable-dev-shm-usage",
    // No HTTP/3 attempts: the lessons speak HTTP/1.1 over TCP, and so
    // should every connection a test makes.
    "--disable-quic",
    // No welcome page, no default-browser question.
    "--no-first-run",
    // No traffic to Google's services (updates, sync, safe browsing lists):
    // unreachable here, and each attempt is noise in the log or a delay.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    // A fresh profile tries to open a search engine's start page; with no
    // internet it waits out a 5 s DNS timeout and stalls the first WebDriver
    // command in about a third of runs. Resolve every name to "not found" at
    // once, except the loopback names our lessons listen on (without the
    // EXCLUDEs every page load would fail with ERR_NAME_NOT_RESOLVED).
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
];

/// What went wrong in a browser test, as a message meant for a person: it
/// carries what the page showed and chromedriver's log where that helps.
pub struct Error(String);

impl Error {
    fn new(message: impl Into<String>) -> Error {
        Error(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// A test that returns `Err` prints it with `Debug`; printing the message
// as-is keeps the log tail readable (one line per line, no escaped quotes).
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// What [`Browser::wait_for_text`] waits for: a `&str` means "contains
/// this", a closure `|text: &str| -> bool` is any rule you like.
pub trait TextMatch {
    /// Whether `text` is what we are waiting for.
    fn matches(&self, text: &str) -> bool;
    /// The rule in words, for the failure message.
    fn describe(&self) -> String;
}

impl TextMatch for &str {
    fn matches(&self, text: &str) -> bool {
        text.contains(*self)
    }
    fn describe(&self) -> String {
        format!("text containing {self:?}")
    }
}

impl<F: Fn(&str) -> bool> TextMatch for F {
    fn matches(&self, text: &str) -> bool {
        self(text)
    }
    fn describe(&self) -> String {
        "text the test's predicate accepts".into()
    }
}

/// A headless Chromium of its own, driven over WebDriver. Dropping it ends
/// chromedriver and every Chromium process, and deletes the profile.
pub struct Browser {
    client: Client,
    // Fields drop in declaration order: the client first (it only tells its
    // background task to end the session), then the driver, whose drop
    // kills the browser for certain.
    driver: Driver,
}

impl Browser {
    /// Finds the tools ([`Tools::find`]), starts chromedriver, and opens a
    /// Chromium session with a fresh profile.
    pub async fn start() -> Result<Browser, Error> {
        let tools = Tools::find().map_err(Error::new)?;
        Browser::start_with(&tools).await
    }

    /// [`Browser::start`], for pages served over https with a certificate
    /// made for the test: the session accepts any certificate (WebDriver's
    /// `acceptInsecureCerts`), as a person clicking through the warning
    /// would.
    pub async fn start_accepting_any_certificate() -> Result<Browser, Error> {
        let tools = Tools::find().map_err(Error::new)?;
        Browser::start_configured(&tools, true).await
    }

    /// [`Browser::start`] with given binaries.
    pub async fn start_with(tools: &Tools) -> Result<Browser, Error> {
        Browser::start_configured(tools, false).await
    }

    async fn start_configured(tools: &Tools, any_certificate: bool) -> Result<Browser, Error> {
        let driver = Driver::start(tools).await?;
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!("--window-size={},{}", WINDOW_SIZE.0, WINDOW_SIZE.1));
        args.push(format!(
            "--user-data-dir={}",
            driver.profile_dir().display()
        ));
        let timeout_ms = COMMAND_TIMEOUT.as_millis();
        let capabilities = json!({
            "browserName": "chrome",
            "acceptInsecureCerts": any_certificate,
            "goog:chromeOptions": {
                "binary": tools.chromium,
                "args": args,
            },
            // Chromedriver's own deadlines, below ours, so its error (which
            // says what it was waiting for) is the one we see.
            "timeouts": { "pageLoad": timeout_ms / 2, "script": timeout_ms / 2, "implicit": 0 },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("json!({{…}}) is an object");
        };
        let url = format!("http://127.0.0.1:{}", driver.port);
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        // Session creation launches Chromium: the slowest step, bounded too.
        let client = match tokio::time::timeout(COMMAND_TIMEOUT, builder.connect(&url)).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => {
                return Err(Error::new(format!(
                    "chromedriver could not start Chromium: {e}\n{}",
                    driver.log_tail()
                )));
            }
            Err(_) => {
                return Err(Error::new(format!(
                    "no Chromium session within {COMMAND_TIMEOUT:?}\n{}",
                    driver.log_tail()
                )));
            }
        };
        Ok(Browser { client, driver })
    }

    /// The WebDriver client, for anything the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `url` and waits for the page to load (its `load` event; a
    /// page's WebSocket may well still be connecting, so wait for what the
    /// page shows next).
    pub async fn goto(&self, url: &str) -> Result<(), Error> {
        self.bounded(&format!("open {url}"), self.client.goto(url))
            .await
    }

    /// Waits until the first element matching `css` shows text that
    /// `expected` accepts, and returns that text. Looks again every
    /// [`POLL_INTERVAL`] for up to `timeout` ([`WAIT`] is a good default);
    /// on timeout the error shows the last text seen and chromedriver's log.
    ///
    /// "Shows" means WebDriver's element text: what is rendered, so text
    /// hidden with CSS does not count.
    pub async fn wait_for_text(
        &self,
        css: &str,
        expected: impl TextMatch,
        timeout: Duration,
    ) -> Result<String, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            // Every look is bounded too: a hung browser must not make the
            // loop's deadline meaningless.
            let look = tokio::time::timeout(COMMAND_TIMEOUT, self.text_of(css)).await;
            let last = match look {
                Ok(Ok(text)) if expected.matches(&text) => return Ok(text),
                Ok(Ok(text)) => format!("{text:?}"),
                // Not there yet, or replaced between find and read: look again.
                Ok(Err(e)) => format!("(no text: {e})"),
                Err(_) => format!("(no answer from the browser within {COMMAND_TIMEOUT:?})"),
            };
            if Instant::now() >= deadline {
                return Err(self.failure(format!(
                    "waited {timeout:?} for `{css}` to show {}; it last showed {last}",
                    expected.describe()
                )));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Waits until at least `n` elements match `css`, and returns how many
    /// do. Polls like [`Browser::wait_for_text`]; on timeout the error says
    /// how many there were.
    pub async fn wait_for_count(
        &self,
        css: &str,
        n: usize,
        timeout: Duration,
    ) -> Result<usize, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            let look =
                tokio::time::timeout(COMMAND_TIMEOUT, self.client.find_all(Locator::Css(css)));
            let last = match look.await {
                Ok(Ok(found)) if found.len() >= n => return Ok(found.len()),
                Ok(Ok(found)) => found.len().to_string(),
                Ok(Err(e)) => format!("(none: {e})"),
                Err(_) => format!("(no answer from the browser within {COMMAND_TIMEOUT:?})"),
            };
            if Instant::now() >= deadline {
                return Err(self.failure(format!(
                    "waited {timeout:?} for {n} elements matching `{css}`; there were {last}"
                )));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The value of attribute `name` on every element matching `css`, in
    /// document order (`None` where an element lacks it).
    pub async fn attributes(&self, css: &str, name: &str) -> Result<Vec<Option<String>>, Error> {
        let elements = self
            .bounded(
                &format!("find every `{css}`"),
                self.client.find_all(Locator::Css(css)),
            )
            .await?;
        let mut values = Vec::with_capacity(elements.len());
        for element in elements {
            let what = format!("read `{name}` of a `{css}`");
            values.push(self.bounded(&what, element.attr(name)).await?);
        }
        Ok(values)
    }

    /// Runs `script` (the body of a function: `return …;`) in the page and
    /// returns its result. The page runs nothing else meanwhile, so values
    /// read in one script are one instant's, where separate WebDriver
    /// commands may see the page change between them.
    pub async fn script(&self, script: &str) -> Result<serde_json::Value, Error> {
        self.bounded(
            "run a script in the page",
            self.client.execute(script, Vec::new()),
        )
        .await
    }

    /// The visible text of the first element matching `css`, right now.
    pub async fn text(&self, css: &str) -> Result<String, Error> {
        self.bounded(&format!("read `{css}`"), self.text_of(css))
            .await
    }

    /// How many elements match `css` right now.
    pub async fn count(&self, css: &str) -> Result<usize, Error> {
        self.bounded(
            &format!("find every `{css}`"),
            self.client.find_all(Locator::Css(css)),
        )
        .await
        .map(|found| found.len())
    }

    /// Types `text` into the element matching `css`, as keystrokes, so the
    /// page's key and input handlers run as they would for a person.
    ///
    /// Any Unicode goes, emoji included: older chromedrivers refused
    /// characters outside the Basic Multilingual Plane, Debian's current one
    /// (156) types them (checked by the echo page's test).
    pub async fn type_into(&self, css: &str, text: &str) -> Result<(), Error> {
        let element = self.find(css).await?;
        self.bounded(&format!("type into `{css}`"), element.send_keys(text))
            .await
    }

    /// Presses Enter in the element matching `css`.
    pub async fn press_enter(&self, css: &str) -> Result<(), Error> {
        let element = self.find(css).await?;
        self.bounded(
            &format!("press Enter in `{css}`"),
            element.send_keys(&fantoccini::key::Key::Enter),
        )
        .await
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) -> Result<(), Error> {
        let element = self.find(css).await?;
        self.bounded(&format!("click `{css}`"), element.click())
            .await
    }

    /// Saves a PNG of the window as `<target dir>/screenshots/<name>.png`
    /// (see [`screenshot_dir`]) and returns its path.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf, Error> {
        let path = screenshot_dir().join(format!("{name}.png"));
        self.screenshot_to(&path).await?;
        Ok(path)
    }

    /// Saves a PNG of the window at `path`, creating its folder.
    pub async fn screenshot_to(&self, path: &Path) -> Result<(), Error> {
        let png = self
            .bounded("take a screenshot", self.client.screenshot())
            .await?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::new(format!("cannot create {}: {e}", dir.display())))?;
        }
        std::fs::write(path, png)
            .map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))
    }

    /// The last lines chromedriver printed and logged.
    pub fn log_tail(&self) -> String {
        self.driver.log_tail()
    }

    /// Ends the session politely (Chromium closes its windows), then
    /// cleans up as [`Drop`] does. Dropping alone is just as clean, only
    /// more abrupt.
    pub async fn close(self) -> Result<(), Error> {
        let Browser { client, driver } = self;
        let result = match tokio::time::timeout(COMMAND_TIMEOUT, client.close()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::new(format!("closing the session failed: {e}"))),
            Err(_) => Err(Error::new("closing the session timed out")),
        };
        drop(driver);
        result
    }

    async fn find(&self, css: &str) -> Result<Element, Error> {
        self.bounded(
            &format!("find `{css}`"),
            self.client.find(Locator::Css(css)),
        )
        .await
    }

    async fn text_of(&self, css: &str) -> Result<String, fantoccini::error::CmdError> {
        self.client.find(Locator::Css(css)).await?.text().await
    }

    /// Runs one WebDriver command under [`COMMAND_TIMEOUT`], turning its
    /// error into one that says what we were doing.
    async fn bounded<T, E: fmt::Display>(
        &self,
        what: &str,
        command: impl Future<Output = Result<T, E>>,
    ) -> Result<T, Error> {
        match tokio::time::timeout(COMMAND_TIMEOUT, command).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.failure(format!("cannot {what}: {e}"))),
            Err(_) => Err(self.failure(format!(
                "cannot {what}: no answer within {COMMAND_TIMEOUT:?}"
            ))),
        }
    }

    fn failure(&self, message: String) -> Error {
        Error::new(format!("{message}\n{}", self.driver.log_tail()))
    }
}

/// Where [`Browser::screenshot`] saves: `screenshots/` in Cargo's target
/// folder, wherever that is (`target/`, `$CARGO_TARGET_DIR`, or a
/// `target-dir` from Cargo's config). We find it the way Cargo marks it: the
/// nearest folder above the running test binary that holds a
/// `CACHEDIR.TAG`. Failing that (a binary copied elsewhere), the
/// workspace's `target/`.
pub fn screenshot_dir() -> PathBuf {
    let from_binary = std::env::current_exe().ok().and_then(|exe| {
        exe.ancestors()
            .find(|dir| dir.join("CACHEDIR.TAG").is_file())
            .map(Path::to_path_buf)
    });
    from_binary
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../target"))
        .join("screenshots")
}
