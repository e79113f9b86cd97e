//! The checker: what mdBook lets through without a word.
//!
//! A chapter shows code with `{{#include ../../crates/frame/src/lib.rs:parse}}`
//! and the lesson marks the lines with `// ANCHOR: parse` and
//! `// ANCHOR_END: parse`. Rename the anchor, move the file, or delete the
//! lines in between, and mdBook still builds: a missing file is logged and the
//! raw directive is left in the page, a missing anchor becomes an empty code
//! block. The chapter then explains code the reader cannot see.
//!
//! So we check, in six passes, each reporting every problem with its file
//! and line rather than stopping at the first:
//!
//! 1. [`check_sources`]: every `include`, `rustdoc_include` and `playground`
//!    directive in `src/**/*.md` names a readable file, its anchor exists and
//!    is closed, and what it selects is not blank. We resolve directives
//!    exactly as mdBook 0.5 does (paths relative to the chapter, `:N`, `:N:M`,
//!    `:N:`, `::M` line ranges counted from 1, an anchor otherwise), because
//!    checking anything else would prove nothing.
//! 2. [`check_output`]: no built page contains `{{#`, the trace of a directive
//!    mdBook could not expand (or of one we mistyped).
//! 3. [`check_commands`]: every `cargo … -p NAME` in the chapters and the
//!    README names a package of the workspace, so a reader never types a
//!    command that cannot work. A `--bin NAME` must name a binary of that
//!    package, and a `cargo run -p NAME` without `--bin` or `--example` must
//!    leave cargo exactly one binary to run: the package's only one, or its
//!    `default-run`. Otherwise cargo stops with "could not determine which
//!    binary to run" (or "a bin target must be available").
//! 4. [`check_words`]: no chapter or generated file speaks of how the book
//!    was made ([`HISTORY_WORDS`]).
//! 5. [`check_captions`]: every listing has a caption that names its file.
//! 6. [`check_shape`]: every lesson chapter puts its idea first, in at most
//!    [`CORE_WORDS`] words, then `## Going to production`, then a summary.
//!
//! Pass 3 reads manifests line by line, not with a TOML parser (see
//! [`workspace_packages`] for what that covers), and finds a package's
//! binaries the way cargo does: `src/main.rs` (named after the package),
//! every `src/bin/*.rs` and `src/bin/*/main.rs`, and each `[[bin]]` table,
//! which replaces a found binary of the same name or path; `autobins = false`
//! keeps only the `[[bin]]` tables.
//!
//! One consequence of pass 2: a chapter cannot *show* the text `{{#`, even
//! escaped. We have never needed to.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// One thing wrong with the book: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file the problem is in.
    pub file: PathBuf,
    /// The line, counted from 1.
    pub line: usize,
    /// What is wrong.
    pub fault: Fault,
}

/// The kinds of problem the checker finds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// A directive names a file that does not exist.
    MissingFile {
        /// The directive, as written.
        directive: String,
        /// The file it resolves to.
        path: PathBuf,
    },
    /// A directive names a file that exists but cannot be read as UTF-8 text.
    UnreadableFile {
        /// The directive, as written.
        directive: String,
        /// The file it resolves to.
        path: PathBuf,
        /// Why it could not be read.
        reason: String,
    },
    /// No line of the file says `ANCHOR: <anchor>`.
    MissingAnchor {
        /// The directive, as written.
        directive: String,
        /// The anchor it asks for.
        anchor: String,
        /// The file that lacks it.
        path: PathBuf,
    },
    /// The file opens the anchor but never says `ANCHOR_END: <anchor>`, so the
    /// listing silently runs to the end of the file.
    UnclosedAnchor {
        /// The directive, as written.
        directive: String,
        /// The anchor it asks for.
        anchor: String,
        /// The file that lacks the end marker.
        path: PathBuf,
    },
    /// The directive resolves, but what it selects is empty or only
    /// whitespace: the page would show an empty listing.
    EmptyInclude {
        /// The directive, as written.
        directive: String,
        /// The file it resolves to.
        path: PathBuf,
    },
    /// A `{{#name …}}` directive mdBook does not know (a typo, usually); it
    /// would be left in the page as text.
    UnknownDirective {
        /// The directive, as written.
        directive: String,
    },
    /// A built page still contains `{{#`: a directive that was not expanded.
    LeftoverDirective {
        /// The text around it, up to the closing braces.
        text: String,
    },
    /// A `cargo` command selects a package the workspace does not have.
    UnknownPackage {
        /// The command, as far as we read it.
        command: String,
        /// The package it names.
        package: String,
    },
    /// A `cargo run -p NAME` without `--bin` or `--example`, where the
    /// package has several binaries and no `default-run`: cargo cannot tell
    /// which one to run.
    AmbiguousRun {
        /// The command, as far as we read it.
        command: String,
        /// The package it names.
        package: String,
        /// The package's binaries, sorted.
        binaries: Vec<String>,
    },
    /// A `cargo run -p NAME` where the package has no binary at all.
    NothingToRun {
        /// The command, as far as we read it.
        command: String,
        /// The package it names.
        package: String,
    },
    /// The book speaks about how it was made, not about WebSocket: a word
    /// of the project's own history or plans ([`HISTORY_WORDS`]).
    ProjectHistory {
        /// The word, as found.
        word: String,
        /// The line it is on, trimmed.
        text: String,
    },
    /// A listing (a fenced block that includes a file) without a caption
    /// on the line before it: `**Listing 5.3** — `crates/chatroom/src/room.rs``.
    MissingCaption {
        /// The files the listing includes, from the workspace's root.
        files: Vec<String>,
    },
    /// A caption that names other files than its listing includes, or whose
    /// number is not the next one of its chapter.
    WrongCaption {
        /// The caption, as written.
        caption: String,
        /// What it should say.
        expected: String,
    },
    /// A lesson chapter that lacks one of its parts ([`LESSON_PARTS`]), or
    /// has them out of order.
    MissingPart {
        /// The heading that is missing or out of place.
        heading: String,
    },
    /// A lesson chapter whose core (its prose before `## Going to
    /// production`) is longer than [`CORE_WORDS`].
    LongCore {
        /// The core's words, counted by [`prose_words`].
        words: usize,
    },
    /// A lesson chapter's summary that is not a list of
    /// [`SUMMARY_LINES`] items.
    SummaryLength {
        /// The items it has.
        items: usize,
    },
    /// A `cargo … -p NAME --bin BIN` where BIN is not a binary of the package.
    UnknownBinary {
        /// The command, as far as we read it.
        command: String,
        /// The package it names.
        package: String,
        /// The binary it asks for.
        binary: String,
        /// The package's binaries, sorted.
        binaries: Vec<String>,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.fault)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::MissingFile { directive, path } => {
                write!(f, "{directive}: no such file: {}", path.display())
            }
            Fault::UnreadableFile {
                directive,
                path,
                reason,
            } => write!(f, "{directive}: cannot read {}: {reason}", path.display()),
            Fault::MissingAnchor {
                directive,
                anchor,
                path,
            } => write!(
                f,
                "{directive}: no `ANCHOR: {anchor}` in {}",
                path.display()
            ),
            Fault::UnclosedAnchor {
                directive,
                anchor,
                path,
            } => write!(
                f,
                "{directive}: `ANCHOR: {anchor}` is never closed by `ANCHOR_END: {anchor}` in {}",
                path.display()
            ),
            Fault::EmptyInclude { directive, path } => write!(
                f,
                "{directive}: selects nothing but whitespace from {}",
                path.display()
            ),
            Fault::UnknownDirective { directive } => write!(
                f,
                "{directive}: unknown directive (mdBook knows include, rustdoc_include, playground and title)"
            ),
            Fault::LeftoverDirective { text } => {
                write!(f, "unexpanded directive in the built page: {text}")
            }
            Fault::UnknownPackage { command, package } => {
                write!(f, "`{command}`: the workspace has no package `{package}`")
            }
            Fault::AmbiguousRun {
                command, binaries, ..
            } => write!(
                f,
                "`{command}` is ambiguous: the package has binaries {} and no default-run \
                 (name one with `--bin`, or set `default-run` in its `[package]`)",
                binaries.join(", ")
            ),
            Fault::NothingToRun { command, package } => {
                write!(
                    f,
                    "`{command}`: the package `{package}` has no binary to run"
                )
            }
            Fault::MissingCaption { files } => write!(
                f,
                "a listing of {} has no caption: write `**Listing N.M** — ` and its file \
                 on the line before it",
                files.join(", ")
            ),
            Fault::WrongCaption { caption, expected } => {
                write!(f, "the caption {caption:?} should read {expected:?}")
            }
            Fault::ProjectHistory { word, text } => write!(
                f,
                "{word:?} speaks of how the book was made, not of WebSocket: {text:?}"
            ),
            Fault::MissingPart { heading } => {
                let before: Vec<String> = LESSON_PARTS
                    .iter()
                    .take_while(|part| *part != heading)
                    .map(|part| format!("`{part}`"))
                    .collect();
                let after = if before.is_empty() {
                    "its core".to_owned()
                } else {
                    before.join(" and ")
                };
                write!(
                    f,
                    "a lesson chapter needs `{heading}` as a section after {after}"
                )
            }
            Fault::LongCore { words } => write!(
                f,
                "the chapter's core (before `{PRODUCTION}`) is {words} words; \
                 at most {CORE_WORDS}: move hardening after it, or say it shorter"
            ),
            Fault::SummaryLength { items } => write!(
                f,
                "`{SUMMARY}` has {items} items; it needs {} to {}",
                SUMMARY_LINES.start(),
                SUMMARY_LINES.end()
            ),
            Fault::UnknownBinary {
                command,
                package,
                binary,
                binaries,
            } => {
                write!(
                    f,
                    "`{command}`: the package `{package}` has no binary `{binary}`"
                )?;
                if binaries.is_empty() {
                    write!(f, " (it has no binaries)")
                } else {
                    write!(f, " (its binaries: {})", binaries.join(", "))
                }
            }
        }
    }
}

