// The console end to end in headless Chromium, against a running `alatar
// serve` (embedded default): `node e2e.mjs <base-url> <artifact-dir>`.
// Prints one JSON line of measurements; exits non-zero on the first
// failed check (with the reason on stderr).
//
// Sign-ups are confirmed by mail (the server's default): the server writes
// its mail as .eml files into E2E_MAIL_DIR, where the test reads the link.
//
// A merchant registers, links the demo store, asks the revenue question and
// watches it run, sees the chart, approves one proposal (the read-only demo
// store refuses it, and the reason is shown), rejects the other, and sees the
// request end COMPLETED. A second merchant in another account sees none of
// it. Along the way: first load size and paint time, every event shown once
// (also across a reload mid-run), no CSP violation, no console error, the
// phone width without sideways scrolling, and axe-core on the main views.

import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [base, artifacts] = process.argv.slice(2);
if (!base || !artifacts) throw new Error('usage: node e2e.mjs <base-url> <artifact-dir>');
mkdirSync(artifacts, { recursive: true });
const require = createRequire(import.meta.url);
const axePath = require.resolve('axe-core/axe.min.js');
const QUESTION = 'How did revenue develop over the last 3 months and what should I do?';
const PASSWORD = 'correct horse battery staple';
const TIMEOUT = Number(process.env.E2E_TIMEOUT || 60_000);
const report = {};
const pages = [];

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});

// A page that records CSP violations, console errors and when the first
// form appeared.
async function newPage(options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  pages.push(page);
  page.problems = [];
  page.on('console', (m) => { if (m.type() === 'error') page.problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
    new MutationObserver((_, observer) => {
      if (document.querySelector('main form, main h1')) {
        window.__shown = performance.now();
        observer.disconnect();
      }
    }).observe(document, { childList: true, subtree: true });
  });
  return page;
}

async function clean(page, where) {
  const csp = await page.evaluate(() => window.__csp);
  check(csp.length === 0, `${where}: CSP violations ${JSON.stringify(csp)}`);
  // A refused request (the stranger's NOT_FOUND) logs nothing: the console
  // shows errors in the page, not in the browser's console.
  const problems = page.problems.filter((p) => !p.includes('the server responded with a status of 4'));
  check(problems.length === 0, `${where}: ${problems.join('; ')}`);
}

