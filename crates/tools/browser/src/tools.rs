//! Finding Chromium and chromedriver, and deciding what a test does when
//! they are not there.

use std::env;
use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Once;

/// Environment variable naming the chromedriver binary to use.
pub const CHROMEDRIVER_ENV: &str = "CHROMEDRIVER";
/// Environment variable naming the Chromium binary to use.
pub const CHROMIUM_ENV: &str = "CHROMIUM";
/// Environment variable that turns a missing browser from a skip into a
/// failure. `.ci/run` sets it to `1`, after installing the browser.
pub const REQUIRE_ENV: &str = "REQUIRE_BROWSER";

/// The command that installs both tools on Debian and Ubuntu. The two
/// packages are built from one source, so their versions always match (a
/// chromedriver refuses a browser of another major version).
pub const INSTALL_HINT: &str =
    "apt-get update && apt-get install -y --no-install-recommends chromium chromium-driver";

/// Where the two programs a browser test needs were found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    /// The WebDriver server, `chromedriver`.
    pub chromedriver: PathBuf,
    /// The browser binary itself (not a wrapper script).
    pub chromium: PathBuf,
}

impl Tools {
    /// Finds both programs: the paths in `CHROMEDRIVER` and `CHROMIUM` when
    /// set (a set variable that names nothing is an error, not a fallback:
    /// whoever set it meant that file), otherwise the usual Debian places and
    /// `PATH`.
    pub fn find() -> Result<Tools, String> {
        let chromedriver = find_one(
            CHROMEDRIVER_ENV,
            &[],
            &["chromedriver"],
            "chromedriver (package chromium-driver)",
        );
        // Debian's /usr/bin/chromium is a shell wrapper that adds flags of its
        // own and prints a (harmless) error; the binary it wraps lives in
        // /usr/lib/chromium, and that is what we hand to chromedriver.
        let chromium = find_one(
            CHROMIUM_ENV,
            &["/usr/lib/chromium/chromium"],
            &["chromium", "chromium-browser"],
            "chromium (package chromium)",
        );
        match (chromedriver, chromium) {
            (Ok(chromedriver), Ok(chromium)) => Ok(Tools {
                chromedriver,
                chromium,
            }),
            (Err(a), Err(b)) => Err(format!("{a}; {b}")),
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    }
}

/// `Ok(())` when Chromium and chromedriver can be found, otherwise the reason
/// they cannot.
pub fn browser_available() -> Result<(), String> {
    Tools::find().map(drop)
}

/// Whether a browser test should skip itself, which it does by returning
/// early:
///
/// ```no_run
/// # async fn test() {
/// if browser::skip_if_unavailable() {
///     return;
/// }
/// let browser = browser::Browser::start().await.unwrap();
/// # }
/// ```
///
/// With both tools present this returns `false` and the test runs. Without
/// them it returns `true` after writing one loud line to the terminal, once
/// per test binary, so that `cargo test --workspace` on a machine with only
/// the Rust toolchain passes but says plainly what it did not check. With
/// `REQUIRE_BROWSER=1` a missing browser panics instead, so CI, which
/// installs the browser and sets the variable, can never go green on a
/// check it silently skipped.
///
/// # Panics
///
/// When the tools are missing and `REQUIRE_BROWSER=1` is set.
pub fn skip_if_unavailable() -> bool {
    let Err(why) = browser_available() else {
        return false;
    };
    if env::var_os(REQUIRE_ENV).is_some_and(|v| v == "1") {
        panic!(
            "{REQUIRE_ENV}=1 but the browser tests cannot run: {why}. Install with: {INSTALL_HINT}"
        );
    }
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // libtest captures `eprintln!` of passing tests (it swaps the
        // macros' output), but not writes to the stderr handle itself, so
        // this line shows in a plain `cargo test` without `--nocapture`.
        let line = format!(
            "\n*** browser tests SKIPPED: {why}. Install with `{INSTALL_HINT}` (or set {CHROMIUM_ENV} and {CHROMEDRIVER_ENV}) and run `cargo test -p browser`; {REQUIRE_ENV}=1 makes this a failure.\n"
        );
        // Nothing sensible to do if the terminal itself is gone.
        let _ = std::io::stderr().write_all(line.as_bytes());
    });
    true
}

/// Looks up one program: the environment variable, then fixed paths, then
/// each name on `PATH`.
fn find_one(var: &str, fixed: &[&str], names: &[&str], what: &str) -> Result<PathBuf, String> {
    if let Some(path) = env::var_os(var) {
        let path = PathBuf::from(path);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(format!(
                "{var}={} is not an executable file",
                path.display()
            ))
        };
    }
    let fixed = fixed.iter().map(PathBuf::from);
    let on_path = names.iter().flat_map(|name| search_path(OsStr::new(name)));
    fixed
        .chain(on_path)
        .find(|p| is_executable(p))
        .ok_or_else(|| format!("{what} not found"))
}

/// Every `PATH` entry joined with `name`, in order.
fn search_path(name: &OsStr) -> Vec<PathBuf> {
    env::var_os("PATH")
        .map(|path| env::split_paths(&path).map(|dir| dir.join(name)).collect())
        .unwrap_or_default()
}

fn is_executable(path: &Path) -> bool {
    // `metadata` follows symlinks, so /usr/bin/chromedriver → ../lib/… counts.
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
