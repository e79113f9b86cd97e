//! The checker: what mdBook lets through without a word.
//!
//! A chapter shows code with `{{#include ../../crates/frame/src/lib.rs:parse}}`
//! and the lesson marks the lines with `// ANCHOR: parse` and
//! `// ANCHOR_END: parse`. Rename the anchor, move the file, or delete the
//! lines in between, and mdBook still builds: a missing file is logged and the
//! raw directive is left in the page, a missing anchor becomes an empty code
//! block. The chapter then explains code the reader cannot see.
//!
//! So we check, in three passes, each reporting every problem with its file
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
//!    command that cannot work.
//!
//! One consequence of pass 2: a chapter cannot *show* the text `{{#`, even
//! escaped. We have never needed to.

use std::collections::BTreeSet;
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
        }
    }
}

/// Runs all three passes on a built book and returns every problem found;
/// an empty list means the book is sound.
///
/// `book_root` holds `book.toml`, `build_dir` the HTML that [`crate::build`]
/// returned, `workspace_root` the root `Cargo.toml` whose members are the
/// packages a command may name. The commands checked are those in the book's
/// sources and in the workspace's `README.md`, if there is one.
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
    Ok(problems)
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
/// `--package=NAME`) not in `packages`.
///
/// A name that does not start like a package name, such as `<lesson>` in
/// `cargo run -p <lesson>`, is a placeholder and is not checked. A command is
/// read up to the end of its line, a closing backtick, a shell operator, or
/// the `--` that starts the program's own arguments.
///
/// # Errors
///
/// Fails if a document cannot be read.
pub fn check_commands(
    documents: &[PathBuf],
    packages: &BTreeSet<String>,
) -> io::Result<Vec<Problem>> {
    let mut problems = Vec::new();
    for document in documents {
        let text = fs::read_to_string(document)?;
        for (index, line) in text.lines().enumerate() {
            for (command, package) in cargo_packages(line) {
                if !packages.contains(&package) {
                    problems.push(Problem {
                        file: document.clone(),
                        line: index + 1,
                        fault: Fault::UnknownPackage { command, package },
                    });
                }
            }
        }
    }
    Ok(problems)
}

/// The names of the workspace's packages: the `name` in the `[package]`
/// table of each entry of `[workspace] members` in the root manifest (and of
/// the root manifest itself, if it has one).
///
/// This reads the manifests line by line rather than with a TOML parser,
/// which is enough for manifests written the usual way; a member written as
/// a glob is supported when the `*` is its last component (`crates/*`).
///
/// # Errors
///
/// Fails if the root manifest, or a member's manifest, cannot be read, or a
/// member's manifest has no package name.
pub fn workspace_packages(workspace_root: &Path) -> io::Result<BTreeSet<String>> {
    let manifest = fs::read_to_string(workspace_root.join("Cargo.toml"))?;
    let mut packages = BTreeSet::new();
    if let Some(name) = package_name(&manifest) {
        packages.insert(name);
    }
    for member in workspace_members(&manifest) {
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
            let text = fs::read_to_string(&path)?;
            let name = package_name(&text).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: no `name` in `[package]`", path.display()),
                )
            })?;
            packages.insert(name);
        }
    }
    Ok(packages)
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
    let text = directive.text.to_owned();
    match directive.kind {
        "include" | "rustdoc_include" | "playground" | "playpen" => {}
        "title" => return None,
        _ => return Some(Fault::UnknownDirective { directive: text }),
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
            return Some(Fault::MissingFile {
                directive: text,
                path,
            });
        }
        Err(e) => {
            return Some(Fault::UnreadableFile {
                directive: text,
                path,
                reason: e.to_string(),
            });
        }
    };
    let selected = match Selector::parse(selector.unwrap_or("")) {
        Selector::Lines { start, end } => take_lines(&contents, start, end),
        Selector::Anchor(anchor) => match take_anchor(&contents, &anchor) {
            Anchored::Found(lines) => lines,
            Anchored::Missing => {
                return Some(Fault::MissingAnchor {
                    directive: text,
                    anchor,
                    path,
                });
            }
            Anchored::Unclosed => {
                return Some(Fault::UnclosedAnchor {
                    directive: text,
                    anchor,
                    path,
                });
            }
        },
    };
    // For `rustdoc_include` the lines outside the selection are still there,
    // hidden behind `# `; what the reader sees is the selection, so that is
    // what must not be blank.
    selected.trim().is_empty().then_some(Fault::EmptyInclude {
        directive: text,
        path,
    })
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

/// The packages selected by each `cargo` command on `line`, with the
/// command's text for the message.
fn cargo_packages(line: &str) -> Vec<(String, String)> {
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
            if token.ends_with(['`', ';', ')', '"', '\'']) {
                break;
            }
        }
        let command = &tokens[start..end];
        let text = command
            .join(" ")
            .trim_matches(['`', '$', '(', ')', '"', '\'', ';'])
            .to_owned();
        let mut words = command.iter().skip(1);
        while let Some(word) = words.next() {
            let value = match *word {
                "-p" | "--package" => words.next().copied(),
                _ => word
                    .strip_prefix("--package=")
                    .or_else(|| word.strip_prefix("-p=").or_else(|| word.strip_prefix("-p")))
                    .filter(|value| !value.is_empty()),
            };
            if let Some(name) = value.and_then(package_like) {
                found.push((text.clone(), name.to_owned()));
            }
        }
    }
    found
}

/// The package name at the start of `word` (letters, digits, `-`, `_`), or
/// `None` for a placeholder such as `<lesson>`.
fn package_like(word: &str) -> Option<&str> {
    let len = word
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or(word.len());
    (len > 0).then(|| &word[..len])
}

/// The `name` in the `[package]` table of a manifest.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines() {
        let line = strip_comment(line).trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "name"
        {
            return quoted_strings(value).into_iter().next();
        }
    }
    None
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
            cargo_packages(line)
                .into_iter()
                .map(|(_, p)| p)
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
        let (command, _) = &cargo_packages("try `cargo run -p nope` now")[0];
        assert_eq!(command, "cargo run -p nope");
    }

    #[test]
    fn reads_manifests() {
        let root = "[workspace]\nresolver = \"3\"\n# lessons\nmembers = [\n    \"crates/a\", # first\n    'crates/b',\n]\n\n[workspace.package]\nname = \"not-this\"\n";
        assert_eq!(workspace_members(root), ["crates/a", "crates/b"]);
        assert_eq!(package_name(root), None);
        let member = "[package]\nname = \"a\" # the lesson\nversion = \"0.1.0\"\n";
        assert_eq!(package_name(member).as_deref(), Some("a"));
        assert_eq!(
            workspace_members("[workspace]\nmembers = [\"x\", \"y\"]\n"),
            ["x", "y"]
        );
    }
}
