//! The checker against small books built for the purpose, one fault each,
//! so we know every class of fault it claims to catch is caught (and a clean
//! book passes: a checker that always fails would pass the other tests).

mod common;

use std::fs;
use std::path::PathBuf;

use book::{Fault, Problem};
use common::TempDir;

/// A lesson whose source has a good anchor, an empty one, and one never
/// closed.
const LESSON: &str = "\
//! A lesson.

// ANCHOR: greet
/// Says hello.
pub fn greet() -> &'static str {
    \"hello\"
}
// ANCHOR_END: greet

// ANCHOR: empty

// ANCHOR_END: empty

// ANCHOR: unclosed
pub fn rest() {}
";

/// A workspace in a temporary directory: a root manifest with one member
/// package, `lesson` (a library and one binary), and a book in `book/` whose only chapter is `chapter`.
struct Fixture {
    dir: TempDir,
}

impl Fixture {
    fn new(label: &str, chapter: &str) -> Fixture {
        let dir = TempDir::new(label);
        dir.write(
            "Cargo.toml",
            "[workspace]\nresolver = \"3\"\nmembers = [\n    \"crates/lesson\",\n]\n",
        );
        dir.write(
            "crates/lesson/Cargo.toml",
            "[package]\nname = \"lesson\"\nversion = \"0.1.0\"\n",
        );
        dir.write("crates/lesson/src/lib.rs", LESSON);
        // A binary, so that `cargo run -p lesson` has one to run.
        dir.write("crates/lesson/src/main.rs", "fn main() {}\n");
        dir.write(
            "book/book.toml",
            "[book]\ntitle = \"Test\"\n\n[build]\nbuild-dir = \"build\"\ncreate-missing = false\n",
        );
        dir.write(
            "book/src/SUMMARY.md",
            "# Summary\n\n- [Chapter](chapter.md)\n",
        );
        dir.write("book/src/chapter.md", chapter);
        Fixture { dir }
    }

    fn book(&self) -> PathBuf {
        self.dir.path().join("book")
    }

    fn chapter(&self) -> PathBuf {
        self.book().join("src/chapter.md")
    }

    /// Builds the book and runs the whole checker on it.
    fn check(&self) -> Vec<Problem> {
        let html = book::build(&self.book(), None).expect("the test book builds");
        book::check(&self.book(), &html, self.dir.path()).expect("the checker runs")
    }
}

/// A chapter: a title, a line of text, then `body` from line 5 on.
fn chapter(body: &str) -> String {
    format!("# Chapter\n\nSome text.\n\n{body}\n")
}

