#!/usr/bin/env bash
# Benchmarks; figures go into BENCHMARKS.md with the machine they ran on.
set -euo pipefail
cd "$(dirname "$0")/.."
# Knowledge (issue 14): embedding, ingestion, chat and search over 100,000
# chunks; `bash scripts/bench.sh knowledge` runs it alone. Set
# ALATAR_BENCH_PYTHON to a Python with sentence-transformers (see
# scripts/embed-bench.py) for the side-by-side embedding figures.
knowledge() {
    bash scripts/services.sh
    bash scripts/model.sh
    cargo bench --locked -p alatar-tests --bench knowledge
}
# Datasets (issue 15): 1M-row ingest + profile beside pandas, runSql and
# askDataset on both engines; `bash scripts/bench.sh datasets` runs it alone.
datasets() {
    bash scripts/services.sh
    python3 -c "import pandas" 2>/dev/null \
        || pip install --quiet pandas 2>/dev/null || pip install --quiet --break-system-packages pandas || true
    cargo bench --locked -p alatar-tests --bench datasets
}
# Dashboards (issue 15): a 6-chart dashboard read (≤ 1 s) and exported as
# PNG and PDF (≤ 3 s) on both engines; `bash scripts/bench.sh dashboards`.
dashboards() {
    bash scripts/services.sh
    cargo bench --locked -p alatar-tests --bench dashboards
}
# Market (issue 16): the indicators' math on one core (≥ 1M ticks/s) and
# ingestTicks → RabbitMQ partitions → Redis + PostgreSQL end to end
# (≥ 20,000 ticks/s, visible p99 ≤ 50 ms); `bash scripts/bench.sh market`.
market() {
    bash scripts/services.sh
    cargo bench --locked -p alatar-tests --bench market
}
# Code (issue 16): a generated 1,000-file repository in five languages
# parsed beside universal-ctags, analysed end to end through
# analyzeRepository with the local embedder (≤ 60 s), and searchCode p95
# (≤ 30 ms); `bash scripts/bench.sh code`.
code() {
    bash scripts/services.sh
    bash scripts/model.sh
    command -v ctags >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq universal-ctags; }
    # Without MIMALLOC_PURGE_DELAY: with it the short code texts embedded
    # slower here (66.9 s against 53.5 s; BENCHMARKS.md, "Code").
    cargo bench --locked -p alatar-tests --bench code
}
if [ "${1:-}" = code ]; then
    code
    exit 0
fi
if [ "${1:-}" = market ]; then
    market
    exit 0
fi
if [ "${1:-}" = dashboards ]; then
    dashboards
    exit 0
fi
if [ "${1:-}" = datasets ]; then
    datasets
    exit 0
fi
if [ "${1:-}" = knowledge ]; then
    knowledge
    exit 0
fi
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo bench --locked -p alatar-tests --bench http
# The pipeline benchmark needs PostgreSQL, RabbitMQ and Redis running.
bash scripts/services.sh
cargo bench --locked -p alatar-tests --bench pipeline
cargo bench --locked -p alatar-tests --bench mixed
# The subscription benchmark starts the release binary (and an `alatar worker`).
cargo build --locked --release -p alatar-server --bin alatar
ulimit -n 65536 2>/dev/null || true
cargo bench --locked -p alatar-tests --bench subscriptions
knowledge
datasets
