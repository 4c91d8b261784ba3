//! `GET /console/…`: the console, a web page for people (sign in, ask,
//! watch a run, read the answer, decide proposals). Its files are compiled
//! into the binary, so the page needs no other server and no CDN, and the
//! version served is always the one the API beside it speaks. It talks to
//! `/graphql` like any other client: no private endpoints.
//!
//! Every answer carries a Content-Security-Policy that allows only this
//! origin's scripts, styles and connections (no inline script, no eval), and
//! frames nothing and is framed by nothing.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};

/// The policy: this origin only. `connect-src 'self'` covers the WebSocket
/// on the same host (CSP Level 3); images may be `data:` URLs, as the
/// dashboards' server-drawn SVGs are shown (an `<img>` runs no script).
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                      connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; \
                      frame-ancestors 'none'";

/// One file of the page.
struct Asset {
    path: &'static str,
    mime: &'static str,
    bytes: &'static [u8],
}

/// The files, by their path under `server/console/`; a unit test checks
/// the list against the directory, so a file added there is not forgotten.
macro_rules! assets {
    ($($path:literal => $mime:expr),* $(,)?) => {
        &[$(Asset { path: $path, mime: $mime, bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/", $path)) }),*]
    };
}

const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: &[Asset] = assets! {
    "index.html" => "text/html; charset=utf-8",
    "console.css" => "text/css; charset=utf-8",
    "js/main.js" => JS,
    "js/api.js" => JS,
    "js/session.js" => JS,
    "js/dom.js" => JS,
    "js/format.js" => JS,
    "js/chart.js" => JS,
    "js/views/auth.js" => JS,
    "js/views/stores.js" => JS,
    "js/views/ask.js" => JS,
    "js/views/history.js" => JS,
    "js/views/run.js" => JS,
    "js/views/answer.js" => JS,
    "js/views/proposals.js" => JS,
    "js/views/audit.js" => JS,
    "js/views/library.js" => JS,
    "js/views/chat.js" => JS,
    "vendor/graphql-ws/client.js" => JS,
    "vendor/graphql-ws/common-CGW11Fyb.js" => JS,
    "vendor/graphql-ws/LICENSE.md" => "text/plain; charset=utf-8",
};

/// Each asset's strong validator: a browser revalidates (`no-cache`) and
/// gets 304 while the binary is the same.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            let digest = Sha256::digest(a.bytes);
            let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
            format!("\"{hex}\"")
        })
        .collect()
});

/// `GET /console`: the page lives under the slash, so its relative paths resolve.
pub async fn root() -> Redirect {
    Redirect::permanent("/console/")
}

/// `GET /console/`: the page.
pub async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// `GET /console/{*path}`: a script, the style sheet or a vendored file.
pub async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.path == path) else {
        return (StatusCode::NOT_FOUND, secured(HeaderMap::new()), "not found").into_response();
    };
    let (asset, etag) = (&ASSETS[i], &ETAGS[i]);
    let mut out = secured(HeaderMap::new());
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(etag) {
        out.insert(header::ETAG, value);
    }
    let fresh = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(',').any(|tag| {
            let tag = tag.trim();
            tag == etag || tag == "*"
        })
    });
    if fresh {
        return (StatusCode::NOT_MODIFIED, out).into_response();
    }
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime));
    (StatusCode::OK, out, asset.bytes).into_response()
}

/// The headers every console answer carries.
fn secured(mut headers: HeaderMap) -> HeaderMap {
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `server/console/` except the vendoring notes and pins.
    fn files(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{e}")).flatten() {
            let path = entry.path();
            if path.is_dir() {
                files(&path, root, out);
            } else {
                let rel =
                    path.strip_prefix(root).unwrap_or_else(|e| panic!("{e}")).to_string_lossy().replace('\\', "/");
                out.push(rel);
            }
        }
    }

    #[test]
    fn every_file_of_the_page_is_served() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
        let mut found = Vec::new();
        files(&root, &root, &mut found);
        found
            .retain(|f| !matches!(f.as_str(), "vendor/package.json" | "vendor/package-lock.json" | "vendor/README.md"));
        found.sort();
        let mut listed: Vec<String> = ASSETS.iter().map(|a| a.path.to_owned()).collect();
        listed.sort();
        assert_eq!(found, listed);
    }

    #[test]
    fn a_known_validator_is_not_modified_and_an_unknown_path_is_not_found() {
        let first = serve("js/main.js", &HeaderMap::new());
        assert_eq!(first.status(), StatusCode::OK);
        assert!(
            first.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap_or_default().contains("script-src 'self'")
        );
        let etag = first.headers()[header::ETAG].clone();
        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(serve("js/main.js", &again).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(serve("../Cargo.toml", &HeaderMap::new()).status(), StatusCode::NOT_FOUND);
        assert_eq!(serve("js/nope.js", &HeaderMap::new()).status(), StatusCode::NOT_FOUND);
    }
}