#[test]
fn a_sound_book_passes() {
    let fixture = Fixture::new(
        "sound",
        &chapter(
            "**Listing 1.1** — `crates/lesson/src/lib.rs`\n\n\
             ```rust,ignore\n\
             {{#include ../../crates/lesson/src/lib.rs:greet}}\n\
             ```\n\n\
             **Listing 1.2** — `crates/lesson/src/lib.rs`\n\n\
             ```rust,ignore\n\
             {{#rustdoc_include ../../crates/lesson/src/lib.rs:greet}}\n\
             ```\n\n\
             **Listing 1.3** — `crates/lesson/src/lib.rs`\n\n\
             ```rust,ignore\n\
             {{#include ../../crates/lesson/src/lib.rs:4:7}}\n\
             {{#include ../../crates/lesson/src/lib.rs:14:}}\n\
             {{#include ../../crates/lesson/src/lib.rs}}\n\
             ```\n\n\
             Run `cargo run -p lesson`, or in general `cargo run -p <lesson>`.",
        ),
    );
    let problems = fixture.check();
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn a_missing_file_is_caught_with_its_line() {
    let fixture = Fixture::new(
        "missing-file",
        &chapter("{{#include ../../crates/lesson/src/gone.rs:greet}}"),
    );
    let problems = fixture.check();
    let missing = problems
        .iter()
        .find(|p| matches!(p.fault, Fault::MissingFile { .. }))
        .unwrap_or_else(|| panic!("no MissingFile in {problems:#?}"));
    assert_eq!(
        (missing.file.as_path(), missing.line),
        (fixture.chapter().as_path(), 5)
    );
    let message = missing.to_string();
    assert!(message.contains("chapter.md:5:"), "{message}");
    assert!(message.contains("gone.rs"), "{message}");
    // mdBook leaves the directive it could not expand in the page, and the
    // output pass sees it too.
    assert!(
        problems
            .iter()
            .any(|p| matches!(p.fault, Fault::LeftoverDirective { .. })),
        "{problems:#?}"
    );
}

#[test]
fn a_missing_anchor_is_caught() {
    let fixture = Fixture::new(
        "missing-anchor",
        &chapter("{{#include ../../crates/lesson/src/lib.rs:greeting}}"),
    );
    let problems = fixture.check();
    assert!(
        matches!(
            problems.as_slice(),
            [Problem { line: 5, fault: Fault::MissingAnchor { anchor, .. }, .. }] if anchor == "greeting"
        ),
        "{problems:#?}"
    );
}

#[test]
fn a_missing_anchor_in_a_rustdoc_include_is_caught() {
    // rustdoc_include still shows the whole file, hidden behind `#`: the
    // build succeeds and the page shows an empty listing.
    let fixture = Fixture::new(
        "rustdoc-anchor",
        &chapter("{{#rustdoc_include ../../crates/lesson/src/lib.rs:greeting}}"),
    );
    let problems = fixture.check();
    assert!(
        matches!(
            problems.as_slice(),
            [Problem {
                fault: Fault::MissingAnchor { .. },
                ..
            }]
        ),
        "{problems:#?}"
    );
}

#[test]
fn an_empty_anchor_is_caught() {
    let fixture = Fixture::new(
        "empty-anchor",
        &chapter("{{#include ../../crates/lesson/src/lib.rs:empty}}"),
    );
    let problems = fixture.check();
    assert!(
        matches!(
            problems.as_slice(),
            [Problem {
                line: 5,
                fault: Fault::EmptyInclude { .. },
                ..
            }]
        ),
        "{problems:#?}"
    );
}

#[test]
fn an_unclosed_anchor_is_caught() {
    let fixture = Fixture::new(
        "unclosed-anchor",
        &chapter("{{#include ../../crates/lesson/src/lib.rs:unclosed}}"),
    );
    let problems = fixture.check();
    assert!(
        matches!(problems.as_slice(), [Problem { fault: Fault::UnclosedAnchor { anchor, .. }, .. }] if anchor == "unclosed"),
        "{problems:#?}"
    );
}

#[test]
fn a_line_range_past_the_end_is_caught() {
    let fixture = Fixture::new(
        "empty-range",
        &chapter(
            "{{#include ../../crates/lesson/src/lib.rs:100:120}}\n\
             {{#include ../../crates/lesson/src/lib.rs:200:}}",
        ),
    );
    let problems = fixture.check();
    let lines: Vec<usize> = problems
        .iter()
        .filter(|p| matches!(p.fault, Fault::EmptyInclude { .. }))
        .map(|p| p.line)
        .collect();
    assert_eq!(lines, [5, 6], "{problems:#?}");
}

#[test]
fn a_mistyped_directive_is_caught_in_the_source_and_the_output() {
    let fixture = Fixture::new(
        "typo",
        &chapter("{{#inclde ../../crates/lesson/src/lib.rs:greet}}"),
    );
    let problems = fixture.check();
    assert!(
        problems
            .iter()
            .any(|p| p.line == 5 && matches!(p.fault, Fault::UnknownDirective { .. })),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| matches!(p.fault, Fault::LeftoverDirective { .. })),
        "{problems:#?}"
    );
}

#[test]
fn a_leftover_directive_in_the_output_is_caught() {
    // An escaped directive is not a directive to mdBook or to the source
    // pass, but it comes out as the text `{{#include …}}` in the page.
    let fixture = Fixture::new(
        "leftover",
        &chapter("Write \\{{#include file.rs}} to include a file."),
    );
    let problems = fixture.check();
    let leftovers: Vec<&Problem> = problems
        .iter()
        .filter(|p| matches!(p.fault, Fault::LeftoverDirective { .. }))
        .collect();
    assert!(!leftovers.is_empty(), "{problems:#?}");
    assert_eq!(leftovers.len(), problems.len(), "{problems:#?}");
    for leftover in leftovers {
        assert_eq!(
            leftover.file.extension().and_then(|e| e.to_str()),
            Some("html")
        );
        assert!(
            leftover.to_string().contains("{{#include file.rs}}"),
            "{leftover}"
        );
    }
}