/// Runs all three passes on a built book and returns every problem found;
/// an empty list means the book is sound.
///
/// `book_root` holds `book.toml`, `build_dir` the HTML that [`crate::build`]
/// returned, `workspace_root` the root `Cargo.toml` whose members are the
/// packages a command may name (and whose binaries it may run). The commands
/// checked are those in the book's sources and in the workspace's
/// `README.md`, if there is one.
///
/// # Errors
///
/// Fails on an unreadable `book.toml`, root manifest or source directory: the
/// checker cannot vouch for a book it cannot read. An unreadable *included*
/// file is a [`Fault`], not an error.
pub fn check(
    book_root: &Path,
    build_dir: &Path,
    workspace_root: &Path,
) -> io::Result<Vec<Problem>> {
    let config = mdbook_driver::config::Config::from_disk(book_root.join("book.toml"))
        .map_err(io::Error::other)?;
    let src_dir = book_root.join(&config.book.src);

    let mut problems = check_sources(&src_dir)?;
    problems.extend(check_output(build_dir)?);

    let packages = workspace_packages(workspace_root)?;
    let mut documents = files_with_extension(&src_dir, "md")?;
    let readme = workspace_root.join("README.md");
    if readme.is_file() {
        documents.push(readme);
    }
    problems.extend(check_commands(&documents, &packages)?);
    problems.extend(check_words(&src_dir)?);
    problems.extend(check_captions(&src_dir, workspace_root)?);
    problems.extend(check_shape(&src_dir, &packages)?);
    Ok(problems)
}

/// The heading that ends a lesson chapter's core: what follows is hardening.
pub const PRODUCTION: &str = "## Going to production";

/// The heading of a lesson chapter's summary, its last section.
pub const SUMMARY: &str = "## What you now know";

/// The parts every lesson chapter has, in this order.
pub const LESSON_PARTS: [&str; 2] = [PRODUCTION, SUMMARY];

/// The most words a lesson chapter's core may have: the idea, the bytes on
/// the wire and the smallest working code, read in one sitting.
pub const CORE_WORDS: usize = 2000;

/// How many items a lesson chapter's summary lists.
pub const SUMMARY_LINES: std::ops::RangeInclusive<usize> = 5..=8;

/// Pass 6: every lesson chapter (`src_dir/NAME.md` where `NAME` is a
/// package of the workspace) has its core, then [`PRODUCTION`], then
/// [`SUMMARY`] as its last section, with [`SUMMARY_LINES`] items; its
/// core is at most [`CORE_WORDS`] words of prose.
///
/// # Errors
///
/// Fails if `src_dir` or a chapter cannot be read.
pub fn check_shape(
    src_dir: &Path,
    packages: &BTreeMap<String, Package>,
) -> io::Result<Vec<Problem>> {
    let mut problems = Vec::new();
    for chapter in files_with_extension(src_dir, "md")? {
        let is_lesson = chapter
            .file_stem()
            .and_then(|stem| stem.to_str())
            .is_some_and(|stem| packages.contains_key(stem));
        if !is_lesson {
            continue;
        }
        let text = fs::read_to_string(&chapter)?;
        let shape = Shape::of(&text);
        let mut problem = |line: usize, fault: Fault| {
            problems.push(Problem {
                file: chapter.clone(),
                line,
                fault,
            })
        };
        let Some(production) = shape.production else {
            problem(
                1,
                Fault::MissingPart {
                    heading: PRODUCTION.into(),
                },
            );
            continue;
        };
        if shape.core_words > CORE_WORDS {
            problem(
                production,
                Fault::LongCore {
                    words: shape.core_words,
                },
            );
        }
        match shape.summary {
            Some((line, items)) if line > production => {
                if !SUMMARY_LINES.contains(&items) {
                    problem(line, Fault::SummaryLength { items });
                }
            }
            _ => problem(
                production,
                Fault::MissingPart {
                    heading: SUMMARY.into(),
                },
            ),
        }
    }
    Ok(problems)
}

/// Each lesson chapter's file name and the words of its core, in file
/// order: what `book --check` reports.
///
/// # Errors
///
/// Fails if `src_dir`, a chapter or the workspace's manifests cannot be read.
pub fn core_words(src_dir: &Path, workspace_root: &Path) -> io::Result<Vec<(String, usize)>> {
    let packages = workspace_packages(workspace_root)?;
    let mut counts = Vec::new();
    for chapter in files_with_extension(src_dir, "md")? {
        let Some(stem) = chapter.file_stem().and_then(|stem| stem.to_str()) else {
            continue;
        };
        if packages.contains_key(stem) {
            let text = fs::read_to_string(&chapter)?;
            counts.push((format!("{stem}.md"), Shape::of(&text).core_words));
        }
    }
    Ok(counts)
}

/// What pass 6 reads of a chapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// The line of [`PRODUCTION`], if the chapter has it.
    pub production: Option<usize>,
    /// The words of prose before it (all of them, if there is none).
    pub core_words: usize,
    /// The line of [`SUMMARY`] and the items listed under it, if it is
    /// the chapter's last `##` section.
    pub summary: Option<(usize, usize)>,
}

impl Shape {
    /// Reads a chapter's parts.
    pub fn of(text: &str) -> Shape {
        let mut shape = Shape {
            production: None,
            core_words: 0,
            summary: None,
        };
        let mut in_code = false;
        for (number, line) in text.lines().enumerate() {
            if line.starts_with("```") {
                in_code = !in_code;
                continue;
            }
            if in_code {
                continue;
            }
            let heading = line.trim_end();
            if heading.starts_with("## ") {
                if heading == PRODUCTION && shape.production.is_none() {
                    shape.production = Some(number + 1);
                }
                shape.summary = (heading == SUMMARY).then_some((number + 1, 0));
            } else if let Some((_, items)) = &mut shape.summary {
                *items += usize::from(line.starts_with("- ") || line.starts_with("* "));
            }
            if shape.production.is_none() {
                shape.core_words += prose_words(line);
            }
        }
        shape
    }
}

/// The words of one line of Markdown prose: whitespace-separated, with
/// `{{#…}}` directives and `<!-- … -->` comments (on one line) left out.
pub fn prose_words(line: &str) -> usize {
    let mut rest = line;
    let mut words = 0;
    while !rest.is_empty() {
        let next = [rest.find("{{#"), rest.find("<!--")]
            .into_iter()
            .flatten()
            .min();
        let Some(at) = next else {
            words += rest.split_whitespace().count();
            break;
        };
        words += rest[..at].split_whitespace().count();
        let close = if rest[at..].starts_with("{{#") {
            "}}"
        } else {
            "-->"
        };
        rest = rest[at..]
            .find(close)
            .map_or("", |end| &rest[at + end + close.len()..]);
    }
    words
}

