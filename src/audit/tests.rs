use super::*;

/// The ids quoted in `text`, in order: every `"TS-…"` string literal.
fn quoted_ids(text: &str) -> Vec<&str> {
    text.split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with("TS-"))
        .collect()
}

#[test]
fn ids_are_well_formed_and_unique() {
    let ids: Vec<&str> = catalogue().iter().map(FindingInfo::id).collect();

    for (i, id) in ids.iter().enumerate() {
        let parts: Vec<&str> = id.split('-').collect();
        let well_formed = parts.len() == 3
            && parts[0] == "TS"
            && !parts[1].is_empty()
            && parts[1].bytes().all(|b| b.is_ascii_uppercase())
            && parts[2].len() == 3
            && parts[2].bytes().all(|b| b.is_ascii_digit());
        assert!(well_formed, "{id}");
        assert!(!ids[..i].contains(id), "{id} twice");
    }
}

#[test]
fn the_docs_table_lists_exactly_the_catalogue() {
    let table = include_str!("../../docs/audit.md");
    let rows: Vec<Vec<&str>> = table
        .lines()
        .filter(|line| line.starts_with("| `TS-"))
        .map(|line| line.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();

    let documented: Vec<&str> = rows.iter().map(|row| row[0].trim_matches('`')).collect();
    let catalogued: Vec<&str> = catalogue().iter().map(FindingInfo::id).collect();
    assert_eq!(documented, catalogued);
    for (row, info) in rows.iter().zip(catalogue()) {
        assert_eq!(row[1], info.severity().as_str(), "{}", info.id());
        assert!(info.owasp().starts_with(row[4]), "{}", info.id());
        assert_eq!(row[5], info.pci_dss(), "{}", info.id());
        assert_eq!(row[6], info.soc2(), "{}", info.id());
    }
}

#[test]
fn every_rule_id_is_catalogued_and_every_entry_has_a_rule() {
    let reported = quoted_ids(include_str!("rules.rs"));

    for id in &reported {
        assert!(lookup(id).is_some(), "{id} is reported but not catalogued");
    }
    for info in catalogue() {
        assert!(reported.contains(&info.id()), "{} has no rule", info.id());
    }
}

#[test]
fn display_marks_severity_fix_and_silenced() {
    let info = lookup("TS-HSTS-001").unwrap();
    let finding = |silenced| Finding {
        info,
        message: info.summary.to_owned(),
        silenced,
    };
    let audit = Audit {
        findings: vec![finding(false)],
        silenced: vec![finding(true)],
    };

    let text = audit.to_string();

    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].starts_with("[HIGH] TS-HSTS-001 HSTS is off: "),
        "{text}"
    );
    assert!(
        lines[0].contains(" Fix: keep `hsts` at its default"),
        "{text}"
    );
    assert!(!lines[0].ends_with("(silenced)"), "{text}");
    assert!(lines[1].ends_with(" (silenced)"), "{text}");
    assert_eq!(Audit::default().to_string(), "no findings");
}

#[test]
fn severities_order_from_info_to_critical() {
    let ordered = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    assert!(ordered.windows(2).all(|pair| pair[0] < pair[1]));
    assert_eq!(Severity::Medium.to_string(), "MEDIUM");
    assert_eq!(Severity::Medium.as_str(), "medium");
}
