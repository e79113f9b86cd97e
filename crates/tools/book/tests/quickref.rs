//! The quick reference's table of limits says what the code says: every
//! row names a constant, its file and its value, and the constant in that
//! file must have that value. A limit changed in the code and not in the
//! book fails here.

use std::fs;

use book::workspace_root;

/// A value as the table writes it (`8 KiB`, `16 MiB`, `10 s`, `500 ms`,
/// `1000`), in bytes, milliseconds or units.
fn table_value(text: &str) -> Option<f64> {
    let (number, unit) = text.split_once(' ').unwrap_or((text, ""));
    let n: f64 = number.parse().ok()?;
    let scale = match unit {
        "" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "s" => 1000.0,
        "ms" => 1.0,
        _ => return None,
    };
    Some(n * scale)
}

/// A constant's expression as the code writes it (`8 * 1024`, `10_000`,
/// `5.0`, `Duration::from_secs(10)`, `Duration::from_millis(500)`), in the
/// same units.
fn code_value(expr: &str) -> Option<f64> {
    let expr = expr.trim();
    for (call, scale) in [
        ("Duration::from_secs(", 1000.0),
        ("Duration::from_millis(", 1.0),
    ] {
        if let Some(inner) = expr.strip_prefix(call).and_then(|e| e.strip_suffix(')')) {
            return code_value(inner).map(|n| n * scale);
        }
    }
    expr.split('*')
        .map(|factor| factor.trim().replace('_', "").parse::<f64>().ok())
        .product()
}

#[test]
fn every_limit_in_the_quick_reference_has_the_value_of_its_constant() {
    let root = workspace_root();
    let page = fs::read_to_string(root.join("book/src/quickref.md")).unwrap();
    let section = page
        .split("## Our limits")
        .nth(1)
        .expect("the quick reference has a section on our limits");
    let section = section.split("\n## ").next().unwrap();
    let mut checked = 0;
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (name, value, file) = (cells[1], cells[2], cells[3]);
        let name = name.trim_matches('`');
        let constant = name.rsplit("::").next().unwrap();
        let file = file.trim_matches('`');
        let source = fs::read_to_string(root.join(file))
            .unwrap_or_else(|e| panic!("{name}: cannot read {file}: {e}"));
        let definition = source
            .lines()
            .find(|l| l.starts_with(&format!("pub const {constant}:")))
            .unwrap_or_else(|| panic!("{name}: no `pub const {constant}` in {file}"));
        let expr = definition
            .split_once('=')
            .map(|(_, e)| e.trim_end_matches(';'))
            .unwrap();
        let (want, got) = (table_value(value), code_value(expr));
        assert!(
            want.is_some(),
            "{name}: the table's value {value:?} is not one this test reads"
        );
        assert_eq!(
            want, got,
            "{name}: the book says {value}, {file} says {expr}"
        );
        checked += 1;
    }
    assert!(
        checked >= 20,
        "only {checked} limits read: is the table still there?"
    );
}

#[test]
fn the_readers_understand_every_form_used() {
    assert_eq!(table_value("8 KiB"), code_value("8 * 1024"));
    assert_eq!(table_value("16 MiB"), code_value("16 * 1024 * 1024"));
    assert_eq!(table_value("10 s"), code_value("Duration::from_secs(10)"));
    assert_eq!(
        table_value("500 ms"),
        code_value("Duration::from_millis(500)")
    );
    assert_eq!(table_value("10000"), code_value("10_000"));
    assert_eq!(table_value("5"), code_value("5.0"));
    assert_ne!(table_value("4 KiB"), code_value("8 * 1024"));
    assert_eq!(code_value("CLOSE_TIMEOUT.as_secs() + 1"), None);
}
