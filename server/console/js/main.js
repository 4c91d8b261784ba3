// The shell: header, navigation, and a hash router (#/runs/ID). Ids in the
// hash are fine; tokens never go there.

import { h, mount, errorBox } from './dom.js';
import * as session from './session.js';
import { disconnect, gql, onStatus } from './api.js';
import { authView } from './views/auth.js';
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
  { path: /^#\/documents\/([\w-]+)$/, view: documentView },
  { path: /^#\/chats$/, view: chatsView, label: 'Chats', href: '#/chats' },
  { path: /^#\/chats\/([\w-]+)$/, view: chatView },
  { path: /^#\/audit$/, view: auditView, label: 'Audit log', href: '#/audit', roles: ['OWNER', 'ADMIN'] },
];

// What the view being shown holds open (subscriptions), closed on leaving it.
let leave = [];

export function onLeave(fn) {
  leave.push(fn);
}

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
  const live = h('span', { class: 'live', title: 'Live connection' });
  onStatus((st) => { live.dataset.status = st; live.textContent = st === 'live' ? '● live' : st === 'connecting' ? '○ connecting' : ''; });
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
  try {
    await gql('mutation($t: String) { logout(refreshToken: $t) }', { t: me.refreshToken });
  } catch { /* signed out here whatever the server says */ }
  disconnect();
  session.forget(me.userId);
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
  try {
    await route.view(main, me, ...params);
  } catch (error) {
    mount(main, errorBox(error));
  }
  main.focus({ preventScroll: true });
}

window.addEventListener('hashchange', render);
render();
