//! The console in a real browser: `tests/console/e2e.mjs` drives Debian's
//! headless Chromium through playwright-core against the real binary on the
//! embedded default (the script says what it checks), with Shopify
//! configured against the fake (whose grant screen approves at once), so the
//! browser also installs a shop through OAuth, and a proposal on it executes
//! and is reverted. Screenshots land in `target/console/`.

use alatar_tests::RunningBinary;
use alatar_tests::fake_shopify::{APP_KEY, APP_SECRET, FakeShopify};

/// A free port for the server: Shopify's redirect URL (`shopify.app_url`)
/// must name it before the server starts.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    listener.local_addr().map(|a| a.port()).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_asks_watches_and_decides_in_the_console() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/console");
    assert!(
        std::path::Path::new(root).join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `npm ci --prefix tests/console` (scripts/test.sh does)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "no Chromium at {chromium}: `apt-get install chromium` (scripts/test.sh does)"
    );
    let dir = alatar_tests::scratch_dir();
    let shopify = FakeShopify::start().await;
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let app_url = format!("http://127.0.0.1:{port}");
    let server = RunningBinary::start(
        &dir,
        &[
            ("ALATAR_LISTEN", listen.as_str()),
            ("ALATAR_SHOPIFY__API_KEY", APP_KEY),
            ("ALATAR_SHOPIFY__API_SECRET", APP_SECRET),
            ("ALATAR_SHOPIFY__APP_URL", app_url.as_str()),
            ("ALATAR_SHOPIFY__ADMIN_BASE_URL", shopify.base_url.as_str()),
            // The default: sign-ups confirmed by mail, written as files here.
            ("ALATAR_MAIL__CONFIRM_REGISTRATIONS", "true"),
        ],
    );
    let mail_dir = dir.join("data").join("mail");
    let artifacts = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/console");
    let output = tokio::process::Command::new("node")
        .arg(format!("{root}/e2e.mjs"))
        .arg(&server.base_url)
        .arg(artifacts)
        .env("CHROMIUM", &chromium)
        .env("E2E_SHOP", "console-e2e.myshopify.com")
        .env("E2E_MAIL_DIR", &mail_dir)
        .output()
        .await
        .unwrap_or_else(|e| panic!("node: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    // The measurements, for BENCHMARKS.md (`--nocapture` shows them).
    println!("console: {stdout}");
    assert!(
        shopify.discount_codes().is_empty(),
        "the reverted discount is still in the shop: {:?}",
        shopify.discount_codes()
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
