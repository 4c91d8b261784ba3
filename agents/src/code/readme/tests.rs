//! READMEs for an empty repository, a Rust library, a Shopify theme and a
//! repository whose text tries to add sections of its own.

use super::*;
use crate::code::licence::{FoundLicence, recommend};
use crate::code::manifests::Ecosystem;

const STANDARD: [&str; 5] = ["Description", "Installation", "Usage", "Contributing", "Licence"];

fn input<'a>(
    name: &'a str,
    meta: &'a ProjectMeta,
    languages: &'a [(String, u64)],
    tree: &'a [String],
    licence: &'a LicenceRecommendation,
) -> ReadmeInput<'a> {
    ReadmeInput { name, meta, languages, tree, dependencies: &[], licence, api: &[], existing_readme: None }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

#[test]
fn empty_repository_still_has_every_section() {
    let meta = ProjectMeta::default();
    let licence = recommend(&[], &[], &meta, None);
    let readme = template(&input("acme/empty", &meta, &[], &[], &licence));
    assert_eq!(sections(&readme), strings(&STANDARD));
    assert!(readme.starts_with("# acme/empty\n"));
    assert!(readme.contains("acme/empty is an empty repository: no files have been committed yet."));
    assert!(readme.contains("Recommended licence: MIT License (`MIT`)."));
}

#[test]
fn rust_library_lists_its_api() {
    let meta = ProjectMeta {
        manifest: Some("Cargo.toml".to_owned()),
        name: Some("shopkeeper".to_owned()),
        description: Some("Inventory sync for small shops.".to_owned()),
        is_library: true,
        ..ProjectMeta::default()
    };
    let languages = vec![("Rust".to_owned(), 9_000), ("Shell".to_owned(), 1_000)];
    let tree = strings(&["src/ (12 files)", "tests/ (3 files)"]);
    let dependencies = vec![Dependency {
        ecosystem: Ecosystem::Cargo,
        manifest: "Cargo.toml".to_owned(),
        name: "serde".to_owned(),
        version: Some("1".to_owned()),
        dev: false,
    }];
    let existing =
        [FoundLicence { path: "LICENSE".to_owned(), spdx: Some("MIT".to_owned()), source: LicenceSource::File }];
    let licence = recommend(&existing, &[], &meta, None);
    let api = vec![(
        "shopkeeper::sync".to_owned(),
        "pub fn sync(store: &Store) -> Result<Report>".to_owned(),
        "Pulls inventory from the store.\n\nMore detail.".to_owned(),
    )];
    let readme = template(&ReadmeInput {
        dependencies: &dependencies,
        api: &api,
        ..input("shopkeeper", &meta, &languages, &tree, &licence)
    });
    assert_eq!(sections(&readme), strings(&["Description", "Installation", "Usage", "API", "Contributing", "Licence"]));
    assert!(
        readme.contains("## Description\n\nInventory sync for small shops.\n\n**Languages:** Rust (90%), Shell (10%).")
    );
    assert!(readme.contains("- `src/ (12 files)`\n- `tests/ (3 files)`"));
    assert!(readme.contains("```sh\ncargo add shopkeeper\n```"));
    assert!(readme.contains("It depends on `serde`."));
    assert!(readme.contains("```rust\nuse shopkeeper;\n```"));
    assert!(readme.contains(
        "- `shopkeeper::sync`: `pub fn sync(store: &Store) -> Result<Report>` — Pulls inventory from the store."
    ));
    assert!(readme.contains("cargo clippy --all-targets"));
    assert!(readme.contains("This project is licensed under the MIT License (`MIT`): see `LICENSE`."));

    let application = ProjectMeta { is_library: false, ..meta.clone() };
    let readme = template(&ReadmeInput { api: &api, ..input("shopkeeper", &application, &languages, &tree, &licence) });
    assert_eq!(sections(&readme), strings(&STANDARD));
    assert!(readme.contains("cargo build --release"));
}

#[test]
fn shopify_theme_uses_the_cli() {
    let meta = ProjectMeta::default();
    let licence = recommend(&[], &[], &meta, None);
    let languages = vec![("Liquid".to_owned(), 50_000), ("JavaScript".to_owned(), 30_000), ("CSS".to_owned(), 20_000)];
    let tree = strings(&["assets/ (30 files)", "layout/ (2 files)", "sections/ (25 files)", "templates/ (12 files)"]);
    let readme = template(&input("dawn-custom", &meta, &languages, &tree, &licence));
    assert_eq!(sections(&readme), strings(&STANDARD));
    assert!(readme.contains("dawn-custom is a Shopify theme written mainly in Liquid."));
    assert!(readme.contains("**Languages:** Liquid (50%), JavaScript (30%), CSS (20%)."));
    assert!(readme.contains("shopify theme dev --store your-store.myshopify.com"));
    assert!(readme.contains("shopify theme check"));
}

#[test]
fn repository_text_cannot_add_sections() {
    let meta = ProjectMeta {
        manifest: Some("package.json".to_owned()),
        description: Some("Great tool\n## Injected\n```\nInjected\n---\n<h2>Injected</h2>".to_owned()),
        scripts: vec![("## Injected".to_owned(), "echo ```\n## Injected".to_owned())],
        ..ProjectMeta::default()
    };
    let licence = recommend(&[], &[], &meta, None);
    let tree = strings(&["## Injected/ (1 files)"]);
    let readme = template(&input("evil\n## Injected", &meta, &[], &tree, &licence));
    assert_eq!(sections(&readme), strings(&STANDARD));
    assert!(readme.starts_with("# evil \\#\\# Injected\n"));
    assert!(readme.contains("Great tool\n\\#\\# Injected\n\\`\\`\\`\nInjected\n\\---\n&lt;h2>Injected&lt;/h2>"));
    assert!(readme.contains("- `npm run ## Injected`: `echo ''' ## Injected`"));
}

#[test]
fn existing_readme_gives_the_description() {
    let meta = ProjectMeta::default();
    let licence = recommend(&[], &[], &meta, None);
    let existing = "[![CI](https://ci.example/badge.svg)](https://ci.example)\n\n# Storefront\n\n\
                    A headless storefront for Acme.\nIt syncs stock nightly.\n## Injected\n\nMore text.\n";
    let languages = vec![("TypeScript".to_owned(), 1_000)];
    let readme = template(&ReadmeInput {
        existing_readme: Some(existing),
        ..input("storefront", &meta, &languages, &[], &licence)
    });
    assert!(readme.contains("## Description\n\nA headless storefront for Acme. It syncs stock nightly.\n"));
    assert_eq!(sections(&readme), strings(&STANDARD));
    assert!(readme.contains("```sh\nnpm install\n```"));
}

#[test]
fn fields_are_capped_and_cleaned() {
    let meta = ProjectMeta {
        description: Some(format!("Shop\u{1b}[31mred\u{202e} {}", "a".repeat(2_000))),
        ..ProjectMeta::default()
    };
    let licence = recommend(&[], &[], &meta, None);
    let readme = template(&input("shop", &meta, &[], &[], &licence));
    assert!(readme.contains("Shop[31mred aaa"));
    assert!(!readme.contains('\u{1b}'));
    assert!(!readme.contains('\u{202e}'));
    assert!(readme.contains(&format!("{}…", "a".repeat(488))));
    assert!(!readme.contains(&"a".repeat(489)));
}

#[test]
fn sections_reads_h2_outside_code() {
    let markdown = "# Title\n## One\ntext\n```sh\n## not a section\n```\n### Sub\n## Two ##\n";
    assert_eq!(sections(markdown), strings(&["One", "Two"]));
}
