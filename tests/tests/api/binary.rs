//! Black-box: the real binary on port 0, and the configuration the Docker
//! files give it.

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

const COMPOSE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docker/compose.yaml");
const DOCKERFILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docker/Dockerfile");

/// `value` without one pair of matching surrounding quotes.
fn unquote(value: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner;
        }
    }
    value
}

/// The `ALATAR_*` variable a compose line sets, if any: `NAME: value` in an
/// `environment` map, `- NAME=value` or `- NAME` in a list, names and values
/// maybe quoted. A missing value (taken from the host) comes back empty.
fn compose_var(line: &str) -> Option<(String, String)> {
    let line = line.trim();
    if line.starts_with('#') {
        return None;
    }
    let line = line.strip_prefix('-').map_or(line, str::trim_start);
    let (quote, line) = match line.chars().next() {
        Some(q @ ('"' | '\'')) => (Some(q), &line[1..]),
        _ => (None, line),
    };
    if !line.starts_with("ALATAR_") {
        return None;
    }
    let end = line.find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')).unwrap_or(line.len());
    let (name, rest) = line.split_at(end);
    let value = if let Some(value) = rest.strip_prefix('=') {
        // `- NAME=value` or `- "NAME=value"`.
        let value = value.trim();
        let value = quote.and_then(|q| value.strip_suffix(q)).unwrap_or(value);
        unquote(value).to_owned()
    } else {
        let rest = match quote {
            Some(q) => rest.strip_prefix(q)?,
            None => rest,
        };
        let rest = rest.trim();
        if rest.is_empty() {
            // `- NAME`: passed through from the host.
            String::new()
        } else {
            let value = rest.strip_prefix(':')?.trim();
            // An unquoted value ends at a ` #` comment.
            let value =
                if value.starts_with(['"', '\'']) { value } else { value.split(" #").next().unwrap_or(value).trim() };
            let value = unquote(value);
            if value == "~" || value == "null" { String::new() } else { value.to_owned() }
        }
    };
    Some((name.to_owned(), value))
}

/// `ENV NAME=value …` and `ENV NAME value` lines of the Dockerfile, `ALATAR_*` only.
fn dockerfile_vars(dockerfile: &str) -> Vec<(String, String)> {
    let mut vars = Vec::new();
    for line in dockerfile.lines() {
        let Some(rest) = line.trim().strip_prefix("ENV ") else { continue };
        let rest = rest.trim().trim_end_matches('\\').trim();
        let pairs: Vec<(String, String)> = if rest.split_whitespace().next().is_some_and(|w| w.contains('=')) {
            rest.split_whitespace()
                .filter_map(|w| w.split_once('='))
                .map(|(k, v)| (k.to_owned(), unquote(v).to_owned()))
                .collect()
        } else {
            rest.split_once(char::is_whitespace)
                .map(|(k, v)| vec![(k.to_owned(), unquote(v.trim()).to_owned())])
                .unwrap_or_default()
        };
        vars.extend(pairs.into_iter().filter(|(k, _)| k.starts_with("ALATAR_")));
    }
    vars
}

/// A value for `name` as the container would see it: a literal as written
/// (`$$` is a literal `$`); for an interpolation (or a value from the host),
/// its `:-`/`-` default if it has one, else one fitting the key: a token key,
/// the key's default, or a 64-hex secret.
fn container_value(name: &str, value: &str, defaults: &serde_json::Value) -> String {
    if !value.is_empty() && !value.replace("$$", "").contains('$') {
        return value.replace("$$", "$");
    }
    if let Some(inner) = value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) {
        let end = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
        let rest = &inner[end..];
        if let Some(default) = rest.strip_prefix(":-").or_else(|| rest.strip_prefix('-'))
            && !default.is_empty()
            && !default.contains('$')
        {
            return default.to_owned();
        }
    }
    // 32 random-looking bytes, base64: what `openssl rand -base64 32` prints.
    let token_key = "q83vEjRWeJq8Ev7cK5mJ3BHNNUrrqGhp8ykdNm1DtC0=";
    if name.contains("__TOKEN_KEYS__") {
        return token_key.to_owned();
    }
    if name.ends_with("__TOKEN_KEYS") {
        return format!("{{k1 = \"{token_key}\"}}");
    }
    let path: String =
        name.trim_start_matches("ALATAR_").to_ascii_lowercase().split("__").map(|part| format!("/{part}")).collect();
    match defaults.pointer(&path) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_) | serde_json::Value::Array(_))) => {
            v.to_string()
        }
        // Unset by default (secrets and URLs) or unknown: a secret.
        _ => "0123456789abcdef".repeat(4),
    }
}

