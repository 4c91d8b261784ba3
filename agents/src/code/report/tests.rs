//! A small Rust repository analysed end to end.

use super::*;
use crate::code::licence::LicenceSource;

fn sized(path: &str, size: u64) -> RepoFile {
    RepoFile { path: path.to_owned(), size, text: None, executable: false }
}

const CARGO: &str = "[package]\nname = \"tiny\"\nlicense = \"MIT\"\n\n[dependencies]\nserde = \"1\"\n";
const MIT: &str = "MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\n";

fn repository() -> Vec<RepoFile> {
    vec![
        RepoFile::text("Cargo.toml", CARGO),
        sized("src/lib.rs", 6_000),
        sized("src/code/parse.rs", 2_000),
        sized("tests/api.rs", 1_000),
        sized("scripts/release.sh", 1_000),
        sized("README.md", 500),
        RepoFile::text("LICENSE", MIT),
        sized("assets/logo.png", 2_048),
        sized("data/orders.csv", 4_096),
        sized("node_modules/left-pad/index.js", 9_999),
        sized("config.json", 100),
    ]
}

#[test]
fn counts_kinds_extensions_languages_and_tree() {
    let files = repository();
    let report = analyze("acme/tiny", &files);
    assert_eq!(report.name, "acme/tiny");
    assert_eq!(report.files, 11);
    assert_eq!(report.bytes, 26_743 + CARGO.len() as u64 + MIT.len() as u64);
    assert_eq!(
        report.by_kind,
        vec![
            (FileKind::Source, 4),
            (FileKind::Test, 1),
            (FileKind::Documentation, 2),
            (FileKind::Configuration, 2),
            (FileKind::Data, 1),
            (FileKind::Asset, 1),
        ]
    );
    let extensions: Vec<(&str, usize)> = report.by_extension.iter().map(|(e, n)| (e.as_str(), *n)).collect();
    assert_eq!(
        extensions,
        vec![
            ("rs", 3),
            ("(none)", 1),
            ("csv", 1),
            ("js", 1),
            ("json", 1),
            ("md", 1),
            ("png", 1),
            ("sh", 1),
            ("toml", 1),
        ]
    );
    assert_eq!(
        report.languages,
        vec![
            LanguageShare { name: "Rust".to_owned(), files: 3, bytes: 9_000, share: 0.9 },
            LanguageShare { name: "Shell".to_owned(), files: 1, bytes: 1_000, share: 0.1 },
        ]
    );
    let tree: Vec<(&str, usize, u64)> = report.tree.iter().map(|t| (t.path.as_str(), t.files, t.bytes)).collect();
    assert_eq!(
        tree,
        vec![
            ("assets", 1, 2_048),
            ("data", 1, 4_096),
            ("node_modules", 1, 9_999),
            ("node_modules/left-pad", 1, 9_999),
            ("scripts", 1, 1_000),
            ("src", 2, 8_000),
            ("src/code", 1, 2_000),
            ("tests", 1, 1_000),
        ]
    );
    assert_eq!(
        report.top_level(),
        vec![
            "assets/ (1 file)".to_owned(),
            "data/ (1 file)".to_owned(),
            "node_modules/ (1 file)".to_owned(),
            "scripts/ (1 file)".to_owned(),
            "src/ (2 files)".to_owned(),
            "tests/ (1 file)".to_owned(),
        ]
    );
    assert_eq!(report.language_bytes(), vec![("Rust".to_owned(), 9_000), ("Shell".to_owned(), 1_000)]);
}

#[test]
fn reads_manifest_and_licences() {
    let report = analyze("acme/tiny", &repository());
    assert_eq!(report.meta.name.as_deref(), Some("tiny"));
    assert!(report.meta.is_library);
    let deps: Vec<&str> = report.dependencies.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(deps, vec!["serde"]);
    assert_eq!(
        report.licences,
        vec![
            FoundLicence { path: "LICENSE".to_owned(), spdx: Some("MIT".to_owned()), source: LicenceSource::File },
            FoundLicence {
                path: "Cargo.toml".to_owned(),
                spdx: Some("MIT".to_owned()),
                source: LicenceSource::Manifest
            },
        ]
    );
    assert!(report.warnings.is_empty());
}

#[test]
fn shares_round_to_four_places() {
    let files = [sized("a.rs", 1), sized("b.py", 2)];
    let report = analyze("x", &files);
    let shares: Vec<(&str, f64)> = report.languages.iter().map(|l| (l.name.as_str(), l.share)).collect();
    assert_eq!(shares, vec![("Python", 0.6667), ("Rust", 0.3333)]);
}

#[test]
fn empty_repository() {
    let report = analyze("acme/empty", &[]);
    assert_eq!(report.files, 0);
    assert_eq!(report.bytes, 0);
    assert!(report.by_kind.is_empty());
    assert!(report.languages.is_empty());
    assert!(report.tree.is_empty());
    assert_eq!(report.meta, ProjectMeta::default());
    assert!(report.licences.is_empty());
}

#[test]
fn round_trips_as_camel_case_json() -> Result<(), serde_json::Error> {
    let report = analyze("acme/tiny", &repository());
    let json = serde_json::to_string(&report)?;
    assert!(json.contains("\"byKind\":[[\"source\",4]"));
    assert!(json.contains("\"byExtension\""));
    assert!(json.contains("\"isLibrary\":true"));
    assert_eq!(serde_json::from_str::<RepositoryReport>(&json)?, report);
    Ok(())
}
