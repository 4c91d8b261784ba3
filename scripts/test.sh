#!/usr/bin/env bash
# The whole test suite, on a fresh machine or this one: installs and starts
# PostgreSQL (+pgvector), Redis, RabbitMQ and Node when missing, installs the
# graphql-http audit, builds the binary the black-box tests run, then tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh
npm ci --prefix tests/graphql-http --no-audit --no-fund --silent
cargo build --locked -p alatar-server --bin alatar
cargo test --locked --workspace "$@"
