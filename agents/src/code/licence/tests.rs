//! Licence texts told apart, SPDX lines collected, recommendations reasoned.

use super::*;

const MIT: &str = "MIT License

Copyright (c) 2024 Acme Supplies

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the \"Software\"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software.
";

const BSD_2: &str = "BSD 2-Clause License

Copyright (c) 2024, Acme Supplies

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this
   list of conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer in the documentation
   and/or other materials provided with the distribution.
";

const BSD_3_CLAUSE: &str = "3. Neither the name of the copyright holder nor the names of its
   contributors may be used to endorse or promote products derived from
   this software without specific prior written permission.
";

const APACHE: &str = "
                                 Apache License
                           Version 2.0, January 2004
                        http://www.apache.org/licenses/

   TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION
";

fn gpl3() -> String {
    let preamble = "The GNU General Public License is a free, copyleft license for software. ".repeat(10);
    format!(
        "                    GNU GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007\n\n{preamble}\n\
         If this is what you want to do, use the GNU Lesser General Public License instead of this License.\n"
    )
}

fn found(path: &str, spdx: Option<&str>, source: LicenceSource) -> FoundLicence {
    FoundLicence { path: path.to_owned(), spdx: spdx.map(str::to_owned), source }
}

#[test]
fn licence_texts_by_their_phrases() {
    let bsd3 = format!("{BSD_2}\n{BSD_3_CLAUSE}");
    assert_eq!(identify(MIT), Some("MIT"));
    assert_eq!(identify(BSD_2), Some("BSD-2-Clause"));
    assert_eq!(identify(&bsd3), Some("BSD-3-Clause"));
    assert_eq!(identify(APACHE), Some("Apache-2.0"));
    assert_eq!(identify(&gpl3()), Some("GPL-3.0"));
    assert_eq!(identify("GNU LESSER GENERAL PUBLIC LICENSE\n  Version 2.1, February 1999\n"), Some("LGPL-2.1"));
    assert_eq!(identify("GNU AFFERO GENERAL PUBLIC LICENSE\nVersion 3, 19 November 2007\n"), Some("AGPL-3.0"));
    assert_eq!(identify("Mozilla Public License Version 2.0\n==================================\n"), Some("MPL-2.0"));
    let isc = "Permission to use, copy, modify, and/or distribute this software for any purpose with or without \
               fee is hereby granted, provided that the above copyright notice and this permission notice appear \
               in all copies.";
    assert_eq!(identify(isc), Some("ISC"));
    assert_eq!(
        identify(
            "Permission to use, copy, modify, and/or distribute this software for any purpose with or without fee is hereby granted."
        ),
        Some("0BSD")
    );
    assert_eq!(
        identify("This is free and unencumbered software released into the public domain.\n"),
        Some("Unlicense")
    );
    assert_eq!(identify("Creative Commons Legal Code\n\nCC0 1.0 Universal\n"), Some("CC0-1.0"));
    assert_eq!(identify("All rights reserved by Acme.\n"), None);
}

#[test]
fn files_spdx_lines_and_manifest() {
    let mut app = "// line\n".repeat(25);
    app.push_str("// SPDX-License-Identifier: GPL-3.0-only\n");
    let files = [
        RepoFile::text("LICENSE-MIT", MIT),
        RepoFile::text("LICENSE-APACHE", APACHE),
        RepoFile::text("docs/LICENSE", MIT),
        RepoFile::text("LICENSES/LicenseRef-Acme.txt", "Acme internal terms.\n"),
        RepoFile::text("src/lib.rs", "// SPDX-License-Identifier: MIT OR Apache-2.0\npub fn x() {}\n"),
        RepoFile::text("src/util.rs", "/* SPDX-License-Identifier: MIT OR Apache-2.0 */\n"),
        RepoFile::text("web/app.js", &app),
        RepoFile::text("scripts/build.sh", "#!/bin/sh\n# SPDX-License-Identifier: Apache-2.0\n"),
        RepoFile::text("NOTICE", "Acme\n"),
    ];
    let meta = ProjectMeta {
        manifest: Some("Cargo.toml".to_owned()),
        licence: Some("MIT OR Apache-2.0".to_owned()),
        ..ProjectMeta::default()
    };
    assert_eq!(
        detect(&files, &meta),
        vec![
            found("LICENSE-MIT", Some("MIT"), LicenceSource::File),
            found("LICENSE-APACHE", Some("Apache-2.0"), LicenceSource::File),
            found("LICENSES/LicenseRef-Acme.txt", Some("LicenseRef-Acme"), LicenceSource::File),
            found("src/lib.rs", Some("MIT OR Apache-2.0"), LicenceSource::SpdxLine),
            found("scripts/build.sh", Some("Apache-2.0"), LicenceSource::SpdxLine),
            found("Cargo.toml", Some("MIT OR Apache-2.0"), LicenceSource::Manifest),
        ]
    );
}

