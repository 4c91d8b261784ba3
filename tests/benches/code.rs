//! Code benchmark (issue 16, seed 000 §9, seed 003):
//!
//! - `parse`: a generated repository of 1,000 source files in five
//!   languages (Rust, Python, JavaScript, TypeScript, Go; functions calling
//!   across files, types with methods) read and parsed into the code graph
//!   in-process, in MB/s, beside `ctags -R` (universal-ctags) on the same
//!   tree; the functions and types each finds are counted, by language;
//! - `analyze`: the same repository committed to git and analysed through
//!   `analyzeRepository` on the production engines (PostgreSQL with
//!   pgvector, RabbitMQ, Redis) with the local embedder: clone, read,
//!   parse, graph, store and embed, from the mutation to the job's
//!   `COMPLETED` (target ≤ 60 s);
//! - `searchCode`: 200 queries (identifiers and questions) against it,
//!   hybrid with one hop of expansion, p50 and p95 (target p95 ≤ 30 ms).
//!
//! Run: `bash scripts/bench.sh code` (or `cargo bench -p alatar-tests
//! --bench code` with the services and the model present).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use alatar_agents::code::graph::{self, NodeKind};
use alatar_agents::code::settings::CodeSettings;
use alatar_agents::code::walk;
use alatar_tests::{
    Backend, TestApp, amqp_url, minilm_present, percentile, redis_url, scratch_dir, with_local_embeddings,
};

/// The same allocator as the `alatar` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FILES: usize = 1_000;
const QUERIES: usize = 200;
/// Per language: (share of the files, extension).
const LANGUAGES: [(&str, usize, &str); 5] = [
    ("rust", 250, "rs"),
    ("python", 250, "py"),
    ("javascript", 200, "js"),
    ("typescript", 150, "ts"),
    ("go", 150, "go"),
];
const FUNCTIONS_PER_FILE: usize = 6;

const ANALYZE: &str = "mutation($u: String!) { analyzeRepository(url: $u) { id } }";
const ANALYSIS: &str =
    "query($id: ID!) { repositoryAnalysis(id: $id) { nodeCount report job { status progress error } } }";
const SEARCH: &str =
    "query($r: ID!, $q: String!) { searchCode(repositoryId: $r, query: $q, expand: 1) { usedMode hits { score } } }";

/// Words the generated code is about, so searches have something to find.
const TOPICS: [&str; 10] =
    ["cart", "price", "stock", "order", "refund", "discount", "customer", "shipping", "tax", "review"];

fn topic(i: usize) -> &'static str {
    TOPICS[i % TOPICS.len()]
}

/// One source file of `language`, number `i` of `n` in it.
fn source(language: &str, i: usize, n: usize) -> String {
    let next = (i + 1) % n;
    let mut out = String::new();
    let t = topic(i);
    match language {
        "rust" => {
            out.push_str(&format!("//! The {t} rules, part {i}.\n\nuse crate::m{next}::Ledger{next};\n\n"));
            out.push_str(&format!("/// A {t} ledger.\npub struct Ledger{i} {{\n    pub total: u64,\n}}\n\n"));
            out.push_str(&format!("impl Ledger{i} {{\n    /// Adds to the {t} total.\n    pub fn add(&mut self, v: u64) {{\n        self.total += v;\n        compute_{t}_{i}_0(v);\n    }}\n}}\n\n"));
            for k in 0..FUNCTIONS_PER_FILE {
                out.push_str(&format!(
                    "/// Computes the {t} value {k}.\npub fn compute_{t}_{i}_{k}(v: u64) -> u64 {{\n    let base = v * {k} + {i};\n    let adjusted = base.saturating_sub(3);\n    crate::m{next}::compute_{tn}_{next}_{k}(adjusted % 97)\n}}\n\n",
                    tn = topic(next)
                ));
            }
        }
        "python" => {
            out.push_str(&format!(
                "\"\"\"The {t} rules, part {i}.\"\"\"\n\nfrom pkg.m{next} import Ledger{next}\n\n\n"
            ));
            out.push_str(&format!("class Ledger{i}(Ledger{next}):\n    \"\"\"A {t} ledger.\"\"\"\n\n    def add(self, v):\n        self.total = self.total + v\n        return compute_{t}_{i}_0(v)\n\n\n"));
            for k in 0..FUNCTIONS_PER_FILE {
                out.push_str(&format!(
                    "def compute_{t}_{i}_{k}(v):\n    \"\"\"Computes the {t} value {k}.\"\"\"\n    base = v * {k} + {i}\n    adjusted = max(base - 3, 0)\n    return compute_{tn}_{next}_{k}(adjusted % 97)\n\n\n",
                    tn = topic(next)
                ));
            }
        }
        "javascript" | "typescript" => {
            let ty = if language == "typescript" { ": number" } else { "" };
            out.push_str(&format!("// The {t} rules, part {i}.\nimport {{ Ledger{next} }} from './m{next}';\n\n"));
            out.push_str(&format!("export class Ledger{i} extends Ledger{next} {{\n  /** Adds to the {t} total. */\n  add(v{ty}) {{\n    this.total += v;\n    return compute_{t}_{i}_0(v);\n  }}\n}}\n\n"));
            for k in 0..FUNCTIONS_PER_FILE {
                out.push_str(&format!(
                    "/** Computes the {t} value {k}. */\nexport function compute_{t}_{i}_{k}(v{ty}){ret} {{\n  const base = v * {k} + {i};\n  const adjusted = Math.max(base - 3, 0);\n  return compute_{tn}_{next}_{k}(adjusted % 97);\n}}\n\n",
                    ret = if language == "typescript" { ": number" } else { "" },
                    tn = topic(next)
                ));
            }
        }
        _ => {
            out.push_str(&format!(
                "// Package m{i}: the {t} rules.\npackage m{i}\n\nimport \"example.com/shop/m{next}\"\n\n"
            ));
            out.push_str(&format!("// Ledger{i} is a {t} ledger.\ntype Ledger{i} struct {{\n\tTotal int\n}}\n\n// Add adds to the {t} total.\nfunc (l *Ledger{i}) Add(v int) int {{\n\tl.Total += v\n\treturn Compute{t}{i}0(v)\n}}\n\n"));
            for k in 0..FUNCTIONS_PER_FILE {
                out.push_str(&format!(
                    "// Compute{t}{i}{k} computes the {t} value {k}.\nfunc Compute{t}{i}{k}(v int) int {{\n\tbase := v*{k} + {i}\n\tif base < 3 {{\n\t\tbase = 3\n\t}}\n\treturn m{next}.Compute{tn}{next}{k}((base - 3) % 97)\n}}\n\n",
                    tn = topic(next)
                ));
            }
        }
    }
    out
}

