// Chat with a collection's documents: the answer streams in as it is
// written, then is replaced by the stored one with its citations.

import { h, mount, errorBox, field } from '../dom.js';
import { gql, subscribe } from '../api.js';
import { dateTime } from '../format.js';
import { go, onLeave } from '../main.js';

const MESSAGE = 'id role content status error createdAt citations { index documentId documentFilename page quote }';

export async function startChat(collectionId) {
  const data = await gql('mutation($c: ID!) { createChatSession(collectionId: $c) { id } }', { c: collectionId });
  go(`#/chats/${data.createChatSession.id}`);
}

export async function chatsView(main) {
  const data = await gql('{ chatSessions(first: 50) { nodes { id title updatedAt collection { name } } } }');
  const sessions = data.chatSessions.nodes;
  mount(main, h('h1', {}, 'Chats'),
    sessions.length ? h('ul', { class: 'requests' }, sessions.map((s) => h('li', {},
      h('a', { href: `#/chats/${s.id}` }, s.title || 'Untitled chat'),
      h('div', { class: 'meta' }, `${s.collection.name} · ${dateTime(s.updatedAt)}`))))
      : h('p', { class: 'empty' }, 'No chat yet. Start one from a collection in the library.'));
}

function bubble(m) {
  return h('li', { class: `message ${m.role.toLowerCase()}`, dataset: { messageId: m.id, status: m.status } },
    h('div', { class: 'who' }, m.role === 'USER' ? 'You' : 'Alatar'),
    h('p', { class: 'text' }, m.content),
    m.error ? h('p', { class: 'error' }, m.error) : null,
    m.citations && m.citations.length ? h('ol', { class: 'citations' }, m.citations.map((c) => h('li', {},
      h('a', { href: `#/documents/${c.documentId}${c.page ? `/page/${c.page}` : ''}` }, c.documentFilename, c.page ? `, page ${c.page}` : ''),
      h('blockquote', {}, c.quote)))) : null);
}

export async function chatView(main, me, id) {
  const data = await gql(`query($id: ID!) { chatSession(id: $id) { id title collection { name } } }`, { id });
  const session = data.chatSession;
  // Every message, oldest first, a page at a time.
  session.messages = { nodes: [] };
  for (let after = null, page = 0; page < 40; page += 1) {
    const more = await gql(`query($id: ID!, $after: String) { chatSession(id: $id) { messages(first: 50, after: $after) { pageInfo { hasNextPage endCursor } nodes { ${MESSAGE} } } } }`, { id, after });
    const conn = more.chatSession.messages;
    session.messages.nodes.push(...conn.nodes);
    if (!conn.pageInfo.hasNextPage) break;
    after = conn.pageInfo.endCursor;
  }
  const list = h('ol', { class: 'chat', 'aria-live': 'polite', 'aria-label': 'Messages' });
  const problem = h('div');
  const input = h('textarea', { rows: 2, maxlength: 4000, required: true });
  const send = h('button', { type: 'submit', class: 'primary' }, 'Send');
  const put = (m) => {
    const old = list.querySelector(`[data-message-id="${CSS.escape(m.id)}"]`);
    const next = bubble(m);
    if (old) old.replaceWith(next);
    else list.append(next);
    return next;
  };
  for (const m of session.messages.nodes) put(m);
  const form = h('form', { class: 'card', onsubmit: async (event) => {
    event.preventDefault();
    const content = input.value.trim();
    if (!content) return;
    send.disabled = true;
    mount(problem);
    try {
      const sent = await gql(`mutation($s: ID!, $c: String!) { sendChatMessage(sessionId: $s, content: $c) { ${MESSAGE} } }`, { s: id, c: content });
      put(sent.sendChatMessage);
      input.value = '';
    } catch (error) {
      mount(problem, errorBox(error));
    }
    send.disabled = false;
  } }, field('Ask about these documents', input), problem, send);
  mount(main, h('h1', {}, session.title || 'Chat'), h('p', { class: 'muted' }, `About ${session.collection.name}`), list, form);
  const last = session.messages.nodes[session.messages.nodes.length - 1];
  const stop = subscribe(`subscription($s: ID!, $after: ID) { chatMessageUpdates(sessionId: $s, after: $after) { kind messageId delta message { ${MESSAGE} } error } }`,
    { s: id, after: last ? last.id : null }, {
      next: (d) => {
        const u = d.chatMessageUpdates;
        if (u.kind === 'DELTA') {
          let el = list.querySelector(`[data-message-id="${CSS.escape(u.messageId)}"] .text`);
          if (!el) el = put({ id: u.messageId, role: 'ASSISTANT', content: '', status: 'STREAMING' }).querySelector('.text');
          el.textContent += u.delta || '';
        } else if (u.message) {
          put(u.message);
        } else if (u.kind === 'FAILED') {
          put({ id: u.messageId, role: 'ASSISTANT', content: '', status: 'FAILED', error: u.error || 'The answer could not be written.' });
        }
      },
      error: (error) => mount(problem, errorBox(error)),
    });
  onLeave(stop, main);
  input.focus();
}