#[test]
fn an_unknown_package_is_caught_in_the_book_and_the_readme() {
    let fixture = Fixture::new(
        "package",
        &chapter(
            "Run `cargo run -p nope`, then\n\n```console\n$ cargo test --package=lesson\n$ cargo run --release -p=ghost -- 127.0.0.1:9\n```",
        ),
    );
    let readme = fixture
        .dir
        .write("README.md", "# Test\n\n    cargo run --package phantom\n");
    let problems = fixture.check();
    let found: Vec<(PathBuf, usize, String)> = problems
        .iter()
        .map(|p| match &p.fault {
            Fault::UnknownPackage { package, .. } => (p.file.clone(), p.line, package.clone()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        found,
        [
            (fixture.chapter(), 5, "nope".to_owned()),
            (fixture.chapter(), 9, "ghost".to_owned()),
            (readme, 3, "phantom".to_owned()),
        ]
    );
    assert!(
        problems[0].to_string().contains("`cargo run -p nope`"),
        "{}",
        problems[0]
    );
}

#[test]
fn every_markdown_file_is_checked_not_only_chapters() {
    // A snippet shared by chapters lives in `src/` without being in
    // SUMMARY.md; its includes resolve relative to its own directory.
    let fixture = Fixture::new("snippet", &chapter("Nothing to include here."));
    let snippet = fixture.dir.write(
        "book/src/shared/snippet.md",
        "{{#include ../../../crates/lesson/src/lib.rs:greet}}\n{{#include ../../../crates/lesson/src/lib.rs:nothing}}\n",
    );
    let problems = fixture.check();
    assert!(
        matches!(problems.as_slice(), [Problem { file, line: 2, fault: Fault::MissingAnchor { .. } }] if *file == snippet),
        "{problems:#?}"
    );
    // And the snippet is the only thing wrong: remove it and the book is sound.
    fs::remove_file(&snippet).expect("remove the snippet");
    assert_eq!(fixture.check(), []);
}

/// The lesson's manifest once it has a second binary, as `transports` has
/// its benchmark: `default-run` is what keeps `cargo run -p lesson` working.
const TWO_BINARIES: &str = "\
[package]
name = \"lesson\"
version = \"0.1.0\"
# `cargo run -p lesson` runs the lesson, not the benchmark.
default-run = \"lesson\"
";

#[test]
fn a_run_command_is_caught_when_default_run_is_removed() {
    let fixture = Fixture::new(
        "default-run",
        &chapter(
            "Run `cargo run -p lesson`, then\n\n```console\n\
             $ cargo run -p lesson --bin lesson-bench -- --rate 5\n\
             $ cargo test -p lesson\n\
             ```",
        ),
    );
    fixture
        .dir
        .write("crates/lesson/src/bin/lesson-bench.rs", "fn main() {}\n");
    let manifest = fixture.dir.write("crates/lesson/Cargo.toml", TWO_BINARIES);
    let readme = fixture.dir.write(
        "README.md",
        "# Test\n\n    cargo run -p lesson   # the lesson on :9000\n",
    );
    // With `default-run`, every command works.
    assert_eq!(fixture.check(), []);

    let without: String = TWO_BINARIES
        .lines()
        .filter(|line| !line.starts_with("default-run"))
        .map(|line| format!("{line}\n"))
        .collect();
    fs::write(&manifest, without).expect("rewrite the manifest");
    let problems = fixture.check();
    let found: Vec<(PathBuf, usize)> = problems
        .iter()
        .map(|p| match &p.fault {
            Fault::AmbiguousRun {
                package, binaries, ..
            } => {
                assert_eq!(package, "lesson");
                assert_eq!(binaries, &["lesson", "lesson-bench"]);
                (p.file.clone(), p.line)
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    // The `--bin` and the `cargo test` are still fine.
    assert_eq!(found, [(fixture.chapter(), 5), (readme, 3)]);
    let message = problems[0].to_string();
    assert!(
        message.contains(
            "`cargo run -p lesson` is ambiguous: the package has binaries lesson, lesson-bench and no default-run"
        ),
        "{message}"
    );
}

#[test]
fn a_run_command_needs_a_binary_the_package_has() {
    let fixture = Fixture::new(
        "binaries",
        &chapter(
            "```console\n\
             $ cargo run -p lesson --bin gone\n\
             $ cargo run -p tool\n\
             $ cargo test -p tool\n\
             $ cargo run -p runner -- --flag\n\
             $ cargo run -p runner --bin helper\n\
             $ cargo run -p runner --bin=runner\n\
             $ cargo run -p runner --bin <name>\n\
             $ cargo build -p tool --bin runner\n\
             ```",
        ),
    );
    fixture.dir.write(
        "Cargo.toml",
        "[workspace]\nresolver = \"3\"\nmembers = [\"crates/lesson\", \"crates/tool\", \"crates/runner\"]\n",
    );
    // A library and nothing to run.
    fixture.dir.write(
        "crates/tool/Cargo.toml",
        "[package]\nname = \"tool\"\nversion = \"0.1.0\"\n",
    );
    fixture.dir.write("crates/tool/src/lib.rs", "//! A tool.\n");
    // Two binaries: one from a `[[bin]]` table with its own path, one from a
    // directory under src/bin.
    fixture.dir.write(
        "crates/runner/Cargo.toml",
        "[package]\nname = \"runner\"\nversion = \"0.1.0\"\n\n[[bin]]\nname = \"runner\"\npath = \"src/cli.rs\"\n",
    );
    fixture
        .dir
        .write("crates/runner/src/cli.rs", "fn main() {}\n");
    fixture
        .dir
        .write("crates/runner/src/bin/helper/main.rs", "fn main() {}\n");

    let problems = fixture.check();
    let found: Vec<(usize, String)> = problems.iter().map(|p| (p.line, p.to_string())).collect();
    let chapter = fixture.chapter();
    let at =
        |line: usize, message: &str| (line, format!("{}:{line}: {message}", chapter.display()));
    assert_eq!(
        found,
        [
            at(
                6,
                "`cargo run -p lesson --bin gone`: the package `lesson` has no binary `gone` (its binaries: lesson)"
            ),
            at(
                7,
                "`cargo run -p tool`: the package `tool` has no binary to run"
            ),
            at(
                9,
                "`cargo run -p runner` is ambiguous: the package has binaries helper, runner and no default-run \
                 (name one with `--bin`, or set `default-run` in its `[package]`)"
            ),
            at(
                13,
                "`cargo build -p tool --bin runner`: the package `tool` has no binary `runner` (it has no binaries)"
            ),
        ]
    );
    assert!(matches!(
        problems.as_slice(),
        [
            Problem {
                fault: Fault::UnknownBinary { .. },
                ..
            },
            Problem {
                fault: Fault::NothingToRun { .. },
                ..
            },
            Problem {
                fault: Fault::AmbiguousRun { .. },
                ..
            },
            Problem {
                fault: Fault::UnknownBinary { .. },
                ..
            },
        ]
    ));
}

/// A lesson chapter (`lesson.md`, named after the fixture's package): a
/// core of `core_words` words, then the production part, then a summary
/// of `items` items.
fn lesson_chapter(core_words: usize, items: usize) -> String {
    let core = vec!["word"; core_words].join(" ");
    let summary: String = (0..items).map(|i| format!("- Point {i}.\n")).collect();
    format!(
        "# Lesson\n\n{core}\n\n```text\nnot counted: code\n```\n\n\
         <!-- nor this --> {{{{#include ../../crates/lesson/src/lib.rs:greet}}}}\n\n\
         ## Going to production\n\nHardening, at any length.\n\n\
         ## What you now know\n\n{summary}"
    )
}

/// The problems of a book whose only chapters are `chapter.md` (sound)
/// and `lesson.md` as given.
fn lesson_problems(label: &str, lesson: &str) -> Vec<String> {
    let fixture = Fixture::new(label, &chapter("Text."));
    fixture.dir.write("book/src/lesson.md", lesson);
    fixture.dir.write(
        "book/src/SUMMARY.md",
        "# Summary\n\n- [Chapter](chapter.md)\n- [Lesson](lesson.md)\n",
    );
    fixture
        .check()
        .iter()
        .map(|p| p.fault.to_string())
        .collect()
}

#[test]
fn a_lesson_chapter_has_a_short_core_then_production_then_a_summary() {
    let sound = lesson_chapter(book::check::CORE_WORDS - 2, 5);
    assert_eq!(lesson_problems("shape-sound", &sound), Vec::<String>::new());
    assert_eq!(
        book::check::Shape::of(&sound).core_words,
        book::check::CORE_WORDS
    );

    let long = lesson_chapter(book::check::CORE_WORDS, 8);
    assert_eq!(
        lesson_problems("shape-long", &long),
        [format!(
            "the chapter's core (before `## Going to production`) is {} words; at most {}: \
             move hardening after it, or say it shorter",
            book::check::CORE_WORDS + 2,
            book::check::CORE_WORDS
        )]
    );

    let thin = lesson_chapter(10, 4);
    assert_eq!(
        lesson_problems("shape-thin", &thin),
        ["`## What you now know` has 4 items; it needs 5 to 8"]
    );
    let thick = lesson_chapter(10, 9);
    assert_eq!(
        lesson_problems("shape-thick", &thick),
        ["`## What you now know` has 9 items; it needs 5 to 8"]
    );
}

#[test]
fn a_lesson_chapter_without_its_parts_is_caught() {
    let no_production = lesson_chapter(10, 6).replace("## Going to production", "## Hardening");
    assert_eq!(
        lesson_problems("parts-production", &no_production),
        ["a lesson chapter needs `## Going to production` as a section after its core"]
    );
    let summary_first = "# Lesson\n\nCore.\n\n## What you now know\n\n- a\n- b\n- c\n- d\n- e\n\n\
                         ## Going to production\n\nLast.\n";
    assert_eq!(
        lesson_problems("parts-order", summary_first),
        [
            "a lesson chapter needs `## What you now know` as a section after `## Going to production`"
        ]
    );
    let summary_not_last = format!("{}\n## Try this\n\nMore.\n", lesson_chapter(10, 6));
    assert_eq!(
        lesson_problems("parts-last", &summary_not_last),
        [
            "a lesson chapter needs `## What you now know` as a section after `## Going to production`"
        ]
    );
}

#[test]
fn prose_words_leave_out_directives_and_comments() {
    use book::check::prose_words;
    assert_eq!(prose_words("one two  three"), 3);
    assert_eq!(prose_words("a {{#include x.rs:y}} b <!-- c d --> e"), 3);
    assert_eq!(prose_words("open <!-- never closed"), 1);
    assert_eq!(prose_words(""), 0);
}

#[test]
fn project_history_is_caught_in_chapters_and_in_the_code_they_show() {
    let fixture = Fixture::new(
        "history",
        &chapter(
            "As the issue asks, the target is 2×.\n\n\
             **Listing 1.1** — `crates/lesson/src/lib.rs`\n\n\
             ```rust,ignore\n\
             {{#include ../../crates/lesson/src/lib.rs:told}}\n\
             ```",
        ),
    );
    fixture.dir.write(
        "crates/lesson/src/lib.rs",
        format!(
            "{LESSON}\n// ANCHOR_END: unclosed\n\n// ANCHOR: told\n\
             /// The request target, and a ticket we issue, as the seeds do.\n\
             pub fn told() {{}}\n// ANCHOR_END: told\n"
        ),
    );
    let found: Vec<(usize, String)> = fixture
        .check()
        .into_iter()
        .filter_map(|p| match p.fault {
            Fault::ProjectHistory { word, .. } => Some((p.line, word)),
            _ => None,
        })
        .collect();
    // In prose every word counts; in code, "target" and "issue" have other
    // meanings, and only "seeds" is caught (on the directive's line).
    assert_eq!(
        found,
        [(5, "issue".to_owned()), (10, "seeds".to_owned())],
        "{found:?}"
    );
}