/// Pass 5: every listing of a chapter (`src_dir/*.md`: a fenced block that
/// includes a file) has a caption on the line before it, `**Listing L.N** —
/// `FILE``, naming exactly the files it includes (from `workspace_root`,
/// in order, separated by `, `), and numbered 1, 2, 3… within the chapter
/// under one `L` (the lesson's number).
///
/// # Errors
///
/// Fails if `src_dir` or a chapter cannot be read.
pub fn check_captions(src_dir: &Path, workspace_root: &Path) -> io::Result<Vec<Problem>> {
    let mut problems = Vec::new();
    for chapter in fs::read_dir(src_dir)? {
        let chapter = chapter?.path();
        if chapter.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = fs::read_to_string(&chapter)?;
        let base = chapter.parent().unwrap_or(src_dir);
        let mut prefix: Option<String> = None;
        let mut number = 0;
        for listing in listings(&text) {
            let files: Vec<String> = listing
                .includes
                .iter()
                .map(|file| relative_to(&base.join(file), workspace_root))
                .fold(Vec::new(), |mut files, file| {
                    if !files.contains(&file) {
                        files.push(file);
                    }
                    files
                });
            number += 1;
            let Some((caption_line, caption)) = listing.caption else {
                problems.push(Problem {
                    file: chapter.clone(),
                    line: listing.line,
                    fault: Fault::MissingCaption { files },
                });
                continue;
            };
            let written_prefix = caption
                .strip_prefix("**Listing ")
                .and_then(|rest| rest.split_once('.'))
                .map(|(prefix, _)| prefix.to_owned());
            let prefix = prefix.get_or_insert_with(|| written_prefix.unwrap_or("N".into()));
            let names: Vec<String> = files.iter().map(|f| format!("`{f}`")).collect();
            let expected = format!("**Listing {prefix}.{number}** — {}", names.join(", "));
            if caption != expected {
                problems.push(Problem {
                    file: chapter.clone(),
                    line: caption_line,
                    fault: Fault::WrongCaption {
                        caption: caption.to_owned(),
                        expected,
                    },
                });
            }
        }
    }
    problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    Ok(problems)
}

/// A fenced block that includes files, and the caption before it.
struct Listing<'a> {
    /// The line its fence opens on, counted from 1.
    line: usize,
    /// The files its directives name, as written.
    includes: Vec<String>,
    /// The line before it (counted from 1) and its text, if it reads as a
    /// caption (`**Listing …`).
    caption: Option<(usize, &'a str)>,
}

/// The listings of a chapter, in order.
fn listings(text: &str) -> Vec<Listing<'_>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].starts_with("```") {
            i += 1;
            continue;
        }
        let close = (i + 1..lines.len())
            .find(|&j| lines[j].starts_with("```"))
            .unwrap_or(lines.len());
        let body = lines[i + 1..close].join("\n");
        let includes: Vec<String> = directives(&body)
            .iter()
            .filter(|d| matches!(d.kind, "include" | "rustdoc_include"))
            .filter_map(|d| d.args.split_whitespace().next())
            .map(|arg| arg.split_once(':').map_or(arg, |(file, _)| file).to_owned())
            .collect();
        if !includes.is_empty() {
            let caption = (0..i)
                .rev()
                .find(|&j| !lines[j].trim().is_empty())
                .filter(|&j| lines[j].starts_with("**Listing "))
                .map(|j| (j + 1, lines[j]));
            found.push(Listing {
                line: i + 1,
                includes,
                caption,
            });
        }
        i = close + 1;
    }
    found
}

/// `path` from `root`, with `..` and `.` resolved and `/` between parts.
fn relative_to(path: &Path, root: &Path) -> String {
    let normal = |path: &Path| {
        let mut parts: Vec<String> = Vec::new();
        for part in path.components() {
            match part {
                std::path::Component::ParentDir => {
                    parts.pop();
                }
                std::path::Component::CurDir => {}
                other => parts.push(other.as_os_str().to_string_lossy().into_owned()),
            }
        }
        parts
    };
    let (path, root) = (normal(path), normal(root));
    match path.strip_prefix(root.as_slice()) {
        Some(rest) => rest.join("/"),
        None => path.join("/"),
    }
}

/// Words that belong to the project's history and plans, not to the
/// reader's book, matched whole and in any case: the tracker's `issue`s,
/// the design notes, the `target`s a benchmark was held to (`target/`, the
/// build directory, is fine), an `earlier version` of a lesson, and the
/// `seed` articles, which the introduction credits as "the source
/// articles".
pub const HISTORY_WORDS: [&str; 7] = [
    "issue",
    "issues",
    "design.md",
    "target",
    "targets",
    "earlier version",
    "seed",
];

/// Pass 4: reports every word of [`HISTORY_WORDS`] (and `seeds`) in the
/// chapters and in the files the scripts generate for them
/// (`src_dir/**/*.md`, `*.txt`, `*.svg`).
///
/// # Errors
///
/// Fails if `src_dir` or a file in it cannot be read.
pub fn check_words(src_dir: &Path) -> io::Result<Vec<Problem>> {
    let mut problems = Vec::new();
    let mut files = files_with_extension(src_dir, "md")?;
    files.extend(files_with_extension(src_dir, "txt")?);
    files.extend(files_with_extension(src_dir, "svg")?);
    files.sort();
    for file in files {
        let text = fs::read_to_string(&file)?;
        for (number, line) in text.lines().enumerate() {
            if let Some(word) = history_word(line) {
                problems.push(Problem {
                    file: file.clone(),
                    line: number + 1,
                    fault: Fault::ProjectHistory {
                        word: word.to_owned(),
                        text: line.trim().chars().take(100).collect(),
                    },
                });
            }
        }
        // What a chapter includes is read as part of it: the comments of
        // the code it shows, too. In code, "target" may be HTTP's request
        // target and "issue" what a ticket office does, so only the words
        // that can mean nothing else count there.
        let base = file.parent().unwrap_or(src_dir);
        for directive in directives(&text) {
            let Some(Ok((path, selected))) = selection(&directive, base) else {
                continue;
            };
            for line in selected.lines() {
                let in_code = |w: &str| !w.starts_with(['t', 'i']);
                if let Some(word) = history_word_among(line, in_code) {
                    problems.push(Problem {
                        file: file.clone(),
                        line: directive.line,
                        fault: Fault::ProjectHistory {
                            word: word.to_owned(),
                            text: format!(
                                "{} (included from {})",
                                line.trim().chars().take(100).collect::<String>(),
                                path.display()
                            ),
                        },
                    });
                }
            }
        }
    }
    Ok(problems)
}

/// The first history word in `line`, as it is written there.
fn history_word(line: &str) -> Option<&str> {
    history_word_among(line, |_| true)
}

/// The first history word in `line` for which `counts` holds (given the
/// word as listed, in lower case).
fn history_word_among(line: &str, counts: impl Fn(&str) -> bool) -> Option<&str> {
    let lower = line.to_ascii_lowercase();
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    for word in HISTORY_WORDS
        .iter()
        .copied()
        .chain(["seeds"])
        .filter(|w| counts(w))
    {
        let mut from = 0;
        while let Some(at) = lower[from..].find(word) {
            let start = from + at;
            let end = start + word.len();
            let before = lower[..start].chars().next_back();
            let after = lower[end..].chars().next();
            let whole = !before.is_some_and(is_word) && !after.is_some_and(is_word);
            // `target/…` is cargo's build directory, `CARGO_TARGET_DIR` a
            // setting: paths and names, not plans.
            let a_path = word.starts_with("target")
                && (after == Some('/') || before == Some('/') || before == Some('_'));
            // `METHOD TARGET HTTP/x.y`: a placeholder in capitals is a
            // name for something else (HTTP's request target, say).
            let found = &line[start..end];
            let a_placeholder =
                word != "design.md" && found.chars().all(|c| !c.is_ascii_lowercase());
            if whole && !a_path && !a_placeholder {
                return Some(found);
            }
            from = end;
        }
    }
    None
}

