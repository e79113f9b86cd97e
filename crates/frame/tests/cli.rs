//! The `frame` binary: hex in, annotated frames out; bad hex is exit code 2.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_frame"))
        .args(args)
        .output()
        .expect("the frame binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

#[test]
fn annotates_the_masked_hello() {
    let output = run(&[
        "81", "85", "37", "fa", "21", "3d", "7f", "9f", "4d", "51", "58",
    ]);
    assert!(output.status.success());
    let text = stdout(&output);
    for needle in [
        "text (0x1), final, masked, 5-byte payload, 11 bytes in all",
        "FIN = 1",
        "MASK = 1",
        "37 fa 21 3d    masking key",
        "masked:     7f 9f 4d 51 58",
        "unmasked:   48 65 6c 6c 6f",
        "\"Hello\"",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from\n{text}");
    }
}

#[test]
fn accepts_joined_and_prefixed_hex() {
    let spaced = stdout(&run(&[
        "81", "85", "37", "fa", "21", "3d", "7f", "9f", "4d", "51", "58",
    ]));
    for args in [
        &["818537fa213d7f9f4d5158"][..],
        &["0x81,0x85,0x37,0xfa,0x21,0x3d,0x7f,0x9f,0x4d,0x51,0x58"],
        &["81 85 37fa", "213d7f9f4d5158"],
    ] {
        assert_eq!(stdout(&run(args)), spaced, "{args:?}");
    }
}

#[test]
fn several_frames_then_an_incomplete_one() {
    // "Hel", "lo", then a header promising 5 bytes with only 2 present.
    let output = run(&["01 03 48 65 6c 80 02 6c 6f 81 05 48 65"]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(text.contains("frame 1 (bytes 0-4 of the input)"), "{text}");
    assert!(text.contains("frame 2 (bytes 5-8 of the input)"), "{text}");
    assert!(text.contains("frame 3 (bytes 9-12 of the input)"), "{text}");
    assert!(
        text.contains("incomplete: header says 3 more bytes needed"),
        "{text}"
    );
}

#[test]
fn invalid_frames_name_the_rule_and_the_close_code() {
    let text = stdout(&run(&["c1 85 37 fa 21 3d 7f 9f 4d 51 58"]));
    assert!(text.contains("RSV bits set"), "{text}");
    assert!(text.contains("close 1002 (protocol error)"), "{text}");
}

#[test]
fn bad_hex_is_exit_code_2_with_a_message() {
    for args in [&["81", "zz"][..], &["818"], &["0x"], &[","]] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty());
    }
}

#[test]
fn no_arguments_walks_through_rfc_6455_section_5_7() {
    let output = run(&[]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert_eq!(
        text.matches("== RFC 6455 §5.7, example").count(),
        7,
        "{text}"
    );
    assert!(text.contains("7+16-bit form"), "{text}");
    assert!(text.contains("7+64-bit form"), "{text}");
    assert!(
        !text.contains("error:"),
        "the RFC's examples are all valid:\n{text}"
    );
}

#[test]
fn from_flags_check_the_masking_rule() {
    let text = stdout(&run(&["--from-server", "81 c8 41 42 43 44"]));
    assert!(text.contains("a server MUST NOT mask"), "{text}");
    assert!(text.contains("close 1002 (protocol error)"), "{text}");
    let text = stdout(&run(&["--from-client", "81 05 48 65 6c 6c 6f"]));
    assert!(text.contains("a client MUST mask"), "{text}");
    let text = stdout(&run(&["--from-client", "81 85 37 fa 21 3d 7f 9f 4d 51 58"]));
    assert!(!text.contains("error"), "{text}");
}

/// The chapter pastes the CLI's output after each `cargo run -p frame -- ...`
/// block. Run every one of those commands and compare, so the book can never
/// show output the program no longer prints.
#[test]
fn chapter_shows_the_real_output() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../book/src/frame.md");
    let chapter = std::fs::read_to_string(path).expect("book/src/frame.md");
    let blocks: Vec<&str> = chapter
        .split("```text\n")
        .skip(1)
        .filter_map(|rest| rest.split_once("\n```").map(|(block, _)| block))
        .collect();
    let mut checked = 0;
    for pair in blocks.windows(2) {
        let Some(args) = pair[0].strip_prefix("cargo run -p frame -- ") else {
            continue;
        };
        if pair[1].starts_with("cargo ") {
            continue; // a command without pasted output
        }
        let args: Vec<&str> = args.split_whitespace().collect();
        let actual = stdout(&run(&args));
        assert_eq!(actual.trim_end(), pair[1], "output of `{}`", pair[0]);
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} outputs found in the chapter");
}

#[test]
fn help_and_mistakes_as_every_program() {
    support::program_check::help_and_mistakes(env!("CARGO_BIN_EXE_frame"));
}
