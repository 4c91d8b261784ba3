//! A fake SMTP server that keeps what it is sent, and holds its clients to
//! RFC 5321's order: a greeting first, `EHLO`/`HELO` before `MAIL`, `MAIL`
//! before `RCPT`, at least one `RCPT` before `DATA`, the data ended by a
//! line of one dot, dot-stuffing undone. Anything out of order is `503`,
//! anything unknown `500`, as a real server answers.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One message as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    /// The reverse path of `MAIL FROM`.
    pub from: String,
    /// The forward paths of `RCPT TO`.
    pub to: Vec<String>,
    /// The message (headers and body), dot-stuffing undone, CRLF line ends.
    pub data: String,
}

/// The server; stops with the test's runtime.
pub struct FakeSmtp {
    /// `smtp://127.0.0.1:<port>`.
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    /// Commands the server refused (out of order or unknown), for asserting none were.
    refused: Arc<Mutex<Vec<String>>>,
}

impl FakeSmtp {
    /// Listens on a free loopback port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("bind smtp: {e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let (received, refused) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        let (kept, bad) = (received.clone(), refused.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, kept.clone(), bad.clone()));
            }
        });
        Self { url: format!("smtp://127.0.0.1:{port}"), received, refused }
    }

    /// Everything delivered so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Commands refused so far.
    pub fn refused(&self) -> Vec<String> {
        self.refused.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Waits up to five seconds for `n` messages.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..100 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        self.received()
    }
}

#[derive(PartialEq)]
enum Stage {
    Greeted,
    Hello,
    Mail,
    Rcpt,
}

async fn say(w: &mut tokio::net::tcp::OwnedWriteHalf, text: &str) {
    let _ = w.write_all(format!("{text}\r\n").as_bytes()).await;
}

fn path(arg: &str) -> String {
    arg.trim().trim_start_matches('<').trim_end_matches('>').to_owned()
}

async fn serve(socket: tokio::net::TcpStream, kept: Arc<Mutex<Vec<Received>>>, refused: Arc<Mutex<Vec<String>>>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    say(&mut write, "220 fake.smtp.test ESMTP ready").await;
    let (mut stage, mut from, mut to) = (Stage::Greeted, String::new(), Vec::new());
    while let Ok(Some(line)) = lines.next_line().await {
        let upper = line.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or_default().to_owned();
        let refuse = |why: &str| {
            if let Ok(mut r) = refused.lock() {
                r.push(format!("{line} ({why})"));
            }
        };
        match verb.as_str() {
            "EHLO" | "HELO" => {
                stage = Stage::Hello;
                say(
                    &mut write,
                    if verb == "EHLO" { "250-fake.smtp.test\r\n250 8BITMIME" } else { "250 fake.smtp.test" },
                )
                .await;
            }
            "MAIL" if stage == Stage::Hello && upper.starts_with("MAIL FROM:") => {
                (from, stage) = (path(&line["MAIL FROM:".len()..]), Stage::Mail);
                say(&mut write, "250 OK").await;
            }
            "RCPT" if matches!(stage, Stage::Mail | Stage::Rcpt) && upper.starts_with("RCPT TO:") => {
                to.push(path(&line["RCPT TO:".len()..]));
                stage = Stage::Rcpt;
                say(&mut write, "250 OK").await;
            }
            "DATA" if stage == Stage::Rcpt => {
                say(&mut write, "354 End data with <CR><LF>.<CR><LF>").await;
                let mut data = String::new();
                while let Ok(Some(l)) = lines.next_line().await {
                    if l == "." {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                    data.push_str("\r\n");
                }
                if let Ok(mut k) = kept.lock() {
                    k.push(Received { from: std::mem::take(&mut from), to: std::mem::take(&mut to), data });
                }
                stage = Stage::Hello;
                say(&mut write, "250 OK queued").await;
            }
            "RSET" => {
                (stage, from, to) = (Stage::Hello, String::new(), Vec::new());
                say(&mut write, "250 OK").await;
            }
            "NOOP" => say(&mut write, "250 OK").await,
            "QUIT" => {
                say(&mut write, "221 Bye").await;
                return;
            }
            "MAIL" | "RCPT" | "DATA" => {
                refuse("out of order");
                say(&mut write, "503 Bad sequence of commands").await;
            }
            _ => {
                refuse("unknown");
                say(&mut write, "500 Command not recognized").await;
            }
        }
    }
}