/// Pass 1: resolves every directive in `src_dir/**/*.md` as mdBook would and
/// reports those that name a missing file or anchor, or select only
/// whitespace.
///
/// Every Markdown file is checked, not only those listed in `SUMMARY.md`: a
/// snippet included from another chapter has its own directives, resolved
/// relative to itself, exactly as mdBook does.
///
/// # Errors
///
/// Fails if `src_dir` or a Markdown file in it cannot be read.
pub fn check_sources(src_dir: &Path) -> io::Result<Vec<Problem>> {
    let mut problems = Vec::new();
    for chapter in files_with_extension(src_dir, "md")? {
        let text = fs::read_to_string(&chapter)?;
        let base = chapter.parent().unwrap_or(src_dir);
        for directive in directives(&text) {
            if let Some(fault) = check_directive(&directive, base) {
                problems.push(Problem {
                    file: chapter.clone(),
                    line: directive.line,
                    fault,
                });
            }
        }
    }
    Ok(problems)
}

/// Pass 2: reports every `{{#` left in `build_dir/**/*.html`.
///
/// # Errors
///
/// Fails if `build_dir` or a page in it cannot be read.
pub fn check_output(build_dir: &Path) -> io::Result<Vec<Problem>> {
    let mut problems = Vec::new();
    for page in files_with_extension(build_dir, "html")? {
        let text = fs::read_to_string(&page)?;
        let mut from = 0;
        while let Some(at) = text[from..].find("{{") {
            let start = from + at;
            // mdBook allows whitespace between the braces and the `#`.
            if text[start + 2..].trim_start().starts_with('#') {
                problems.push(Problem {
                    file: page.clone(),
                    line: line_of(&text, start),
                    fault: Fault::LeftoverDirective {
                        text: excerpt(&text[start..]),
                    },
                });
            }
            // One byte on, not two: `{{{#` holds a `{{#` at its second brace.
            from = start + 1;
        }
    }
    Ok(problems)
}

/// Pass 3: reports every `cargo` command in `documents` that selects a
/// package (`-p NAME`, `-pNAME`, `-p=NAME`, `--package NAME`,
/// `--package=NAME`) not in `packages`, or one that is there but cannot
/// give the command its binary:
///
/// - `--bin BIN` (or `--bin=BIN`), on any command, must name one of the
///   package's binaries ([`Fault::UnknownBinary`]);
/// - `cargo run` (or `cargo r`) without `--bin` or `--example` needs a package
///   with exactly one binary, or several and a `default-run`
///   ([`Fault::AmbiguousRun`], [`Fault::NothingToRun`]). A `default-run`
///   naming no binary is not checked: cargo refuses such a manifest for every
///   command, so `cargo test` already fails on it.
///
/// A name that does not start like a package name, such as `<lesson>` in
/// `cargo run -p <lesson>`, is a placeholder and is not checked (nor is the
/// binary after `--bin <name>`). A command is read up to the end of its line,
/// a closing backtick, a shell operator, or the `--` that starts the
/// program's own arguments. A `--bin` without `-p` is not checked, nor is
/// the name after `--example`.
///
/// # Errors
///
/// Fails if a document cannot be read.
pub fn check_commands(
    documents: &[PathBuf],
    packages: &BTreeMap<String, Package>,
) -> io::Result<Vec<Problem>> {
    let mut problems = Vec::new();
    for document in documents {
        let text = fs::read_to_string(document)?;
        for (index, line) in text.lines().enumerate() {
            for command in cargo_commands(line) {
                for name in &command.packages {
                    let fault = match packages.get(name) {
                        None => Some(Fault::UnknownPackage {
                            command: command.text.clone(),
                            package: name.clone(),
                        }),
                        Some(package) => binary_fault(&command, name, package),
                    };
                    problems.extend(fault.map(|fault| Problem {
                        file: document.clone(),
                        line: index + 1,
                        fault,
                    }));
                }
            }
        }
    }
    Ok(problems)
}

/// What pass 3 needs to know about a package: the binaries a command may
/// run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Package {
    /// The names of its binary targets.
    pub binaries: BTreeSet<String>,
    /// The `default-run` of its `[package]` table, if it has one.
    pub default_run: Option<String>,
}

/// The workspace's packages by name: the one the root manifest describes,
/// if it has a `[package]` table, and each entry of `[workspace] members` in
/// it, with the binaries each has (see the [module](self) documentation for
/// how they are found).
///
/// This reads the manifests line by line rather than with a TOML parser,
/// which is enough for manifests written the usual way: one `key = value` per
/// line under a `[package]` or `[[bin]]` header, strings without escapes. It
/// does not see dotted keys (`package.name = …`), inline tables or arrays of
/// them (`bin = [{ name = … }]`), multi-line strings, or a line starting with
/// `[` inside a multi-line array. A member written as a glob is supported when
/// the `*` is its last component (`crates/*`). Binaries follow cargo's rules
/// for editions 2018 and later; a `[[bin]]`'s `required-features` is not
/// considered, and `[[bin]]` paths are compared as written, bar a leading
/// `./`.
///
/// # Errors
///
/// Fails if the root manifest, a member's manifest or a member's `src/bin`
/// directory cannot be read, or a member's manifest has no package name.
pub fn workspace_packages(workspace_root: &Path) -> io::Result<BTreeMap<String, Package>> {
    let text = fs::read_to_string(workspace_root.join("Cargo.toml"))?;
    let root = Manifest::parse(&text);
    let mut packages = BTreeMap::new();
    if let Some(name) = &root.name {
        packages.insert(name.clone(), root.package(name, workspace_root)?);
    }
    for member in workspace_members(&text) {
        let dirs = match member.strip_suffix("/*") {
            Some(parent) => {
                let mut dirs = Vec::new();
                for entry in fs::read_dir(workspace_root.join(parent))? {
                    let path = entry?.path();
                    if path.join("Cargo.toml").is_file() {
                        dirs.push(path);
                    }
                }
                dirs
            }
            None => vec![workspace_root.join(&member)],
        };
        for dir in dirs {
            let path = dir.join("Cargo.toml");
            let manifest = Manifest::parse(&fs::read_to_string(&path)?);
            let name = manifest.name.clone().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: no `name` in `[package]`", path.display()),
                )
            })?;
            let package = manifest.package(&name, &dir)?;
            packages.insert(name, package);
        }
    }
    Ok(packages)
}

/// The fault, if any, in asking `package` (named `name`) for the binary
/// `command` wants.
fn binary_fault(command: &CargoCommand, name: &str, package: &Package) -> Option<Fault> {
    let binaries = || package.binaries.iter().cloned().collect::<Vec<_>>();
    if let Some(binary) = &command.bin {
        return (!package.binaries.contains(binary)).then(|| Fault::UnknownBinary {
            command: command.text.clone(),
            package: name.to_owned(),
            binary: binary.clone(),
            binaries: binaries(),
        });
    }
    if !command.is_run() || command.picks_target {
        return None;
    }
    match package.binaries.len() {
        0 => Some(Fault::NothingToRun {
            command: command.text.clone(),
            package: name.to_owned(),
        }),
        1 => None,
        _ if package.default_run.is_some() => None,
        _ => Some(Fault::AmbiguousRun {
            command: command.text.clone(),
            package: name.to_owned(),
            binaries: binaries(),
        }),
    }
}

/// A `{{#kind args}}` directive found in a Markdown file.
#[derive(Debug, PartialEq, Eq)]
struct Directive<'a> {
    /// The whole directive, braces included.
    text: &'a str,
    /// `include`, `rustdoc_include`, ...
    kind: &'a str,
    /// Everything after the kind, trimmed.
    args: &'a str,
    /// The line it starts on, counted from 1.
    line: usize,
}

