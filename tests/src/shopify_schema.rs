//! What we send to Shopify, checked against Shopify's own published Admin
//! API 2026-10 schema (`@shopify/dev-mcp`'s introspection file) by
//! `tests/shopify-schema/validate.mjs`: unknown fields and arguments,
//! deprecated ones, variables that do not fit their input types, and bulk
//! queries that break the bulk rules.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

/// Validates `documents` (`{ name, query, variables?, bulk? }`); the error
/// lists every problem the validator found.
pub fn validate(documents: &[Value]) -> Result<(), String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shopify-schema");
    if !std::path::Path::new(dir).join("node_modules/@shopify/dev-mcp").exists() {
        return Err(format!("the schema check is not installed: run `npm ci --ignore-scripts --prefix {dir}`"));
    }
    let mut child = Command::new("node")
        .arg("validate.mjs")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("node: {e}"))?;
    let input = serde_json::to_vec(documents).map_err(|e| e.to_string())?;
    child.stdin.take().ok_or("no stdin")?.write_all(&input).map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}
