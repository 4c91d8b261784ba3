#!/usr/bin/env node
// GraphQL over HTTP conformance audit for the Alatar server.
//
// Usage: node audit.mjs <url> [--fail-on-warn]
//   e.g. node audit.mjs http://127.0.0.1:8080/graphql
//
// Runs every audit from graphql-http's `serverAudits` (see NOTES.md), one at a
// time, and prints one line per audit:
//   OK      [id] name
//   WARN    [id] name -- reason (HTTP status, body)   failed SHOULD: counted as passed
//   NOTICE  [id] name -- reason (HTTP status, body)   failed MAY:    counted as passed
//   FAIL    [id] name -- reason (HTTP status, body)   failed MUST (status 'error'),
//                                                     or the audit itself crashed
// then a summary line `N passed, M failed` and exits 1 when M > 0
// (with --fail-on-warn, failed SHOULD audits count as failed too).
import { serverAudits } from 'graphql-http';

const REQUEST_TIMEOUT_MS = Number(process.env.AUDIT_TIMEOUT_MS || 10000);

const args = process.argv.slice(2);
const failOnWarn = args.includes('--fail-on-warn');
const url = args.find((a) => !a.startsWith('--')) || process.env.GRAPHQL_URL;
if (!url) {
  console.error('usage: node audit.mjs <graphql-url> [--fail-on-warn]');
  console.error('   e.g. node audit.mjs http://127.0.0.1:8080/graphql');
  process.exit(2);
}
try {
  new URL(url);
} catch {
  console.error(`invalid URL: ${url}`);
  process.exit(2);
}

// Same as the global fetch, but every request gets a timeout so that a hung
// server fails the audit instead of hanging the run.
function fetchWithTimeout(input, init = {}) {
  return fetch(input, {
    ...init,
    signal: init.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
}

async function describeResponse(res) {
  if (!res || typeof res.status !== 'number') return '';
  let body = '';
  try {
    body = await res.text();
  } catch {
    body = '<body already consumed>';
  }
  body = body.replace(/\s+/g, ' ').trim();
  if (body.length > 300) body = body.slice(0, 300) + '...';
  const ct = res.headers?.get?.('content-type') ?? '-';
  return ` (HTTP ${res.status}, content-type: ${ct}, body: ${body || '<empty>'})`;
}

const audits = serverAudits({ url, fetchFn: fetchWithTimeout });
console.log(`graphql-http server audits against ${url} (${audits.length} audits)`);

let passed = 0;
let failed = 0;
const counts = { ok: 0, warn: 0, notice: 0, error: 0, crashed: 0 };

for (const audit of audits) {
  let result;
  try {
    result = await audit.fn();
  } catch (err) {
    // graphql-http rethrows anything that is not an assertion failure, e.g. a
    // refused connection or a timeout: the server did not answer at all.
    counts.crashed++;
    failed++;
    const msg = err && err.cause ? `${err.message}: ${err.cause.message || err.cause}` : String(err?.message ?? err);
    console.log(`FAIL    [${audit.id}] ${audit.name} -- request failed: ${msg}`);
    continue;
  }
  const { id, name, status } = result;
  counts[status] = (counts[status] ?? 0) + 1;
  if (status === 'ok') {
    passed++;
    console.log(`OK      [${id}] ${name}`);
    continue;
  }
  const detail = `${result.reason}${await describeResponse(result.response)}`;
  if (status === 'error' || (failOnWarn && status === 'warn')) {
    failed++;
    console.log(`FAIL    [${id}] ${name} -- ${detail}`);
  } else if (status === 'warn') {
    passed++;
    console.log(`WARN    [${id}] ${name} -- ${detail}`);
  } else {
    passed++;
    console.log(`NOTICE  [${id}] ${name} -- ${detail}`);
  }
}

console.log(
  `(ok: ${counts.ok}, warn: ${counts.warn}, notice: ${counts.notice}, ` +
    `error: ${counts.error}, request failures: ${counts.crashed})`,
);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