/// Finds the directives in `text` the way mdBook's link preprocessor does.
///
/// mdBook matches `\{\{\s*#([a-zA-Z0-9_]+)\s+([^}]+)\}\}`, and treats a
/// backslash before `{{#` as an escape that runs to the last `}}` on the
/// line. We follow the same rules by hand, which keeps regex out of our
/// dependencies and our results identical to what the book will show.
fn directives(text: &str) -> Vec<Directive<'_>> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = text[at..].find("{{") {
        let start = at + offset;
        // An escaped directive: skip to the last `}}` on this line, as
        // mdBook's greedy `\\\{\{\#.*\}\}` does. Without such a `}}` the
        // escape does not match and the braces are read as usual.
        if start > 0 && bytes[start - 1] == b'\\' && text[start + 2..].starts_with('#') {
            let line_end = text[start..].find('\n').map_or(text.len(), |n| start + n);
            if let Some(close) = text[start..line_end].rfind("}}") {
                at = start + close + 2;
                continue;
            }
        }
        match parse_directive(&text[start..]) {
            Some((len, kind, args)) => {
                found.push(Directive {
                    text: &text[start..start + len],
                    kind,
                    args,
                    line: line_of(text, start),
                });
                at = start + len;
            }
            None => at = start + 1,
        }
    }
    found
}

/// Parses a directive at the start of `s` (which starts with `{{`), returning
/// its length, kind and trimmed arguments.
fn parse_directive(s: &str) -> Option<(usize, &str, &str)> {
    let after_braces = &s[2..];
    let hash = after_braces.trim_start();
    let kind_start = s.len() - hash.strip_prefix('#')?.len();
    let kind_len = s[kind_start..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len() - kind_start);
    if kind_len == 0 {
        return None;
    }
    let kind = &s[kind_start..kind_start + kind_len];
    let args_start = kind_start + kind_len;
    // `\s+([^}]+)\}\}`: whitespace, then anything up to the first `}`, which
    // must be the first of two.
    let close = args_start + s[args_start..].find('}')?;
    let raw_args = &s[args_start..close];
    if !raw_args.starts_with(char::is_whitespace)
        || raw_args.len() < 2
        || !s[close..].starts_with("}}")
    {
        return None;
    }
    Some((close + 2, kind, raw_args.trim()))
}

/// Checks one directive found in a file whose directory is `base`.
fn check_directive(directive: &Directive<'_>, base: &Path) -> Option<Fault> {
    let (path, selected) = match selection(directive, base)? {
        Ok(selection) => selection,
        Err(fault) => return Some(fault),
    };
    // For `rustdoc_include` the lines outside the selection are still there,
    // hidden behind `# `; what the reader sees is the selection, so that is
    // what must not be blank.
    selected.trim().is_empty().then_some(Fault::EmptyInclude {
        directive: directive.text.to_owned(),
        path,
    })
}

/// The file a directive names and the text it selects from it, or the
/// fault that stops it; `None` for a directive that includes nothing
/// (`title`).
fn selection(directive: &Directive<'_>, base: &Path) -> Option<Result<(PathBuf, String), Fault>> {
    let text = directive.text.to_owned();
    match directive.kind {
        "include" | "rustdoc_include" | "playground" | "playpen" => {}
        "title" => return None,
        _ => return Some(Err(Fault::UnknownDirective { directive: text })),
    }
    // mdBook takes the first word as the file argument; the rest are
    // playground attributes.
    let file_arg = directive.args.split_whitespace().next()?;
    let (file, selector) = if directive.kind.starts_with("play") {
        (file_arg, None)
    } else {
        match file_arg.split_once(':') {
            Some((file, selector)) => (file, Some(selector)),
            None => (file_arg, None),
        }
    };
    let path = base.join(file);
    let contents = match fs::read_to_string(&path) {
        Ok(contents) => contents,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Some(Err(Fault::MissingFile {
                directive: text,
                path,
            }));
        }
        Err(e) => {
            return Some(Err(Fault::UnreadableFile {
                directive: text,
                path,
                reason: e.to_string(),
            }));
        }
    };
    let selected = match Selector::parse(selector.unwrap_or("")) {
        Selector::Lines { start, end } => take_lines(&contents, start, end),
        Selector::Anchor(anchor) => match take_anchor(&contents, &anchor) {
            Anchored::Found(lines) => lines,
            Anchored::Missing => {
                return Some(Err(Fault::MissingAnchor {
                    directive: text,
                    anchor,
                    path,
                }));
            }
            Anchored::Unclosed => {
                return Some(Err(Fault::UnclosedAnchor {
                    directive: text,
                    anchor,
                    path,
                }));
            }
        },
    };
    Some(Ok((path, selected)))
}

/// What part of a file a directive selects.
#[derive(Debug, PartialEq, Eq)]
enum Selector {
    /// Lines `start..end`, counted from 0, either bound open.
    Lines {
        start: Option<usize>,
        end: Option<usize>,
    },
    /// The lines between `ANCHOR: name` and `ANCHOR_END: name`.
    Anchor(String),
}

impl Selector {
    /// Parses what follows the first `:` of a file argument, as mdBook's
    /// `parse_range_or_anchor` does: `N` is line N alone, `N:M` lines N to M
    /// inclusive, `N:` from N on, `:M` up to M, empty the whole file, and
    /// anything that does not start with a number an anchor.
    fn parse(selector: &str) -> Selector {
        let mut parts = selector.splitn(3, ':');
        let first = parts.next().unwrap_or("");
        let start = if first.is_empty() {
            None
        } else if let Ok(line) = first.parse::<usize>() {
            // Lines are written counting from 1.
            Some(line.saturating_sub(1))
        } else {
            return Selector::Anchor(first.to_owned());
        };
        match (start, parts.next().map(str::parse::<usize>)) {
            (start, Some(Ok(end))) => Selector::Lines {
                start,
                end: Some(end),
            },
            (start, Some(Err(_))) => Selector::Lines { start, end: None },
            (Some(start), None) => Selector::Lines {
                start: Some(start),
                end: Some(start + 1),
            },
            (None, None) => Selector::Lines {
                start: None,
                end: None,
            },
        }
    }
}

/// The lines `start..end` of `text`, counted from 0.
fn take_lines(text: &str, start: Option<usize>, end: Option<usize>) -> String {
    let start = start.unwrap_or(0);
    let lines = text.lines().skip(start);
    let taken: Vec<&str> = match end {
        Some(end) => lines.take(end.saturating_sub(start)).collect(),
        None => lines.collect(),
    };
    taken.join("\n")
}

/// The result of looking for an anchor.
enum Anchored {
    /// The lines between the markers, other anchors' markers removed.
    Found(String),
    /// No `ANCHOR: name` line.
    Missing,
    /// `ANCHOR: name`, but no `ANCHOR_END: name` after it.
    Unclosed,
}

/// Takes the lines between `ANCHOR: name` and `ANCHOR_END: name`, dropping
/// the marker lines of any anchors nested inside, as mdBook does.
fn take_anchor(text: &str, name: &str) -> Anchored {
    let mut lines = text.lines();
    if !lines.any(|line| anchor_name(line, "ANCHOR:") == Some(name)) {
        return Anchored::Missing;
    }
    let mut kept = Vec::new();
    for line in lines {
        match anchor_name(line, "ANCHOR_END:") {
            Some(end) if end == name => return Anchored::Found(kept.join("\n")),
            Some(_) => {}
            None if anchor_name(line, "ANCHOR:").is_some() => {}
            None => kept.push(line),
        }
    }
    Anchored::Unclosed
}

/// The anchor name after `marker` on `line`, if any: mdBook's
/// `MARKER\s*([\w_-]+)`, first match wins.
fn anchor_name<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.match_indices(marker).find_map(|(at, _)| {
        let rest = line[at + marker.len()..].trim_start();
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(rest.len());
        (len > 0).then(|| &rest[..len])
    })
}

/// A `cargo` command found in a document, as far as pass 3 reads it.
#[derive(Debug, Default, PartialEq, Eq)]
struct CargoCommand {
    /// The command's text, for a message.
    text: String,
    /// The subcommand (`run`, `test`, ...), if there is one.
    subcommand: Option<String>,
    /// The packages it selects, placeholders left out.
    packages: Vec<String>,
    /// The binary `--bin` names, unless it is a placeholder.
    bin: Option<String>,
    /// Whether it chooses its own target (`--bin`, `--example`, ...), so
    /// that `cargo run` need not choose one.
    picks_target: bool,
}

impl CargoCommand {
    /// Whether this is `cargo run`, or its built-in alias `cargo r`.
    fn is_run(&self) -> bool {
        matches!(self.subcommand.as_deref(), Some("run" | "r"))
    }
}

/// Flags written together with their value, and the flag each stands for.
/// `-p=` comes before `-p`, which would otherwise take the `=` as the name.
const JOINED_FLAGS: [(&str, &str); 5] = [
    ("--package=", "-p"),
    ("-p=", "-p"),
    ("-p", "-p"),
    ("--bin=", "--bin"),
    ("--example=", "--example"),
];

