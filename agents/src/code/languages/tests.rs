//! Languages and kinds told from realistic paths and shebangs.

use super::*;

fn file(path: &str, text: &str) -> RepoFile {
    RepoFile::text(path, text)
}

#[test]
fn languages_by_extension_and_name() {
    assert_eq!(detect(&file("src/lib.rs", "")), Some("Rust"));
    assert_eq!(detect(&file("sections/header.liquid", "")), Some("Liquid"));
    assert_eq!(detect(&file("assets/theme.SCSS", "")), Some("SCSS"));
    assert_eq!(detect(&file("web/App.tsx", "")), Some("TypeScript"));
    assert_eq!(detect(&file("lib/main.cpp", "")), Some("C++"));
    assert_eq!(detect(&file("Program.cs", "")), Some("C#"));
    assert_eq!(detect(&file("Makefile", "all:\n")), Some("Makefile"));
    assert_eq!(detect(&file("docker/Dockerfile", "FROM rust\n")), Some("Dockerfile"));
    assert_eq!(detect(&file("Dockerfile.dev", "FROM node\n")), Some("Dockerfile"));
    assert_eq!(detect(&file("CMakeLists.txt", "project(x)\n")), Some("CMake"));
    assert_eq!(detect(&file("Gemfile", "source 'https://rubygems.org'\n")), Some("Ruby"));
    assert_eq!(detect(&file(".gitignore", "target\n")), None);
    assert_eq!(detect(&file("LICENSE", "MIT License\n")), None);
}

#[test]
fn shebangs_name_extensionless_scripts() {
    assert_eq!(detect(&file("bin/tool", "#!/usr/bin/env python3\nprint(1)\n")), Some("Python"));
    assert_eq!(detect(&file("scripts/deploy", "#!/bin/bash\nset -e\n")), Some("Shell"));
    assert_eq!(detect(&file("scripts/run", "#!/bin/sh\n")), Some("Shell"));
    assert_eq!(detect(&file("bin/cli", "#!/usr/bin/env node\n")), Some("JavaScript"));
    assert_eq!(detect(&file("bin/rails", "#!/usr/bin/env ruby\n")), Some("Ruby"));
    assert_eq!(detect(&file("tools/report", "#!/usr/bin/perl -w\n")), Some("Perl"));
    assert_eq!(detect(&file("bin/x", "#!/usr/bin/env -S python3.12 -u\n")), Some("Python"));
    assert_eq!(detect(&file("bin/blob", "no shebang\n")), None);
    // A shebang does not override an extension.
    assert_eq!(detect(&file("setup.cfg", "#!/usr/bin/env python\n")), None);
}

#[test]
fn programming_excludes_data_and_prose() {
    assert!(is_programming("Rust"));
    assert!(is_programming("Liquid"));
    assert!(is_programming("HTML"));
    assert!(!is_programming("JSON"));
    assert!(!is_programming("YAML"));
    assert!(!is_programming("Markdown"));
    assert!(!is_programming("TOML"));
}

#[test]
fn kinds_by_path() {
    let cases = [
        ("src/main.rs", FileKind::Source),
        ("tests/api.rs", FileKind::Test),
        ("server/handler_test.go", FileKind::Test),
        ("pkg/test_models.py", FileKind::Test),
        ("web/src/__tests__/App.js", FileKind::Test),
        ("web/src/cart.test.ts", FileKind::Test),
        ("web/src/cart.spec.js", FileKind::Test),
        ("spec/models/user_spec.rb", FileKind::Test),
        ("README.md", FileKind::Documentation),
        ("docs/guide/setup.rst", FileKind::Documentation),
        ("notes.txt", FileKind::Documentation),
        ("LICENSE", FileKind::Documentation),
        ("Cargo.toml", FileKind::Configuration),
        ("package.json", FileKind::Configuration),
        ("Cargo.lock", FileKind::Configuration),
        ("requirements-dev.txt", FileKind::Configuration),
        (".editorconfig", FileKind::Configuration),
        (".github/workflows/ci.yml", FileKind::Configuration),
        ("setup.cfg", FileKind::Configuration),
        ("data/orders.csv", FileKind::Data),
        ("exports/sales.parquet", FileKind::Data),
        ("backups/shop_dump.sql", FileKind::Data),
        ("migrations/001_init.sql", FileKind::Source),
        ("assets/logo.png", FileKind::Asset),
        ("assets/fonts/inter.woff2", FileKind::Asset),
        ("docs/diagram.svg", FileKind::Asset),
        ("CMakeLists.txt", FileKind::Source),
        ("Makefile", FileKind::Source),
        ("bin/app.exe", FileKind::Other),
    ];
    for (path, expected) in cases {
        assert_eq!(kind(&file(path, "")), expected, "{path}");
    }
}

#[test]
fn extensions_ignore_dotfiles() {
    assert_eq!(extension("main.RS"), Some("rs".to_owned()));
    assert_eq!(extension(".gitignore"), None);
    assert_eq!(extension("Makefile"), None);
    assert_eq!(extension("archive.tar.gz"), Some("gz".to_owned()));
}
