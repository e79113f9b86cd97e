//! The files every lesson's page loads besides itself.

/// The stylesheet the lessons' pages share, served at `/lesson.css`.
pub const STYLE: &str = include_str!("../../../static/lesson.css");

/// The script the lessons' pages share (the socket's URL, the log's lines,
/// the reconnecting socket), served at `/lesson.js`.
pub const SCRIPT: &str = include_str!("../../../static/lesson.js");

/// The shared file at `path`, with its content type: [`STYLE`] at
/// `/lesson.css`, [`SCRIPT`] at `/lesson.js`; `None` for any other path.
pub fn shared_file(path: &str) -> Option<(&'static str, &'static str)> {
    match path {
        "/lesson.css" => Some(("text/css; charset=utf-8", STYLE)),
        "/lesson.js" => Some(("text/javascript; charset=utf-8", SCRIPT)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_shared_files_and_nothing_else() {
        assert_eq!(shared_file("/lesson.css").map(|f| f.1), Some(STYLE));
        assert_eq!(shared_file("/lesson.js").map(|f| f.1), Some(SCRIPT));
        assert!(STYLE.contains('{') && SCRIPT.contains("function"));
        for other in ["/", "/lesson.css/", "/../lesson.js", "/Lesson.css"] {
            assert_eq!(shared_file(other), None, "{other}");
        }
    }
}