/// Writes the repository and commits it; its directory.
fn generate(root: &Path) -> std::path::PathBuf {
    let dir = root.join("shop-monorepo");
    for (language, count, ext) in LANGUAGES {
        for i in 0..count {
            let folder = match language {
                "rust" => format!("crates/rules/src/m{i}.rs"),
                "python" => format!("pkg/m{i}.py"),
                "go" => format!("go/m{i}/m{i}.go"),
                _ => format!("web/{language}/m{i}.{ext}"),
            };
            let path = dir.join(folder);
            std::fs::create_dir_all(path.parent().unwrap_or(&dir)).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(&path, source(language, i, count)).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let lib: String = (0..250).map(|i| format!("pub mod m{i};\n")).collect();
    std::fs::write(dir.join("crates/rules/src/lib.rs"), lib).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.join("crates/rules/Cargo.toml"),
        "[package]\nname = \"rules\"\nversion = \"0.1.0\"\n\n[dependencies]\nserde = \"1\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("package.json"), r#"{ "name": "web", "dependencies": { "lodash": "^4" } }"#)
        .unwrap_or_else(|e| panic!("{e}"));
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=Bench", "-c", "user.email=bench@example.com", "-c", "init.defaultBranch=main"])
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| panic!("git: {e}"));
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    git(&["init", "--quiet"]);
    git(&["add", "-A"]);
    git(&["commit", "--quiet", "-m", "generated"]);
    dir
}

/// Our parse: files read and graphed in-process; (MB/s, functions and
/// types by language).
fn parse(dir: &Path) -> (f64, f64, BTreeMap<String, (usize, usize)>) {
    let started = Instant::now();
    let tree = walk::read(dir, &CodeSettings::default());
    let built = graph::build(&tree.files);
    let secs = started.elapsed().as_secs_f64();
    let mut found: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for node in &built.nodes {
        let entry = found.entry(node.language.to_owned()).or_default();
        match node.kind {
            NodeKind::Function | NodeKind::Method => entry.0 += 1,
            NodeKind::Class | NodeKind::Struct | NodeKind::Enum | NodeKind::Trait | NodeKind::Interface => entry.1 += 1,
            _ => {}
        }
    }
    let mb = built.bytes_parsed as f64 / 1e6;
    (mb / secs, secs, found)
}

/// universal-ctags on the same tree; (MB/s, functions and types by
/// language), or `None` without ctags.
fn ctags(dir: &Path, bytes: f64) -> Option<(f64, f64, BTreeMap<String, (usize, usize)>)> {
    let started = Instant::now();
    let out = Command::new("ctags")
        .args([
            "-R",
            "--output-format=json",
            "--fields=+nKl",
            "--languages=Rust,Python,JavaScript,TypeScript,Go",
            "-f",
            "-",
        ])
        .arg(dir)
        .output()
        .ok()?;
    let secs = started.elapsed().as_secs_f64();
    let mut found: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(tag) = serde_json::from_str::<Value>(line) else { continue };
        let language = tag["language"].as_str().unwrap_or_default().to_lowercase();
        let entry = found.entry(language).or_default();
        match tag["kind"].as_str().unwrap_or_default() {
            "function" | "method" | "func" | "generator" => entry.0 += 1,
            "class" | "struct" | "enum" | "trait" | "interface" => entry.1 += 1,
            _ => {}
        }
    }
    Some((bytes / 1e6 / secs, secs, found))
}

