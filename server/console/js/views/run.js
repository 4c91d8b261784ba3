// One analysis, live: the plan, the departments at work, each tool call as
// it happens, then the answer and its proposals. Events are numbered; the
// view reads what is stored first, then subscribes from the last number it
// holds (`afterSequence`), and keeps each number once, so a reconnect or a
// reload neither loses nor repeats one.

import { h, mount, badge, errorBox, toast } from '../dom.js';
import { gql, subscribe } from '../api.js';
import { dateTime, elapsed } from '../format.js';
import { onLeave } from '../main.js';
import { answerView, RESULT_FIELDS } from './answer.js';
import { proposalsView } from './proposals.js';

const TERMINAL = ['COMPLETED', 'FAILED', 'CANCELLED'];
const EVENT_FIELDS = 'sequence kind payload status createdAt';

const REQUEST = `query($id: ID!) { analysisRequest(id: $id) {
  id prompt status failureReason createdAt startedAt finishedAt lastSequence store { name }
  events { ${EVENT_FIELDS} }
  ${RESULT_FIELDS}
} }`;

const UPDATES = `subscription($id: ID!, $after: Int!) { analysisRequestUpdates(requestId: $id, afterSequence: $after) { ${EVENT_FIELDS} } }`;

function words(kind) {
  return kind.replaceAll('_', ' ').toLowerCase();
}

// `DataRetrieval` → "Data retrieval".
function department(name) {
  const spaced = String(name).replace(/([a-z])([A-Z])/g, '$1 $2');
  return spaced.charAt(0) + spaced.slice(1).toLowerCase();
}

// What an event says, in a sentence.
function describe(event, tasks) {
  const p = event.payload || {};
  const dept = department(p.department || (tasks.get(p.taskId) || {}).department || 'A department');
  switch (event.kind) {
    case 'STATUS_CHANGED': return `Status: ${words(p.status || event.status || '')}${p.reason ? ` — ${p.reason}` : ''}`;
    case 'PLAN': return `Planned ${(p.steps || []).length} step${(p.steps || []).length === 1 ? '' : 's'}${p.intent ? ` (${words(p.intent)})` : ''}`;
    case 'TASK_STARTED': return `${dept} started${p.attempt > 1 ? ` (attempt ${p.attempt})` : ''}`;
    case 'TOOL_CALL': return `${dept} calls ${p.tool}`;
    case 'TOOL_PROGRESS': return p.detail ? `${p.tool}: ${p.detail}` : `${p.tool}: ${p.pages || 0} pages, ${p.rows || 0} rows so far`;
    case 'TOOL_RESULT': return `${p.tool}: ${p.summary || 'done'} (${elapsed(p.durationMs)})`;
    case 'TOOL_ERROR': return `${p.tool} failed (attempt ${p.attempt}): ${p.error}`;
    case 'TASK_COMPLETED': return `${dept} finished`;
    case 'TASK_FAILED': return `${dept} failed: ${p.error}`;
    case 'PARTIAL_RESULT': return `${dept} shared its findings`;
    case 'RESULT': return 'The answer is written';
    case 'ACTION_STATUS_CHANGED': return `Proposal ${words(p.kind || '')}: ${words(p.status || '')}${p.reason ? ` — ${p.reason}` : ''}`;
    default: return words(event.kind);
  }
}

function planList(steps) {
  return h('ol', { class: 'plan' }, steps.map((s) => h('li', {},
    h('strong', {}, department(s.department || 'Step')), ' ', s.objective || '')));
}

