//! The licence each goal, or each ecosystem's convention when there is no
//! goal, leads to, with the sentence that says which trait of the
//! repository decided it (rules 3 and 4 of the [parent module](super)).

use super::{LicenceGoal, ProjectMeta};

fn library_evidence(meta: &ProjectMeta) -> &'static str {
    match meta.manifest.as_deref().map(|m| m.rsplit('/').next().unwrap_or(m)) {
        Some("Cargo.toml") => "src/lib.rs",
        Some("package.json") => "an entry point in package.json",
        Some("pyproject.toml") => "pyproject.toml without scripts",
        Some("go.mod") => "no package main at the module root",
        _ => "its manifest",
    }
}

/// The licence a goal calls for, with the sentence saying why.
pub(super) fn by_goal(goal: LicenceGoal, meta: &ProjectMeta) -> (String, String) {
    let (spdx, why) = match goal {
        LicenceGoal::Permissive if meta.is_library => (
            "Apache-2.0",
            format!(
                "It is a library ({}): Apache-2.0's explicit patent grant protects the projects that build on it.",
                library_evidence(meta)
            ),
        ),
        LicenceGoal::Permissive => (
            "MIT",
            "It is an application rather than a library: MIT is the shortest \
             well-known permissive licence, so anyone may reuse it as long as they keep the notice."
                .to_owned(),
        ),
        LicenceGoal::Copyleft => match &meta.network_service {
            Some(hint) => (
                "AGPL-3.0-or-later",
                format!(
                    "It runs as a network service ({hint}): the AGPL makes anyone who offers a modified copy over the \
                 network share their changes, which the GPL would not."
                ),
            ),
            None => (
                "GPL-3.0-or-later",
                "You asked for copyleft: under GPL-3.0-or-later everyone who distributes a \
                 modified version must publish its source under the same terms."
                    .to_owned(),
            ),
        },
        LicenceGoal::WeakCopyleft => (
            "MPL-2.0",
            "You asked for weak copyleft: MPL-2.0 keeps changes to this \
             project's own files open while letting it be combined with code under any licence."
                .to_owned(),
        ),
        LicenceGoal::PublicDomain => match meta.manifest.as_deref() {
            Some(manifest) => (
                "Unlicense",
                format!(
                    "It is software ({manifest}): the Unlicense gives it to the public domain with a warranty \
                 disclaimer written for code."
                ),
            ),
            None => (
                "CC0-1.0",
                "No package manifest marks it as software: CC0-1.0 gives it to the public domain \
                 worldwide, with a fallback licence where that is not possible."
                    .to_owned(),
            ),
        },
        LicenceGoal::Proprietary => (
            "LicenseRef-Proprietary",
            "You asked for proprietary: all rights are \
             reserved, so nobody may copy, change or share it without your permission."
                .to_owned(),
        ),
    };
    (spdx.to_owned(), why)
}

/// The ecosystem's usual licence when no goal is given.
pub(super) fn by_ecosystem(meta: &ProjectMeta) -> (String, String) {
    let manifest = meta.manifest.as_deref().map(|m| m.rsplit('/').next().unwrap_or(m));
    let (spdx, why) = match manifest {
        Some("Cargo.toml") => (
            "MIT OR Apache-2.0",
            "It is a Rust crate (Cargo.toml): MIT OR Apache-2.0 is the \
             Rust ecosystem's convention, so it can be used wherever other crates are.",
        ),
        Some("package.json") => (
            "MIT",
            "It is an npm package (package.json): MIT is the most common licence on \
             npm, which keeps it easy to adopt.",
        ),
        Some("pyproject.toml") if meta.is_library => (
            "Apache-2.0",
            "It is a Python library (pyproject.toml): \
             Apache-2.0 is permissive and its patent grant protects the projects that build on it.",
        ),
        Some("pyproject.toml") => (
            "MIT",
            "It is a Python project (pyproject.toml): MIT is the most common \
             permissive licence on PyPI.",
        ),
        Some("go.mod") => (
            "BSD-3-Clause",
            "It is a Go module (go.mod): BSD-3-Clause is the licence of Go itself, \
             so it sits comfortably next to the standard library.",
        ),
        _ => (
            "MIT",
            "No goal was given and no manifest names an ecosystem: MIT is the most widely used \
             open-source licence.",
        ),
    };
    (spdx.to_owned(), why.to_owned())
}