async fn analyze_and_search(dir: &Path) {
    if !minilm_present() {
        return;
    }
    let namespace = format!("bench-{}.", uuid::Uuid::now_v7());
    let app = TestApp::with_config(Backend::Postgres, |c| {
        c.amqp_url = Some(amqp_url().into());
        c.redis_url = Some(redis_url().into());
        c.pipeline.queue_namespace = namespace.clone();
        c.rate_limit.free_per_hour = 1_000_000;
        c.code.allow_local_repositories = true;
        with_local_embeddings(c);
    })
    .await;
    let (token, _, _) = app.register("bench@code.example").await;
    let started = Instant::now();
    let queued = app.gql(ANALYZE, json!({ "u": format!("file://{}", dir.display()) }), Some(&token)).await.ok();
    let id = queued.data("/analyzeRepository/id").clone();
    let analysis = loop {
        let found = app.gql(ANALYSIS, json!({ "id": id }), Some(&token)).await.ok().data("/repositoryAnalysis").clone();
        match found["job"]["status"].as_str() {
            // `job` resolves after the row was read: read it again.
            Some("COMPLETED") => {
                break app
                    .gql(ANALYSIS, json!({ "id": id }), Some(&token))
                    .await
                    .ok()
                    .data("/repositoryAnalysis")
                    .clone();
            }
            Some("FAILED" | "CANCELLED") => panic!("the analysis failed: {found}"),
            _ => {}
        }
        assert!(started.elapsed() < Duration::from_secs(900), "the analysis did not end: {found}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let total = started.elapsed().as_secs_f64();
    let graph = &analysis["report"]["graph"];
    println!("analyze stages (s): {}", graph["seconds"]);
    println!(
        "analyze: {FILES} files end to end in {total:.1} s (target ≤ 60 s): {} nodes, {} edges ({} resolved), {} chunks \
         embedded; parse in the job {:.2} s",
        analysis["nodeCount"],
        graph["edges"],
        graph["resolvedEdges"],
        graph["embeddedChunks"],
        graph["parseSeconds"].as_f64().unwrap_or_default()
    );
    let mut times = Vec::with_capacity(QUERIES);
    let mut mode = String::new();
    for q in 0..QUERIES {
        let query = match q % 4 {
            0 => format!("compute_{}_{}_{}", topic(q), q % 250, q % FUNCTIONS_PER_FILE),
            1 => format!("which functions compute the {} value?", topic(q)),
            2 => format!("Ledger{} add", q % 150),
            _ => format!("{} total", topic(q + 3)),
        };
        let sent = Instant::now();
        let answer = app.gql(SEARCH, json!({ "r": id, "q": query }), Some(&token)).await.ok();
        times.push(sent.elapsed().as_secs_f64() * 1000.0);
        mode = answer.data("/searchCode/usedMode").as_str().unwrap_or_default().to_owned();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "searchCode ({mode}, expand 1): {QUERIES} queries p50 {:.1} ms, p95 {:.1} ms (target p95 ≤ 30 ms)",
        percentile(&times, 0.5),
        percentile(&times, 0.95)
    );
}

#[tokio::main]
async fn main() {
    let root = scratch_dir();
    let dir = generate(&root);
    let (ours_rate, ours_secs, ours) = parse(&dir);
    let bytes: f64 = {
        let tree = walk::read(&dir, &CodeSettings::default());
        tree.files.iter().filter(|f| graph::Grammar::of_path(&f.path).is_some()).map(|f| f.size as f64).sum()
    };
    println!(
        "parse: {:.1} MB of source in {ours_secs:.2} s = {ours_rate:.1} MB/s (tree-sitter, up to 4 threads)",
        bytes / 1e6
    );
    match ctags(&dir, bytes) {
        Some((rate, secs, theirs)) => {
            println!("ctags: {secs:.2} s = {rate:.1} MB/s (universal-ctags, one process)");
            println!("language | ours functions/types | ctags functions/types | generated functions/types");
            for (language, count, _) in LANGUAGES {
                let o = ours.get(language).copied().unwrap_or_default();
                let t = theirs.get(language).copied().unwrap_or_default();
                println!(
                    "{language} | {} / {} | {} / {} | {} / {}",
                    o.0,
                    o.1,
                    t.0,
                    t.1,
                    count * (FUNCTIONS_PER_FILE + 1),
                    count
                );
            }
        }
        None => println!("ctags: not installed (apt-get install universal-ctags)"),
    }
    analyze_and_search(&dir).await;
    let _ = std::fs::remove_dir_all(&root);
}