// The confirmation link mailed to `email` (quoted-printable soft breaks undone).
async function mailedLink(email) {
  const dir = process.env.E2E_MAIL_DIR;
  check(dir, 'E2E_MAIL_DIR is not set');
  for (let i = 0; i < 100; i++) {
    let names = [];
    try { names = readdirSync(dir).filter((n) => n.endsWith('.eml')); } catch { /* not yet written */ }
    for (const name of names) {
      const mail = readFileSync(join(dir, name), 'utf8').replaceAll('=\r\n', '').replaceAll('=3D', '=');
      const link = mail.match(/https?:\/\/\S+#\/confirm\/[A-Za-z0-9_-]+/);
      if (link && mail.split('\r\n').includes(`To: ${email}`)) return link[0];
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no confirmation mail for ${email}`);
}

async function register(page, email, account) {
  await page.goto(`${base}/console/#/register`);
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { name: 'Check your inbox' }).waitFor();
  // The password is chosen on the page the mailed link opens.
  await page.goto(await mailedLink(email));
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('Business name').fill(account);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
  check(!page.url().includes('/confirm/'), `the link's secret stayed in the address bar: ${page.url()}`);
}

async function api(page, query, variables = {}) {
  const token = await page.evaluate(() => {
    const id = localStorage.getItem('alatar.current');
    return JSON.parse(localStorage.getItem('alatar.sessions')).find((s) => s.userId === id).accessToken;
  });
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  check(!body.errors, `api: ${JSON.stringify(body.errors)}`);
  return body.data;
}

// Every event of the request is in the timeline exactly once.
async function everyEventOnce(page, id, where) {
  const data = await api(page, 'query($id: ID!) { analysisRequest(id: $id) { lastSequence } }', { id });
  const last = data.analysisRequest.lastSequence;
  await page.waitForFunction((n) => document.querySelectorAll('.timeline li').length >= n, last);
  const shown = await page.$$eval('.timeline li', (items) => items.map((li) => Number(li.dataset.sequence)));
  const expected = Array.from({ length: last }, (_, i) => i + 1);
  check(JSON.stringify(shown) === JSON.stringify(expected), `${where}: timeline ${JSON.stringify(shown)} is not 1..${last}`);
  return last;
}

async function reject(page, actionId) {
  const card = page.locator(`li.proposal[data-action-id="${actionId}"]`);
  await card.getByLabel('Reason').fill('Not this month');
  await card.locator('[data-act="reject"]').click();
  await page.locator(`li.proposal[data-action-id="${actionId}"][data-status="REJECTED"]`).waitFor();
}

async function askQuestion(page, question) {
  await page.getByRole('link', { name: 'Ask' }).click();
  await page.getByLabel('Your question').fill(question);
  await page.getByRole('button', { name: 'Ask', exact: true }).click();
  await page.waitForURL(/#\/runs\/[\w-]+$/);
  return page.url().split('/').pop();
}

try {
  // First load: what the browser fetched and when the sign-in form was painted.
  const owner = await newPage();
  await owner.goto(`${base}/console/`);
  await owner.getByRole('heading', { name: 'Sign in to Alatar' }).waitFor();
  const load = await owner.evaluate(async () => {
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const nav = performance.getEntriesByType('navigation')[0];
    const resources = performance.getEntriesByType('resource').filter((r) => r.name.includes('/console/'));
    const paint = performance.getEntriesByName('first-contentful-paint')[0];
    return {
      files: [nav.name, ...resources.map((r) => r.name)],
      encoded: nav.encodedBodySize + resources.reduce((n, r) => n + r.encodedBodySize, 0),
      firstContentfulPaintMs: paint ? paint.startTime : null,
      formShownMs: window.__shown,
    };
  });
  let gzipped = 0;
  for (const file of load.files) {
    const body = Buffer.from(await (await fetch(file)).arrayBuffer());
    gzipped += gzipSync(body, { level: 9 }).length;
  }
  report.firstLoad = { files: load.files.length, bytes: load.encoded, gzipBytes: gzipped, firstContentfulPaintMs: load.firstContentfulPaintMs, formShownMs: load.formShownMs };
  check(gzipped <= 150 * 1024, `first load ${gzipped} bytes compressed > 150 KB`);
  check(load.formShownMs <= 1000, `sign-in form shown after ${load.formShownMs} ms > 1 s`);
  const headers = (await fetch(`${base}/console/`)).headers;
  check((headers.get('content-security-policy') || '').includes("script-src 'self'"), 'no CSP header');

  // Register, link the demo store.
  await register(owner, 'owner@console.example', 'Console Shop');
  await owner.getByRole('link', { name: 'Stores' }).click();
  await owner.getByRole('button', { name: 'Link the demo store' }).click();
  await owner.locator('tr[data-store-id]').first().waitFor();
  const storeRow = await owner.locator('tr[data-store-id]').first().innerText();
  check(/demo/i.test(storeRow) && /not applicable|active/i.test(storeRow), `store row: ${storeRow}`);

  // Ask; the run streams in.
  const started = Date.now();
  const id = await askQuestion(owner, QUESTION);
  const run = owner.locator(`article.run[data-request-id="${id}"]`);
  await run.waitFor();
  await owner.locator('.timeline li[data-kind="TASK_STARTED"]').first().waitFor();
  await owner.locator('.timeline li[data-kind="TOOL_RESULT"]').first().waitFor();
  await owner.locator('article.run[data-status="AWAITING_APPROVAL"]').waitFor();
  report.runMs = Date.now() - started;
  report.liveEvents = await owner.locator('.timeline li[data-live]').count();
  await owner.locator('svg.chart .mark').first().waitFor();
  report.chartMarks = await owner.locator('svg.chart .mark').count();
  check(await owner.locator('.team li').count() >= 1, 'no department shown');
  check(await owner.locator('ol.plan li').count() >= 1, 'no plan shown');
  // A key figure says where it came from.
  const figureButton = owner.locator('button.figure').first();
  await figureButton.click();
  check(await figureButton.getAttribute('aria-expanded') === 'true', 'figure provenance did not open');
  check(await owner.locator('.provenance:not([hidden]) code').count() >= 1, 'figure provenance names no tool');

  // Its proposal: approved, the read-only demo store refuses it, and says why.
  const cards = owner.locator('li.proposal');
  await cards.first().waitFor();
  const firstId = await cards.first().getAttribute('data-action-id');
  await owner.screenshot({ path: join(artifacts, 'console-run-desktop.png'), fullPage: true });
  await owner.locator(`li.proposal[data-action-id="${firstId}"] [data-act="approve"]`).click();
  const failed = owner.locator(`li.proposal[data-action-id="${firstId}"][data-status="FAILED"]`);
  await failed.waitFor();
  const reason = await failed.locator('.error').innerText();
  check(/read-only|demo/i.test(reason), `failure reason not shown: ${reason}`);
  for (const other of (await cards.evaluateAll((els) => els.map((e) => e.dataset.actionId))).slice(1)) {
    await reject(owner, other);
  }
  await owner.locator('article.run[data-status="COMPLETED"]').waitFor();
  report.events = await everyEventOnce(owner, id, 'live run');
  await owner.screenshot({ path: join(artifacts, 'console-desktop.png'), fullPage: true });

  // A phone: nothing wider than the screen.
  await owner.setViewportSize({ width: 390, height: 844 });
  await owner.reload();
  await owner.locator('article.run[data-status="COMPLETED"]').waitFor();
  const overflow = await owner.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `phone width scrolls sideways by ${overflow}px`);
  await owner.screenshot({ path: join(artifacts, 'console-phone.png'), fullPage: true });
  await owner.setViewportSize({ width: 1280, height: 800 });

  // Reloaded mid-run, the timeline still holds every event once; the best
  // sellers' answer proposes a discount and a product text change (shown as
  // a word diff), both rejected with a reason.
  const again = await askQuestion(owner, 'Which products sell best?');
  await owner.reload();
  await owner.locator(`article.run[data-request-id="${again}"][data-status="AWAITING_APPROVAL"]`).waitFor();
  report.eventsAfterReload = await everyEventOnce(owner, again, 'reloaded run');
  await owner.locator('li.proposal').nth(1).waitFor();
  const proposals = await owner.locator('li.proposal').evaluateAll((els) => els.map((e) => e.dataset.actionId));
  check(proposals.length === 2, `expected 2 proposals, saw ${proposals.length}`);
  check(await owner.locator('li.proposal .diff ins').count() >= 1, 'the product text change shows no diff');
  // An analyst of the account sees the proposals but no decision controls,
  // and the server refuses the decision all the same.
  const invited = await api(owner, 'mutation { inviteMember(email: "analyst@console.example", role: ANALYST) { token } }');
  const anonymousCall = async (query, variables) => (await fetch(`${base}/graphql`, { method: 'POST',
    headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) })).json();
  const signedUp = await anonymousCall('mutation($t: String!) { signUp(email: "analyst@console.example", invitationToken: $t) { email } }',
    { t: invited.inviteMember.token });
  check(!signedUp.errors, `analyst: ${JSON.stringify(signedUp.errors)}`);
  const secret = (await mailedLink('analyst@console.example')).split('#/confirm/')[1];
  const joined = await anonymousCall('mutation($t: String!, $p: String!) { confirmSignUp(token: $t, password: $p) { accessToken } }', { t: secret, p: PASSWORD });
  check(!joined.errors, `analyst: ${JSON.stringify(joined.errors)}`);
  const analyst = await newPage();
  await analyst.goto(`${base}/console/#/signin`);
  await analyst.getByLabel('Email').fill('analyst@console.example');
  await analyst.getByLabel('Password').fill(PASSWORD);
  await analyst.getByRole('button', { name: 'Sign in' }).click();
  await analyst.getByRole('navigation', { name: 'Main' }).waitFor();
  await analyst.goto(`${base}/console/#/runs/${again}`);
  await analyst.locator('li.proposal').nth(1).waitFor();
  check(await analyst.locator('[data-act]').count() === 0, 'an analyst is shown decision controls');
  check(await analyst.locator('nav a', { hasText: 'Audit log' }).count() === 0, 'an analyst is shown the audit log');
  const refused = await (await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${joined.data.confirmSignUp.accessToken}` },
    body: JSON.stringify({ query: 'mutation($id: ID!) { rejectAction(id: $id) { id } }', variables: { id: proposals[0] } }) })).json();
  check(refused.errors && refused.errors[0].extensions.code === 'FORBIDDEN', `analyst decision: ${JSON.stringify(refused)}`);
  await clean(analyst, 'analyst');
  for (const other of proposals) await reject(owner, other);
  await owner.locator(`article.run[data-request-id="${again}"][data-status="COMPLETED"]`).waitFor();
  const decided = await api(owner, 'query($r: ID) { proposedActions(requestId: $r) { status decisionReason } }', { r: again });
  check(decided.proposedActions.every((a) => a.status === 'REJECTED' && a.decisionReason === 'Not this month'), `rejections: ${JSON.stringify(decided)}`);

  // With Shopify configured (the fake, whose grant screen approves at
  // once): install a shop through OAuth in this browser, ask about it, and
  // approve its proposal, which runs against the shop, then revert it.
  if (process.env.E2E_SHOP) {
    const shop = process.env.E2E_SHOP;
    await owner.getByRole('link', { name: 'Stores' }).click();
    await owner.getByLabel('Shopify store').fill(shop);
    await owner.getByRole('button', { name: 'Connect with Shopify' }).click();
    await owner.waitForURL(/\/admin\/apps\//);
    await owner.goto(`${base}/console/#/stores`);
    const row = owner.locator('tr[data-store-id]', { hasText: shop });
    await row.waitFor();
    check(/active/i.test(await row.innerText()), `installed store: ${await row.innerText()}`);
    const storeId = await row.getAttribute('data-store-id');
    await owner.getByRole('link', { name: 'Ask' }).click();
    await owner.getByLabel('Store').selectOption(storeId);
    await owner.getByLabel('Your question').fill(QUESTION);
    await owner.getByRole('button', { name: 'Ask', exact: true }).click();
    await owner.waitForURL(/#\/runs\/[\w-]+$/);
    await owner.locator('article.run[data-status="AWAITING_APPROVAL"] li.proposal').first().waitFor();
    const action = await owner.locator('li.proposal').first().getAttribute('data-action-id');
    await owner.locator(`li.proposal[data-action-id="${action}"] [data-act="approve"]`).click();
    await owner.locator(`li.proposal[data-action-id="${action}"][data-status="EXECUTED"] [data-act="revert"]`).click();
    await owner.locator(`li.proposal[data-action-id="${action}"][data-status="REVERTED"]`).waitFor();
    for (const other of (await owner.locator('li.proposal[data-status="PENDING"]').evaluateAll((els) => els.map((e) => e.dataset.actionId)))) {
      await reject(owner, other);
    }
    report.shopifyInstalled = true;
  }

  // Past analyses and the audit log.
  await owner.getByRole('link', { name: 'Analyses' }).click();
  await owner.locator(`li[data-request-id="${id}"]`).waitFor();
  await owner.getByLabel('Status').selectOption('COMPLETED');
  await owner.locator(`li[data-request-id="${id}"]`).waitFor();
  await owner.getByRole('link', { name: 'Audit log' }).click();
  await owner.locator('table.grid tbody tr').first().waitFor();
  check(/approved|rejected/i.test(await owner.locator('table.grid tbody').innerText()), 'audit log shows no decision');
  // A collection with one document: chat about it, the answer streamed and then cited.
  const created = await api(owner, 'mutation { createCollection(name: "Policies") { id } }');
  const collection = created.createCollection.id;
  const form = new FormData();
  form.append('operations', JSON.stringify({ query: 'mutation($c: ID!, $f: Upload!) { uploadDocument(collectionId: $c, file: $f) { id } }', variables: { c: collection, f: null } }));
  form.append('map', JSON.stringify({ 0: ['variables.f'] }));
  form.append('0', new Blob(['# Returns\n\nItems can be returned within 30 days of delivery for a full refund. Sale items are final.\n'], { type: 'text/markdown' }), 'returns.md');
  const token = await owner.evaluate(() => JSON.parse(localStorage.getItem('alatar.sessions')).find((s) => s.userId === localStorage.getItem('alatar.current')).accessToken);
  const uploaded = await (await fetch(`${base}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'x-alatar-csrf': '1' }, body: form })).json();
  check(!uploaded.errors, `upload: ${JSON.stringify(uploaded.errors)}`);
  for (let i = 0; ; i += 1) {
    const d = await api(owner, 'query($id: ID!) { document(id: $id) { status } }', { id: uploaded.data.uploadDocument.id });
    if (d.document.status === 'INGESTED') break;
    check(d.document.status !== 'FAILED' && i < 300, `document ${d.document.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await owner.getByRole('link', { name: 'Library' }).click();
  await owner.getByRole('button', { name: 'Chat about it' }).click();
  await owner.waitForURL(/#\/chats\/[\w-]+$/);
  await owner.getByLabel('Ask about these documents').fill('How many days do customers have to return items?');
  await owner.getByRole('button', { name: 'Send' }).click();
  const answer = owner.locator('li.message.assistant[data-status="COMPLETE"]');
  await answer.waitFor();
  check(/30 days/.test(await answer.innerText()), `chat answer: ${await answer.innerText()}`);
  check(await answer.locator('.citations a', { hasText: 'returns.md' }).count() >= 1, 'chat answer cites nothing');
  // The citation opens the document's text.
  await answer.locator('.citations a', { hasText: 'returns.md' }).first().click();
  await owner.getByRole('heading', { name: 'returns.md' }).waitFor();
  check(/within 30 days/.test(await owner.locator('.chunk').first().innerText()), 'the cited document shows no text');
  await clean(owner, 'owner');

  // Someone in another account sees none of it.
  const stranger = await newPage();
  await register(stranger, 'stranger@console.example', 'Other Shop');
  await stranger.goto(`${base}/console/#/runs/${id}`);
  await stranger.getByRole('alert').waitFor();
  const refusal = await stranger.getByRole('alert').innerText();
  check(/not found/i.test(refusal), 'stranger saw the run');
  check(/request [0-9a-f-]{36}/.test(refusal), `the error names no request id: ${refusal}`);
  check(await stranger.locator('.proposal').count() === 0, 'stranger saw proposals');
  await stranger.goto(`${base}/console/#/runs`);
  await stranger.locator('li.empty').waitFor();
  await stranger.goto(`${base}/console/#/stores`);
  await stranger.locator('p.empty').waitFor();
  check(await stranger.locator('nav a', { hasText: 'Audit log' }).count() === 1, 'owner of their own account has an audit link');
  await clean(stranger, 'stranger');

  // One browser signed in as both: the header switches between them.
  await owner.getByRole('link', { name: 'Add account' }).click();
  await owner.getByLabel('Email').fill('stranger@console.example');
  await owner.getByLabel('Password').fill(PASSWORD);
  await owner.getByRole('button', { name: 'Sign in' }).click();
  await owner.getByRole('navigation', { name: 'Main' }).waitFor();
  const picker = owner.getByLabel('Signed in as');
  check(await picker.locator('option').count() === 2, 'the switcher does not list both sign-ins');
  check(/Other Shop/.test(await picker.locator('option:checked').innerText()), 'not switched to the added account');
  await owner.goto(`${base}/console/#/runs`);
  await owner.locator('li.empty').waitFor();
  const ownerOption = await picker.locator('option', { hasText: 'Console Shop' }).getAttribute('value');
  await picker.selectOption(ownerOption);
  await owner.goto(`${base}/console/#/runs`);
  await owner.locator(`li[data-request-id="${id}"]`).waitFor();

  // Signing out forgets each sign-in and its tokens.
  await owner.getByRole('button', { name: 'Sign out' }).click();
  await owner.waitForFunction(() => document.querySelectorAll('#who select option').length === 1);
  check((await owner.evaluate(() => JSON.parse(localStorage.getItem('alatar.sessions')).length)) === 1, 'sign out kept the session');
  await owner.getByRole('button', { name: 'Sign out' }).click();
  await owner.getByRole('heading', { name: 'Sign in to Alatar' }).waitFor();
  check(!(await owner.evaluate(() => localStorage.getItem('alatar.sessions'))).includes('Token'), 'tokens left in storage');

  // By keyboard: focus starts in Email, Tab goes on to Password, then to the button.
  const focused = () => owner.evaluate(() => document.activeElement.name || document.activeElement.textContent);
  check(await focused() === 'email', `focus starts at ${await focused()}`);
  await owner.keyboard.press('Tab');
  check(await focused() === 'password', `Tab reached ${await focused()}`);
  await owner.keyboard.press('Tab');
  check(await focused() === 'Sign in', `Tab reached ${await focused()}`);

  // Accessibility: axe-core on the main views (its script injected, so this
  // context alone bypasses the page's CSP).
  const a11y = await newPage({ bypassCSP: true });
  const serious = [];
  const audit = async (name) => {
    await a11y.addScriptTag({ path: axePath });
    const result = await a11y.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    for (const v of result.violations) {
      if (v.impact === 'serious' || v.impact === 'critical') serious.push(`${name}: ${v.id} (${v.nodes.length}) ${v.help}`);
    }
  };
  await a11y.goto(`${base}/console/`);
  await a11y.getByRole('heading', { name: 'Sign in to Alatar' }).waitFor();
  await audit('sign in');
  await a11y.getByLabel('Email').fill('owner@console.example');
  await a11y.getByLabel('Password').fill(PASSWORD);
  await a11y.getByRole('button', { name: 'Sign in' }).click();
  await a11y.getByLabel('Your question').waitFor();
  await audit('ask');
  await a11y.goto(`${base}/console/#/runs/${id}`);
  await a11y.locator('article.run[data-status="COMPLETED"] li.proposal').first().waitFor();
  await audit('run');
  for (const [view, ready] of [['#/runs', 'li[data-request-id]'], ['#/stores', 'tr[data-store-id]'], ['#/audit', 'table.grid tbody tr'], ['#/library', 'h2'], ['#/chats', 'li a']]) {
    await a11y.goto(`${base}/console/${view}`);
    await a11y.locator(ready).first().waitFor();
    await audit(view);
  }
  report.axeSerious = serious.length;
  check(serious.length === 0, `accessibility: ${serious.join('; ')}`);
  console.log(JSON.stringify(report));
} catch (error) {
  // What each page showed when it failed, and what it logged.
  for (const [i, page] of pages.entries()) {
    await page.screenshot({ path: join(artifacts, `failure-${i}.png`), fullPage: true }).catch(() => {});
    console.error(`page ${i} (${page.url()}): ${page.problems.join('; ')}`);
  }
  throw error;
} finally {
  await browser.close();
}
