// The shell: header, navigation, and a hash router (#/runs/ID). Ids in the
// hash are fine; tokens never go there.

import { h, mount, errorBox } from './dom.js';
import * as session from './session.js';
import { disconnect, gql, onStatus } from './api.js';
import { authView, confirmView } from './views/auth.js';
import { askView } from './views/ask.js';
import { historyView } from './views/history.js';
import { runView } from './views/run.js';
import { storesView } from './views/stores.js';
import { auditView } from './views/audit.js';
import { libraryView, documentView } from './views/library.js';
import { chatsView, chatView } from './views/chat.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');

const ROUTES = [
  { path: /^#?\/?$/, view: askView, label: 'Ask', href: '#/' },
  { path: /^#\/runs$/, view: historyView, label: 'Analyses', href: '#/runs' },
  { path: /^#\/runs\/([\w-]+)$/, view: runView },
  { path: /^#\/stores$/, view: storesView, label: 'Stores', href: '#/stores' },
  { path: /^#\/library$/, view: libraryView, label: 'Library', href: '#/library' },
  { path: /^#\/documents\/([\w-]+)(?:\/page\/(\d+))?$/, view: documentView },
  { path: /^#\/chats$/, view: chatsView, label: 'Chats', href: '#/chats' },
  { path: /^#\/chats\/([\w-]+)$/, view: chatView },
  { path: /^#\/audit$/, view: auditView, label: 'Audit log', href: '#/audit', roles: ['OWNER', 'ADMIN'] },
];

// What the view being shown holds open (subscriptions, timers), closed on
// leaving it. `box` is the element the view draws in: a view that finishes
// loading after the merchant has moved on draws into a detached box, and
// what it would hold open is closed at once.
let leave = [];

export function onLeave(fn, box) {
  if (box && !box.isConnected) fn();
  else leave.push(fn);
}

// The live connection's status in the header: one element and one listener.
const live = h('span', { class: 'live', title: 'Live connection' });
onStatus((st) => {
  live.dataset.status = st;
  live.textContent = st === 'live' ? '● live' : st === 'connecting' ? '○ connecting' : '';
});

export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function shell(me) {
  const links = ROUTES.filter((r) => r.label && (!r.roles || r.roles.includes(me.role)));
  const here = location.hash || '#/';
  mount(nav, h('ul', {}, links.map((r) => h('li', {},
    h('a', { href: r.href, 'aria-current': r.href === here || (r.href !== '#/' && here.startsWith(r.href)) ? 'page' : null }, r.label)))));
  const sessions = session.all();
  const picker = h('select', { 'aria-label': 'Signed in as', onchange: (e) => { disconnect(); session.switchTo(e.target.value); go('#/'); } },
    sessions.map((s) => h('option', { value: s.userId, selected: s.userId === me.userId ? true : null }, `${s.email} · ${s.accountName}`)));
  mount(who,
    live,
    h('span', { class: 'role' }, me.role.toLowerCase()),
    picker,
    h('a', { href: '#/signin', class: 'quiet' }, 'Add account'),
    h('button', { type: 'button', class: 'quiet', onclick: signOut }, 'Sign out'));
}

async function signOut() {
  const me = session.current();
  if (!me) return;
  // Under the refresh lock, so no tab's refresh stores the user again.
  await session.exclusive(async () => {
    const now = session.all().find((x) => x.userId === me.userId) || me;
    try {
      await fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${now.accessToken}` },
        body: JSON.stringify({ query: 'mutation($t: String) { logout(refreshToken: $t) }', variables: { t: now.refreshToken } }),
      });
    } catch { /* signed out here whatever the server says */ }
    session.forget(me.userId, { next: true });
  });
  disconnect();
  go('#/');
}

// The role and account as they are now (a role may have changed since
// sign-in), once per user and page load.
const checked = new Set();
async function refreshMe(me) {
  if (checked.has(me.userId)) return me;
  checked.add(me.userId);
  try {
    const data = await gql('{ me { role account { name } } }');
    session.update(me.userId, { role: data.me.role, accountName: data.me.account.name });
  } catch { /* shown by the view's own call */ }
  return session.current() || me;
}

async function render() {
  for (const fn of leave) fn();
  leave = [];
  let me = session.current();
  const hash = location.hash || '#/';
  const confirming = hash.match(/^#\/confirm\/([A-Za-z0-9_-]+)$/);
  if (confirming) {
    mount(nav);
    mount(who);
    // The link's secret leaves the address bar and the history at once.
    history.replaceState(null, '', '#/confirming');
    confirmView(main, confirming[1], () => go('#/'));
    return;
  }
  if (!me || hash === '#/signin' || hash === '#/register') {
    mount(nav);
    mount(who, me ? h('a', { href: '#/', class: 'quiet' }, 'Back') : null);
    authView(main, hash === '#/register' ? 'register' : 'signin', () => go('#/'));
    return;
  }
  me = await refreshMe(me);
  if (!session.current()) {
    render();
    return;
  }
  shell(me);
  const route = ROUTES.find((r) => r.path.test(hash));
  if (!route || (route.roles && !route.roles.includes(me.role))) {
    mount(main, h('h1', {}, 'Not found'), h('p', {}, 'There is nothing at this address. ', h('a', { href: '#/' }, 'Ask a question')));
    return;
  }
  const params = hash.match(route.path).slice(1);
  const box = h('div', { class: 'view' });
  mount(main, box);
  main.focus({ preventScroll: true });
  try {
    await route.view(box, me, ...params);
  } catch (error) {
    if (error.code === 'UNAUTHENTICATED' && !session.current()) {
      render();
      return;
    }
    mount(box, errorBox(error));
  }
}

// Links within the page (the skip link, an answer's [1] markers) move the
// focus instead of the route.
document.addEventListener('click', (event) => {
  const link = event.target.closest && event.target.closest('a[href^="#"]:not([href^="#/"])');
  if (!link) return;
  const target = document.getElementById(link.getAttribute('href').slice(1));
  if (!target) return;
  event.preventDefault();
  if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
  target.scrollIntoView({ block: 'start' });
  target.focus({ preventScroll: true });
});

window.addEventListener('hashchange', render);
render();