#[test]
fn docker_compose_alatar_variables_are_accepted_by_the_config_loader() {
    let compose = std::fs::read_to_string(COMPOSE).unwrap_or_else(|e| panic!("{COMPOSE}: {e}"));
    let dockerfile = std::fs::read_to_string(DOCKERFILE).unwrap_or_else(|e| panic!("{DOCKERFILE}: {e}"));
    let defaults = serde_json::to_value(alatar_server::Config::default()).unwrap_or_else(|e| panic!("{e}"));
    // The image's `ENV` first: compose's `environment` overrides it.
    let mut vars: Vec<(String, String)> = Vec::new();
    for (name, value) in dockerfile_vars(&dockerfile).into_iter().chain(compose.lines().filter_map(compose_var)) {
        let value = container_value(&name, &value, &defaults);
        if !vars.iter().any(|(n, v)| *n == name && *v == value) {
            vars.push((name, value));
        }
    }
    let names: Vec<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
    for expected in ["ALATAR_LISTEN", "ALATAR_DATABASE_URL"] {
        assert!(names.contains(&expected), "the scanner missed {expected}: it found {names:?}");
    }
    // Every pair, with the others (one value per name) before it.
    for (name, value) in &vars {
        let mut env: Vec<(&str, &str)> = Vec::new();
        for (n, v) in &vars {
            if n != name {
                env.retain(|(other, _)| *other != n.as_str());
                env.push((n.as_str(), v.as_str()));
            }
        }
        env.push((name.as_str(), value.as_str()));
        let config = alatar_server::Config::from_env_vars(env.iter().copied())
            .unwrap_or_else(|e| panic!("{name} (docker/compose.yaml or docker/Dockerfile): {e}; variables: {names:?}"));
        assert!(config.uses_postgres(), "the compose stack runs on PostgreSQL: {names:?}");
        assert!(config.jwt.secret.is_some(), "PostgreSQL needs jwt.secret (ALATAR_JWT__SECRET): {names:?}");
    }
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

#[tokio::test]
async fn account_set_tier_subcommand_changes_the_plan() {
    let dir = alatar_tests::scratch_dir();
    let server = RunningBinary::start(&dir, &[]);
    let token = alatar_tests::register_over_http(&server.base_url, "tier@shop.example").await;
    let account = post(&server.base_url, json!({ "query": "{ account { id tier } }" }), Some(&token)).await;
    assert_eq!(account["data"]["account"]["tier"], "FREE", "{account}");
    let id = account["data"]["account"]["id"].as_str().unwrap_or_default().to_owned();
    let set_tier = |args: &[&str]| {
        Command::new(binary_path())
            .current_dir(&dir)
            .args(["account", "set-tier"])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };

    // Against the same embedded data dir, while the server runs.
    let upgraded = set_tier(&["--account", &id, "--tier", "premium"]);
    assert!(upgraded.status.success(), "{}", String::from_utf8_lossy(&upgraded.stderr));
    let account = post(&server.base_url, json!({ "query": "{ account { tier } }" }), Some(&token)).await;
    assert_eq!(account["data"]["account"]["tier"], "PREMIUM", "{account}");
    let log = post(
        &server.base_url,
        json!({ "query": "{ auditLog { edges { node { event actor detail } } } }" }),
        Some(&token),
    )
    .await;
    assert_eq!(
        log["data"]["auditLog"]["edges"][0]["node"],
        json!({ "event": "TIER_CHANGED", "actor": "system", "detail": { "from": "FREE", "to": "PREMIUM" } }),
        "{log}"
    );

    // Refusals: no such plan, no such account, not an id.
    assert!(!set_tier(&["--account", &id, "--tier", "gold"]).status.success());
    let missing = set_tier(&["--account", &uuid::Uuid::now_v7().to_string(), "--tier", "free"]);
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("account not found"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    assert!(!set_tier(&["--account", "not-a-uuid", "--tier", "free"]).status.success());
    let account = post(&server.base_url, json!({ "query": "{ account { tier } }" }), Some(&token)).await;
    assert_eq!(account["data"]["account"]["tier"], "PREMIUM", "{account}");
    drop(server);
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
