//! Extraction of every file into its own small graph, on a few worker
//! threads (each with its own parsers), results kept in the files' order so
//! the merged graph does not depend on scheduling.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use super::RepoFile;
use super::parse::Parsers;
use super::record::FileCx;
use super::walk::{Visit, walk};
use super::{CodeEdge, CodeNode, Grammar, go, javascript, module_path, python, rust};

/// Larger files are skipped (generated bundles, vendored amalgamations).
pub(super) const MAX_FILE_BYTES: usize = 1024 * 1024;

/// Below this much source, threads cost more than they save.
const PARALLEL_FROM_BYTES: usize = 256 * 1024;

/// At most this many worker threads.
const MAX_WORKERS: usize = 4;

/// A file to extract, with the grammar that reads it.
pub(super) struct Job<'a> {
    /// The file.
    pub file: &'a RepoFile,
    /// Its grammar.
    pub grammar: Grammar,
}

/// One file's nodes and edges, keyed from 0 (its `File` node).
pub(super) struct FileGraph {
    /// Its nodes; `nodes[0]` is the file.
    pub nodes: Vec<CodeNode>,
    /// Its edges, `to` set only for `CONTAINS`.
    pub edges: Vec<CodeEdge>,
    /// Per edge, the name to resolve it by (an import made absolute).
    pub lookups: Vec<String>,
    /// The file's size.
    pub bytes: u64,
}

/// Every job's outcome, in the jobs' order.
pub(super) fn extract_all(jobs: &[Job<'_>]) -> Vec<Result<FileGraph, String>> {
    let total: usize = jobs.iter().map(|job| job.file.text.as_ref().map_or(0, String::len)).sum();
    let workers = if total < PARALLEL_FROM_BYTES {
        1
    } else {
        thread::available_parallelism().map_or(1, NonZeroUsize::get).clamp(1, MAX_WORKERS).min(jobs.len())
    };
    if workers <= 1 {
        let mut parsers = Parsers::default();
        return jobs.iter().map(|job| extract_one(&mut parsers, job)).collect();
    }
    let next = AtomicUsize::new(0);
    let (next, shared) = (&next, jobs);
    let done: Vec<(usize, Result<FileGraph, String>)> = thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(move || {
                    let mut parsers = Parsers::default();
                    let mut out = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = shared.get(index) else { break };
                        out.push((index, extract_one(&mut parsers, job)));
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().flat_map(|handle| handle.join().unwrap_or_default()).collect()
    });
    let mut outcomes: Vec<Option<Result<FileGraph, String>>> = (0..jobs.len()).map(|_| None).collect();
    for (index, outcome) in done {
        if let Some(slot) = outcomes.get_mut(index) {
            *slot = Some(outcome);
        }
    }
    outcomes.into_iter().map(|outcome| outcome.unwrap_or_else(|| Err("extraction failed".to_owned()))).collect()
}

/// One file's graph, or why there is none.
fn extract_one(parsers: &mut Parsers, job: &Job<'_>) -> Result<FileGraph, String> {
    let text = job.file.text.as_deref().ok_or_else(|| "no text (binary or too large to read)".to_owned())?;
    if text.len() > MAX_FILE_BYTES {
        return Err(format!("{} bytes, over the {} byte limit", text.len(), MAX_FILE_BYTES));
    }
    let tree = parsers.parse(job.grammar, text)?;
    let root = tree.root_node();
    let module = module_path::of_file(job.grammar, &job.file.path);
    let mut cx = FileCx::new(&job.file.path, job.grammar, text, module);
    walk(root, &mut cx, visitor(job.grammar));
    Ok(cx.finish())
}

/// The node visitor for a grammar.
fn visitor(grammar: Grammar) -> Visit {
    match grammar {
        Grammar::Rust => rust::visit as Visit,
        Grammar::Python => python::visit as Visit,
        Grammar::JavaScript | Grammar::TypeScript | Grammar::Tsx => javascript::visit as Visit,
        Grammar::Go => go::visit as Visit,
    }
}