/// What may follow a command in a sentence: "run `cargo run -p echo`, then".
const SENTENCE_PUNCTUATION: [char; 5] = [',', '.', ':', '!', '?'];

/// Every `cargo` command on `line`.
fn cargo_commands(line: &str) -> Vec<CargoCommand> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let mut found = Vec::new();
    for (start, token) in tokens.iter().enumerate() {
        if token.trim_start_matches(['`', '$', '(', '"', '\'']) != "cargo" {
            continue;
        }
        // Read the command up to whatever ends it.
        let mut end = start + 1;
        while end < tokens.len() {
            let token = tokens[end];
            if matches!(token, "&&" | "||" | ";" | "|" | "--") || token.starts_with('#') {
                break;
            }
            end += 1;
            // A closing quote ends it, even with a comma or full stop after.
            if token
                .trim_end_matches(SENTENCE_PUNCTUATION)
                .ends_with(['`', ';', ')', '"', '\''])
            {
                break;
            }
        }
        let command = &tokens[start..end];
        let mut cargo = CargoCommand {
            text: command
                .join(" ")
                .trim_end_matches(SENTENCE_PUNCTUATION)
                .trim_matches(['`', '$', '(', ')', '"', '\'', ';'])
                .trim_end()
                .to_owned(),
            ..CargoCommand::default()
        };
        let mut words = command.iter().skip(1).copied();
        while let Some(word) = words.next() {
            let (flag, value) = match word {
                "-p" | "--package" => ("-p", words.next()),
                "--bin" | "--example" => (word, words.next()),
                // Options of cargo itself that take a value: skip the value,
                // or it would be read as the subcommand.
                "--color" | "--config" | "-C" | "-Z" if cargo.subcommand.is_none() => {
                    words.next();
                    continue;
                }
                _ => {
                    let joined = JOINED_FLAGS.iter().find_map(|&(prefix, flag)| {
                        let value = word.strip_prefix(prefix)?;
                        (!value.is_empty()).then_some((flag, Some(value)))
                    });
                    match joined {
                        Some(joined) => joined,
                        None => {
                            // `--bins`, `--examples`: not for `cargo run`,
                            // but a choice of target all the same.
                            if word.starts_with("--bin") || word.starts_with("--example") {
                                cargo.picks_target = true;
                            } else if cargo.subcommand.is_none() && !word.starts_with(['-', '+']) {
                                cargo.subcommand = package_like(word).map(str::to_owned);
                            }
                            continue;
                        }
                    }
                }
            };
            let value = value.and_then(package_like).map(str::to_owned);
            match flag {
                "-p" => cargo.packages.extend(value),
                "--bin" => {
                    cargo.picks_target = true;
                    cargo.bin = value;
                }
                _ => cargo.picks_target = true,
            }
        }
        found.push(cargo);
    }
    found
}

/// The package name at the start of `word` (letters, digits, `-`, `_`), or
/// `None` for a placeholder such as `<lesson>`. Binary names, and the
/// subcommand, are read the same way.
fn package_like(word: &str) -> Option<&str> {
    let len = word
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or(word.len());
    (len > 0).then(|| &word[..len])
}

/// What pass 3 reads in a manifest: the `[package]` keys that matter to
/// `cargo run`, and the `[[bin]]` tables.
#[derive(Debug, PartialEq, Eq)]
struct Manifest {
    /// `[package] name`.
    name: Option<String>,
    /// `[package] default-run`.
    default_run: Option<String>,
    /// `[package] autobins`: whether cargo looks for binaries itself.
    autobins: bool,
    /// Each `[[bin]]` table, in order.
    bins: Vec<BinTable>,
}

/// A `[[bin]]` table of a manifest.
#[derive(Debug, Default, PartialEq, Eq)]
struct BinTable {
    /// Its `name` (cargo requires one; a table without is ignored).
    name: Option<String>,
    /// Its `path`, relative to the package's directory, if given.
    path: Option<String>,
}

impl Manifest {
    /// Reads a manifest line by line; see [`workspace_packages`] for what
    /// that covers.
    fn parse(text: &str) -> Manifest {
        /// The table the line being read is in.
        enum Table {
            Package,
            Bin,
            Other,
        }
        let mut manifest = Manifest {
            name: None,
            default_run: None,
            autobins: true,
            bins: Vec::new(),
        };
        let mut table = Table::Other;
        for line in text.lines() {
            let line = strip_comment(line).trim();
            if line.starts_with('[') {
                // `[[ bin ]]` is `[[bin]]` too.
                let header: String = line.split_whitespace().collect();
                table = match header.as_str() {
                    "[package]" => Table::Package,
                    "[[bin]]" => {
                        manifest.bins.push(BinTable::default());
                        Table::Bin
                    }
                    _ => Table::Other,
                };
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let string = || quoted_strings(value).into_iter().next();
            match (&table, key.trim()) {
                (Table::Package, "name") => manifest.name = manifest.name.take().or_else(string),
                (Table::Package, "default-run") => manifest.default_run = string(),
                (Table::Package, "autobins") => manifest.autobins = value.trim() != "false",
                (Table::Bin, key @ ("name" | "path")) => {
                    if let Some(bin) = manifest.bins.last_mut() {
                        let field = if key == "name" {
                            &mut bin.name
                        } else {
                            &mut bin.path
                        };
                        *field = string();
                    }
                }
                _ => {}
            }
        }
        manifest
    }

    /// The package this manifest describes, named `name`, in `dir`.
    fn package(&self, name: &str, dir: &Path) -> io::Result<Package> {
        Ok(Package {
            binaries: self.binaries(&inferred_binaries(name, dir)?),
            default_run: self.default_run.clone(),
        })
    }

    /// The package's binaries, given those found in its directory
    /// (`(name, path)` pairs from [`inferred_binaries`]), as cargo counts
    /// them: every named `[[bin]]`, and unless `autobins = false`, every
    /// found binary whose name and path no `[[bin]]` has taken.
    fn binaries(&self, inferred: &[(String, String)]) -> BTreeSet<String> {
        let mut binaries: BTreeSet<String> = self
            .bins
            .iter()
            .filter_map(|bin| bin.name.clone())
            .collect();
        if !self.autobins {
            return binaries;
        }
        let taken_paths: BTreeSet<&str> = self
            .bins
            .iter()
            .filter_map(|bin| bin.path.as_deref())
            .map(|path| path.trim_start_matches("./"))
            .collect();
        let taken_names = binaries.clone();
        for (name, path) in inferred {
            if !taken_names.contains(name) && !taken_paths.contains(path.as_str()) {
                binaries.insert(name.clone());
            }
        }
        binaries
    }
}

/// The binaries cargo finds by itself in the package `name` in `dir`, as
/// `(name, path)` pairs, the path relative to `dir` with `/` separators:
/// `src/main.rs` named after the package, `src/bin/NAME.rs` and
/// `src/bin/NAME/main.rs`. Like cargo, we skip names starting with `.`.
///
/// # Errors
///
/// Fails if `src/bin` exists but cannot be read.
fn inferred_binaries(name: &str, dir: &Path) -> io::Result<Vec<(String, String)>> {
    let mut found = Vec::new();
    if dir.join("src/main.rs").is_file() {
        found.push((name.to_owned(), "src/main.rs".to_owned()));
    }
    let entries = match fs::read_dir(dir.join("src/bin")) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        // A name that is not UTF-8 cannot be typed in a chapter anyway.
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        if file.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            if path.join("main.rs").is_file() {
                found.push((file.to_owned(), format!("src/bin/{file}/main.rs")));
            }
        } else if let Some(stem) = file.strip_suffix(".rs") {
            found.push((stem.to_owned(), format!("src/bin/{file}")));
        }
    }
    found.sort();
    Ok(found)
}

