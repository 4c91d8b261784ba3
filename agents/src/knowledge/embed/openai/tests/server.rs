//! A scripted OpenAI-compatible embeddings server on a local port (this
//! crate has no HTTP server of its own, so HTTP/1.1 by hand, one request a
//! connection): each request gets the next scripted reply, and every
//! request's path, headers and JSON body are recorded.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with one `dimension`-long vector per input, listed in reverse
    /// order with their `index`: element 0 is the input's length in bytes,
    /// element 1 its position.
    Vectors(usize),
    /// 200 with `count` vectors of `dimension`, whatever was asked.
    Fixed { count: usize, dimension: usize },
    /// A status with extra headers and a body.
    Status(u16, Vec<(&'static str, &'static str)>, &'static str),
    /// Waits, then answers.
    Slow(Duration, Box<Reply>),
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Seen {
    /// The request's `input` array's length.
    pub fn inputs(&self) -> usize {
        self.body["input"].as_array().map_or(0, Vec::len)
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Script {
    replies: Mutex<VecDeque<Reply>>,
    seen: Mutex<Vec<Seen>>,
}

/// The running server; stops when dropped.
pub struct Scripted {
    /// `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    script: Arc<Script>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Scripted {
    /// Listens on a free port and answers with `replies`, in order.
    pub async fn start(replies: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("bind: {e}"));
        let address = listener.local_addr().unwrap_or_else(|e| panic!("address: {e}"));
        let script = Arc::new(Script { replies: Mutex::new(replies.into()), seen: Mutex::default() });
        let serving = Arc::clone(&script);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&serving)));
            }
        });
        Self { base_url: format!("http://{address}/v1"), script, task }
    }

    /// The requests so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.script.seen.lock().map(|seen| seen.clone()).unwrap_or_default()
    }
}

async fn serve(mut stream: TcpStream, script: Arc<Script>) {
    let Some(request) = read_request(&mut stream).await else { return };
    let reply = {
        let mut replies = match script.replies.lock() {
            Ok(replies) => replies,
            Err(_) => return,
        };
        replies.pop_front()
    };
    let inputs: Vec<String> = request.body["input"]
        .as_array()
        .map(|items| items.iter().map(|item| item.as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default();
    if let Ok(mut seen) = script.seen.lock() {
        seen.push(request);
    }
    let reply = reply.unwrap_or(Reply::Status(500, Vec::new(), r#"{"error":{"message":"script exhausted"}}"#));
    let (status, headers, body) = answer(reply, &inputs).await;
    let mut head = format!(
        "HTTP/1.1 {status} Scripted\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    // The client may have given up (a timeout test); nothing to do then.
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn answer(mut reply: Reply, inputs: &[String]) -> (u16, Vec<(&'static str, &'static str)>, String) {
    loop {
        match reply {
            Reply::Slow(delay, inner) => {
                tokio::time::sleep(delay).await;
                reply = *inner;
            }
            Reply::Vectors(dimension) => {
                let data: Vec<Value> = inputs
                    .iter()
                    .enumerate()
                    .rev()
                    .map(|(index, text)| {
                        let mut vector = vec![0.0f32; dimension];
                        if dimension >= 2 {
                            vector[0] = text.len() as f32;
                            vector[1] = index as f32;
                        }
                        json!({ "object": "embedding", "index": index, "embedding": vector })
                    })
                    .collect();
                let usage = json!({ "prompt_tokens": 1, "total_tokens": 1 });
                let body = json!({ "object": "list", "data": data, "model": "scripted", "usage": usage });
                return (200, Vec::new(), body.to_string());
            }
            Reply::Fixed { count, dimension } => {
                let data: Vec<Value> = (0..count)
                    .map(|index| json!({ "object": "embedding", "index": index, "embedding": vec![0.5f32; dimension] }))
                    .collect();
                return (200, Vec::new(), json!({ "object": "list", "data": data }).to_string());
            }
            Reply::Status(status, headers, body) => return (status, headers, body.to_owned()),
        }
    }
}

async fn read_request(stream: &mut TcpStream) -> Option<Seen> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok())?;
    while buffer.len() < head_end + length {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let body = serde_json::from_slice(&buffer[head_end..head_end + length]).ok()?;
    Some(Seen { path, headers, body })
}
