//! Black-box: the real binary on port 0.

use std::process::Command;

use serde_json::json;

use alatar_tests::post_graphql as post;
use alatar_tests::{RunningBinary, binary_path};

#[tokio::test]
async fn serve_with_no_configuration_uses_embedded_sqlite() {
    let dir = alatar_tests::scratch_dir();
    let server = RunningBinary::start(&dir, &[]);
    assert!(dir.join("data/alatar.db").exists(), "SQLite database created under ./data");
    let health = reqwest::get(format!("{}/readyz", server.base_url)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(health.status(), 200);
    let registered = post(
        &server.base_url,
        json!({ "query": "mutation { register(email: \"bin@shop.example\", password: \"correct horse battery\") { accessToken } }" }),
        None,
    )
    .await;
    let token = registered["data"]["register"]["accessToken"].as_str().unwrap_or_default().to_owned();
    let me = post(&server.base_url, json!({ "query": "{ me { email } }" }), Some(&token)).await;
    assert_eq!(me["data"]["me"]["email"], "bin@shop.example");
    drop(server);
    // Restarted, the same data and the same generated signing key are still there.
    let again = RunningBinary::start(&dir, &[]);
    let me = post(&again.base_url, json!({ "query": "{ me { email } }" }), Some(&token)).await;
    assert_eq!(me["data"]["me"]["email"], "bin@shop.example");
    let _ = std::fs::remove_dir_all(dir);
}

fn fails_with(env: &[(&str, &str)], file: Option<&str>, expect: &str) {
    let dir = alatar_tests::scratch_dir();
    let mut command = Command::new(binary_path());
    command.current_dir(&dir).arg("serve");
    if let Some(contents) = file {
        let path = dir.join("alatar.toml");
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("{e}"));
        command.arg("--config").arg(path);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "started despite {env:?} {file:?}");
    assert!(stderr.to_lowercase().contains(expect), "error does not name `{expect}`: {stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_configuration_stops_startup_naming_the_key() {
    fails_with(&[("ALATAR_LISTNE", "127.0.0.1:1")], None, "listne");
    fails_with(&[("ALATAR_LISTEN", "not-an-address")], None, "listen");
    fails_with(&[("ALATAR_GRAPHQL__MAX_DEPTH", "deep")], None, "max_depth");
    fails_with(&[], Some("[graphql]\nmax_dept = 3\n"), "max_dept");
    fails_with(&[("ALATAR_JWT__SECRET", "short")], None, "jwt.secret");
    let secret = "a-database-password-that-must-not-leak";
    let dir = alatar_tests::scratch_dir();
    let output = Command::new(binary_path())
        .current_dir(&dir)
        .arg("serve")
        .env("ALATAR_DATABASE_URL", format!("postgres://postgres:{secret}@127.0.0.1:1/nope"))
        .env("ALATAR_JWT__SECRET", alatar_tests::TEST_JWT_SECRET)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!output.status.success());
    let all = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(!all.contains(secret), "secret leaked: {all}");
    assert!(!all.contains(alatar_tests::TEST_JWT_SECRET), "secret leaked: {all}");
}

#[tokio::test]
async fn migrate_then_serve_on_postgres() {
    // An empty database (not the migrated template): `serve` refuses, `migrate` fixes it.
    let admin = alatar_tests::postgres_admin_url();
    let name = format!("alatar_bin_{}", uuid::Uuid::new_v4().simple());
    let conn = sea_orm::Database::connect(&admin).await.unwrap_or_else(|e| panic!("{e}"));
    sea_orm::ConnectionTrait::execute_unprepared(&conn, &format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let url = format!("{}/{name}", admin.rsplit_once('/').map(|(b, _)| b).unwrap_or_default());
    let env = [("ALATAR_DATABASE_URL", url.as_str()), ("ALATAR_JWT__SECRET", alatar_tests::TEST_JWT_SECRET)];
    let dir = alatar_tests::scratch_dir();
    let refused =
        Command::new(binary_path()).current_dir(&dir).arg("serve").envs(env).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("alatar migrate"));
    let migrated = Command::new(binary_path())
        .current_dir(&dir)
        .arg("migrate")
        .envs(env)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));
    {
        let server = RunningBinary::start(&dir, &env);
        let r = post(&server.base_url, json!({ "query": "mutation { register(email: \"pg@shop.example\", password: \"correct horse battery\") { user { email } } }" }), None).await;
        assert_eq!(r["data"]["register"]["user"]["email"], "pg@shop.example");
    }
    let _ =
        sea_orm::ConnectionTrait::execute_unprepared(&conn, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn schema_subcommand_prints_the_sdl() {
    let output = Command::new(binary_path()).arg("schema").output().unwrap_or_else(|e| panic!("{e}"));
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), alatar_schema::sdl());
}

#[tokio::test]
async fn graphql_over_http_audit_passes() {
    let audit = concat!(env!("CARGO_MANIFEST_DIR"), "/graphql-http/audit.mjs");
    let modules = concat!(env!("CARGO_MANIFEST_DIR"), "/graphql-http/node_modules");
    assert!(
        std::path::Path::new(modules).exists(),
        "graphql-http is not installed: run `npm ci --prefix tests/graphql-http` (scripts/test.sh does)"
    );
    let dir = alatar_tests::scratch_dir();
    let server = RunningBinary::start(&dir, &[]);
    let output = tokio::process::Command::new("node")
        .arg(audit)
        .arg(format!("{}/graphql", server.base_url))
        .output()
        .await
        .unwrap_or_else(|e| panic!("node: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    assert!(!stdout.contains("WARN"), "SHOULD-level audits failed: {stdout}");
    let _ = std::fs::remove_dir_all(dir);
}