/// The entries of `members = [...]` in the `[workspace]` table of a
/// manifest; the array may span lines and hold comments.
fn workspace_members(manifest: &str) -> Vec<String> {
    let mut in_workspace = false;
    let mut array: Option<String> = None;
    for line in manifest.lines() {
        let line = strip_comment(line);
        if let Some(array) = array.as_mut() {
            array.push_str(line);
            if line.contains(']') {
                break;
            }
            continue;
        }
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_workspace = trimmed == "[workspace]";
        } else if in_workspace
            && let Some((key, value)) = trimmed.split_once('=')
            && key.trim() == "members"
        {
            if value.contains(']') {
                return quoted_strings(value);
            }
            array = Some(value.to_owned());
        }
    }
    array
        .map(|array| quoted_strings(&array))
        .unwrap_or_default()
}

/// `line` without a trailing `# comment` (a `#` inside a string is kept).
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    for (at, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(open), c) if c == open => quote = None,
            (None, '#') => return &line[..at],
            _ => {}
        }
    }
    line
}

/// Every `"…"` or `'…'` string in `text`, in order. Manifest paths and
/// package names need no escapes, so we do not decode any.
fn quoted_strings(text: &str) -> Vec<String> {
    let mut strings = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['"', '\'']) {
        let quote = &rest[open..=open];
        let after = &rest[open + 1..];
        let Some(close) = after.find(quote) else {
            break;
        };
        strings.push(after[..close].to_owned());
        rest = &after[close + 1..];
    }
    strings
}

/// Every file under `dir` (recursively) whose name ends in `.extension`,
/// sorted so that reports come out in a stable order.
fn files_with_extension(dir: &Path, extension: &str) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == extension) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The line, counted from 1, that byte `offset` of `text` is on.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].bytes().filter(|&b| b == b'\n').count() + 1
}

