//! The console in a real browser: `tests/console/e2e.mjs` drives Debian's
//! headless Chromium through playwright-core against the real binary on the
//! embedded default (the script says what it checks). Screenshots land in
//! `target/console/`.

use alatar_tests::RunningBinary;

#[tokio::test]
async fn a_merchant_asks_watches_and_decides_in_the_console() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/console");
    assert!(
        std::path::Path::new(root).join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `npm ci --prefix tests/console` (scripts/test.sh does)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(std::path::Path::new(&chromium).exists(), "no Chromium at {chromium}: `apt-get install chromium` (scripts/test.sh does)");
    let dir = alatar_tests::scratch_dir();
    let server = RunningBinary::start(&dir, &[]);
    let artifacts = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/console");
    let output = tokio::process::Command::new("node")
        .arg(format!("{root}/e2e.mjs"))
        .arg(&server.base_url)
        .arg(artifacts)
        .env("CHROMIUM", &chromium)
        .output()
        .await
        .unwrap_or_else(|e| panic!("node: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    // The measurements, for BENCHMARKS.md (`--nocapture` shows them).
    println!("console: {stdout}");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
