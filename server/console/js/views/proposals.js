// Proposed store changes: what would change (a word diff for text, the
// expected effect for a discount), the scopes it needs and when it expires;
// owners and admins approve (sending the parametersHash shown here, so a
// proposal changed since cannot be approved by mistake), reject with a
// reason, or revert an executed one. Each status change arrives live.

import { h, mount, badge, errorBox, field } from '../dom.js';
import { gql, onStatus, subscribe } from '../api.js';
import { dateTime, json, number } from '../format.js';
import { onLeave } from '../main.js';

const FIELDS = `id requestId kind parameters parametersHash preview requiredScopes status createdAt updatedAt expiresAt
  decidedAt decisionReason outcome executedAt failureReason revertible`;

// Words removed and added between two texts (a longest common subsequence
// over words; long texts are shown before and after instead).
function diff(before, after) {
  const a = String(before || '').split(/(\s+)/);
  const b = String(after || '').split(/(\s+)/);
  if (a.length * b.length > 4_000_000) {
    return [h('del', {}, before), h('ins', {}, after)];
  }
  const m = a.length;
  const n = b.length;
  const lcs = Array.from({ length: m + 1 }, () => new Uint32Array(n + 1));
  for (let i = m - 1; i >= 0; i -= 1) {
    for (let j = n - 1; j >= 0; j -= 1) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < m || j < n) {
    if (i < m && j < n && a[i] === b[j]) { out.push(a[i]); i += 1; j += 1; }
    else if (j < n && (i === m || lcs[i][j + 1] >= lcs[i + 1][j])) { out.push(h('ins', {}, b[j])); j += 1; }
    else { out.push(h('del', {}, a[i])); i += 1; }
  }
  return out;
}

// `averageOrderWithCode` → "Average order with code".
function words(key) {
  const spaced = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

function effect(value) {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    return h('p', {}, h('strong', {}, 'Expected effect: '), typeof value === 'string' ? value : json(value));
  }
  return h('div', {}, h('strong', {}, 'Expected effect'),
    h('dl', { class: 'effect' }, Object.entries(value).map(([k, v]) => [h('dt', {}, words(k)),
      h('dd', {}, typeof v === 'number' ? number(v) : typeof v === 'string' ? v : json(v))])));
}

function preview(action) {
  const p = action.preview || {};
  const changes = Object.entries(p).filter(([, v]) => v && typeof v === 'object' && 'before' in v && 'after' in v);
  return h('div', { class: 'preview' },
    p.summary ? h('p', { class: 'change' }, p.summary) : null,
    changes.map(([name, v]) => h('div', { class: 'diff' }, h('h4', {}, name), h('p', {}, diff(v.before, v.after)))),
    p.expectedEffect !== undefined ? effect(p.expectedEffect) : null,
    p.rationale ? h('p', { class: 'muted' }, p.rationale) : null,
    h('details', {}, h('summary', {}, 'Exact parameters'), h('pre', {}, json(action.parameters))));
}

function card(action, me, refresh) {
  const decides = me.role === 'OWNER' || me.role === 'ADMIN';
  const problem = h('div');
  const run = (mutation, variables) => async () => {
    mount(problem);
    try {
      await gql(mutation, variables);
      await refresh();
    } catch (error) {
      mount(problem, errorBox(error));
    }
  };
  const reason = h('input', { type: 'text', name: 'reason', maxlength: 500, placeholder: 'Why not (optional)' });
  const controls = [];
  if (decides && action.status === 'PENDING') {
    controls.push(
      h('button', { type: 'button', class: 'primary', dataset: { act: 'approve' },
        onclick: run('mutation($id: ID!, $hash: String!) { approveAction(id: $id, parametersHash: $hash) { id } }', { id: action.id, hash: action.parametersHash }) }, 'Approve'),
      h('form', { class: 'inline', onsubmit: (e) => { e.preventDefault(); run('mutation($id: ID!, $r: String) { rejectAction(id: $id, reason: $r) { id } }', { id: action.id, r: reason.value.trim() || null })(); } },
        field('Reason', reason), h('button', { type: 'submit', dataset: { act: 'reject' } }, 'Reject')));
  }
  if (decides && action.status === 'EXECUTED' && action.revertible) {
    controls.push(h('button', { type: 'button', dataset: { act: 'revert' }, onclick: run('mutation($id: ID!) { revertAction(id: $id) { id } }', { id: action.id }) }, 'Revert'));
  }
  return h('li', { class: 'card proposal', dataset: { actionId: action.id, status: action.status } },
    h('h3', {}, action.kind.replaceAll('_', ' ').toLowerCase(), ' ', badge(action.status)),
    preview(action),
    h('p', { class: 'muted' }, `Needs ${action.requiredScopes.join(', ') || 'no scope'} · expires ${dateTime(action.expiresAt)}`),
    action.failureReason ? h('p', { class: 'error', role: 'alert' }, `Could not be applied: ${action.failureReason}`) : null,
    action.decisionReason ? h('p', {}, `Reason given: ${action.decisionReason}`) : null,
    action.outcome && action.status !== 'FAILED' ? h('details', {}, h('summary', {}, 'Outcome'), h('pre', {}, json(action.outcome))) : null,
    controls.length ? h('div', { class: 'actions' }, controls) : null,
    !decides && action.status === 'PENDING' ? h('p', { class: 'muted' }, 'An owner or admin decides this proposal.') : null,
    problem);
}

export async function proposalsView(box, me, requestId) {
  const list = h('ul', { class: 'stack' });
  const actions = new Map();
  const problem = h('div');
  // One card per action, redrawn only when that action changes, so a
  // reason being typed into another card stays as it is.
  const put = (a) => {
    const old = list.querySelector(`[data-action-id="${CSS.escape(a.id)}"]`);
    const previous = actions.get(a.id);
    actions.set(a.id, a);
    if (old && previous && previous.status === a.status && previous.updatedAt === a.updatedAt) return;
    const next = card(a, me, refresh);
    if (old) old.replaceWith(next);
    else list.append(next);
    if (!list.isConnected) mount(box, h('h2', {}, 'Proposed changes'), list, problem);
  };
  const refresh = async () => {
    const data = await gql(`query($r: ID) { proposedActions(requestId: $r) { ${FIELDS} } }`, { r: requestId });
    for (const a of data.proposedActions) put(a);
  };
  await refresh();
  const stop = subscribe(`subscription($r: ID) { actionUpdates(requestId: $r) { ${FIELDS} } }`, { r: requestId }, {
    next: (d) => put(d.actionUpdates),
    error: (error) => mount(problem, errorBox(error)),
  });
  onLeave(stop, box);
  // Changes made while the connection was down are not replayed: read
  // them again each time it comes back.
  let seenLive = false;
  let down = false;
  const unwatch = onStatus((st) => {
    if (st === 'live') {
      if (down) refresh().catch((error) => mount(problem, errorBox(error)));
      seenLive = true;
      down = false;
    } else if (seenLive) {
      down = true;
    }
  });
  onLeave(unwatch, box);
}