export async function runView(main, me, id) {
  const data = await gql(REQUEST, { id });
  const request = data.analysisRequest;
  const started = new Date(request.createdAt).getTime();
  const seen = new Set();
  const tasks = new Map();
  let status = request.status;
  let answered = false;
  let answeredAt = null;

  const statusBadge = h('span', {});
  const clock = h('span', { class: 'muted' });
  const cancel = h('button', { type: 'button', class: 'quiet', onclick: async () => {
    try {
      await gql('mutation($id: ID!) { cancelAnalysisRequest(id: $id) { status } }', { id });
    } catch (error) {
      toast(error.message, 'error');
    }
  } }, 'Cancel');
  const plan = h('div', { class: 'plan-box' });
  const team = h('ul', { class: 'team', 'aria-label': 'Departments' });
  const timeline = h('ol', { class: 'timeline', 'aria-label': 'Progress', tabindex: 0 });
  const failure = h('div');
  const answer = h('section', { class: 'answer', 'aria-label': 'Answer' });
  const proposals = h('section', { class: 'proposals', 'aria-label': 'Proposed changes' });
  const view = h('article', { class: 'run', dataset: { requestId: id, status } },
    h('header', { class: 'run-head' },
      h('h1', {}, request.prompt),
      h('div', { class: 'meta' }, statusBadge, ' ', request.store ? request.store.name : '', ' · asked ', dateTime(request.createdAt), ' · ', clock, ' ', cancel)),
    failure,
    h('div', { class: 'run-body' },
      h('section', { class: 'progress', 'aria-label': 'How the team worked' },
        h('h2', {}, 'Progress'), plan, team, h('details', { open: true }, h('summary', {}, 'Every step'), timeline)),
      h('div', { class: 'outcome' }, answer, proposals)));
  mount(main, view);

  const showStatus = () => {
    view.dataset.status = status;
    mount(statusBadge, badge(status));
    cancel.hidden = TERMINAL.includes(status) || status === 'AWAITING_APPROVAL';
  };
  const tick = () => {
    if (answeredAt) clock.textContent = `answered in ${elapsed(answeredAt - started)}`;
    else if (TERMINAL.includes(status) && request.finishedAt) clock.textContent = `took ${elapsed(new Date(request.finishedAt).getTime() - started)}`;
    else clock.textContent = `${elapsed(Date.now() - started)} so far`;
  };
  const timer = setInterval(tick, 500);
  onLeave(() => clearInterval(timer), main);

  const showTeam = () => mount(team, [...tasks.values()].map((t) => h('li', { dataset: { status: t.status } },
    h('strong', {}, department(t.department)), ' ', badge(t.status), ' ',
    h('span', { class: 'muted' }, `${t.tools} tool call${t.tools === 1 ? '' : 's'}${t.tools ? ` · ${elapsed(t.toolMs)} in tools` : ''}`))));

  const loadAnswer = async () => {
    if (answered) return;
    answered = true;
    try {
      // The result read with the request, if it was written by then.
      const known = request.result || undefined;
      request.result = null;
      await answerView(answer, id, known);
      await proposalsView(proposals, me, id);
    } catch (error) {
      answered = false;
      mount(answer, errorBox(error));
    }
  };

  const apply = (event, live = false) => {
    if (seen.has(event.sequence)) return;
    seen.add(event.sequence);
    const p = event.payload || {};
    const at = new Date(event.createdAt).getTime();
    if (p.taskId && !tasks.has(p.taskId) && p.department) tasks.set(p.taskId, { department: p.department, status: 'RUNNING', tools: 0, toolMs: 0 });
    const task = tasks.get(p.taskId);
    if (event.kind === 'TOOL_CALL' && task) task.tools += 1;
    if (event.kind === 'TOOL_RESULT' && task) task.toolMs += Number(p.durationMs) || 0;
    if (event.kind === 'TASK_COMPLETED' && task) task.status = 'COMPLETED';
    if (event.kind === 'TASK_FAILED' && task) task.status = 'FAILED';
    if (event.kind === 'RESULT') answeredAt = at;
    if (event.kind === 'PLAN' && Array.isArray(p.steps)) mount(plan, planList(p.steps));
    if (event.kind === 'STATUS_CHANGED' && (p.status || event.status)) {
      status = p.status || event.status;
      if (TERMINAL.includes(status)) request.finishedAt = event.createdAt;
      if (status === 'FAILED' && p.reason) mount(failure, h('div', { class: 'error', role: 'alert' }, `The analysis failed: ${p.reason}`));
      showStatus();
    }
    if (event.kind.startsWith('TASK_') || event.kind.startsWith('TOOL_')) showTeam();
    tick();
    const item = h('li', { dataset: { sequence: event.sequence, kind: event.kind, live: live ? '1' : undefined } },
      h('span', { class: 'at' }, `+${elapsed(at - started)}`), ' ', describe(event, tasks));
    // Numbers arrive in order; one that does not (a redelivery) goes in its place.
    const after = [...timeline.children].find((li) => Number(li.dataset.sequence) > event.sequence);
    timeline.insertBefore(item, after || null);
    if (event.kind === 'RESULT' || status === 'AWAITING_APPROVAL' || status === 'COMPLETED') loadAnswer();
  };

  showStatus();
  tick();
  for (const event of request.events) apply(event);
  // Read out what arrives from now on, not the backlog just drawn.
  timeline.setAttribute('aria-live', 'polite');
  if (request.status === 'FAILED' && request.failureReason && !failure.firstChild) {
    mount(failure, h('div', { class: 'error', role: 'alert' }, `The analysis failed: ${request.failureReason}`));
  }
  if (!TERMINAL.includes(status)) {
    const last = Math.max(0, ...seen);
    const stop = subscribe(UPDATES, { id, after: last }, {
      next: (d) => apply(d.analysisRequestUpdates, true),
      error: (error) => mount(failure, errorBox(error)),
    });
    onLeave(stop, main);
  }
}