/// The start of `text` up to and including the first `}}`, at most about 80
/// bytes and one line, for a message.
fn excerpt(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    let end = line.find("}}").map_or(line.len(), |at| at + 2);
    let mut cut = end.min(80);
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    line[..cut].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_directives_like_mdbook() {
        let text = "a {{#include x.rs:one}} b\n{{ #rustdoc_include  ../y.rs }}\n\\{{#include skipped.rs}} and {{#title T}}\n{{#include}} {{#include x }";
        let found: Vec<_> = directives(text)
            .into_iter()
            .map(|d| (d.kind, d.args, d.line))
            .collect();
        assert_eq!(
            found,
            [
                ("include", "x.rs:one", 1),
                ("rustdoc_include", "../y.rs", 2),
            ]
        );
    }

    #[test]
    fn an_escape_without_closing_braces_is_no_escape() {
        let found = directives("\\{{#include a.rs");
        assert!(found.is_empty());
        // `[^}]+` crosses lines, so mdBook reads this as one directive whose
        // file argument is `a.rs`; so do we.
        let found = directives("\\{{#include a.rs\n{{#include b.rs}}");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].args.split_whitespace().next(), Some("a.rs"));
    }

    #[test]
    fn selectors_follow_mdbook() {
        let lines = |start, end| Selector::Lines { start, end };
        assert_eq!(Selector::parse(""), lines(None, None));
        assert_eq!(Selector::parse("3"), lines(Some(2), Some(3)));
        assert_eq!(Selector::parse("2:4"), lines(Some(1), Some(4)));
        assert_eq!(Selector::parse("5:"), lines(Some(4), None));
        assert_eq!(Selector::parse(":2"), lines(None, Some(2)));
        assert_eq!(Selector::parse("name"), Selector::Anchor("name".into()));
        let text = "1\n2\n3\n4\n5";
        assert_eq!(take_lines(text, Some(1), Some(4)), "2\n3\n4");
        assert_eq!(take_lines(text, Some(9), None), "");
    }

    #[test]
    fn anchors_follow_mdbook() {
        let text = "x\n// ANCHOR: outer\na\n// ANCHOR: inner\nb\n// ANCHOR_END: inner\n// ANCHOR_END: outer\n// ANCHOR: open\nc";
        assert!(matches!(take_anchor(text, "outer"), Anchored::Found(s) if s == "a\nb"));
        assert!(matches!(take_anchor(text, "inner"), Anchored::Found(s) if s == "b"));
        assert!(matches!(take_anchor(text, "out"), Anchored::Missing));
        assert!(matches!(take_anchor(text, "open"), Anchored::Unclosed));
    }

    #[test]
    fn reads_cargo_commands() {
        let names = |line| {
            cargo_commands(line)
                .into_iter()
                .flat_map(|c| c.packages)
                .collect::<Vec<_>>()
        };
        assert_eq!(names("$ cargo run -p echo -- 127.0.0.1:9100"), ["echo"]);
        assert_eq!(names("run `cargo run --package=push`, then"), ["push"]);
        assert_eq!(
            names("`cargo test -pframe -p=wiretap`."),
            ["frame", "wiretap"]
        );
        assert_eq!(names("cargo run --release --package chat."), ["chat"]);
        assert_eq!(names("in general `cargo run -p <lesson>`"), [] as [&str; 0]);
        assert_eq!(names("`cargo build` && ls -p x"), [] as [&str; 0]);
        let text = |line| {
            cargo_commands(line)
                .into_iter()
                .map(|c| c.text)
                .collect::<Vec<_>>()
        };
        assert_eq!(text("try `cargo run -p nope` now"), ["cargo run -p nope"]);
        assert_eq!(
            text("Run `cargo run -p echo`, then `cargo test -p echo`."),
            ["cargo run -p echo", "cargo test -p echo"]
        );
        assert_eq!(
            text("(`cargo run -p echo`): and cargo run -p push."),
            ["cargo run -p echo", "cargo run -p push"]
        );
    }

    #[test]
    fn reads_the_subcommand_and_the_target() {
        let one = |line| {
            let mut commands = cargo_commands(line);
            assert_eq!(commands.len(), 1, "{line}");
            commands.remove(0)
        };
        let run = one("`cargo run -p transports -- --bin x`");
        assert_eq!(run.subcommand.as_deref(), Some("run"));
        assert!(run.is_run());
        // `--bin` after `--` is the program's, not cargo's.
        assert_eq!((run.bin, run.picks_target), (None, false));

        let bin = one("$ cargo run -p echo --bin echo-client -- hello");
        assert_eq!(bin.bin.as_deref(), Some("echo-client"));
        assert!(bin.picks_target);
        let bin = one("`cargo run --bin=echo-client -p echo`.");
        assert_eq!(bin.bin.as_deref(), Some("echo-client"));
        assert_eq!(bin.packages, ["echo"]);

        let example = one("cargo run -p wiretap --example by_hand -- --rsv1");
        assert_eq!((example.bin, example.picks_target), (None, true));
        let example = one("cargo run -p wiretap --example=by_hand");
        assert!(example.picks_target);

        // A placeholder binary is not checked, but it is still a choice.
        let placeholder = one("cargo run -p echo --bin <name>");
        assert_eq!((placeholder.bin, placeholder.picks_target), (None, true));

        // Cargo's own options before the subcommand, a toolchain, the alias.
        assert_eq!(
            one("cargo +nightly --color always -q r -p x")
                .subcommand
                .as_deref(),
            Some("r")
        );
        assert!(one("cargo --locked r -p x").is_run());
        assert!(!one("`cargo test -p x`").is_run());
        assert!(!one("cargo -p x").is_run());
        assert_eq!(one("cargo run --bins -p x").bin, None);
        assert!(one("cargo run --bins -p x").picks_target);
    }

    #[test]
    fn reads_manifests() {
        let root = "[workspace]\nresolver = \"3\"\n# lessons\nmembers = [\n    \"crates/a\", # first\n    'crates/b',\n]\n\n[workspace.package]\nname = \"not-this\"\n";
        assert_eq!(workspace_members(root), ["crates/a", "crates/b"]);
        assert_eq!(Manifest::parse(root).name, None);
        let member = "[package]\nname = \"a\" # the lesson\nversion = \"0.1.0\"\n";
        assert_eq!(Manifest::parse(member).name.as_deref(), Some("a"));
        assert_eq!(
            workspace_members("[workspace]\nmembers = [\"x\", \"y\"]\n"),
            ["x", "y"]
        );
    }

    #[test]
    fn reads_what_a_manifest_says_about_binaries() {
        let manifest = Manifest::parse(
            "[package]\nname = \"t\"\n# `cargo run -p t` runs the lesson\ndefault-run = \"t\" # not the bench\n\n\
             [dependencies]\nname = \"not-this\"\n\n\
             [[bin]]\nname = \"tool\"\npath = \"src/tool.rs\"\nrequired-features = [\n    \"x\",\n]\n\n\
             [[ bin ]] # spaced\nname = 'other'\n\n\
             [[bench]]\nname = \"not-a-bin\"\n",
        );
        assert_eq!(
            manifest,
            Manifest {
                name: Some("t".into()),
                default_run: Some("t".into()),
                autobins: true,
                bins: vec![
                    BinTable {
                        name: Some("tool".into()),
                        path: Some("src/tool.rs".into()),
                    },
                    BinTable {
                        name: Some("other".into()),
                        path: None,
                    },
                ],
            }
        );
        let plain = Manifest::parse("[package]\nname = \"p\"\nautobins = false\n");
        assert_eq!(plain.default_run, None);
        assert!(!plain.autobins);
        assert!(plain.bins.is_empty());
    }

    #[test]
    fn counts_binaries_as_cargo_does() {
        let found = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|&(n, p)| (n.to_owned(), p.to_owned()))
                .collect()
        };
        let names = |set: BTreeSet<String>| set.into_iter().collect::<Vec<_>>();
        let inferred = found(&[
            ("t", "src/main.rs"),
            ("bench", "src/bin/bench.rs"),
            ("multi", "src/bin/multi/main.rs"),
        ]);
        let manifest = |text: &str| Manifest::parse(&format!("[package]\nname = \"t\"\n{text}"));

        // Found alone.
        assert_eq!(
            names(manifest("").binaries(&inferred)),
            ["bench", "multi", "t"]
        );
        // A `[[bin]]` renaming src/main.rs takes its place; one naming a
        // found binary with another path replaces it and takes that path's.
        assert_eq!(
            names(
                manifest("[[bin]]\nname = \"renamed\"\npath = \"./src/main.rs\"\n")
                    .binaries(&inferred)
            ),
            ["bench", "multi", "renamed"]
        );
        assert_eq!(
            names(
                manifest("[[bin]]\nname = \"bench\"\npath = \"src/bin/multi/main.rs\"\n")
                    .binaries(&inferred)
            ),
            ["bench", "t"]
        );
        // A `[[bin]]` without a path is one of the found ones (cargo
        // refuses a manifest where it is not).
        assert_eq!(
            names(manifest("[[bin]]\nname = \"bench\"\n").binaries(&inferred)),
            ["bench", "multi", "t"]
        );
        // `autobins = false` keeps only the tables, src/main.rs included.
        assert_eq!(
            names(manifest("autobins = false\n[[bin]]\nname = \"bench\"\n").binaries(&inferred)),
            ["bench"]
        );
        assert_eq!(
            names(manifest("autobins = false\n").binaries(&inferred)),
            [] as [&str; 0]
        );
    }

    #[test]
    fn finds_binaries_in_the_package_directory() {
        let dir = std::env::temp_dir().join(format!("book-unit-{}-bins", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for (file, contents) in [
            ("src/main.rs", "fn main() {}"),
            ("src/lib.rs", ""),
            ("src/bin/bench.rs", "fn main() {}"),
            ("src/bin/multi/main.rs", "fn main() {}"),
            ("src/bin/multi/helper.rs", ""),
            ("src/bin/no-main/helper.rs", ""),
            ("src/bin/.hidden.rs", ""),
            ("src/bin/notes.txt", ""),
        ] {
            let path = dir.join(file);
            fs::create_dir_all(path.parent().expect("a parent")).expect("create a directory");
            fs::write(path, contents).expect("write a file");
        }
        let found = inferred_binaries("t", &dir);
        let _ = fs::remove_dir_all(&dir);
        let found = found.expect("the directory reads");
        let pairs: Vec<(&str, &str)> = found
            .iter()
            .map(|(n, p)| (n.as_str(), p.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("bench", "src/bin/bench.rs"),
                ("multi", "src/bin/multi/main.rs"),
                ("t", "src/main.rs"),
            ]
        );
        // No src/bin at all is no error.
        assert_eq!(
            inferred_binaries("t", &std::env::temp_dir().join("book-unit-none")).expect("reads"),
            []
        );
    }

    #[test]
    fn says_which_binary_cargo_cannot_choose() {
        let package = |binaries: &[&str], default_run: Option<&str>| Package {
            binaries: binaries.iter().map(|&b| b.to_owned()).collect(),
            default_run: default_run.map(str::to_owned),
        };
        let fault = |line: &str, package: &Package| {
            let command = &cargo_commands(line)[0];
            binary_fault(command, "t", package).map(|f| f.to_string())
        };
        let two = package(&["t", "t-bench"], None);
        assert_eq!(
            fault("cargo run -p t", &two).as_deref(),
            Some(
                "`cargo run -p t` is ambiguous: the package has binaries t, t-bench and no default-run \
                 (name one with `--bin`, or set `default-run` in its `[package]`)"
            )
        );
        assert_eq!(fault("cargo run -p t --bin t-bench", &two), None);
        assert_eq!(fault("cargo run -p t --example demo", &two), None);
        assert_eq!(fault("cargo test -p t", &two), None);
        assert_eq!(
            fault("cargo run -p t", &package(&["t", "t-bench"], Some("t"))),
            None
        );
        assert_eq!(fault("cargo run -p t", &package(&["t"], None)), None);
        assert_eq!(
            fault("cargo run -p t", &package(&[], None)).as_deref(),
            Some("`cargo run -p t`: the package `t` has no binary to run")
        );
        assert_eq!(fault("cargo test -p t", &package(&[], None)), None);
        assert_eq!(
            fault("cargo run -p t --bin gone", &two).as_deref(),
            Some(
                "`cargo run -p t --bin gone`: the package `t` has no binary `gone` (its binaries: t, t-bench)"
            )
        );
        assert_eq!(
            fault("cargo build -p t --bin=gone", &package(&[], None)).as_deref(),
            Some(
                "`cargo build -p t --bin=gone`: the package `t` has no binary `gone` (it has no binaries)"
            )
        );
    }

    #[test]
    fn history_words_are_found_whole_and_paths_are_not() {
        assert_eq!(history_word("as issue 5 asks"), Some("issue"));
        assert_eq!(history_word("The Seed's demo"), Some("Seed"));
        assert_eq!(history_word("the seeds' table"), Some("seeds"));
        assert_eq!(history_word("DESIGN.md's table"), Some("DESIGN.md"));
        assert_eq!(history_word("see design.md"), Some("design.md"));
        assert_eq!(history_word("(target ≥ 0.95×)"), Some("target"));
        assert_eq!(
            history_word("An earlier version of lesson 5"),
            Some("earlier version")
        );
        for fine in [
            "open target/autobahn/echo/index.html",
            "CARGO_TARGET_DIR=/tmp/t cargo build",
            "seedless, issued, targeted, reissue",
            "a later version",
            "request line is not \"METHOD TARGET HTTP/x.y\"",
        ] {
            assert_eq!(history_word(fine), None, "{fine}");
        }
    }

    #[test]
    fn listings_need_captions_that_name_their_files_in_order() {
        let dir = std::env::temp_dir().join(format!("captions-{}", std::process::id()));
        let src = dir.join("book/src");
        fs::create_dir_all(&src).unwrap();
        let chapter = "Intro.\n\n\
            **Listing 5.1** — `crates/a/src/lib.rs`\n\n\
            ```rust,ignore\n{{#include ../../crates/a/src/lib.rs:one}}\n```\n\n\
            No caption:\n\n\
            ```rust,ignore\n{{#include ../../crates/a/src/lib.rs:two}}\n```\n\n\
            **Listing 5.2** — `crates/b/src/lib.rs`\n\n\
            ```rust,ignore\n{{#include ../../crates/a/src/lib.rs:three}}\n```\n\n\
            ```text\nno include, no caption needed\n```\n";
        fs::write(src.join("lesson.md"), chapter).unwrap();
        let problems = check_captions(&src, &dir).unwrap();
        let faults: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {}", p.line, p.fault))
            .collect();
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(faults.len(), 2, "{faults:#?}");
        assert!(
            faults[0].starts_with("11: a listing of crates/a/src/lib.rs has no caption"),
            "{faults:#?}"
        );
        assert!(
            faults[1].contains("should read \"**Listing 5.3** — `crates/a/src/lib.rs`\""),
            "{faults:#?}"
        );
    }
}