#[test]
fn unrecognised_licence_file_is_reported_without_id() {
    let files = [RepoFile::text("COPYING.txt", "You may look but not touch.\n")];
    assert_eq!(detect(&files, &ProjectMeta::default()), vec![found("COPYING.txt", None, LicenceSource::File)]);
}

fn cargo_library() -> ProjectMeta {
    ProjectMeta { manifest: Some("Cargo.toml".to_owned()), is_library: true, ..ProjectMeta::default() }
}

#[test]
fn gpl_dependency_conflicts_with_a_permissive_goal() {
    let deps =
        [("readline".to_owned(), "GPL-3.0-only".to_owned()), ("serde".to_owned(), "MIT OR Apache-2.0".to_owned())];
    let rec = recommend(&[], &deps, &cargo_library(), Some(LicenceGoal::Permissive));
    assert_eq!(rec.spdx, "GPL-3.0-or-later");
    assert_eq!(rec.name, "GNU General Public License v3.0 or later");
    assert_eq!(rec.conflicts, vec!["readline (GPL-3.0-only)".to_owned()]);
    assert_eq!(
        rec.reasoning,
        vec![
            "No licence was found: without one nobody may legally reuse the code, even though it is public.".to_owned(),
            "It depends on strong-copyleft code (readline (GPL-3.0-only)): software distributed with it must be \
             released under a compatible copyleft licence, so GPL-3.0-or-later is needed."
                .to_owned(),
            "You asked for a permissive licence, which these dependencies do not allow: replace them to keep that goal."
                .to_owned(),
        ]
    );
}

#[test]
fn agpl_dependency_upgrades_an_existing_gpl() {
    let existing = [found("LICENSE", Some("GPL-3.0"), LicenceSource::File)];
    let deps = [("ghostscript".to_owned(), "AGPL-3.0-only".to_owned())];
    let rec = recommend(&existing, &deps, &ProjectMeta::default(), None);
    assert_eq!(rec.spdx, "AGPL-3.0-or-later");
    assert!(rec.conflicts.is_empty());
    assert!(rec.reasoning.iter().any(|r| r.starts_with("Changing from GPL-3.0 (LICENSE) to AGPL-3.0-or-later")));
    assert_eq!(rec.existing, existing.to_vec());
}

#[test]
fn existing_licence_is_kept_without_a_goal() {
    let existing = [found("LICENSE", Some("MIT"), LicenceSource::File)];
    let rec = recommend(&existing, &[], &cargo_library(), None);
    assert_eq!(rec.spdx, "MIT");
    assert_eq!(
        rec.reasoning,
        vec![
            "The repository already declares MIT (LICENSE): keeping it means no contributor has to agree to a change."
                .to_owned()
        ]
    );
    let agreeing = recommend(&existing, &[], &cargo_library(), Some(LicenceGoal::Permissive));
    assert_eq!(agreeing.spdx, "MIT");
}

