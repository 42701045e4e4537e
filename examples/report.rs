//! A compliance report for `SecurityLayer::strict()`: every active control with the builder
//! method that tunes it, its OWASP Top 10 2021, PCI-DSS v4.0 and SOC 2 mappings and the
//! integration test that proves it, then the self-audit's findings.
//!
//! ```text
//! cargo run --example report              # Markdown on stdout
//! cargo run --example report > report.md  # for an audit record
//! ```
//!
//! The mappings are a starting point for an assessor, not a claim of compliance.

use std::fmt::Write;

use tower_security::SecurityLayer;

/// The table's columns, in order.
pub const COLUMNS: [&str; 8] = [
    "policy area",
    "control",
    "setting",
    "active value",
    "OWASP",
    "PCI-DSS",
    "SOC 2",
    "proven by",
];

/// The report for `layer` as Markdown: the control table, then the audit findings.
pub fn render(layer: &SecurityLayer) -> String {
    let mut out = String::from("# Security controls\n\n");
    out.push_str(&row(COLUMNS.map(str::to_owned)));
    out.push_str(&row(COLUMNS.map(|_| "---".to_owned())));
    for control in layer.controls() {
        let cells = [
            escape(control.area()),
            code(control.name()),
            code(control.setting()),
            code(control.value()),
            escape(control.owasp()),
            escape(control.pci_dss()),
            escape(control.soc2()),
            code(control.proven_by()),
        ];
        out.push_str(&row(cells));
    }
    out.push_str("\n## Audit findings\n\n");
    for line in layer.audit().to_string().lines() {
        let _ = writeln!(out, "- {line}");
    }

    out
}

fn row(cells: [String; 8]) -> String {
    format!("| {} |\n", cells.join(" | "))
}

/// A `|` inside a cell would end it, so it is escaped; GitHub's tables need that even inside
/// code spans.
fn escape(cell: &str) -> String {
    cell.replace('|', "\\|")
}

/// The cell as a code span, unless a backtick in it would end the span early.
fn code(cell: &str) -> String {
    match cell.contains('`') {
        true => escape(cell),
        false => format!("`{}`", escape(cell)),
    }
}

fn main() {
    print!("{}", render(&SecurityLayer::strict()));
}
