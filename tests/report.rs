//! The compliance report of `examples/report.rs`: one row per control of the strict preset,
//! every mapping filled in, then the audit findings.

use tower_security::SecurityLayer;

#[path = "../examples/report.rs"]
#[allow(dead_code)]
mod report;

/// The cells of a table row, split at every `|` that is not escaped.
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cells.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => cells.push(String::new()),
            _ => cells.last_mut().unwrap().push(c),
        }
    }
    cells
        .iter()
        .map(|cell| cell.trim().trim_matches('`').to_owned())
        .collect()
}

#[test]
fn the_strict_report_has_one_mapped_row_per_control() {
    let layer = SecurityLayer::strict();
    let controls = layer.controls();

    let text = report::render(&layer);

    let (table, findings) = text.split_once("## Audit findings").unwrap();
    let rows: Vec<Vec<String>> = table
        .lines()
        .filter(|line| line.starts_with('|'))
        .map(cells)
        .collect();
    let header = [
        "policy area",
        "control",
        "setting",
        "active value",
        "OWASP",
        "PCI-DSS",
        "SOC 2",
        "proven by",
    ];
    assert_eq!(rows[0], header);
    assert!(rows[1].iter().all(|cell| cell == "---"));
    let body = &rows[2..];
    assert_eq!(body.len(), controls.len());
    for control in &controls {
        let row = body
            .iter()
            .find(|row| row[1] == control.name())
            .unwrap_or_else(|| panic!("no row for {}", control.name()));
        assert_eq!(row.len(), 8, "{}", control.name());
        assert_eq!(row[3], control.value(), "{}", control.name());
        for (column, cell) in header.iter().zip(row).skip(4) {
            assert!(!cell.is_empty(), "{}: empty {column}", control.name());
        }
        assert!(row[7].starts_with("tests/"), "{}", control.name());
    }
    assert!(findings.contains("TS-HOSTS-001"));
    assert!(!text.to_lowercase().contains("unknown"));
}

#[test]
fn a_pipe_in_a_value_stays_inside_its_cell() {
    // `|` is a token character, so a header name may hold one.
    let layer = SecurityLayer::builder()
        .strip_header("x-debug|trace")
        .build()
        .unwrap();

    let text = report::render(&layer);

    let row = text
        .lines()
        .find(|line| line.contains("fingerprinting headers"))
        .map(cells)
        .unwrap();
    assert!(text.contains("x-debug\\|trace"));
    assert_eq!(row.len(), 8);
    assert!(row[3].ends_with(", x-debug|trace"), "{}", row[3]);
}
