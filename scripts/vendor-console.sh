#!/usr/bin/env bash
# Copies the console's vendored npm files from the packages pinned in
# server/console/vendor/package-lock.json (integrity-checked by npm ci).
# To update: bump the version in server/console/vendor/package.json, run
# `npm install --package-lock-only --prefix server/console/vendor`, then this
# script, then check the diff (a renamed chunk file must also be renamed in
# server/src/http/console.rs's list).
set -euo pipefail
cd "$(dirname "$0")/.."
vendor=server/console/vendor
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$vendor/package.json" "$vendor/package-lock.json" "$work/"
npm ci --prefix "$work" --ignore-scripts --omit=peer --no-audit --no-fund --silent
rm -rf "$vendor/graphql-ws"
mkdir -p "$vendor/graphql-ws"
# The browser build of the client: an ES module and the chunk it imports.
cp "$work/node_modules/graphql-ws/dist/client.js" "$vendor/graphql-ws/"
grep -o "from '\./[^']*'" "$work/node_modules/graphql-ws/dist/client.js" | sed "s/from '\.\/\(.*\)'/\1/" | sort -u |
    while read -r chunk; do cp "$work/node_modules/graphql-ws/dist/$chunk" "$vendor/graphql-ws/"; done
cp "$work/node_modules/graphql-ws/LICENSE.md" "$vendor/graphql-ws/"
git status --short "$vendor"