#[test]
fn contradicting_goal_explains_relicensing() {
    let existing = [found("LICENSE", Some("MIT"), LicenceSource::File)];
    let meta = ProjectMeta {
        manifest: Some("package.json".to_owned()),
        network_service: Some("express".to_owned()),
        ..ProjectMeta::default()
    };
    let rec = recommend(&existing, &[], &meta, Some(LicenceGoal::Copyleft));
    assert_eq!(rec.spdx, "AGPL-3.0-or-later");
    assert_eq!(
        rec.reasoning.first().map(String::as_str),
        Some("You asked for a copyleft licence, but MIT (LICENSE) is not one.")
    );
    assert!(rec.reasoning.iter().any(|r| r.starts_with(
        "Changing from MIT (LICENSE) to AGPL-3.0-or-later needs the agreement of every copyright holder"
    )));
    assert!(rec.reasoning.iter().any(|r| r.starts_with("It runs as a network service (express)")));
}

#[test]
fn goals_pick_their_licence() {
    let app = ProjectMeta { manifest: Some("package.json".to_owned()), ..ProjectMeta::default() };
    let pick = |meta: &ProjectMeta, goal| recommend(&[], &[], meta, Some(goal)).spdx;
    assert_eq!(pick(&cargo_library(), LicenceGoal::Permissive), "Apache-2.0");
    assert_eq!(pick(&app, LicenceGoal::Permissive), "MIT");
    assert_eq!(pick(&app, LicenceGoal::Copyleft), "GPL-3.0-or-later");
    assert_eq!(pick(&app, LicenceGoal::WeakCopyleft), "MPL-2.0");
    assert_eq!(pick(&app, LicenceGoal::PublicDomain), "Unlicense");
    assert_eq!(pick(&ProjectMeta::default(), LicenceGoal::PublicDomain), "CC0-1.0");
    assert_eq!(pick(&app, LicenceGoal::Proprietary), "LicenseRef-Proprietary");
    let library = recommend(&[], &[], &cargo_library(), Some(LicenceGoal::Permissive));
    assert!(
        library.reasoning.contains(
            &"It is a library (src/lib.rs): Apache-2.0's explicit patent grant protects the projects that build on it."
                .to_owned()
        )
    );
    let proprietary = recommend(&[], &[], &app, Some(LicenceGoal::Proprietary));
    assert_eq!(proprietary.name, "Proprietary (all rights reserved)");
}

#[test]
fn ecosystems_set_the_default() {
    let with = |manifest: &str| ProjectMeta { manifest: Some(manifest.to_owned()), ..ProjectMeta::default() };
    let rust = recommend(&[], &[], &with("Cargo.toml"), None);
    assert_eq!(rust.spdx, "MIT OR Apache-2.0");
    assert_eq!(rust.name, "MIT License or Apache License 2.0");
    assert_eq!(recommend(&[], &[], &with("package.json"), None).spdx, "MIT");
    assert_eq!(recommend(&[], &[], &with("go.mod"), None).spdx, "BSD-3-Clause");
    let python_library = ProjectMeta { is_library: true, ..with("pyproject.toml") };
    assert_eq!(recommend(&[], &[], &python_library, None).spdx, "Apache-2.0");
    assert_eq!(recommend(&[], &[], &ProjectMeta::default(), None).spdx, "MIT");
}

#[test]
fn goals_parse_from_the_wire() {
    assert_eq!(LicenceGoal::parse("WEAK_COPYLEFT"), Some(LicenceGoal::WeakCopyleft));
    assert_eq!(LicenceGoal::parse("public-domain"), Some(LicenceGoal::PublicDomain));
    assert_eq!(LicenceGoal::parse(" Permissive "), Some(LicenceGoal::Permissive));
    assert_eq!(LicenceGoal::parse("free"), None);
    for goal in [
        LicenceGoal::Permissive,
        LicenceGoal::Copyleft,
        LicenceGoal::WeakCopyleft,
        LicenceGoal::PublicDomain,
        LicenceGoal::Proprietary,
    ] {
        assert_eq!(LicenceGoal::parse(goal.as_str()), Some(goal));
    }
}
