//! The real `alatar` binary, started on port 0 and killed on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// `target/<profile>/alatar`, next to this test executable's `deps/`.
pub fn binary_path() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let profile_dir = exe.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
    let path = profile_dir.join("alatar");
    assert!(path.exists(), "{} missing: build it with `cargo build -p alatar-server` first", path.display());
    path
}

/// A running server process.
pub struct RunningBinary {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The port it bound.
    pub port: u16,
    /// Its standard output so far: one JSON log event a line.
    lines: Arc<Mutex<Vec<String>>>,
}

impl RunningBinary {
    /// Starts `alatar serve` in `dir` with `env`; waits for the "listening" log line.
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(binary_path());
        command.arg("serve");
        Self::spawn(command, dir, env)
    }

    /// `start` under an open-file limit of `nofile`, soft and hard alike:
    /// the server raises its soft limit to the hard one, so a soft limit
    /// alone would not hold. Set by `ulimit -n` in a shell that then `exec`s
    /// the server, which so keeps the shell's process (and `kill` on drop
    /// reaches it); no `pre_exec` hook, which would need unsafe code.
    pub fn start_with_open_file_limit(dir: &Path, env: &[(&str, &str)], nofile: u64) -> Self {
        let mut command = Command::new("sh");
        command.arg("-c").arg(format!("ulimit -n {nofile} && exec \"$0\" serve")).arg(binary_path());
        Self::spawn(command, dir, env)
    }

    /// Runs `command` (the server, `serve` on port 0) in `dir` with `env`;
    /// waits for the "listening" log line.
    fn spawn(mut command: Command, dir: &Path, env: &[(&str, &str)]) -> Self {
        // Users are made with `register`, as `test_config` has it; `env` may say otherwise.
        command.current_dir(dir).env("ALATAR_LISTEN", "127.0.0.1:0").env("ALATAR_MAIL__CONFIRM_REGISTRATIONS", "false");
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn alatar: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let (tx, rx) = mpsc::channel();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("\"listening\"") {
                    let _ = tx.send(line.clone());
                }
                if std::env::var_os("TEST_LOG").is_some() {
                    println!("{line}");
                }
                kept.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let output = child.wait_with_output().map(|o| String::from_utf8_lossy(&o.stderr).into_owned());
                panic!("alatar did not start: {}", output.unwrap_or_default());
            }
        };
        let value: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        let address = value["address"].as_str().unwrap_or_default().to_owned();
        let port = address.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0);
        Self { child, base_url: format!("http://{address}"), port, lines }
    }
}

impl RunningBinary {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log lines it has written so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for RunningBinary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// POSTs a GraphQL request body to a server at `base_url` over real HTTP, as
/// `token`'s user (or anonymously); returns the parsed response.
pub async fn post_graphql(base_url: &str, body: serde_json::Value, token: Option<&str>) -> serde_json::Value {
    let mut request = reqwest::Client::new().post(format!("{base_url}/graphql")).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_else(|e| panic!("{e}"))
}

/// Registers a new owner against a server at `base_url` over real HTTP;
/// returns the access token.
pub async fn register_over_http(base_url: &str, email: &str) -> String {
    let body = serde_json::json!({
        "query": "mutation($e: String!) { register(email: $e, password: \"correct horse battery\") { accessToken } }",
        "variables": { "e": email },
    });
    let r = post_graphql(base_url, body, None).await;
    r["data"]["register"]["accessToken"].as_str().unwrap_or_default().to_owned()
}
