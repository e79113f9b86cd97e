//! The course book itself: it builds, and the checker finds nothing wrong.
//!
//! This is the test that fails when a lesson renames an anchor a chapter
//! includes, or a chapter tells the reader to run a package that does not
//! exist.

mod common;

use common::TempDir;

#[test]
fn the_course_book_builds_and_every_include_resolves() {
    // Our own build directory: never overwrite the book a reader may be
    // serving from `book/build`.
    let out = TempDir::new("course");
    let html = book::build(&book::book_dir(), Some(out.path())).expect("the book builds");
    assert!(
        html.join("index.html").is_file(),
        "no index.html in {}",
        html.display()
    );
    assert!(
        html.join("intro.html").is_file(),
        "no intro.html in {}",
        html.display()
    );

    let problems =
        book::check(&book::book_dir(), &html, &book::workspace_root()).expect("the checker runs");
    let report: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        problems.is_empty(),
        "{} problem(s) in the book:\n{}",
        problems.len(),
        report.join("\n")
    );
}

#[test]
fn the_workspace_packages_include_every_lesson_so_far() {
    let packages = book::check::workspace_packages(&book::workspace_root()).expect("manifests");
    for package in ["handshake", "frame", "book"] {
        assert!(
            packages.contains_key(package),
            "{package} missing from {packages:?}"
        );
    }
}
